//! Opaque secrets (refresh, session, CSRF tokens): 256 random bits, shown to the client once,
//! stored only as an HMAC-SHA-256 keyed with a key derived from the server secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

const TOKEN_BYTES: usize = 32;
/// Base64url length of a 32-byte token.
const TOKEN_CHARS: usize = 43;

/// A token as the client holds it. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainToken(String);

impl fmt::Debug for PlainToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainToken(**redacted**)")
    }
}

impl PlainToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; TOKEN_BYTES];
        OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Accepts only strings of the shape the server issues, so junk never reaches a query.
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == TOKEN_CHARS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The only form of a token that reaches the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedToken(String);

impl HashedToken {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Keyed hashing of tokens; the key never leaves this value.
#[derive(Clone)]
pub struct TokenHasher {
    key: [u8; 32],
}

impl fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHasher(**redacted**)")
    }
}

impl TokenHasher {
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// `purpose` separates token kinds, so a value valid as one kind is useless as another.
    pub fn hash(&self, purpose: &str, token: &PlainToken) -> HashedToken {
        HashedToken(self.digest(purpose, token.expose()))
    }

    /// A value derived from `token`, e.g. the CSRF token bound to a session token.
    pub fn derive(&self, purpose: &str, token: &PlainToken) -> String {
        self.hash(purpose, token).0
    }

    /// A keyed digest of any text, e.g. a pseudonym for a sign-in identifier in the audit
    /// trail: stable, but useless without the server secret.
    pub fn digest(&self, purpose: &str, value: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(purpose, value.as_bytes()))
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC accepts any key length");
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// Constant-time equality for secrets that must be compared rather than looked up.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_256_bits_and_parse_back() {
        let token = PlainToken::generate();
        assert_eq!(token.expose().len(), TOKEN_CHARS);
        assert_eq!(PlainToken::parse(token.expose()), Some(token.clone()));
        assert_ne!(PlainToken::generate(), token);
    }

    #[test]
    fn junk_is_not_a_token() {
        assert!(PlainToken::parse("short").is_none());
        assert!(PlainToken::parse(&"!".repeat(TOKEN_CHARS)).is_none());
    }

    #[test]
    fn hashes_depend_on_key_and_purpose() {
        let token = PlainToken::generate();
        let a = TokenHasher::new([1; 32]);
        let b = TokenHasher::new([2; 32]);
        assert_eq!(a.hash("refresh", &token), a.hash("refresh", &token));
        assert_ne!(a.hash("refresh", &token), b.hash("refresh", &token));
        assert_ne!(a.hash("refresh", &token), a.hash("session", &token));
        assert!(!a.hash("refresh", &token).as_str().contains(token.expose()));
    }

    #[test]
    fn secret_comparison() {
        assert!(secrets_equal("abc", "abc"));
        assert!(!secrets_equal("abc", "abd"));
        assert!(!secrets_equal("abc", "abcd"));
    }
}
