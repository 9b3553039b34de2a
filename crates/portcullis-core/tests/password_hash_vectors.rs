//! Stored hashes made by the reference implementation of each format, never by this crate,
//! checked through the public API. Producers: argon2-cffi 25.1.0, pyca/bcrypt 5.0.0,
//! passlib 1.7.4 and Django 5.2.19 on Python 3.11 with Debian's libxcrypt, and @phc/pbkdf2
//! 1.1.14 on Node 20 (OpenSSL). Costs were lowered so that the tests stay fast.

use portcullis_core::password_hash::Origin;
use portcullis_core::{HashError, HashParams, Password, PasswordHasher, Scheme};

const PASSWORD: &str = "correct horse battery staple";

fn hasher() -> PasswordHasher {
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

/// Whether `raw` verifies against the imported hash `stored`.
fn imported(hasher: &PasswordHasher, raw: &str, stored: &str) -> bool {
    hasher
        .verify(&password(raw), stored, Origin::Imported)
        .unwrap()
}

/// Each `(scheme, stored)` detects as `scheme`, verifies `PASSWORD`, refuses a near miss and
/// asks to be re-hashed.
fn check(vectors: &[(Scheme, &str)]) {
    let hasher = hasher();
    for &(scheme, stored) in vectors {
        assert_eq!(Scheme::detect(stored).unwrap(), scheme, "{stored}");
        assert!(imported(&hasher, PASSWORD, stored), "{stored}");
        assert!(
            !imported(&hasher, "correct horse battery stapler", stored),
            "{stored}"
        );
        assert!(hasher.needs_rehash(stored), "{stored}");
    }
}

#[test]
fn argon2_vectors() {
    check(&[
        // argon2.PasswordHasher(time_cost=2, memory_cost=256, parallelism=2).hash(PASSWORD)
        (
            Scheme::Argon2id,
            "$argon2id$v=19$m=256,t=2,p=2$gX38kbcsmg4zNZiA/0q9Eg$\
             DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU",
        ),
        // argon2.low_level.hash_secret(…, salt=b"portcullis-salt!", t=2, m=128, p=1, type=I)
        (
            Scheme::Argon2i,
            "$argon2i$v=19$m=128,t=2,p=1$cG9ydGN1bGxpcy1zYWx0IQ$\
             9QIujc9iuP1w+6fifP4i335OsRsOIRpUi3DuYVl9qkc",
        ),
        // argon2.low_level.hash_secret(…, t=1, m=128, p=2, hash_len=24, type=D)
        (
            Scheme::Argon2d,
            "$argon2d$v=19$m=128,t=1,p=2$cG9ydGN1bGxpcy1zYWx0IQ$EdoZEm0bv9mZjXsdLKbZZvkElLeSAbGv",
        ),
        // Django make_password with Argon2PasswordHasher(time_cost=1, memory_cost=256,
        // parallelism=2)
        (
            Scheme::Argon2id,
            "argon2$argon2id$v=19$m=256,t=1,p=2$ZDh6bGY2NnVOeGlMUUVlbUJhTnhsOA$\
             cgfdT0pq+uOn5TFSdCKXUGww57LgPL5wS2Jtcw4+W90",
        ),
    ]);
}

#[test]
fn bcrypt_vectors() {
    check(&[
        // bcrypt.hashpw(PASSWORD, bcrypt.gensalt(4))
        (
            Scheme::Bcrypt,
            "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
        ),
        // bcrypt.hashpw(PASSWORD, bcrypt.gensalt(5, prefix=b"2a"))
        (
            Scheme::Bcrypt,
            "$2a$05$vGlYcxggvIydFyj6.RizIeQMDVrj57sWMXZu3mkUxCGQ.45zHxAOm",
        ),
        // bcrypt.hashpw(PASSWORD, b"$2y$04$" + salt)
        (
            Scheme::Bcrypt,
            "$2y$04$EwlXSLhrp24cw8DeUV7/Ge.uEt7RBfb/iT.DA.uxkJSujc50i2Wvi",
        ),
        // Django make_password with BCryptPasswordHasher(rounds=4)
        (
            Scheme::Bcrypt,
            "bcrypt$$2b$04$9pvlXz5.QH.NGJFmF/MMqOzXRv0s5RGUU7mkKU2HOQRdqdxcTUT0m",
        ),
        // Django make_password with BCryptSHA256PasswordHasher(rounds=5)
        (
            Scheme::BcryptSha256,
            "bcrypt_sha256$$2b$05$xPdY.9NhNR63LKCljCUZ0OmyjithSXGPH8YhcPhK6NnmREqZbnkAm",
        ),
    ]);
}

#[test]
fn bcrypt_sha256_is_not_truncated_at_72_bytes() {
    let long = format!(
        "{}{}",
        "x".repeat(72),
        " and a tail beyond bcrypt's 72 bytes"
    );
    // Django make_password(long) with BCryptSHA256PasswordHasher(rounds=5)
    let stored = "bcrypt_sha256$$2b$05$9X6lb2oj/LnhBrP2Kf2sVeF6tTPyPopDgTnHanYEAMDmf733rYo.a";
    assert!(imported(&hasher(), &long, stored));
    assert!(!imported(&hasher(), &long[..72], stored));
}

#[test]
fn bcrypt_never_accepts_passwords_past_72_bytes() {
    let long = format!("{}12345678", "x".repeat(72));
    let same_first_72 = format!("{}87654321", "x".repeat(72));
    // crypt(long, crypt_gensalt("$2b$", 4, NULL, 0)) with libxcrypt, which reads 72 bytes
    let mcf = "$2b$04$jwIRzybBMJ0VOvVFPrO7B.m3x9euezgK7wxz3nO/VbZBwuaXZz/pm";
    let hasher = hasher();
    for stored in [
        mcf.to_owned(),
        mcf.replace("$2b$", "$2a$"),
        mcf.replace("$2b$", "$2y$"),
        format!("bcrypt${mcf}"),
    ] {
        // Which of the two was hashed cannot be told from the hash.
        assert!(!imported(&hasher, &long, &stored), "{stored}");
        assert!(!imported(&hasher, &same_first_72, &stored), "{stored}");
        // What bcrypt read of them is all that it proves.
        assert!(imported(&hasher, &long[..72], &stored), "{stored}");
    }
}

#[test]
fn scrypt_vectors() {
    check(&[
        // passlib.hash.scrypt.using(rounds=8, block_size=8, parallelism=2).hash(PASSWORD)
        (
            Scheme::Scrypt,
            "$scrypt$ln=8,r=8,p=2$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE",
        ),
        // passlib.hash.scrypt.using(ident="$7$", rounds=9, block_size=4, parallelism=1)
        (
            Scheme::Scrypt,
            "$7$72..../....co6R8n6vNcb4n1MqBaBUqg$/gFmwcFMOmTd.u66Vou.ilWJm64MqBHN.zstPFI1F3.",
        ),
        // libxcrypt: crypt(PASSWORD, crypt_gensalt("$7$", 6, NULL, 0)), i.e. N=2^13, r=32
        (
            Scheme::Scrypt,
            "$7$BU..../....WokGc/9oCMZNLBcTA8FrL.$1Xo4cBSKYnTMrdAEXyOczezdV0gk5EsYSJpjRD7MZR2",
        ),
        // Django make_password with ScryptPasswordHasher(work_factor=2**10, parallelism=2)
        (
            Scheme::Scrypt,
            "scrypt$1024$7tXSaTi45vHtaQiT8dyF2l$8$2$NRNYjkGrX0Xkhp6BoOL41IEAaliotDK/Hjj8474PcxhLVeYhO\
             HEvwKIzN5aXIm2nnVPTBOzbuAV2kf77ZrRxRw==",
        ),
    ]);
}

#[test]
fn pbkdf2_vectors() {
    check(&[
        // @phc/pbkdf2 hash(PASSWORD, {iterations: 1000, digest: "sha256"})
        (
            Scheme::Pbkdf2Sha256,
            "$pbkdf2-sha256$i=1000$b10YGEMWBZpSt39+Q00jfg$fBPW9kLMz9+SmLt+vh5gG1+quSHdUx3r4ah6BfDckng",
        ),
        // @phc/pbkdf2 hash(PASSWORD, {iterations: 1000, digest: "sha512"})
        (
            Scheme::Pbkdf2Sha512,
            "$pbkdf2-sha512$i=1000$Ja/iuF/9aIjMSpnLc5SsOA$MgJtAgRjqmG53uCSLsiWP2kGoj4ZwYrkA6AZNBollVRh\
             JJI2EHXe05St84tfIkTX5BOGN73/LLUPxQMElapPEA",
        ),
        // passlib.hash.pbkdf2_sha256.using(rounds=1000).hash(PASSWORD)
        (
            Scheme::Pbkdf2Sha256,
            "$pbkdf2-sha256$1000$7f3/P0cIIaQUgrC29l4LIQ$dabUiZO6H2xYGeltSJQR/TNOIujzD5xWTiTymfN16lM",
        ),
        // passlib.hash.pbkdf2_sha512.using(rounds=1000).hash(PASSWORD); its '.' is a '+'
        (
            Scheme::Pbkdf2Sha512,
            "$pbkdf2-sha512$1000$6D3nvBcihDAmpBTiPAfgXA$rz3.LYeJIsVD3B1hq2g4Vm6xWLqvpC1XnTjS9N85bFTqyq\
             iW0YJnao6p1I7v2JSiHA4I7tZeNGu7svBG5sBY1A",
        ),
        // Django make_password with PBKDF2PasswordHasher(iterations=1000)
        (
            Scheme::Pbkdf2Sha256,
            "pbkdf2_sha256$1000$mpC7Gp68TO0AjJ4jwxtYc2$H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=",
        ),
    ]);
}

#[test]
fn pbkdf2_phc_with_a_length() {
    // The pbkdf2 crate's own PHC test vector (c=4096, dkLen=40), whose hash Python's
    // hashlib.pbkdf2_hmac reproduces.
    let stored = "$pbkdf2-sha256$i=4096,l=40$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0$\
                  NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+HGNVGMfaxH6Q";
    assert_eq!(Scheme::detect(stored).unwrap(), Scheme::Pbkdf2Sha256);
    assert!(imported(&hasher(), "passwordPASSWORDpassword", stored));
    let wrong_length = stored.replace("l=40", "l=32");
    assert!(matches!(
        Scheme::detect(&wrong_length),
        Err(HashError::Malformed { .. })
    ));
}

/// 'ﬁ', full-width "Ｐａｓｓ" and a combining accent: NFKC makes it "fine Pass café".
const TYPED: &str = "\u{fb01}ne \u{ff30}\u{ff41}\u{ff53}\u{ff53} cafe\u{301}";
const NORMALISED: &str = "fine Pass caf\u{e9}";

#[test]
fn imported_hashes_of_unnormalised_passwords_verify_as_typed() {
    let hasher = hasher();
    for stored in [
        // Django make_password(TYPED) with PBKDF2PasswordHasher(iterations=1000)
        "pbkdf2_sha256$1000$v2NSIjGYybq3DFifPdhXoA$v3iYM/hHtvyvv7tP4AqiXsxAd8xevsopgTnG5p5e9PQ=",
        // bcrypt.hashpw(TYPED.encode(), bcrypt.gensalt(4))
        "$2b$04$2xxnDF.dBbm03kJqmtx2keH9bwLUCVfd97VSVSD/PNMMaduTEoF4O",
    ] {
        assert!(imported(&hasher, TYPED, stored), "{stored}");
        // Typing the normalised form is not typing the password.
        assert!(!imported(&hasher, NORMALISED, stored), "{stored}");
    }
    // Our own hashes are of the NFKC form, which either way of typing it matches.
    let ours = hasher.hash(&password(TYPED)).unwrap();
    for typed in [TYPED, NORMALISED] {
        assert!(
            hasher
                .verify(&password(typed), &ours, Origin::Ours)
                .unwrap()
        );
    }
}

#[test]
fn imported_hashes_of_normalised_passwords_do_not_verify_other_typings() {
    // crypt(NORMALISED, crypt_gensalt("$2b$", 4, NULL, 0)) with libxcrypt
    let stored = "$2b$04$AjDVwgHU3/kUvwtldU45qObYa2oZINITmtmCo/h4t8lzrqeopFsQC";
    assert!(imported(&hasher(), NORMALISED, stored));
    // The system it came from compared bytes, so neither do we read TYPED as NORMALISED.
    assert!(!imported(&hasher(), TYPED, stored));
}

fn too_costly(stored: &str) -> String {
    let error = Scheme::detect(stored).unwrap_err();
    assert!(matches!(error, HashError::TooCostly { .. }), "{error}");
    let refused = hasher().verify(&password(PASSWORD), stored, Origin::Imported);
    assert!(matches!(refused, Err(HashError::TooCostly { .. })));
    error.to_string()
}

/// `stored` with its `$`-separated field `index` replaced by `field`: a hash of the same
/// shape with other costs, which detection reads without verifying.
fn with_field(stored: &str, index: usize, field: &str) -> String {
    let mut fields: Vec<&str> = stored.split('$').collect();
    fields[index] = field;
    fields.join("$")
}

const ARGON2: &str = "$argon2id$v=19$m=256,t=2,p=2$gX38kbcsmg4zNZiA/0q9Eg$\
                      DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU";
const BCRYPT: &str = "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS";
const SCRYPT: &str =
    "$scrypt$ln=8,r=8,p=2$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE";
const DJANGO_SCRYPT: &str = "scrypt$1024$7tXSaTi45vHtaQiT8dyF2l$8$2$NRNYjkGrX0Xkhp6BoOL41IEAaliotDK/\
                             Hjj8474PcxhLVeYhOHEvwKIzN5aXIm2nnVPTBOzbuAV2kf77ZrRxRw==";
const DJANGO_PBKDF2: &str =
    "pbkdf2_sha256$1000$mpC7Gp68TO0AjJ4jwxtYc2$H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=";
const PBKDF2_SHA512: &str = "$pbkdf2-sha512$i=1000$Ja/iuF/9aIjMSpnLc5SsOA$MgJtAgRjqmG53uCSLsiWP2k\
                             Goj4ZwYrkA6AZNBollVRhJJI2EHXe05St84tfIkTX5BOGN73/LLUPxQMElapPEA";

#[test]
fn the_costs_real_systems_export_are_within_the_ceilings() {
    for stored in [
        // bcrypt at the ceiling, 14
        with_field(BCRYPT, 2, "14"),
        // libsodium's crypto_pwhash MODERATE: 256 MiB, t=3
        with_field(ARGON2, 3, "m=262144,t=3,p=1"),
        // argon2-cffi's and RFC 9106's second choice: 64 MiB, t=3, p=4
        with_field(ARGON2, 3, "m=65536,t=3,p=4"),
        // Django's Argon2PasswordHasher: 100 MiB, t=2, p=8
        format!("argon2{}", with_field(ARGON2, 3, "m=102400,t=2,p=8")),
        // Keycloak's argon2: 7 MiB, t=5
        with_field(ARGON2, 3, "m=7168,t=5,p=1"),
        // Firebase's and Django's scrypt: N=2^14 or 2^15, r=8, p=1
        with_field(&with_field(DJANGO_SCRYPT, 1, "16384"), 4, "1"),
        with_field(&with_field(DJANGO_SCRYPT, 1, "32768"), 4, "1"),
        // passlib's scrypt: N=2^16, r=8, p=1; and 256 MiB, the memory ceiling
        with_field(SCRYPT, 2, "ln=16,r=8,p=1"),
        with_field(SCRYPT, 2, "ln=18,r=8,p=1"),
        // Django 5.2's and 6.0's PBKDF2, and OWASP's PBKDF2-SHA512
        with_field(DJANGO_PBKDF2, 1, "1000000"),
        with_field(DJANGO_PBKDF2, 1, "1200000"),
        with_field(PBKDF2_SHA512, 2, "i=210000"),
    ] {
        assert!(Scheme::detect(&stored).is_ok(), "{stored}");
    }
}

#[test]
fn costs_beyond_the_ceilings_are_refused() {
    assert_eq!(
        too_costly(&with_field(BCRYPT, 2, "15")),
        "bcrypt hash is too costly to verify: cost is 15, above the limit of 14"
    );
    too_costly(&with_field(BCRYPT, 2, "16"));
    // libsodium's SENSITIVE
    assert_eq!(
        too_costly(&with_field(ARGON2, 3, "m=1048576,t=4,p=1")),
        "argon2id hash is too costly to verify: memory (m) is 1024 MiB, above the limit of \
         256 MiB"
    );
    assert_eq!(
        too_costly(&with_field(ARGON2, 3, "m=262144,t=4,p=1")),
        "argon2id hash is too costly to verify: memory × passes (m·t) is 1024 MiB, above the \
         limit of 768 MiB"
    );
    too_costly(&with_field(ARGON2, 3, "m=8,t=100000,p=1"));
    too_costly(&format!(
        "argon2{}",
        with_field(ARGON2, 3, "m=2097152,t=1,p=1")
    ));
    assert_eq!(
        too_costly(&with_field(SCRYPT, 2, "ln=19,r=8,p=1")),
        "scrypt hash is too costly to verify: memory (128·r·N) is 512 MiB, above the limit of \
         256 MiB"
    );
    too_costly(&with_field(SCRYPT, 2, "ln=17,r=8,p=4"));
    too_costly(&with_field(SCRYPT, 2, "ln=14,r=8,p=512"));
    too_costly(&with_field(
        &with_field(DJANGO_SCRYPT, 1, "1048576"),
        4,
        "1",
    ));
    assert_eq!(
        too_costly(&with_field(DJANGO_PBKDF2, 1, "3000001")),
        "pbkdf2_sha256 hash is too costly to verify: iterations × output blocks is 3000001, \
         above the limit of 3000000"
    );
    too_costly(&with_field(PBKDF2_SHA512, 2, "i=1000001"));
    // passlib's form
    too_costly(
        "$pbkdf2-sha256$20000000$7f3/P0cIIaQUgrC29l4LIQ$dabUiZO6H2xYGeltSJQR/TNOIujzD5xWTiTymfN16lM",
    );
    // 64 bytes of SHA-256 output are two blocks, each of which runs all iterations.
    let sha512_hash = PBKDF2_SHA512.rsplit('$').next().unwrap();
    too_costly(&format!(
        "$pbkdf2-sha256$i=1500001,l=64$Ja/iuF/9aIjMSpnLc5SsOA${sha512_hash}"
    ));
}

fn malformed(stored: &str, scheme: Scheme) -> String {
    match Scheme::detect(stored) {
        Err(error @ HashError::Malformed { scheme: found, .. }) if found == scheme => {
            error.to_string()
        }
        other => panic!("{stored}: {other:?}"),
    }
}

#[test]
fn garbage_of_a_known_scheme_is_refused_with_its_reason() {
    let argon2 = "$argon2id$v=19$m=256,t=2,p=2$gX38kbcsmg4zNZiA/0q9Eg$\
                  DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU";
    assert_eq!(
        malformed(&argon2.replace(",t=2", ""), Scheme::Argon2id),
        "malformed argon2id hash: the parameter `t` is missing"
    );
    malformed(&argon2.replace("v=19$", ""), Scheme::Argon2id);
    malformed(&argon2.replace("$DRnw", "$DR!w"), Scheme::Argon2id);
    malformed(&argon2[..argon2.rfind('$').unwrap()], Scheme::Argon2id);

    let bcrypt = "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS";
    malformed(&bcrypt.replace("$2b$", "$2x$"), Scheme::Bcrypt);
    malformed(&bcrypt.replace("$04$", "$+4$"), Scheme::Bcrypt);
    malformed(&bcrypt.replace("$04$", "$03$"), Scheme::Bcrypt);
    malformed(&bcrypt[..59], Scheme::Bcrypt);
    malformed(
        &format!("bcrypt_sha256${}", &bcrypt[1..]),
        Scheme::BcryptSha256,
    );

    let django_scrypt = "scrypt$1024$7tXSaTi45vHtaQiT8dyF2l$8$2$NRNYjkGrX0Xkhp6BoOL41IEAaliotDK/\
                         Hjj8474PcxhLVeYhOHEvwKIzN5aXIm2nnVPTBOzbuAV2kf77ZrRxRw==";
    malformed(&django_scrypt.replace("$1024$", "$1000$"), Scheme::Scrypt);
    malformed(&django_scrypt.replace("$8$2$", "$8$"), Scheme::Scrypt);
    malformed("$7$72..../..$hash", Scheme::Scrypt);
    malformed(
        "$scrypt$r=8,p=2$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqf",
        Scheme::Scrypt,
    );

    let django_pbkdf2 =
        "pbkdf2_sha256$1000$mpC7Gp68TO0AjJ4jwxtYc2$H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=";
    let reason = malformed(
        &django_pbkdf2.replace("$1000$", "$1e3$"),
        Scheme::Pbkdf2Sha256,
    );
    assert_eq!(
        reason,
        "malformed pbkdf2_sha256 hash: iterations is not a decimal number below 2^32"
    );
    let reason = malformed(&django_pbkdf2.replace("U=", "U"), Scheme::Pbkdf2Sha256);
    assert!(
        !reason.contains("H5pfeSx8"),
        "never echo the hash: {reason}"
    );
    malformed(
        &django_pbkdf2.replace("$1000$", "$0$"),
        Scheme::Pbkdf2Sha256,
    );
    malformed(
        "$pbkdf2-sha256$i=1000,x=1$b10YGEMWBZpSt39+Q00jfg$fBPW9kLMz9+SmLt+vh5gG1+quSHdUx3r4ah6BfDckng",
        Scheme::Pbkdf2Sha256,
    );
    malformed(
        "$pbkdf2-sha512$0$6D3nvBcihDAmpBTiPAfgXA$rz3.LYeJIsVD3B1hq2g4Vm6x",
        Scheme::Pbkdf2Sha512,
    );
}

#[test]
fn unsupported_schemes_are_named_as_such() {
    for stored in [
        // Django make_password with PBKDF2SHA1PasswordHasher(iterations=1000)
        "pbkdf2_sha1$1000$WJZLgErNE1gTOhudURqZ5l$xJx6QVA4al+cSyc7/u5e4KVTqH8=",
        // passlib.hash.pbkdf2_sha1.using(rounds=1000).hash(PASSWORD)
        "$pbkdf2$1000$.5/T.p8zhtDa27s3Zuz93w$V8tsvb/lUMr/0MbVgk60cpSr/Zo",
        "$1$saltsalt$2vnaRpHa6Jxjz5n83ok8Z0",
        "md5$salt$hash",
        "!unusable",
        "plaintext",
    ] {
        assert!(
            matches!(Scheme::detect(stored), Err(HashError::UnsupportedScheme(_))),
            "{stored}"
        );
    }
}
