//! Optional RFC 7662 checks against the issuer, with a short per-token cache.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use crate::VerifyError;

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

pub struct Introspector {
    http: reqwest::Client,
    endpoint: String,
    secret: String,
    ttl: Duration,
    /// Keyed by a hash of the token, so the cache holds no usable credential.
    cache: Mutex<HashMap<[u8; 32], (bool, Instant)>>,
}

#[derive(Deserialize)]
struct Answer {
    active: bool,
}

impl Introspector {
    pub fn new(http: reqwest::Client, endpoint: String, secret: String, ttl: Duration) -> Self {
        Self {
            http,
            endpoint,
            secret,
            ttl,
            cache: Mutex::default(),
        }
    }

    pub async fn is_active(&self, token: &str) -> Result<bool, VerifyError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some((active, at)) = self.cache.lock().await.get(&key)
            && at.elapsed() < self.ttl
        {
            return Ok(*active);
        }
        let answer: Answer = self
            .http
            .post(&self.endpoint)
            .bearer_auth(&self.secret)
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| VerifyError::Fetch(e.to_string()))?
            .json()
            .await
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        let mut cache = self.cache.lock().await;
        if cache.len() >= SWEEP_AT {
            cache.retain(|_, (_, at)| at.elapsed() < self.ttl);
        }
        cache.insert(key, (answer.active, Instant::now()));
        Ok(answer.active)
    }
}
