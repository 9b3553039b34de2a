//! Stored hashes made by the reference implementation of each format, never by this crate,
//! checked through the public API. Producers: argon2-cffi 25.1.0, pyca/bcrypt 5.0.0,
//! passlib 1.7.4 and Django 5.2.19 on Python 3.11 with Debian's libxcrypt, and @phc/pbkdf2
//! 1.1.14 on Node 20 (OpenSSL). Costs were lowered so that the tests stay fast.

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

/// Each `(scheme, stored)` detects as `scheme`, verifies `PASSWORD`, refuses a near miss and
/// asks to be re-hashed.
fn check(vectors: &[(Scheme, &str)]) {
    let hasher = hasher();
    for &(scheme, stored) in vectors {
        assert_eq!(Scheme::detect(stored).unwrap(), scheme, "{stored}");
        assert!(
            hasher.verify(&password(PASSWORD), stored).unwrap(),
            "{stored}"
        );
        let near_miss = password("correct horse battery stapler");
        assert!(!hasher.verify(&near_miss, stored).unwrap(), "{stored}");
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
    assert!(hasher().verify(&password(&long), stored).unwrap());
    assert!(!hasher().verify(&password(&long[..72]), stored).unwrap());
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
    assert!(
        hasher()
            .verify(&password("passwordPASSWORDpassword"), stored)
            .unwrap()
    );
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
        assert!(hasher.verify(&password(TYPED), stored).unwrap(), "{stored}");
        // Typing the normalised form is not typing the password.
        assert!(!hasher.verify(&password(NORMALISED), stored).unwrap());
    }
    // Our own hashes are of the NFKC form, which either way of typing it matches.
    let ours = hasher.hash(&password(TYPED)).unwrap();
    assert!(hasher.verify(&password(NORMALISED), &ours).unwrap());
}

fn too_costly(stored: &str) -> String {
    let error = Scheme::detect(stored).unwrap_err();
    assert!(matches!(error, HashError::TooCostly { .. }), "{error}");
    let refused = hasher().verify(&password(PASSWORD), stored);
    assert!(matches!(refused, Err(HashError::TooCostly { .. })));
    error.to_string()
}

#[test]
fn costs_beyond_the_limits_are_refused() {
    assert_eq!(
        too_costly("$2b$17$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS"),
        "bcrypt hash is too costly to verify: cost is 17, above the limit of 16"
    );
    too_costly(
        "$argon2id$v=19$m=2097152,t=1,p=1$gX38kbcsmg4zNZiA/0q9Eg$\
         DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU",
    );
    too_costly(
        "$argon2id$v=19$m=1048576,t=5,p=1$gX38kbcsmg4zNZiA/0q9Eg$\
         DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU",
    );
    too_costly(
        "$scrypt$ln=21,r=8,p=1$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE",
    );
    too_costly(
        "$scrypt$ln=14,r=8,p=512$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE",
    );
    too_costly(
        "$pbkdf2-sha256$20000000$7f3/P0cIIaQUgrC29l4LIQ$dabUiZO6H2xYGeltSJQR/TNOIujzD5xWTiTymfN16lM",
    );
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
