//! Field rules for profile text, shared by sign-up and profile updates.

use std::collections::BTreeMap;

use portcullis_core::{Email, Password, PasswordPolicy};
use serde::{Deserialize, Deserializer};

use crate::http::ApiError;

/// Collects rule violations per field and turns them into one 422.
#[derive(Default)]
pub struct Violations(BTreeMap<String, String>);

impl Violations {
    /// Records the error of `result` under `field` and passes its value on.
    pub fn check<T, E>(
        &mut self,
        field: &str,
        result: Result<T, E>,
        code: impl Fn(&E) -> &'static str,
    ) -> Option<T> {
        result
            .map_err(|e| self.0.insert(field.to_owned(), code(&e).to_owned()))
            .ok()
    }

    /// A field that may be absent (left alone), `null` (cleared) or a value for `rule`.
    pub fn optional(
        &mut self,
        field: &str,
        value: Option<Option<String>>,
        rule: Rule,
    ) -> Option<Option<String>> {
        match value {
            Some(Some(raw)) => self.check(field, rule(&raw), |code| code).map(Some),
            absent_or_null => absent_or_null,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The 422 for what was recorded; call it only when a check failed.
    pub fn into_error(self) -> ApiError {
        ApiError::Validation(self.0)
    }
}

/// A rule for a text field: the value to store, or the rule code it broke.
pub type Rule = fn(&str) -> Result<String, &'static str>;

/// For `Option<Option<T>>` fields: marks the field present, whether its value is `null`
/// or not, so that `null` can mean "clear" and absence "leave alone".
pub fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A new password under the policy, reported under `field`.
pub fn new_password(
    violations: &mut Violations,
    field: &str,
    raw: &str,
    policy: &PasswordPolicy,
    email: Option<&Email>,
) -> Option<Password> {
    violations.check(field, Password::parse(raw, policy, email), |rule| {
        rule.code()
    })
}

/// A new password for the account of `account_email`, the only field checked in its request:
/// the password or the 422 naming `field`.
pub fn new_password_of(
    field: &str,
    raw: &str,
    policy: &PasswordPolicy,
    account_email: &str,
) -> Result<Password, ApiError> {
    let mut violations = Violations::default();
    let email = Email::parse(account_email).ok();
    new_password(&mut violations, field, raw, policy, email.as_ref())
        .ok_or_else(|| violations.into_error())
}

/// Display names: trimmed, 1–100 characters, no control characters.
pub fn name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("required");
    }
    if name.chars().count() > 100 {
        return Err("too_long");
    }
    if name.chars().any(char::is_control) {
        return Err("invalid_characters");
    }
    Ok(name.to_owned())
}

/// Usernames: 3–32 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or digit.
pub fn username(raw: &str) -> Result<String, &'static str> {
    let length = raw.chars().count();
    if length < 3 {
        return Err("too_short");
    }
    if length > 32 {
        return Err("too_long");
    }
    let first_ok = raw.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !first_ok
        || !raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err("invalid_characters");
    }
    Ok(raw.to_owned())
}

/// Avatar URLs: absolute http(s), at most 2,048 characters, no spaces or controls.
pub fn image(raw: &str) -> Result<String, &'static str> {
    if raw.len() > 2048 {
        return Err("too_long");
    }
    let scheme_ok = raw.starts_with("https://") || raw.starts_with("http://");
    if !scheme_ok || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("invalid_url");
    }
    Ok(raw.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_rules() {
        assert_eq!(name("  Ada Lovelace "), Ok("Ada Lovelace".into()));
        assert_eq!(name(" "), Err("required"));
        assert_eq!(name("a\u{7}b"), Err("invalid_characters"));
        assert_eq!(username("ada.l"), Ok("ada.l".into()));
        assert_eq!(username("ab"), Err("too_short"));
        assert_eq!(username("_ada"), Err("invalid_characters"));
        assert_eq!(username("ada@x"), Err("invalid_characters"));
        assert_eq!(image("javascript:alert(1)"), Err("invalid_url"));
        assert_eq!(
            image("https://cdn.example.com/a.png"),
            Ok("https://cdn.example.com/a.png".into())
        );
    }
}
