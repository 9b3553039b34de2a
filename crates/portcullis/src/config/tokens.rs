//! Server secret, signing keys and access tokens, introspection.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::values::Secret;
use crate::keys::SigningAlg;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct TokenConfig {
    /// Base64 of at least 32 bytes: token hashing key, key encryption. Generated and kept
    /// in the data directory in development.
    pub secret: Option<Secret>,
    pub jwt_alg: SigningAlg,
    /// The shared secret for HS256 only (base64, at least 32 bytes).
    pub jwt_secret: Option<Secret>,
    /// A PEM private key to sign with instead of generated keys.
    pub jwt_key_file: Option<PathBuf>,
    /// `aud` of access tokens; the public URL when unset.
    pub jwt_audience: Option<String>,
    #[serde(with = "humantime_serde")]
    pub jwt_leeway: Duration,
    /// How often a node re-reads the stored signing keys (rotations elsewhere, expiries).
    #[serde(with = "humantime_serde")]
    pub key_reload_interval: Duration,
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// Bearer secret for `POST /api/auth/introspect`; the endpoint is off without it.
    pub introspection_secret: Option<Secret>,
}

impl Default for TokenConfig {
    fn default() -> Self {
        Self {
            secret: None,
            jwt_alg: SigningAlg::EdDSA,
            jwt_secret: None,
            jwt_key_file: None,
            jwt_audience: None,
            jwt_leeway: Duration::from_secs(5),
            key_reload_interval: Duration::from_secs(10),
            access_token_ttl: Duration::from_secs(15 * 60),
            introspection_secret: None,
        }
    }
}

impl TokenConfig {
    pub fn validate(&self, production: bool) -> Result<(), ConfigError> {
        match &self.secret {
            None if production => {
                return Err(ConfigError::new(
                    "production needs PORTCULLIS_SECRET (at least 32 random bytes, base64)",
                ));
            }
            Some(secret) => {
                decode_secret(secret)?;
            }
            None => {}
        }
        match (self.jwt_alg, &self.jwt_secret, &self.jwt_key_file) {
            (SigningAlg::HS256, None, _) => Err(ConfigError::new(
                "PORTCULLIS_JWT_ALG=HS256 needs PORTCULLIS_JWT_SECRET",
            )),
            (SigningAlg::HS256, Some(_), Some(_)) => Err(ConfigError::new(
                "PORTCULLIS_JWT_KEY_FILE cannot be used with HS256",
            )),
            (SigningAlg::HS256, Some(secret), None) => {
                decode_secret(secret).map(|_| ()).map_err(|_| {
                    ConfigError::new("PORTCULLIS_JWT_SECRET must be base64 of at least 32 bytes")
                })
            }
            (_, Some(_), _) => Err(ConfigError::new(
                "PORTCULLIS_JWT_SECRET is used only with PORTCULLIS_JWT_ALG=HS256",
            )),
            _ => Ok(()),
        }?;
        if self
            .introspection_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 32)
        {
            return Err(ConfigError::new(
                "PORTCULLIS_INTROSPECTION_SECRET must be at least 32 characters",
            ));
        }
        if self.jwt_leeway > Duration::from_secs(30) {
            return Err(ConfigError::new(
                "PORTCULLIS_JWT_LEEWAY must be at most 30s",
            ));
        }
        Ok(())
    }
}

/// Decodes a base64 secret of at least 32 bytes (`PORTCULLIS_SECRET`, `PORTCULLIS_JWT_SECRET`).
pub fn decode_secret(secret: &Secret) -> Result<Vec<u8>, ConfigError> {
    let bytes = STANDARD
        .decode(secret.expose().trim())
        .map_err(|_| ConfigError::new("PORTCULLIS_SECRET must be base64"))?;
    if bytes.len() < 32 {
        return Err(ConfigError::new(
            "PORTCULLIS_SECRET must decode to at least 32 bytes",
        ));
    }
    Ok(bytes)
}
