//! Secrets at rest (signing keys, queued mail): ChaCha20-Poly1305 under a key derived from
//! the server secret, with the row's id as associated data so a sealed value cannot be moved
//! to another row.

use anyhow::anyhow;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use rand::RngCore;
use rand::rngs::OsRng;

/// Seals `plaintext` for the row `id`: `v1.<nonce>.<ciphertext>`, base64.
pub fn seal(key: &[u8; 32], id: &str, plaintext: &[u8]) -> anyhow::Result<String> {
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let ciphertext = ChaCha20Poly1305::new(key.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: id.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("sealing {id}"))?;
    Ok(format!(
        "v1.{}.{}",
        STANDARD.encode(nonce),
        STANDARD.encode(ciphertext)
    ))
}

/// Opens what [`seal`] made for the row `id`.
pub fn open(key: &[u8; 32], id: &str, stored: &str) -> anyhow::Result<Vec<u8>> {
    let mut parts = stored.split('.');
    let (Some("v1"), Some(nonce), Some(ciphertext), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(anyhow!("{id}: unknown storage format"));
    };
    let nonce = STANDARD.decode(nonce)?;
    let ciphertext = STANDARD.decode(ciphertext)?;
    if nonce.len() != 12 {
        return Err(anyhow!("{id}: bad nonce"));
    }
    ChaCha20Poly1305::new(key.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ciphertext,
                aad: id.as_bytes(),
            },
        )
        .map_err(|_| anyhow!("{id} cannot be decrypted: was PORTCULLIS_SECRET changed?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_only_with_the_right_key_and_id() {
        let stored = seal(&[1; 32], "kid-a", b"private").unwrap();
        assert!(!stored.contains("private"));
        assert_eq!(open(&[1; 32], "kid-a", &stored).unwrap(), b"private");
        assert!(open(&[2; 32], "kid-a", &stored).is_err());
        assert!(open(&[1; 32], "kid-b", &stored).is_err());
    }
}
