//! The set of keys a node signs and verifies with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::{Context, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use portcullis_store::{NewSigningKey, SigningKeyRow, Store};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::TokenSigner;
use super::material::{PrivateKey, SigningAlg, decoding_key};
use crate::sealed;

/// Where the signing key comes from, as configured.
pub enum Signer {
    /// Generated and stored in the database (the default); rotated with `keys rotate`.
    Stored(SigningAlg),
    /// A PEM file named by `PORTCULLIS_JWT_KEY_FILE`.
    File(PrivateKey),
    /// HS256 with `PORTCULLIS_JWT_SECRET`.
    Shared(Vec<u8>),
}

pub struct KeySettings {
    pub signer: Signer,
    /// Encrypts stored private keys.
    pub kek: [u8; 32],
    /// How long a retired key stays published: the access-token lifetime plus the leeway plus
    /// the key reload interval.
    pub publish_ms: i64,
}

pub struct ActiveKey {
    pub kid: String,
    pub alg: Algorithm,
    pub signer: TokenSigner,
}

pub struct VerifyingKey {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
}

/// The signing key and every key tokens may still be verified with.
pub struct KeyRing {
    pub active: ActiveKey,
    pub verifying: HashMap<String, VerifyingKey>,
    pub jwks: Value,
}

/// `active`, `retired` (still published) or `expired`, for `keys list`.
pub fn key_state(row: &SigningKeyRow, publish_ms: i64, now: i64) -> &'static str {
    match row.retired_at {
        None => "active",
        Some(retired) if retired + publish_ms > now => "retired",
        Some(_) => "expired",
    }
}

fn alg_of(row: &SigningKeyRow) -> anyhow::Result<SigningAlg> {
    SigningAlg::parse(&row.alg)
        .ok_or_else(|| anyhow!("stored key {} has unknown alg {}", row.kid, row.alg))
}

impl KeyRing {
    /// Brings the stored keys in line with the configuration: a stored signer needs an
    /// active key of its algorithm (made here when missing, or when the algorithm changed);
    /// a file or shared-secret signer retires stored keys, which stay published until
    /// their tokens expire.
    pub async fn prepare(store: &Store, settings: &KeySettings, now: i64) -> anyhow::Result<()> {
        let rows = store.signing_keys().await?;
        let newest_active = rows.iter().find(|r| r.retired_at.is_none());
        match &settings.signer {
            Signer::Stored(alg) if newest_active.is_none_or(|r| r.alg != alg.as_str()) => {
                let key = new_stored_key(*alg, &settings.kek, now)?;
                store.rotate_signing_key(Some(&key), now).await?;
            }
            Signer::File(_) | Signer::Shared(_) if newest_active.is_some() => {
                store.rotate_signing_key(None, now).await?;
            }
            _ => {}
        }
        Ok(())
    }

    /// Builds the ring from the stored keys (newest first) and the configured signer.
    pub fn build(rows: &[SigningKeyRow], settings: &KeySettings, now: i64) -> anyhow::Result<Self> {
        let mut verifying = HashMap::new();
        let mut jwks = Vec::new();
        for row in rows
            .iter()
            .filter(|r| key_state(r, settings.publish_ms, now) != "expired")
        {
            let jwk: Value = serde_json::from_str(&row.public_jwk).context("stored JWK")?;
            let key = VerifyingKey {
                alg: alg_of(row)?.algorithm(),
                decoding: decoding_key(&jwk)?,
            };
            verifying.insert(row.kid.clone(), key);
            jwks.push(jwk);
        }
        let active = match &settings.signer {
            Signer::Stored(_) => {
                let row = rows
                    .iter()
                    .find(|r| r.retired_at.is_none())
                    .ok_or_else(|| anyhow!("no active signing key"))?;
                let key = PrivateKey::from_der(
                    alg_of(row)?,
                    sealed::open(&settings.kek, &row.kid, &row.private_key)
                        .context("opening the signing key")?,
                );
                ActiveKey {
                    kid: row.kid.clone(),
                    alg: key.alg.algorithm(),
                    signer: key.token_signer()?,
                }
            }
            Signer::File(key) => {
                let jwk = key.public_jwk()?;
                let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
                let verify = VerifyingKey {
                    alg: key.alg.algorithm(),
                    decoding: decoding_key(&jwk)?,
                };
                verifying.insert(kid.clone(), verify);
                jwks.insert(0, jwk);
                ActiveKey {
                    kid,
                    alg: key.alg.algorithm(),
                    signer: key.token_signer()?,
                }
            }
            Signer::Shared(secret) => {
                // The kid names the secret without revealing it; the key is never published.
                let kid = format!(
                    "hs256-{}",
                    &URL_SAFE_NO_PAD.encode(Sha256::digest(secret))[..16]
                );
                let verify = VerifyingKey {
                    alg: Algorithm::HS256,
                    decoding: DecodingKey::from_secret(secret),
                };
                verifying.insert(kid.clone(), verify);
                ActiveKey {
                    kid,
                    alg: Algorithm::HS256,
                    signer: TokenSigner::Jose(EncodingKey::from_secret(secret)),
                }
            }
        };
        Ok(Self {
            active,
            verifying,
            jwks: json!({ "keys": jwks }),
        })
    }
}

/// A new stored key of `alg`, its private half sealed.
pub fn new_stored_key(alg: SigningAlg, kek: &[u8; 32], now: i64) -> anyhow::Result<NewSigningKey> {
    if alg == SigningAlg::HS256 {
        bail!("HS256 keys are not stored: set PORTCULLIS_JWT_SECRET");
    }
    let key = PrivateKey::generate(alg)?;
    let jwk = key.public_jwk()?;
    let kid = jwk["kid"].as_str().unwrap_or_default().to_owned();
    Ok(NewSigningKey {
        private_key: sealed::seal(kek, &kid, key.der())?,
        kid,
        alg: alg.as_str().to_owned(),
        public_jwk: jwk.to_string(),
        now,
    })
}

/// The node's current key ring, swapped whole when the stored keys change.
#[derive(Clone)]
pub struct Keys {
    ring: Arc<RwLock<Arc<KeyRing>>>,
    settings: Arc<KeySettings>,
}

impl Keys {
    pub async fn load(store: &Store, settings: KeySettings, now: i64) -> anyhow::Result<Self> {
        KeyRing::prepare(store, &settings, now).await?;
        let ring = KeyRing::build(&store.signing_keys().await?, &settings, now)?;
        Ok(Self {
            ring: Arc::new(RwLock::new(Arc::new(ring))),
            settings: Arc::new(settings),
        })
    }

    pub fn current(&self) -> Arc<KeyRing> {
        self.ring
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Re-reads the stored keys: picks up rotations made elsewhere and drops expired keys.
    pub async fn reload(&self, store: &Store, now: i64) -> anyhow::Result<()> {
        let ring = KeyRing::build(&store.signing_keys().await?, &self.settings, now)?;
        *self
            .ring
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(ring);
        Ok(())
    }
}
