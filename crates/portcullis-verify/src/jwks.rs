//! The JWKS cache: fetched on first use, refreshed after `max_age`, and refetched for an
//! unknown `kid` at most once per `min_interval`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::{Mutex, RwLock};

use crate::VerifyError;

/// A verification key and the one algorithm it may be used with.
#[derive(Clone)]
pub struct Key {
    pub alg: Algorithm,
    pub decoding: DecodingKey,
}

pub struct JwksCache {
    http: reqwest::Client,
    uri: String,
    max_age: Duration,
    min_interval: Duration,
    keys: RwLock<Keys>,
    /// Serialises fetches, so a burst of unknown kids costs at most one request.
    fetching: Mutex<Option<Instant>>,
    fetches: AtomicU64,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<Key>>,
    fetched_at: Option<Instant>,
}

impl JwksCache {
    pub fn new(
        http: reqwest::Client,
        uri: String,
        max_age: Duration,
        min_interval: Duration,
    ) -> Self {
        Self {
            http,
            uri,
            max_age,
            min_interval,
            keys: RwLock::default(),
            fetching: Mutex::new(None),
            fetches: AtomicU64::new(0),
        }
    }

    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for `kid`, fetching the JWKS when it is stale or does not know the kid.
    pub async fn key(&self, kid: &str) -> Result<Arc<Key>, VerifyError> {
        {
            let keys = self.keys.read().await;
            let fresh = keys
                .fetched_at
                .is_some_and(|at| at.elapsed() < self.max_age);
            if let (true, Some(key)) = (fresh, keys.by_kid.get(kid)) {
                return Ok(key.clone());
            }
        }
        self.refetch().await?;
        self.keys
            .read()
            .await
            .by_kid
            .get(kid)
            .cloned()
            .ok_or(VerifyError::UnknownKey)
    }

    async fn refetch(&self) -> Result<(), VerifyError> {
        let mut last_attempt = self.fetching.lock().await;
        if last_attempt.is_some_and(|at| at.elapsed() < self.min_interval) {
            return Ok(());
        }
        *last_attempt = Some(Instant::now());
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let set: JwkSet = self
            .http
            .get(&self.uri)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| VerifyError::Fetch(e.to_string()))?
            .json()
            .await
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        let by_kid = set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let key = key_of(jwk)
                    .map_err(|e| tracing::warn!(%kid, %e, "skipping unusable JWK"))
                    .ok()?;
                Some((kid, Arc::new(key)))
            })
            .collect();
        *self.keys.write().await = Keys {
            by_kid,
            fetched_at: Some(Instant::now()),
        };
        Ok(())
    }
}

/// The algorithm a JWK may verify: its `alg`, or the one its key type implies.
fn key_of(jwk: &Jwk) -> Result<Key, VerifyError> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Algorithm::ES256
        }
        AlgorithmParameters::EllipticCurve(_) => Algorithm::ES384,
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        // Symmetric keys are never trusted from a JWKS, nor key types this crate does not know.
        _ => return Err(VerifyError::Config("unsupported key type in JWKS".into())),
    };
    let alg = match jwk.common.key_algorithm {
        Some(declared) => Algorithm::try_from(declared)?,
        None => implied,
    };
    Ok(Key {
        alg,
        decoding: DecodingKey::from_jwk(jwk)?,
    })
}
