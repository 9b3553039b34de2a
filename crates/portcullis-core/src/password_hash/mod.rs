//! Password hashing: new hashes are Argon2id PHC strings; stored hashes may also be in the
//! formats of the systems users are imported from (see [`Scheme`]), so verification
//! dispatches on the stored string and [`PasswordHasher::needs_rehash`] tells when to replace
//! it after a successful sign-in.

use std::fmt;

use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};

use crate::Password;

mod stored;

use stored::Stored;

/// Why a stored hash cannot be verified. The messages name the scheme and the fault but never
/// echo the stored string, which may be a secret pasted into the wrong column.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// No supported format has this shape.
    #[error("unsupported scheme: {0}")]
    UnsupportedScheme(&'static str),
    /// The format is known but this string is not a well-formed hash of it.
    #[error("malformed {scheme} hash: {reason}")]
    Malformed { scheme: Scheme, reason: String },
    /// Well-formed, but verifying it would cost more memory or time than a sign-in may take.
    #[error("{scheme} hash is too costly to verify: {reason}")]
    TooCostly { scheme: Scheme, reason: String },
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The algorithm of a stored hash: what `credentials.scheme` records beside it. Each names a
/// closed set of string formats, all recognised by [`Scheme::detect`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `$argon2id$v=19$m=…,t=…,p=…$salt$hash` (ours, libargon2, argon2-cffi), and Django's
    /// `argon2$argon2id$…`.
    Argon2id,
    /// `$argon2i$…`, also under Django's `argon2` prefix.
    Argon2i,
    /// `$argon2d$…`, also under Django's `argon2` prefix.
    Argon2d,
    /// `$2a$`, `$2b$` and `$2y$` modular crypt strings, and Django's `bcrypt$$2b$…`.
    Bcrypt,
    /// Django's `bcrypt_sha256$$2b$…`: bcrypt over the lowercase hex SHA-256 of the password.
    BcryptSha256,
    /// `$scrypt$ln=…,r=…,p=…$salt$hash` (passlib, the scrypt crate), `$7$` (libxcrypt,
    /// passlib) and Django's `scrypt$N$salt$r$p$hash`.
    Scrypt,
    /// PHC `$pbkdf2-sha256$i=…$salt$hash` (@phc/pbkdf2, the pbkdf2 crate), passlib's
    /// `$pbkdf2-sha256$rounds$salt$hash` and Django's `pbkdf2_sha256$iterations$salt$hash`.
    Pbkdf2Sha256,
    /// The PHC and passlib forms of PBKDF2-HMAC-SHA512.
    Pbkdf2Sha512,
}

impl Scheme {
    /// The stable name stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Argon2id => "argon2id",
            Self::Argon2i => "argon2i",
            Self::Argon2d => "argon2d",
            Self::Bcrypt => "bcrypt",
            Self::BcryptSha256 => "bcrypt_sha256",
            Self::Scrypt => "scrypt",
            Self::Pbkdf2Sha256 => "pbkdf2_sha256",
            Self::Pbkdf2Sha512 => "pbkdf2_sha512",
        }
    }

    /// The scheme of `stored`, after checking the whole string: its syntax, that salt and hash
    /// decode to sane lengths, and that its costs are within what a sign-in may spend. An
    /// importer calls it on every line before importing any.
    pub fn detect(stored: &str) -> Result<Self, HashError> {
        Stored::parse(stored).map(|stored| stored.scheme)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The scheme recorded beside each hash this server makes.
pub const ARGON2ID: &str = Scheme::Argon2id.as_str();

/// The Argon2 version of our hashes; hashes of another version are re-hashed.
const VERSION: Version = Version::V0x13;

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

impl PasswordHasher {
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(|e| HashError::Hashing(e.to_string()))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, VERSION, params);
        let dummy = argon2
            .hash_password(b"portcullis dummy password for unknown accounts")
            .map_err(|e| HashError::Hashing(e.to_string()))?;
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
            .map_err(|e| HashError::Hashing(e.to_string()))
    }

    /// Whether `password` matches `stored`, whatever its scheme. The NFKC form is tried first,
    /// as our own hashes are made from it; then, only if it differs, the form as typed, which
    /// is what other systems hashed.
    pub fn verify(&self, password: &Password, stored: &str) -> Result<bool, HashError> {
        let stored = Stored::parse(stored)?;
        let typed = password.expose_as_typed();
        Ok(stored.matches(password.expose())?
            || (typed != password.expose() && stored.matches(typed)?))
    }

    /// Whether `stored` should be replaced by [`Self::hash`] once its password is known: it is
    /// not Argon2id, or not with this hasher's version and (m, t, p).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        !Stored::parse(stored).is_ok_and(|stored| stored.is_argon2id_with(self.argon2.params()))
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
        assert_eq!(Scheme::detect(&stored).unwrap().as_str(), ARGON2ID);
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
        for stored in ["$md5$rounds=5000$salt$hash", "plaintext", "", "!unusable"] {
            assert!(matches!(
                cheap().verify(&password, stored),
                Err(HashError::UnsupportedScheme(_))
            ));
        }
    }

    #[test]
    fn only_current_argon2id_hashes_are_kept() {
        let hasher = cheap();
        let password = Password::for_verification("correct horse battery staple").unwrap();
        let ours = hasher.hash(&password).unwrap();
        assert!(!hasher.needs_rehash(&ours));
        let costlier = PasswordHasher::new(HashParams {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        assert!(costlier.needs_rehash(&ours));
        for valid_but_not_current in [
            ours.replace("$v=19$", "$v=16$"),
            ours.replace("$argon2id$", "$argon2i$"),
            "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS".to_owned(),
        ] {
            assert!(Scheme::detect(&valid_but_not_current).is_ok());
            assert!(hasher.needs_rehash(&valid_but_not_current));
        }
        assert!(hasher.needs_rehash("garbage"));
    }
}
