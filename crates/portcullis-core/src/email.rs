//! Email addresses.
//!
//! Decision: addresses are ASCII (RFC 5321 without SMTPUTF8), internationalised domains in
//! their `xn--` form. That refuses every look-alike at once (full-width `＠`, Cyrillic letters
//! in a Latin domain) without a confusables table, and keeps case-insensitive uniqueness
//! identical in SQLite and PostgreSQL, whose `lower()` agree on ASCII.

use std::fmt;

use serde::Serialize;

/// Why an address was refused; the snake_case rule code goes into `fields.email`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the address is not a valid email address")]
    Invalid,
    #[error("the address uses characters outside ASCII; use the xn-- form of the domain")]
    UnsupportedCharacters,
}

impl EmailError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_email",
            Self::UnsupportedCharacters => "unsupported_characters",
        }
    }
}

/// A syntactically valid address: trimmed, domain lowercased, local part as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~.";

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if !trimmed.is_ascii() {
            return Err(EmailError::UnsupportedCharacters);
        }
        if trimmed.len() > 254 {
            return Err(EmailError::Invalid);
        }
        let (local, domain) = trimmed.split_once('@').ok_or(EmailError::Invalid)?;
        if !valid_local(local) || !valid_domain(domain) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for case-insensitive comparison.
    pub fn lowercase(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    pub fn local_part(&self) -> &str {
        self.0.split_once('@').map_or("", |(local, _)| local)
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_local(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(c))
}

fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| valid_label(label))
        && (tld.chars().all(|c| c.is_ascii_alphabetic()) || tld.starts_with("xn--"))
}

fn valid_label(label: &str) -> bool {
    !label.is_empty()
        && label.len() <= 63
        && !label.starts_with('-')
        && !label.ends_with('-')
        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_ordinary_addresses() {
        let email = Email::parse("  Alice.Smith+tag@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Alice.Smith+tag@example.com");
        assert_eq!(email.lowercase(), "alice.smith+tag@example.com");
        assert_eq!(email.local_part(), "Alice.Smith+tag");
        assert!(Email::parse("x@xn--bcher-kva.example").is_ok());
    }

    #[test]
    fn refuses_malformed_addresses() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@b",
            "a@@example.com",
            "a b@example.com",
            ".a@example.com",
            "a..b@example.com",
            "a@-example.com",
            "a@example.c0m1",
            "a@exa_mple.com",
        ] {
            assert_eq!(Email::parse(bad), Err(EmailError::Invalid), "{bad}");
        }
        assert_eq!(
            Email::parse(&format!("{}@example.com", "a".repeat(65))),
            Err(EmailError::Invalid)
        );
    }

    #[test]
    fn refuses_look_alikes() {
        for bad in [
            "alice＠example.com",
            "alice@ехample.com",
            "аlice@example.com",
        ] {
            assert_eq!(
                Email::parse(bad),
                Err(EmailError::UnsupportedCharacters),
                "{bad}"
            );
        }
    }
}
