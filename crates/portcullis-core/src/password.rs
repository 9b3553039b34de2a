//! The password policy (NIST SP 800-63B-4, OWASP ASVS 5.0 §6.2): length in code points after
//! NFKC, a bundled common-password list, and context words. No composition rules, no
//! truncation.

use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

use crate::Email;

/// Inputs longer than this are refused before normalising or hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The floor below which no configuration may set the minimum length.
pub const MIN_LENGTH_FLOOR: usize = 8;
/// Local parts shorter than this are too generic to refuse as a context word.
const MIN_CONTEXT_WORD: usize = 4;

static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../data/common-passwords.txt")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .collect()
});

/// Why a password was refused; the snake_case code goes into `fields.password`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRule {
    #[error("the password is too short")]
    TooShort,
    #[error("the password is too long")]
    TooLong,
    #[error("the password is too common")]
    CommonPassword,
    #[error("the password contains the email address")]
    ContainsEmail,
    #[error("the password contains the product name")]
    ContainsProductName,
}

impl PasswordRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::CommonPassword => "common_password",
            Self::ContainsEmail => "contains_email",
            Self::ContainsProductName => "contains_product_name",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_length: usize,
    pub product_name: String,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 15,
            max_length: 128,
            product_name: "Portcullis".to_owned(),
        }
    }
}

impl PasswordPolicy {
    /// Checks the policy's own bounds, so a misconfiguration fails at start-up.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_length < MIN_LENGTH_FLOOR {
            return Err(format!(
                "password minimum length must be at least {MIN_LENGTH_FLOOR}"
            ));
        }
        if self.max_length < 128 || self.max_length < self.min_length {
            return Err("password maximum length must be at least 128 and the minimum".into());
        }
        Ok(())
    }
}

/// A password that passed the policy, NFKC-normalised, with the form it was typed in kept
/// beside it when NFKC changed it: hashes imported from other systems were made from that.
/// Never printed.
#[derive(Clone)]
pub struct Password {
    normalised: String,
    typed: Option<String>,
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(**redacted**)")
    }
}

impl Password {
    /// Applies the policy to a new password (sign-up, change, reset); `email` is the
    /// account's address when it is known and valid.
    pub fn parse(
        raw: &str,
        policy: &PasswordPolicy,
        email: Option<&Email>,
    ) -> Result<Self, PasswordRule> {
        let candidate = Self::normalise(raw)?;
        let length = candidate.normalised.chars().count();
        if length < policy.min_length {
            return Err(PasswordRule::TooShort);
        }
        if length > policy.max_length {
            return Err(PasswordRule::TooLong);
        }
        let lowered = candidate.normalised.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(PasswordRule::CommonPassword);
        }
        if let Some(email) = email {
            let local = email.local_part().to_lowercase();
            if lowered.contains(&email.lowercase())
                || (local.chars().count() >= MIN_CONTEXT_WORD && lowered.contains(&local))
            {
                return Err(PasswordRule::ContainsEmail);
            }
        }
        let product = policy.product_name.to_lowercase();
        if !product.is_empty() && lowered.contains(&product) {
            return Err(PasswordRule::ContainsProductName);
        }
        Ok(candidate)
    }

    /// Normalises a password offered at sign-in; the policy is not applied, so users whose
    /// password predates a stricter policy can still sign in.
    pub fn for_verification(raw: &str) -> Result<Self, PasswordRule> {
        Self::normalise(raw)
    }

    fn normalise(raw: &str) -> Result<Self, PasswordRule> {
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(PasswordRule::TooLong);
        }
        let normalised: String = raw.nfkc().collect();
        let typed = (normalised != raw).then(|| raw.to_owned());
        Ok(Self { normalised, typed })
    }

    /// The NFKC form: what our own hashes are made from.
    pub fn expose(&self) -> &[u8] {
        self.normalised.as_bytes()
    }

    /// The password exactly as typed, for hashes imported from systems that did not normalise.
    pub fn expose_as_typed(&self) -> &[u8] {
        self.typed.as_ref().unwrap_or(&self.normalised).as_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("carol.jones@example.com").unwrap()
    }

    fn check(raw: &str) -> Result<Password, PasswordRule> {
        Password::parse(raw, &PasswordPolicy::default(), Some(&email()))
    }

    #[test]
    fn accepts_a_long_passphrase_of_any_script() {
        assert!(check("correct horse battery staple").is_ok());
        assert!(check("пароль-который-длинный").is_ok());
    }

    #[test]
    fn counts_code_points_not_bytes() {
        // 14 code points, 28 bytes: still too short.
        assert_eq!(check(&"é".repeat(14)).unwrap_err(), PasswordRule::TooShort);
        assert!(check(&"é".repeat(15)).is_ok());
    }

    #[test]
    fn normalises_with_nfkc() {
        let composed = Password::for_verification("ｆｕｌｌｗｉｄｔｈ").unwrap();
        assert_eq!(composed.expose(), b"fullwidth");
        assert_eq!(composed.expose_as_typed(), "ｆｕｌｌｗｉｄｔｈ".as_bytes());
        let plain = Password::for_verification("fullwidth").unwrap();
        assert_eq!(plain.expose_as_typed(), b"fullwidth");
    }

    #[test]
    fn refuses_each_rule() {
        assert_eq!(check("short").unwrap_err(), PasswordRule::TooShort);
        assert_eq!(check(&"a".repeat(129)).unwrap_err(), PasswordRule::TooLong);
        assert_eq!(check(&"a".repeat(1025)).unwrap_err(), PasswordRule::TooLong);
        assert_eq!(
            check("123456789987654321").unwrap_err(),
            PasswordRule::CommonPassword
        );
        assert_eq!(
            check("my carol.jones@example.com pass").unwrap_err(),
            PasswordRule::ContainsEmail
        );
        assert_eq!(
            check("I am Carol.Jones and nobody else").unwrap_err(),
            PasswordRule::ContainsEmail
        );
        assert_eq!(
            check("my portcullis password!").unwrap_err(),
            PasswordRule::ContainsProductName
        );
    }

    #[test]
    fn common_list_is_bundled_and_large() {
        assert!(COMMON_PASSWORDS.len() >= 20_000);
        assert!(COMMON_PASSWORDS.contains("password"));
    }

    #[test]
    fn policy_bounds_are_enforced() {
        let mut policy = PasswordPolicy::default();
        assert!(policy.validate().is_ok());
        policy.min_length = 7;
        assert!(policy.validate().is_err());
        policy.min_length = 8;
        policy.max_length = 64;
        assert!(policy.validate().is_err());
    }

    #[test]
    fn debug_never_prints_the_password() {
        let password = check("correct ｈｏｒｓｅ battery staple").unwrap();
        let printed = format!("{password:?}");
        assert!(!printed.contains("horse") && !printed.contains("ｈｏｒｓｅ"));
    }
}
