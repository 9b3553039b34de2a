//! The profile fields a user (or an admin) sets: display name, username, avatar URL. Each
//! parses into a type that holds only valid values; the error is the rule code the API
//! reports under the field.

use std::fmt;

/// A rule a profile value broke; `code()` is what the API reports under the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProfileRule {
    #[error("required")]
    Required,
    #[error("too short")]
    TooShort,
    #[error("too long")]
    TooLong,
    #[error("invalid characters")]
    InvalidCharacters,
    #[error("not an absolute http(s) URL")]
    InvalidUrl,
}

impl ProfileRule {
    pub fn code(self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::InvalidCharacters => "invalid_characters",
            Self::InvalidUrl => "invalid_url",
        }
    }
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_type!(
    /// A display name: trimmed, 1–100 characters, no control characters.
    DisplayName
);
text_type!(
    /// A username: 3–32 ASCII letters, digits, `_`, `.` or `-`, starting with a letter or
    /// digit. Unique case-insensitively (the store enforces it).
    Username
);
text_type!(
    /// An avatar URL: absolute http(s), at most 2,048 characters, no spaces or controls.
    ImageUrl
);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, ProfileRule> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ProfileRule::Required);
        }
        if name.chars().count() > 100 {
            return Err(ProfileRule::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(ProfileRule::InvalidCharacters);
        }
        Ok(Self(name.to_owned()))
    }
}

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ProfileRule> {
        let length = raw.chars().count();
        if length < 3 {
            return Err(ProfileRule::TooShort);
        }
        if length > 32 {
            return Err(ProfileRule::TooLong);
        }
        let first_ok = raw.starts_with(|c: char| c.is_ascii_alphanumeric());
        let rest_ok = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !first_ok || !rest_ok {
            return Err(ProfileRule::InvalidCharacters);
        }
        Ok(Self(raw.to_owned()))
    }
}

impl ImageUrl {
    pub fn parse(raw: &str) -> Result<Self, ProfileRule> {
        if raw.len() > 2048 {
            return Err(ProfileRule::TooLong);
        }
        let scheme_ok = raw.starts_with("https://") || raw.starts_with("http://");
        if !scheme_ok || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ProfileRule::InvalidUrl);
        }
        Ok(Self(raw.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_rules() {
        assert_eq!(
            DisplayName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert_eq!(DisplayName::parse(" "), Err(ProfileRule::Required));
        assert_eq!(
            DisplayName::parse("a\u{7}b"),
            Err(ProfileRule::InvalidCharacters)
        );
        assert_eq!(Username::parse("ada.l").unwrap().as_str(), "ada.l");
        assert_eq!(Username::parse("ab"), Err(ProfileRule::TooShort));
        assert_eq!(Username::parse("_ada"), Err(ProfileRule::InvalidCharacters));
        assert_eq!(
            Username::parse("ada@x"),
            Err(ProfileRule::InvalidCharacters)
        );
        assert_eq!(
            ImageUrl::parse("javascript:alert(1)"),
            Err(ProfileRule::InvalidUrl)
        );
        assert_eq!(
            ImageUrl::parse("https://cdn.example.com/a.png")
                .unwrap()
                .as_str(),
            "https://cdn.example.com/a.png"
        );
    }
}
