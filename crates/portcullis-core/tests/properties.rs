//! Properties of the parsers that meet hostile input: they never panic, and what they accept
//! is stable. A short run is part of `cargo test`; `PROPTEST_CASES=100000 cargo test -p
//! portcullis-core --test properties` is the long one.

use portcullis_core::password_hash::Origin;
use portcullis_core::{
    DisplayName, Email, HashParams, ImageUrl, Password, PasswordHasher, PlainToken, Scheme,
    SessionId, UserId, Username,
};
use proptest::prelude::*;

/// Well-formed hashes of every family, to mutate.
const HASHES: &[&str] = &[
    "$argon2id$v=19$m=256,t=2,p=2$gX38kbcsmg4zNZiA/0q9Eg$DRnwvyU3+KuOW79cTwmyXj9Imi3qfxrd9NpODvAzUQU",
    "$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
    "bcrypt_sha256$$2b$04$zWGYnzfSNfZ.0ub9CoSyTegiUpoVJuKMQqn75OYyRc/G1gBanyINS",
    "pbkdf2_sha256$1000$mpC7Gp68TO0AjJ4jwxtYc2$H5pfeSx8/rh92F3LzZ47leyDgAoN/4Wdq0CGZvhelcU=",
    "$scrypt$ln=8,r=8,p=2$N6bUWguhNEYopfR+713rnQ$OW/6Mb5dyGMAhoKJfLxqfuvxxzb7CZaWiEpPdrSUqsE",
    "$pbkdf2-sha256$1$7f3/P0cIIaQUgrC29l4LIQ$dabUiZO6H2xYGeltSJQR/TNOIujzD5xWTiTymfN16lM",
    "$7$72..../....co6R8n6vNcb4n1MqBaBUqg$/gFmwcFMOmTd.u66Vou.ilWJm64MqBHN.zstPFI1F3.",
];

/// A well-formed hash with one character replaced, inserted or removed, or its text cut.
fn mutated_hash() -> impl Strategy<Value = String> {
    (0..HASHES.len(), any::<usize>(), any::<char>(), 0..4u8).prop_map(|(i, at, c, how)| {
        let mut chars: Vec<char> = HASHES[i].chars().collect();
        let at = at % chars.len();
        match how {
            0 => chars[at] = c,
            1 => chars.insert(at, c),
            2 => {
                chars.remove(at);
            }
            _ => chars.truncate(at),
        }
        chars.into_iter().collect()
    })
}

fn cheap() -> PasswordHasher {
    PasswordHasher::new(HashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    })
    .unwrap()
}

proptest! {
    #[test]
    fn email_parsing_is_total_and_idempotent(raw in "\\PC{0,80}|[a-zA-Z0-9.+_-]{1,20}@[a-zA-Z0-9.-]{1,20}") {
        if let Ok(email) = Email::parse(&raw) {
            prop_assert!(email.as_str().is_ascii());
            prop_assert!(email.as_str().len() <= 254);
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email.clone());
            prop_assert_eq!(email.lowercase(), email.as_str().to_ascii_lowercase());
        }
    }

    #[test]
    fn stored_hashes_parse_without_panicking(stored in mutated_hash()) {
        // Whatever the mutation, detection answers; a hash it accepts is checked cleanly.
        if Scheme::detect(&stored).is_ok() {
            let password = Password::for_verification("correct horse battery staple").unwrap();
            let _ = cheap().verify(&password, &stored, Origin::Imported);
        }
    }

    #[test]
    fn arbitrary_text_is_never_a_known_hash_by_accident(stored in "\\PC{0,120}") {
        let _ = Scheme::detect(&stored);
    }

    #[test]
    fn profile_fields_parse_totally(raw in "\\PC{0,300}") {
        if let Ok(name) = DisplayName::parse(&raw) {
            prop_assert_eq!(name.as_str(), raw.trim());
            prop_assert!(!name.as_str().chars().any(char::is_control));
        }
        if let Ok(username) = Username::parse(&raw) {
            prop_assert!(username.as_str().is_ascii());
        }
        if let Ok(image) = ImageUrl::parse(&raw) {
            prop_assert!(image.as_str().starts_with("http"));
        }
    }

    #[test]
    fn ids_and_tokens_accept_only_their_own_shape(raw in "\\PC{0,64}") {
        if let Ok(id) = raw.parse::<UserId>() {
            prop_assert_eq!(id.to_string(), raw.to_ascii_lowercase());
        }
        if let Ok(id) = raw.parse::<SessionId>() {
            prop_assert_eq!(id.to_string().len(), 36);
        }
        if let Some(token) = PlainToken::parse(&raw) {
            prop_assert_eq!(token.expose(), raw.as_str());
        }
    }

    #[test]
    fn passwords_normalise_without_panicking(raw in "\\PC{0,300}") {
        if let Ok(password) = Password::for_verification(&raw) {
            prop_assert!(password.expose().len() <= 18 * raw.len() + 1);
        }
    }
}
