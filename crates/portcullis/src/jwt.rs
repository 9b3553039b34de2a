//! Access tokens (RFC 9068 JWTs): issued with the active key, verified only with the key its
//! `kid` names and only with that key's own algorithm.

use std::collections::HashSet;
use std::sync::Arc;

use jsonwebtoken::{Header, Validation};
use portcullis_core::{SessionId, UserId};
use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::keys::Keys;
use crate::metrics::CacheKind;

pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    pub sid: String,
    pub email: String,
    pub email_verified: bool,
    pub role: String,
}

/// Who the token is about, as the caller knows them.
pub struct Subject<'a> {
    pub user_id: &'a UserId,
    pub session_id: &'a SessionId,
    pub email: &'a str,
    pub email_verified: bool,
    pub role: &'a str,
}

#[derive(Clone)]
pub struct AccessTokens {
    keys: Keys,
    issuer: String,
    audience: String,
    ttl_secs: i64,
    leeway_secs: i64,
    /// Tokens already verified, by the SHA-256 of their text, so that a signature is checked
    /// once per token rather than once per request. `None` when the configuration leaves no
    /// room for it.
    verified: Option<Arc<Cache<[u8; 32], Arc<Verified>>>>,
}

/// A token whose signature, header and audience checked out, and the key that signed it:
/// used again only while that key is still in the ring, and only within its lifetime.
struct Verified {
    kid: String,
    claims: Arc<AccessClaims>,
}

/// Why a token was refused; never shown to clients, who see 401 either way.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("token header refused: {0}")]
    Header(&'static str),
    #[error("token invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token expired or not yet valid")]
    Time,
}

impl AccessTokens {
    pub fn new(
        keys: Keys,
        issuer: String,
        audience: String,
        ttl_secs: i64,
        leeway_secs: i64,
        cache_entries: usize,
    ) -> Self {
        Self {
            keys,
            issuer,
            audience,
            ttl_secs,
            leeway_secs,
            verified: (cache_entries > 0).then(|| Arc::new(Cache::new(cache_entries))),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn jwks(&self) -> serde_json::Value {
        self.keys.current().jwks.clone()
    }

    /// Signs a token for `subject`, valid from `now_ms` for the configured lifetime.
    pub fn issue(&self, subject: &Subject<'_>, now_ms: i64) -> Result<String, TokenError> {
        let now = now_ms / 1000;
        let ring = self.keys.current();
        let active = &ring.active;
        let mut header = Header::new(active.alg);
        header.kid = Some(active.kid.clone());
        header.typ = Some(ACCESS_TOKEN_TYPE.into());
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            sub: subject.user_id.to_string(),
            aud: self.audience.clone(),
            exp: now + self.ttl_secs,
            iat: now,
            nbf: now,
            jti: uuid::Uuid::now_v7().to_string(),
            sid: subject.session_id.to_string(),
            email: subject.email.to_owned(),
            email_verified: subject.email_verified,
            role: subject.role.to_owned(),
        };
        Ok(active.signer.sign(&header, &claims)?)
    }

    /// Verifies signature, type, issuer, audience and lifetime against the injected clock. A
    /// token verified before is found by its digest and only its lifetime and key are checked
    /// again.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<Arc<AccessClaims>, TokenError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let known = self.verified.as_ref().and_then(|cache| cache.get(&digest));
        crate::metrics::auth_cache_lookup(CacheKind::Token, known.is_some());
        if let Some(known) = known
            && self.keys.current().verifying.contains_key(&known.kid)
        {
            self.check_lifetime(&known.claims, now_ms)?;
            return Ok(known.claims.clone());
        }
        let (kid, claims) = self.verify_signature(token)?;
        let claims = Arc::new(claims);
        self.check_lifetime(&claims, now_ms)?;
        if let Some(cache) = &self.verified {
            let verified = Verified {
                kid,
                claims: claims.clone(),
            };
            cache.insert(digest, Arc::new(verified));
        }
        Ok(claims)
    }

    /// Everything but the lifetime; returns the signing key's id with the claims.
    fn verify_signature(&self, token: &str) -> Result<(String, AccessClaims), TokenError> {
        // Parsing the header refuses `alg: none` in any case: it is not an algorithm here.
        let header = jsonwebtoken::decode_header(token)?;
        if header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(TokenError::Header("typ"));
        }
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
        {
            return Err(TokenError::Header("embedded key reference"));
        }
        let ring = self.keys.current();
        let kid = header.kid.ok_or(TokenError::Header("kid"))?;
        let key = ring.verifying.get(&kid).ok_or(TokenError::Header("kid"))?;
        if header.alg != key.alg {
            return Err(TokenError::Header("alg"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // Lifetime is checked against the injected clock, not the library's.
        validation.validate_exp = false;
        validation.required_spec_claims = HashSet::new();
        let claims =
            jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)?.claims;
        Ok((kid, claims))
    }

    fn check_lifetime(&self, claims: &AccessClaims, now_ms: i64) -> Result<(), TokenError> {
        let now = now_ms / 1000;
        if claims.exp + self.leeway_secs <= now || claims.nbf - self.leeway_secs > now {
            return Err(TokenError::Time);
        }
        Ok(())
    }
}
