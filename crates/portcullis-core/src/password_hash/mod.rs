//! Password hashing: new hashes are Argon2id PHC strings; stored hashes may also be in the
//! formats of the systems users are imported from (see [`Scheme`]), so verification
//! dispatches on the stored string and [`PasswordHasher::needs_rehash`] tells when to replace
//! it after a successful sign-in.

use std::cell::RefCell;
use std::fmt;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash as Phc, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{ARGON2ID_IDENT, Algorithm, Argon2, Block, Params, Version};

use crate::Password;

mod stored;

pub use stored::Cost;
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

/// How the password of a stored hash was prepared before it was hashed, which follows from
/// where the hash came from. Only that form is verified, so that a failed check costs one
/// derivation, not two, when NFKC changes the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Origin {
    /// Made by [`PasswordHasher::hash`] on this server, from the NFKC form.
    Ours,
    /// Imported from another system (`users import`), which hashed the password as typed.
    /// A successful sign-in should replace it with [`PasswordHasher::hash`] even where
    /// [`PasswordHasher::needs_rehash`] does not ask for it (Argon2id with our parameters),
    /// so that it becomes one of ours.
    Imported,
}

impl Origin {
    fn form(self, password: &Password) -> &[u8] {
        match self {
            Self::Ours => password.expose(),
            Self::Imported => password.expose_as_typed(),
        }
    }
}

/// Hashes and verifies passwords. CPU-heavy: call it off the async runtime, preferably on
/// long-lived threads, each of which keeps Argon2's memory from one hash to the next.
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    dummy_hash: String,
}

/// What unknown accounts' passwords are checked against: a PHC string with our parameters, a
/// random salt and a random output. Checking a password against it runs one full hash, as
/// against a real one (the output is only compared at the end), and making it runs none:
/// a hash made at start would leave its 19 MiB with the allocator for the life of the process.
fn dummy_hash(argon2: &Argon2<'static>) -> Result<String, HashError> {
    let salt = try_generate_salt().map_err(hashing)?;
    let mut output = [0; Params::DEFAULT_OUTPUT_LEN];
    for (chunk, random) in output
        .chunks_mut(salt.len())
        .zip(std::iter::repeat_with(try_generate_salt))
    {
        let random = random.map_err(hashing)?;
        chunk.copy_from_slice(&random[..chunk.len()]);
    }
    phc(argon2, &salt, &output)
}

/// The PHC string of an Argon2id `output` made with `argon2`'s parameters and `salt`.
fn phc(argon2: &Argon2<'static>, salt: &[u8], output: &[u8]) -> Result<String, HashError> {
    let phc = Phc {
        algorithm: ARGON2ID_IDENT,
        version: Some(VERSION.into()),
        params: ParamsString::try_from(argon2.params()).map_err(hashing)?,
        salt: Some(Salt::new(salt).map_err(hashing)?),
        hash: Some(Output::new(output).map_err(hashing)?),
    };
    Ok(phc.to_string())
}

impl PasswordHasher {
    pub fn new(params: HashParams) -> Result<Self, HashError> {
        let params = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        )
        .map_err(hashing)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, VERSION, params);
        let dummy_hash = dummy_hash(&argon2)?;
        Ok(Self { argon2, dummy_hash })
    }

    /// A new PHC string for `password` with the configured parameters.
    pub fn hash(&self, password: &Password) -> Result<String, HashError> {
        self.hash_bytes(password.expose(), self.memory())
    }

    fn hash_bytes(&self, password: &[u8], memory: Memory) -> Result<String, HashError> {
        let salt = try_generate_salt().map_err(hashing)?;
        let mut output = [0; Params::DEFAULT_OUTPUT_LEN];
        memory
            .argon2(&self.argon2, password, &salt, &mut output)
            .map_err(hashing)?;
        phc(&self.argon2, &salt, &output)
    }

    /// Whether `password`, in the form `origin` implies, matches `stored`, whatever its
    /// scheme. A failed check against a hash that is not surely as costly as ours (an Argon2
    /// hash of less memory·passes, another scheme's within [`Cost::surely_at_least`]) also
    /// does the work of [`Self::verify_dummy`], so that no failure answers sooner than one for
    /// an unknown account; a failure against one of our own hashes costs exactly what the
    /// dummy costs. A successful check is not padded, as a re-hash follows it.
    pub fn verify(
        &self,
        password: &Password,
        stored: &str,
        origin: Origin,
    ) -> Result<bool, HashError> {
        let stored = Stored::parse(stored)?;
        let matched = stored.matches(origin.form(password), self.memory())?;
        if !matched && !stored.costs_at_least(self.cost()) {
            self.verify_dummy(password);
        }
        Ok(matched)
    }

    /// Whether `stored` should be replaced by [`Self::hash`] once its password is known: it is
    /// not Argon2id, or not with this hasher's version and (m, t, p).
    pub fn needs_rehash(&self, stored: &str) -> bool {
        !Stored::parse(stored).is_ok_and(|stored| stored.is_argon2id_with(self.argon2.params()))
    }

    /// Spends the same work as a real verification, for accounts that do not exist.
    pub fn verify_dummy(&self, password: &Password) {
        if let Ok(dummy) = Stored::parse(&self.dummy_hash) {
            let _ = dummy.matches(password.expose(), self.memory());
        }
    }

    /// The cost of verifying a hash of this hasher's, and so of [`Self::verify_dummy`].
    pub fn cost(&self) -> Cost {
        Cost::argon2(self.argon2.params())
    }

    fn memory(&self) -> Memory {
        Memory {
            reusable_blocks: self.argon2.params().block_count(),
        }
    }
}

thread_local! {
    /// Argon2's memory, kept by each thread between hashes.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Where Argon2 works: in the calling thread's buffer, allocated once rather than on every
/// hash (19 MiB at OWASP's parameters), when the hash needs at most `reusable_blocks`, the
/// hasher's own; a bigger imported hash works in memory allocated for it and freed after, so
/// that the buffer never outgrows what our own hashes need.
#[derive(Clone, Copy)]
struct Memory {
    reusable_blocks: usize,
}

impl Memory {
    /// `argon2` of `password` and `salt` into `out`.
    fn argon2(
        self,
        argon2: &Argon2<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        #[cfg(test)]
        tests::ARGON2_RUNS.with(|runs| runs.set(runs.get() + 1));
        let blocks = argon2.params().block_count();
        let mut hash = |memory: &mut [Block]| {
            argon2.hash_password_into_with_memory(password, salt, out, memory)
        };
        if blocks > self.reusable_blocks {
            return hash(&mut vec![Block::default(); blocks]);
        }
        BLOCKS.with_borrow_mut(|buffer| {
            if buffer.len() < blocks {
                buffer.reserve_exact(blocks - buffer.len());
                buffer.resize(blocks, Block::default());
            }
            hash(&mut buffer[..blocks])
        })
    }
}

fn hashing(error: impl fmt::Display) -> HashError {
    HashError::Hashing(error.to_string())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    thread_local! {
        /// Argon2 derivations this thread has run: what a check costs, counted exactly
        /// rather than timed.
        pub(super) static ARGON2_RUNS: Cell<usize> = const { Cell::new(0) };
    }

    /// The Argon2 derivations `job` runs on this thread.
    fn argon2_runs(job: impl FnOnce()) -> usize {
        let before = ARGON2_RUNS.with(Cell::get);
        job();
        ARGON2_RUNS.with(Cell::get) - before
    }

    /// 'ﬁ', full-width "Ｐａｓｓ" and a combining accent: NFKC changes it.
    const TYPED: &str = "\u{fb01}ne \u{ff30}\u{ff41}\u{ff53}\u{ff53} cafe\u{301}";

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap()
    }

    fn password(raw: &str) -> Password {
        Password::for_verification(raw).unwrap()
    }

    #[test]
    fn hashes_verify_and_carry_their_scheme() {
        let hasher = cheap();
        let password = password("correct horse battery staple");
        let stored = hasher.hash(&password).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert_eq!(Scheme::detect(&stored).unwrap().as_str(), ARGON2ID);
        assert!(hasher.verify(&password, &stored, Origin::Ours).unwrap());
        let wrong = self::password("incorrect horse battery staple");
        assert!(!hasher.verify(&wrong, &stored, Origin::Ours).unwrap());
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
        let password = password("x");
        for stored in ["$md5$rounds=5000$salt$hash", "plaintext", "", "!unusable"] {
            assert!(matches!(
                cheap().verify(&password, stored, Origin::Imported),
                Err(HashError::UnsupportedScheme(_))
            ));
        }
    }

    #[test]
    fn only_current_argon2id_hashes_are_kept() {
        let hasher = cheap();
        let ours = hasher
            .hash(&password("correct horse battery staple"))
            .unwrap();
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

    #[test]
    fn exactly_the_form_of_the_origin_is_verified() {
        let hasher = cheap();
        // What argon2-cffi makes of the password as typed, and what we make of it.
        let of_typed = hasher
            .hash_bytes(TYPED.as_bytes(), hasher.memory())
            .unwrap();
        let ours = hasher.hash(&password(TYPED)).unwrap();
        assert!(
            hasher
                .verify(&password(TYPED), &of_typed, Origin::Imported)
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&password(TYPED), &of_typed, Origin::Ours)
                .unwrap()
        );
        assert!(
            hasher
                .verify(&password(TYPED), &ours, Origin::Ours)
                .unwrap()
        );
        assert!(
            !hasher
                .verify(&password(TYPED), &ours, Origin::Imported)
                .unwrap()
        );
    }

    #[test]
    fn a_failure_costs_one_verification_whatever_nfkc_does() {
        let hasher = cheap();
        let stored = hasher
            .hash(&password("correct horse battery staple"))
            .unwrap();
        for wrong in [password("wrong horse battery staple"), password(TYPED)] {
            for origin in [Origin::Ours, Origin::Imported] {
                let runs = argon2_runs(|| {
                    assert!(!hasher.verify(&wrong, &stored, origin).unwrap());
                });
                assert_eq!(
                    runs, 1,
                    "one derivation, whether or not NFKC changes the password"
                );
            }
        }
    }

    #[test]
    fn failures_against_cheaper_hashes_cost_a_dummy_verification_too() {
        let hasher = PasswordHasher::new(HashParams::default()).unwrap();
        let wrong = password("wrong horse battery staple");
        let cheap_argon2 = cheap()
            .hash(&password("correct horse battery staple"))
            .unwrap();
        // (stored, its own Argon2 derivations): bcrypt and PBKDF2 run none of their own.
        for (stored, own) in [
            (
                "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
                0,
            ),
            (
                "$pbkdf2-sha256$1$7f3/P0cIIaQUgrC29l4LIQ$dabUiZO6H2xYGeltSJQR/TNOIujzD5xWTiTymfN16lM",
                0,
            ),
            (cheap_argon2.as_str(), 1),
        ] {
            assert!(Cost::of(stored).unwrap() < hasher.cost(), "{stored}");
            let runs = argon2_runs(|| {
                assert!(!hasher.verify(&wrong, stored, Origin::Imported).unwrap());
            });
            assert_eq!(
                runs,
                own + 1,
                "{stored}: the dummy verification follows the failure"
            );
        }
        let ours = hasher
            .hash(&password("correct horse battery staple"))
            .unwrap();
        let runs = argon2_runs(|| assert!(!hasher.verify(&wrong, &ours, Origin::Ours).unwrap()));
        assert_eq!(runs, 1, "a hash as costly as the dummy needs no padding");
    }

    #[test]
    fn costs_compare_across_schemes() {
        let ours = PasswordHasher::new(HashParams::default()).unwrap().cost();
        assert_eq!(ours.kib_passes(), 19 * 1024 * 2);
        let cost = |stored: &str| Cost::of(stored).unwrap();
        let bcrypt = |cost: &str| {
            format!("$2b${cost}$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS")
        };
        // bcrypt 9 took 29 ms and 10 took 58 ms where our own took 16–28 ms.
        assert!(cost(&bcrypt("09")) < ours && ours < cost(&bcrypt("10")));
        assert!(cost(&bcrypt("10")) < cost(&bcrypt("11")));
        // Django's scrypt (N=2^14, r=8, p=1) took 25 ms, its PBKDF2 (a million rounds) 126 ms.
        let scrypt = "scrypt$16384$7tXSaTi45vHtaQiT8dyF2l$8$1$NRNYjkGrX0Xkhp6BoOL41IEAaliotDK/\
                      Hjj8474PcxhLVeYhOHEvwKIzN5aXIm2nnVPTBOzbuAV2kf77ZrRxRw==";
        assert!(cost(scrypt) < ours);
        let pbkdf2 = "pbkdf2_sha256$1000000$mpC7Gp68TO0AjJ4jwxtYc2$\
                      H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=";
        assert!(ours < cost(pbkdf2));
        // Each output block of PBKDF2 runs every iteration.
        let sha256_twice = "$pbkdf2-sha256$i=4096,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$\
                            NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
        assert_eq!(cost(sha256_twice).kib_passes(), 4096 * 2 / 8);
    }

    #[test]
    fn only_hashes_far_costlier_than_ours_go_unpadded() {
        let ours = PasswordHasher::new(HashParams::default()).unwrap();
        let surely_costlier = |stored: &str| Cost::of(stored).unwrap().surely_at_least(ours.cost());
        let wrong = password("wrong horse battery staple");
        // Exactly our parameters: an estimate across schemes could not tell (verification
        // compares Argon2 costs exactly instead).
        assert!(!surely_costlier(&ours.hash(&wrong).unwrap()));
        let bcrypt = |cost: &str| {
            format!("$2b${cost}$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS")
        };
        assert!(!surely_costlier(&bcrypt("11")) && surely_costlier(&bcrypt("12")));
        // argon2-cffi's defaults: 64 MiB, t=3.
        let argon2_cffi = "$argon2id$v=19$m=65536,t=3,p=4$gX38kbcsmg4zNZiA/0q9Eg$\
                           DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU";
        assert!(surely_costlier(argon2_cffi));
    }

    #[test]
    fn building_a_hasher_keeps_no_memory_on_its_thread() {
        std::thread::spawn(|| {
            let hasher = cheap();
            assert!(BLOCKS.with_borrow(Vec::is_empty));
            hasher.verify_dummy(&password("correct horse battery staple"));
            assert_eq!(BLOCKS.with_borrow(Vec::len), 64);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn argon2_memory_is_reused_up_to_our_own_size() {
        let password = password("correct horse battery staple");
        let costlier = PasswordHasher::new(HashParams {
            memory_kib: 256,
            iterations: 1,
            parallelism: 2,
        })
        .unwrap();
        let imported = costlier.hash(&password).unwrap();
        // On a thread of its own, whose buffer starts empty.
        std::thread::spawn(move || {
            let buffer_len = || BLOCKS.with_borrow(Vec::len);
            let hasher = cheap();
            let ours = hasher.hash(&password).unwrap();
            assert_eq!(buffer_len(), 64);
            assert!(
                hasher
                    .verify(&password, &imported, Origin::Imported)
                    .unwrap()
            );
            assert_eq!(buffer_len(), 64, "a bigger hash grew the buffer");
            assert!(hasher.verify(&password, &ours, Origin::Ours).unwrap());
            assert!(costlier.verify(&password, &imported, Origin::Ours).unwrap());
            assert_eq!(buffer_len(), 256);
            assert!(hasher.verify(&password, &ours, Origin::Ours).unwrap());
        })
        .join()
        .unwrap();
    }
}
