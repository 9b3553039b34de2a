//! Access tokens (RFC 9068 JWTs): issued with the active key, verified only with the key its
//! `kid` names and only with that key's own algorithm.

use std::collections::HashSet;

use jsonwebtoken::{Header, Validation};
use portcullis_core::{SessionId, UserId};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;

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
    ) -> Self {
        Self {
            keys,
            issuer,
            audience,
            ttl_secs,
            leeway_secs,
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
        Ok(jsonwebtoken::encode(&header, &claims, &active.encoding)?)
    }

    /// Verifies signature, type, issuer, audience and lifetime against the injected clock.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<AccessClaims, TokenError> {
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
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| ring.verifying.get(kid))
            .ok_or(TokenError::Header("kid"))?;
        if header.alg != key.alg {
            return Err(TokenError::Header("alg"));
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        // Lifetime is checked below against the injected clock, not the library's.
        validation.validate_exp = false;
        validation.required_spec_claims = HashSet::new();
        let claims =
            jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)?.claims;
        let now = now_ms / 1000;
        if claims.exp + self.leeway_secs <= now || claims.nbf - self.leeway_secs > now {
            return Err(TokenError::Time);
        }
        Ok(claims)
    }
}
