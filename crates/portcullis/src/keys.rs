//! Signing keys: Ed25519 generated on first start, the private half encrypted at rest
//! (ChaCha20-Poly1305 under a key derived from the server secret, the kid as associated
//! data), the public half published as a JWK.

use std::collections::HashMap;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use portcullis_store::{NewSigningKey, Store};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::{Value, json};

/// The key that signs new tokens.
pub struct ActiveKey {
    pub kid: String,
    pub alg: Algorithm,
    pub encoding: EncodingKey,
}

/// A key that tokens may be verified with.
pub struct VerifyingKey {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
}

/// The signing key and every published verification key.
pub struct KeyRing {
    pub active: ActiveKey,
    pub verifying: HashMap<String, VerifyingKey>,
    pub jwks: Value,
}

impl KeyRing {
    /// Loads the stored keys, generating the first one when there is none.
    pub async fn load_or_create(store: &Store, kek: &[u8; 32], now: i64) -> anyhow::Result<Self> {
        let mut rows = store.signing_keys().await?;
        if !rows.iter().any(|row| row.retired_at.is_none()) {
            store
                .insert_signing_key(&generate_ed25519(kek, now)?)
                .await?;
            rows = store.signing_keys().await?;
        }
        let newest = rows
            .iter()
            .find(|row| row.retired_at.is_none())
            .ok_or_else(|| anyhow!("no active signing key"))?;
        let der = decrypt(kek, &newest.kid, &newest.private_key)?;
        let active = ActiveKey {
            kid: newest.kid.clone(),
            alg: Algorithm::EdDSA,
            encoding: EncodingKey::from_ed_der(&der),
        };
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in &rows {
            let jwk: Value = serde_json::from_str(&row.public_jwk).context("stored JWK")?;
            let x = jwk["x"]
                .as_str()
                .ok_or_else(|| anyhow!("stored JWK has no x"))?;
            verifying.insert(
                row.kid.clone(),
                VerifyingKey {
                    alg: Algorithm::EdDSA,
                    decoding: DecodingKey::from_ed_components(x)?,
                },
            );
            jwks.push(jwk);
        }
        Ok(Self {
            active,
            verifying,
            jwks: json!({ "keys": jwks }),
        })
    }
}

fn generate_ed25519(kek: &[u8; 32], now: i64) -> anyhow::Result<NewSigningKey> {
    let key = SigningKey::generate(&mut OsRng);
    let der = key
        .to_pkcs8_der()
        .map_err(|e| anyhow!("encoding key: {e}"))?;
    let x = URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes());
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let jwk =
        json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig" });
    Ok(NewSigningKey {
        private_key: encrypt(kek, &kid, der.as_bytes())?,
        kid,
        alg: "EdDSA".into(),
        public_jwk: jwk.to_string(),
        now,
    })
}

fn encrypt(kek: &[u8; 32], kid: &str, plaintext: &[u8]) -> anyhow::Result<String> {
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

fn decrypt(kek: &[u8; 32], kid: &str, stored: &str) -> anyhow::Result<Vec<u8>> {
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
