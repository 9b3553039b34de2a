//! Password hashing: Argon2id PHC strings, with a dispatcher on the stored hash's scheme so
//! imported legacy schemes can join later without touching callers.

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::Password;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("stored password hash uses an unsupported scheme")]
    UnsupportedScheme,
    #[error("password hashing failed: {0}")]
    Argon2(String),
}

/// Argon2id cost parameters; the defaults are OWASP's (19 MiB, 2 passes, 1 lane).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: Params::DEFAULT_M_COST,
            iterations: Params::DEFAULT_T_COST,
            parallelism: Params::DEFAULT_P_COST,
        }
    }
}

/// Hashes and verifies passwords. CPU-heavy: call it off the async runtime.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
}

/// The scheme recorded beside each hash.
pub const ARGON2ID: &str = "argon2id";

impl PasswordHasher {
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Argon2(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let dummy = argon2
            .hash_password(b"portcullis dummy password for unknown accounts")
            .map_err(|e| HashError::Argon2(e.to_string()))?;
        Ok(Self {
            argon2,
            dummy_hash: dummy.to_string(),
        })
    }

    /// A new PHC string for `password` with the configured parameters.
    pub fn hash(&self, password: &Password) -> Result<String, HashError> {
        self.argon2
            .hash_password(password.expose())
            .map(|hash| hash.to_string())
            .map_err(|e| HashError::Argon2(e.to_string()))
    }

    /// Whether `password` matches `stored`, dispatching on the stored scheme.
    pub fn verify(&self, password: &Password, stored: &str) -> Result<bool, HashError> {
        if !stored.starts_with("$argon2") {
            return Err(HashError::UnsupportedScheme);
        }
        match self.argon2.verify_password(password.expose(), stored) {
            Ok(()) => Ok(true),
            Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
            Err(e) => Err(HashError::Argon2(e.to_string())),
        }
    }

    /// Spends the same work as a real verification, for accounts that do not exist.
    pub fn verify_dummy(&self, password: &Password) {
        let _ = self.verify(password, &self.dummy_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    #[test]
    fn hashes_verify_and_carry_their_scheme() {
        let hasher = cheap();
        let password = Password::for_verification("correct horse battery staple").unwrap();
        let stored = hasher.hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(hasher.verify(&password, &stored).unwrap());
        let wrong = Password::for_verification("incorrect horse battery staple").unwrap();
        assert!(!hasher.verify(&wrong, &stored).unwrap());
    }

    #[test]
    fn default_parameters_are_owasp() {
        let params = HashParams::default();
        assert_eq!(
            (params.memory_kib, params.iterations, params.parallelism),
            (19 * 1024, 2, 1)
        );
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let password = Password::for_verification("x").unwrap();
        assert!(matches!(
            cheap().verify(&password, "$2b$12$abc"),
            Err(HashError::UnsupportedScheme)
        ));
    }
}
