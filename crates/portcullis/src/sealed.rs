//! Private keys at rest: ChaCha20-Poly1305 under a key derived from the server secret, with
//! the key id as associated data so a sealed key cannot be moved to another row.

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore;
use rand::rngs::OsRng;

pub(super) fn encrypt(kek: &[u8; 32], kid: &str, plaintext: &[u8]) -> anyhow::Result<String> {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let ciphertext = ChaCha20Poly1305::new(kek.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: kid.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("encrypting signing key"))?;
    Ok(format!(
        "v1.{}.{}",
        STANDARD.encode(nonce),
        STANDARD.encode(ciphertext)
    ))
}

pub(super) fn decrypt(kek: &[u8; 32], kid: &str, stored: &str) -> anyhow::Result<Vec<u8>> {
    let mut parts = stored.split('.');
    let (Some("v1"), Some(nonce), Some(ciphertext), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(anyhow!("signing key {kid}: unknown storage format"));
    };
    let nonce = STANDARD.decode(nonce)?;
    let ciphertext = STANDARD.decode(ciphertext)?;
    if nonce.len() != 12 {
        return Err(anyhow!("signing key {kid}: bad nonce"));
    }
    ChaCha20Poly1305::new(kek.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: kid.as_bytes(),
            },
        )
        .map_err(|_| {
            anyhow!("signing key {kid} cannot be decrypted: was PORTCULLIS_SECRET changed?")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_keys_round_trip_only_with_the_right_key_and_kid() {
        let stored = encrypt(&[1; 32], "kid-a", b"private").unwrap();
        assert!(!stored.contains("private"));
        assert_eq!(decrypt(&[1; 32], "kid-a", &stored).unwrap(), b"private");
        assert!(decrypt(&[2; 32], "kid-a", &stored).is_err());
        assert!(decrypt(&[1; 32], "kid-b", &stored).is_err());
    }
}
