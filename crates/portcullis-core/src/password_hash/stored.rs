//! Stored hashes: one dispatch on the string's shape, one small parser per format family, and
//! the check each parsed hash runs. Parsing validates everything a verification will rely on,
//! so a hash that parses can only fail to verify by not matching.

use std::ops::RangeInclusive;

use argon2::password_hash::phc::{Output, PasswordHash as Phc};
use argon2::{Algorithm, Argon2, Version};
use base64::Engine as _;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::{HashError, Memory, Scheme, VERSION};

// An imported hash carries its own costs, so one careless or hostile line could make each
// sign-in of its account exhaust the server. The ceilings keep one verification within
// 256 MiB and about one second of one core, and admit what the systems we import from
// export: bcrypt up to cost 14 (10–12 are the usual defaults); Argon2 up to libsodium's
// MODERATE (256 MiB, t=3), so argon2-cffi's and RFC 9106's 64 MiB with t=3 and Django's
// 100 MiB with t=2; scrypt up to 256 MiB (N=2^18 at r=8), so passlib's N=2^16 and
// Firebase's and Django's N=2^14–2^15 with r=8, p=1; PBKDF2 at over twice Django 6.0's 1.2 million SHA-256
// iterations and nearly five times OWASP's 210,000 for SHA-512. Refused: bcrypt 15 and 16,
// libsodium's SENSITIVE (1 GiB, t=4) and RFC 9106's first choice (2 GiB). At each ceiling,
// one verification took 0.94 s (bcrypt 14), 0.56–0.74 s (Argon2id, 256 MiB, t=3), 0.66 s
// (scrypt, N=2^17, r=8, p=3), 0.33 s (PBKDF2-SHA256, with SHA-NI; longer without) and
// 0.47–0.68 s (PBKDF2-SHA512) on a 2-core AMD EPYC with AVX2 and SHA-NI.

/// Memory one verification may hold: Argon2's m KiB, scrypt's 128·r·N bytes.
const MAX_MEMORY: u64 = 256 << 20;
/// Argon2's memory times passes, m·t: three passes over the most memory.
const MAX_ARGON2_WORK: u64 = 768 << 20;
/// scrypt's memory times lanes, 128·r·N·p: scrypt took two to 2.5 times Argon2's time per
/// byte.
const MAX_SCRYPT_WORK: u64 = 384 << 20;
/// bcrypt's cost is the log2 of its rounds; 14 is four times today's usual 12.
const MAX_BCRYPT_COST: u64 = 14;
/// bcrypt reads at most this many bytes of a password and ignores the rest.
const BCRYPT_MAX_PASSWORD: usize = 72;

// Costs are compared across schemes, to give a failed verification against a hash cheaper
// than our own the work of a dummy one too (see `PasswordHasher::verify`). The unit is
// Argon2's: one pass over one KiB block, of which m·t make one Argon2 verification. The
// other schemes are converted by their time per unit relative to Argon2's at OWASP's
// parameters (0.71 µs per KiB·pass, on the machine above), rounded down. Estimates err: on
// that machine Argon2 took 0.3 µs per KiB·pass when its memory fit in the caches (up to
// 2 MiB) and 0.95 µs at 256 MiB; elsewhere AVX2 (Argon2) and SHA-NI (PBKDF2-SHA256) may be
// missing. A hash judged cheaper than it is costs one needless dummy verification when it
// fails; one judged costlier than it is would answer sooner than an unknown account. So a
// hash counts as costlier than ours only by a wide margin, `ESTIMATE_ERROR`.

/// One bcrypt round (its cost is the log2 of their number) took 57 µs: at least 64 KiB·passes.
const BCRYPT_ROUND: u64 = 64;
/// Each KiB of scrypt's 128·r·N·p took 1.5–2.4 µs: at least 2 KiB·passes.
const SCRYPT_KIB: u64 = 2;
/// How many times one cost must exceed another to be surely higher: Argon2's own speed
/// varied 2.4-fold with its memory, and other machines differ from the one measured.
const ESTIMATE_ERROR: u64 = 4;

/// Salt lengths, in bytes, of the formats whose salt is not checked by the phc crate.
const SALT_LEN: RangeInclusive<usize> = 1..=64;
/// Derived-key lengths, in bytes, as the phc crate allows for its own formats.
const HASH_LEN: RangeInclusive<usize> = Output::MIN_LENGTH..=Output::MAX_LENGTH;

const UNKNOWN: HashError = HashError::UnsupportedScheme("not a known password hash format");
const NO_SHA1: HashError =
    HashError::UnsupportedScheme("PBKDF2-SHA1 needs a SHA-1 implementation, which is not built in");

/// The estimated work of one verification, in Argon2 KiB·passes, comparable across schemes
/// within the error [`Cost::surely_at_least`] allows for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cost(u64);

impl Cost {
    /// The cost of verifying `stored`, refused as by [`Scheme::detect`].
    pub fn of(stored: &str) -> Result<Self, HashError> {
        Stored::parse(stored).map(|stored| stored.cost())
    }

    /// Whether this cost is at least `other` even if the estimates are as far off as they
    /// were seen to be: whether it is four times `other` or more.
    pub fn surely_at_least(self, other: Self) -> bool {
        self.0 >= other.0.saturating_mul(ESTIMATE_ERROR)
    }

    /// The cost of one Argon2 verification with `params`, whatever its variant.
    pub(super) fn argon2(params: &argon2::Params) -> Self {
        Self(params.block_count() as u64 * u64::from(params.t_cost()))
    }

    /// The estimate, in Argon2 KiB·passes.
    pub const fn kib_passes(self) -> u64 {
        self.0
    }
}

/// A stored hash whose syntax, lengths and costs have been checked.
pub(super) struct Stored {
    pub(super) scheme: Scheme,
    check: Check,
}

enum Check {
    /// A `$2b$`-style string, verified by the bcrypt crate, and its cost.
    Bcrypt { mcf: String, cost: u32 },
    /// A key derived here and compared in constant time.
    Derived {
        kdf: Kdf,
        salt: Vec<u8>,
        expected: Vec<u8>,
    },
}

enum Kdf {
    /// Algorithm, version and costs as the string gives them.
    Argon2 {
        algorithm: Algorithm,
        version: Version,
        params: argon2::Params,
    },
    Scrypt(scrypt::Params),
    Pbkdf2(Prf, u32),
}

impl Kdf {
    fn scheme(&self) -> Scheme {
        match self {
            Self::Argon2 { algorithm, .. } => argon2_scheme(*algorithm),
            Self::Scrypt(_) => Scheme::Scrypt,
            Self::Pbkdf2(prf, _) => prf.scheme(),
        }
    }

    /// The key of `password` and `salt`, as long as `out`.
    fn derive(
        &self,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
        memory: Memory,
    ) -> Result<(), HashError> {
        let failed = |e: &dyn std::fmt::Display| HashError::Hashing(e.to_string());
        match self {
            Self::Argon2 {
                algorithm,
                version,
                params,
            } => {
                let argon2 = Argon2::new(*algorithm, *version, params.clone());
                memory
                    .argon2(&argon2, password, salt, out)
                    .map_err(|e| failed(&e))
            }
            Self::Scrypt(params) => {
                scrypt::scrypt(password, salt, params, out).map_err(|e| failed(&e))
            }
            Self::Pbkdf2(Prf::Sha256, rounds) => {
                pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(password, salt, *rounds, out);
                Ok(())
            }
            Self::Pbkdf2(Prf::Sha512, rounds) => {
                pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha512>(password, salt, *rounds, out);
                Ok(())
            }
        }
    }

    /// The cost of deriving a key of `len` bytes.
    fn cost(&self, len: usize) -> Cost {
        match self {
            Self::Argon2 { params, .. } => Cost::argon2(params),
            Self::Scrypt(params) => {
                let kib = u64::from(params.r()) * params.n() * u64::from(params.p()) / 8;
                Cost(kib * SCRYPT_KIB)
            }
            Self::Pbkdf2(prf, rounds) => {
                Cost(prf.work(*rounds, len) * prf.eighths_per_iteration() / 8)
            }
        }
    }
}

/// PBKDF2's pseudo-random function: HMAC with this hash.
#[derive(Clone, Copy)]
enum Prf {
    Sha256,
    Sha512,
}

impl Prf {
    fn scheme(self) -> Scheme {
        match self {
            Self::Sha256 => Scheme::Pbkdf2Sha256,
            Self::Sha512 => Scheme::Pbkdf2Sha512,
        }
    }

    /// The output size, which passlib and Django always derive.
    fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// Iterations times output blocks, as each block of a key runs all iterations.
    fn work(self, rounds: u32, key_len: usize) -> u64 {
        u64::from(rounds) * key_len.div_ceil(self.len()) as u64
    }

    /// The ceiling on [`Self::work`] (see above): SHA-NI speeds up SHA-256, not SHA-512.
    fn max_work(self) -> u64 {
        match self {
            Self::Sha256 => 3_000_000,
            Self::Sha512 => 1_000_000,
        }
    }

    /// One iteration took 0.13 µs with SHA-256 (SHA-NI), 0.68 µs with SHA-512: at least
    /// 1/8 and 7/8 of a KiB·pass.
    fn eighths_per_iteration(self) -> u64 {
        match self {
            Self::Sha256 => 1,
            Self::Sha512 => 7,
        }
    }
}

impl Stored {
    /// The one dispatch: `$id$…` strings by their id, Django's `name$…` by its name.
    pub(super) fn parse(stored: &str) -> Result<Self, HashError> {
        let (name, rest) = stored.split_once('$').ok_or(UNKNOWN)?;
        match name {
            "" => match rest.split_once('$').map_or(rest, |(id, _)| id) {
                id if id.starts_with("argon2") => argon2(stored),
                id if id.starts_with('2') => bcrypt(stored, Scheme::Bcrypt),
                "scrypt" => scrypt_phc(stored),
                "7" => scrypt_crypt(stored),
                "pbkdf2-sha256" => pbkdf2_dollar(stored, Prf::Sha256),
                "pbkdf2-sha512" => pbkdf2_dollar(stored, Prf::Sha512),
                "pbkdf2" => Err(NO_SHA1),
                _ => Err(UNKNOWN),
            },
            // Django prefixes its name to argon2-cffi's string, and to bcrypt's with a `$`.
            "argon2" => argon2(&stored[name.len()..]),
            "bcrypt" => bcrypt(rest, Scheme::Bcrypt),
            "bcrypt_sha256" => bcrypt(rest, Scheme::BcryptSha256),
            "scrypt" => scrypt_django(rest),
            "pbkdf2_sha256" => pbkdf2_django(rest),
            "pbkdf2_sha1" => Err(NO_SHA1),
            _ => Err(UNKNOWN),
        }
    }

    /// Whether `password` is the one this hash was made from. Argon2 works in `memory`.
    pub(super) fn matches(&self, password: &[u8], memory: Memory) -> Result<bool, HashError> {
        let failed = |e: bcrypt::BcryptError| HashError::Hashing(e.to_string());
        match &self.check {
            // Django hashes first so that passwords past bcrypt's 72 bytes still count.
            Check::Bcrypt { mcf, .. } if self.scheme == Scheme::BcryptSha256 => {
                bcrypt::verify(format!("{:x}", Sha256::digest(password)), mcf).map_err(failed)
            }
            // bcrypt would match any password that shares the first 72 bytes; it still runs,
            // so that refusing a longer one takes as long as refusing a wrong one.
            Check::Bcrypt { mcf, .. } => Ok(bcrypt::verify(password, mcf).map_err(failed)?
                && password.len() <= BCRYPT_MAX_PASSWORD),
            Check::Derived {
                kdf,
                salt,
                expected,
            } => {
                let mut derived = vec![0; expected.len()];
                kdf.derive(password, salt, &mut derived, memory)?;
                Ok(derived.as_slice().ct_eq(expected).into())
            }
        }
    }

    /// Whether checking this hash surely costs at least `ours`: exactly so for Argon2, whose
    /// cost is the same measure, and by the margin of the estimates for other schemes.
    pub(super) fn costs_at_least(&self, ours: Cost) -> bool {
        match &self.check {
            Check::Derived {
                kdf: Kdf::Argon2 { .. },
                ..
            } => self.cost() >= ours,
            _ => self.cost().surely_at_least(ours),
        }
    }

    /// The estimated work of [`Self::matches`].
    pub(super) fn cost(&self) -> Cost {
        match &self.check {
            Check::Bcrypt { cost, .. } => Cost((1 << cost) * BCRYPT_ROUND),
            Check::Derived { kdf, expected, .. } => kdf.cost(expected.len()),
        }
    }

    /// Whether this is an Argon2id hash of our version with exactly the costs of `current`.
    pub(super) fn is_argon2id_with(&self, current: &argon2::Params) -> bool {
        let Check::Derived {
            kdf:
                Kdf::Argon2 {
                    algorithm,
                    version,
                    params,
                },
            ..
        } = &self.check
        else {
            return false;
        };
        *algorithm == Algorithm::Argon2id
            && *version == VERSION
            && (params.m_cost(), params.t_cost(), params.p_cost())
                == (current.m_cost(), current.t_cost(), current.p_cost())
    }
}

/// `$argon2id$v=19$m=…,t=…,p=…$salt$hash` and its `argon2i`/`argon2d` siblings.
fn argon2(stored: &str) -> Result<Stored, HashError> {
    let algorithm: Algorithm = stored
        .split('$')
        .nth(1)
        .and_then(|id| id.parse().ok())
        .ok_or(UNKNOWN)?;
    let scheme = argon2_scheme(algorithm);
    let phc = phc(stored, scheme, &["m", "t", "p"])?;
    // libargon2 reads a missing `v=` as 1.0, the argon2 crate as 1.3: demand it.
    let version = match phc.version {
        Some(0x10) => Version::V0x10,
        Some(0x13) => Version::V0x13,
        Some(_) => return Err(malformed(scheme, "the version is neither 16 nor 19")),
        None => return Err(malformed(scheme, "the version `v=` is missing")),
    };
    let params = argon2::Params::try_from(&phc).map_err(|e| malformed(scheme, e))?;
    let hash = phc.hash.as_ref().map(Output::as_bytes).unwrap_or_default();
    let salt = phc.salt.as_deref().unwrap_or_default();
    let kdf = Kdf::Argon2 {
        algorithm,
        version,
        params,
    };
    derived(kdf, salt, hash, HASH_LEN)
}

fn argon2_scheme(algorithm: Algorithm) -> Scheme {
    match algorithm {
        Algorithm::Argon2id => Scheme::Argon2id,
        Algorithm::Argon2i => Scheme::Argon2i,
        Algorithm::Argon2d => Scheme::Argon2d,
    }
}

/// `$2b$NN$` + 22 salt and 31 hash characters, or `$2a$`, `$2y$`.
fn bcrypt(stored: &str, scheme: Scheme) -> Result<Stored, HashError> {
    // `$2x$` marks crypt_blowfish's sign-extension bug, which the bcrypt crate does not mimic.
    if !matches!(stored.get(..4), Some("$2a$" | "$2b$" | "$2y$")) {
        return Err(malformed(
            scheme,
            "expected a `$2a$`, `$2b$` or `$2y$` string",
        ));
    }
    if !stored
        .get(4..6)
        .is_some_and(|cost| cost.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(malformed(scheme, "the cost is not two digits"));
    }
    let parts: bcrypt::HashParts = stored.parse().map_err(|e| malformed(scheme, e))?;
    if parts.get_cost() < 4 {
        return Err(malformed(scheme, "the cost is below bcrypt's minimum of 4"));
    }
    within(scheme, "cost", parts.get_cost().into(), MAX_BCRYPT_COST)?;
    Ok(Stored {
        scheme,
        check: Check::Bcrypt {
            mcf: stored.to_owned(),
            cost: parts.get_cost(),
        },
    })
}

/// `$scrypt$ln=…,r=…,p=…$salt$hash`, passlib's and the scrypt crate's.
fn scrypt_phc(stored: &str) -> Result<Stored, HashError> {
    let scheme = Scheme::Scrypt;
    let phc = phc(stored, scheme, &["ln", "r", "p"])?;
    let decimal = |name: &str| {
        phc.params
            .get_decimal(name)
            .ok_or_else(|| malformed(scheme, format!("`{name}` is not a number")))
    };
    let log_n = u8::try_from(decimal("ln")?).map_err(|e| malformed(scheme, e))?;
    let params = scrypt_params(log_n, decimal("r")?, decimal("p")?)?;
    let hash = phc.hash.as_ref().map(Output::as_bytes).unwrap_or_default();
    let salt = phc.salt.as_deref().unwrap_or_default();
    derived(Kdf::Scrypt(params), salt, hash, HASH_LEN)
}

/// `$7$` + log2 N, r and p in crypt's base64 + the salt, used as text, + `$` + the hash.
fn scrypt_crypt(stored: &str) -> Result<Stored, HashError> {
    let scheme = Scheme::Scrypt;
    let [_, _, setting, hash] = fields(stored, scheme)?;
    let (costs, salt) = setting
        .split_at_checked(11)
        .ok_or_else(|| malformed(scheme, "the setting is shorter than its 11 cost characters"))?;
    let cost = |range: RangeInclusive<usize>| h64(&costs.as_bytes()[range]);
    let (Some(log_n), Some(r), Some(p)) = (cost(0..=0), cost(1..=5), cost(6..=10)) else {
        return Err(malformed(scheme, "the costs are not in crypt's base64"));
    };
    // One digit is below 64, so `log_n` fits.
    let params = scrypt_params(log_n as u8, r, p)?;
    let hash =
        h64_bytes(hash).ok_or_else(|| malformed(scheme, "the hash is not crypt's base64"))?;
    derived(Kdf::Scrypt(params), salt.as_bytes(), &hash, 32..=32)
}

/// scrypt's parameters, refused before the scrypt crate multiplies r by p, which overflows
/// (a panic in debug builds, a wrong check in release ones) for values no real hash has.
fn scrypt_params(log_n: u8, r: u32, p: u32) -> Result<scrypt::Params, HashError> {
    let scheme = Scheme::Scrypt;
    if r.checked_mul(p).is_none_or(|rp| rp >= 0x4000_0000) {
        return Err(malformed(scheme, "r times p is beyond what scrypt allows"));
    }
    scrypt::Params::new(log_n, r, p).map_err(|e| malformed(scheme, e))
}

/// Django's `scrypt$N$salt$r$p$hash`: the salt is used as text, the hash is base64.
fn scrypt_django(fields_after_name: &str) -> Result<Stored, HashError> {
    let scheme = Scheme::Scrypt;
    let [n, salt, r, p, hash] = fields(fields_after_name, scheme)?;
    let n = number(n, scheme, "N")?;
    if !n.is_power_of_two() {
        return Err(malformed(scheme, "N is not a power of two"));
    }
    let (r, p) = (number(r, scheme, "r")?, number(p, scheme, "p")?);
    let params = scrypt_params(n.trailing_zeros() as u8, r, p)?;
    let hash = decode(&STANDARD, hash, scheme)?;
    derived(Kdf::Scrypt(params), salt.as_bytes(), &hash, 64..=64)
}

/// `$pbkdf2-sha256$…` and `-sha512`: PHC's `i=…[,l=…]$salt$hash` (@phc/pbkdf2, the pbkdf2
/// crate) when its parameters are named, else passlib's `rounds$salt$hash` in passlib's
/// base64, which has `.` for `+`.
fn pbkdf2_dollar(stored: &str, prf: Prf) -> Result<Stored, HashError> {
    let scheme = prf.scheme();
    let [_, _, rounds, salt, hash] = fields(stored, scheme)?;
    if !rounds.contains('=') {
        let kdf = Kdf::Pbkdf2(prf, number(rounds, scheme, "rounds")?);
        let ab64 = |field: &str| decode(&STANDARD_NO_PAD, &field.replace('.', "+"), scheme);
        return derived(kdf, &ab64(salt)?, &ab64(hash)?, prf.len()..=prf.len());
    }
    let phc = phc(stored, scheme, &["i"])?;
    let hash = phc.hash.as_ref().map(Output::as_bytes).unwrap_or_default();
    let param = |name| phc.params.get_decimal(name);
    if phc
        .params
        .iter()
        .any(|(name, _)| !matches!(name.as_str(), "i" | "l"))
    {
        return Err(malformed(scheme, "parameters other than `i` and `l`"));
    }
    if phc.params.get("l").is_some() && param("l") != u32::try_from(hash.len()).ok() {
        return Err(malformed(scheme, "`l` is not the length of the hash"));
    }
    let rounds = param("i").ok_or_else(|| malformed(scheme, "`i` is not a number"))?;
    let salt = phc.salt.as_deref().unwrap_or_default();
    derived(Kdf::Pbkdf2(prf, rounds), salt, hash, HASH_LEN)
}

/// Django's `pbkdf2_sha256$iterations$salt$hash`: the salt is used as text, the hash is
/// base64.
fn pbkdf2_django(fields_after_name: &str) -> Result<Stored, HashError> {
    let scheme = Scheme::Pbkdf2Sha256;
    let [iterations, salt, hash] = fields(fields_after_name, scheme)?;
    let kdf = Kdf::Pbkdf2(Prf::Sha256, number(iterations, scheme, "iterations")?);
    let hash = decode(&STANDARD, hash, scheme)?;
    derived(kdf, salt.as_bytes(), &hash, 32..=32)
}

/// A PHC string with a salt, a hash and each of the `required` parameters, which the crates'
/// parsers would otherwise default.
fn phc(stored: &str, scheme: Scheme, required: &[&str]) -> Result<Phc, HashError> {
    let phc = Phc::new(stored).map_err(|e| malformed(scheme, e))?;
    if let Some(name) = required
        .iter()
        .find(|name| phc.params.get(**name).is_none())
    {
        return Err(malformed(
            scheme,
            format!("the parameter `{name}` is missing"),
        ));
    }
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(malformed(scheme, "the salt or the hash is missing"));
    }
    Ok(phc)
}

/// A key to derive from `salt` and compare with `expected`, once lengths and costs pass;
/// `hash_len` is exact for the formats whose implementations always derive one length.
fn derived(
    kdf: Kdf,
    salt: &[u8],
    expected: &[u8],
    hash_len: RangeInclusive<usize>,
) -> Result<Stored, HashError> {
    let scheme = kdf.scheme();
    let length = |what, len: usize, bounds: RangeInclusive<usize>| {
        if bounds.contains(&len) {
            Ok(())
        } else {
            let (min, max) = bounds.into_inner();
            let reason = if min == max {
                format!("the {what} is {len} bytes, not {min}")
            } else {
                format!("the {what} is {len} bytes, not {min} to {max}")
            };
            Err(malformed(scheme, reason))
        }
    };
    length("salt", salt.len(), SALT_LEN)?;
    length("hash", expected.len(), hash_len)?;
    match &kdf {
        Kdf::Argon2 { params, .. } => {
            let memory = u64::from(params.m_cost()) * 1024;
            within_mib(scheme, "memory (m)", memory, MAX_MEMORY)?;
            let work = memory * u64::from(params.t_cost());
            within_mib(scheme, "memory × passes (m·t)", work, MAX_ARGON2_WORK)?;
        }
        Kdf::Scrypt(params) => {
            let memory = (128 * u64::from(params.r())).saturating_mul(params.n());
            within_mib(scheme, "memory (128·r·N)", memory, MAX_MEMORY)?;
            let work = memory.saturating_mul(params.p().into());
            within_mib(scheme, "memory × lanes (128·r·N·p)", work, MAX_SCRYPT_WORK)?;
        }
        Kdf::Pbkdf2(prf, rounds) => {
            if *rounds == 0 {
                return Err(malformed(scheme, "the iteration count is zero"));
            }
            let work = prf.work(*rounds, expected.len());
            within(scheme, "iterations × output blocks", work, prf.max_work())?;
        }
    }
    Ok(Stored {
        scheme,
        check: Check::Derived {
            kdf,
            salt: salt.to_vec(),
            expected: expected.to_vec(),
        },
    })
}

/// Exactly `N` `$`-separated fields.
fn fields<const N: usize>(text: &str, scheme: Scheme) -> Result<[&str; N], HashError> {
    let fields: Vec<&str> = text.split('$').collect();
    let found = fields.len();
    fields.try_into().map_err(|_| {
        malformed(
            scheme,
            format!("{found} `$`-separated fields where {N} belong"),
        )
    })
}

/// A decimal field; signs, spaces and values past `u32` are refused.
fn number(text: &str, scheme: Scheme, what: &str) -> Result<u32, HashError> {
    Some(text)
        .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| malformed(scheme, format!("{what} is not a decimal number below 2^32")))
}

fn decode(engine: &GeneralPurpose, text: &str, scheme: Scheme) -> Result<Vec<u8>, HashError> {
    engine
        .decode(text)
        .map_err(|e| malformed(scheme, format!("bad base64: {e}")))
}

/// crypt's base64 digits, each worth six bits, the least significant first.
const H64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Up to five crypt base64 digits as a number.
fn h64(digits: &[u8]) -> Option<u32> {
    digits.iter().rev().try_fold(0, |value, digit| {
        let digit = H64.iter().position(|d| d == digit)?;
        Some((value << 6) | digit as u32)
    })
}

/// Bytes in crypt's base64: each group of four digits is three little-endian bytes, and a
/// final group of two or three digits one or two.
fn h64_bytes(text: &str) -> Option<Vec<u8>> {
    text.as_bytes()
        .chunks(4)
        .try_fold(Vec::new(), |mut bytes, group| {
            let len = group.len().checked_sub(1).filter(|&len| len > 0)?;
            bytes.extend_from_slice(&h64(group)?.to_le_bytes()[..len]);
            Some(bytes)
        })
}

fn malformed(scheme: Scheme, reason: impl ToString) -> HashError {
    HashError::Malformed {
        scheme,
        reason: reason.to_string(),
    }
}

fn within(scheme: Scheme, what: &str, value: u64, max: u64) -> Result<(), HashError> {
    if value <= max {
        return Ok(());
    }
    Err(HashError::TooCostly {
        scheme,
        reason: format!("{what} is {value}, above the limit of {max}"),
    })
}

/// [`within`] for amounts of memory, named in MiB, rounded up.
fn within_mib(scheme: Scheme, what: &str, bytes: u64, max: u64) -> Result<(), HashError> {
    if bytes <= max {
        return Ok(());
    }
    let mib = |bytes: u64| bytes.div_ceil(1 << 20);
    Err(HashError::TooCostly {
        scheme,
        reason: format!(
            "{what} is {} MiB, above the limit of {} MiB",
            mib(bytes),
            mib(max)
        ),
    })
}
