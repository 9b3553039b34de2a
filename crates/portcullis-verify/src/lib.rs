//! Verify Portcullis access tokens in your own backend, offline.
//!
//! A [`Verifier`] is built from the issuer URL. It fetches the issuer's JWKS, caches it, and
//! refetches when a token names an unknown `kid` — at most once per
//! [`VerifierBuilder::min_refetch_interval`], so a flood of forged tokens cannot make it
//! hammer the issuer. It accepts only the algorithms you allow, checks `typ`, `iss`, `aud`,
//! `exp` and `nbf` (with a small leeway), and returns typed [`Claims`].
//!
//! ```no_run
//! # async fn run() -> Result<(), portcullis_verify::VerifyError> {
//! use portcullis_verify::{Algorithm, Verifier};
//!
//! let verifier = Verifier::builder("https://auth.example.com")
//!     .audience("https://api.example.com")
//!     .algorithms(&[Algorithm::EdDSA])
//!     .build()?;
//! let claims = verifier.verify("eyJ…").await?;
//! println!("user {} in session {}", claims.sub, claims.sid);
//! # Ok(()) }
//! ```
//!
//! In axum, put the verifier in your state and take [`AuthUser`] in handlers; requests
//! without a valid token get 401 `application/problem+json`:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use portcullis_verify::{AuthUser, Verifier};
//!
//! async fn me(AuthUser(claims): AuthUser) -> Result<String, portcullis_verify::Forbidden> {
//!     claims.require_role(&["admin"])?;
//!     Ok(format!("hello admin {}", claims.sub))
//! }
//!
//! # fn app(verifier: Verifier) -> Router {
//! Router::new().route("/admin", get(me)).with_state(verifier)
//! # }
//! ```
//!
//! For instant revocation, [`VerifierBuilder::introspection`] additionally asks the
//! issuer's RFC 7662 endpoint, caching each answer briefly.
//!
//! Errors name the reason for logs; clients should only ever see 401.

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod axum_extract;
mod introspection;
mod jwks;

use std::sync::Arc;
use std::time::Duration;

pub use axum_extract::{AuthUser, Forbidden};
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::Validation;
use serde::Deserialize;

use crate::introspection::Introspector;
use crate::jwks::JwksCache;

/// The claims of a Portcullis access token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub nbf: i64,
    pub jti: String,
    /// The session id.
    pub sid: String,
    pub email: String,
    pub email_verified: bool,
    pub role: String,
}

impl Claims {
    /// `Ok` when the token's role is one of `roles`, else [`Forbidden`] (403).
    pub fn require_role(&self, roles: &[&str]) -> Result<(), Forbidden> {
        roles
            .contains(&self.role.as_str())
            .then_some(())
            .ok_or(Forbidden)
    }
}

/// Why a token was refused. Show clients only that it was (401); log the reason.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("token type must be at+jwt")]
    WrongType,
    #[error("key references in the header (jku, x5u, jwk, x5c) are not accepted")]
    EmbeddedKey,
    #[error("algorithm {0:?} is not allowed")]
    AlgorithmNotAllowed(Algorithm),
    #[error("no key with this kid")]
    UnknownKey,
    #[error("the key's algorithm does not match the token's")]
    AlgorithmMismatch,
    #[error("invalid token: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("the token has been revoked")]
    Inactive,
    #[error("fetching from the issuer failed: {0}")]
    Fetch(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// Verifies access tokens of one issuer. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    jwks: JwksCache,
    introspector: Option<Introspector>,
}

/// Settings for a [`Verifier`]; see [`Verifier::builder`].
pub struct VerifierBuilder {
    issuer: String,
    audience: Option<String>,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    base_url: Option<String>,
    max_age: Duration,
    min_refetch_interval: Duration,
    introspection: Option<(String, Duration)>,
}

impl Verifier {
    /// Starts a verifier for tokens issued by `issuer` (Portcullis's public URL).
    pub fn builder(issuer: impl Into<String>) -> VerifierBuilder {
        VerifierBuilder {
            issuer: issuer.into().trim_end_matches('/').to_owned(),
            audience: None,
            algorithms: vec![Algorithm::EdDSA],
            leeway: Duration::from_secs(5),
            base_url: None,
            max_age: Duration::from_secs(300),
            min_refetch_interval: Duration::from_secs(30),
            introspection: None,
        }
    }

    /// Verifies `token` and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let inner = &self.inner;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| VerifyError::Malformed(e.to_string()))?;
        if header.typ.as_deref() != Some("at+jwt") {
            return Err(VerifyError::WrongType);
        }
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
        {
            return Err(VerifyError::EmbeddedKey);
        }
        if !inner.algorithms.contains(&header.alg) {
            return Err(VerifyError::AlgorithmNotAllowed(header.alg));
        }
        let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
        let key = inner.jwks.key(&kid).await?;
        if key.alg != header.alg {
            return Err(VerifyError::AlgorithmMismatch);
        }
        let mut validation = Validation::new(key.alg);
        validation.set_issuer(&[&inner.issuer]);
        validation.set_audience(&[&inner.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = inner.leeway.as_secs();
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)?.claims;
        if let Some(introspector) = &inner.introspector
            && !introspector.is_active(token).await?
        {
            return Err(VerifyError::Inactive);
        }
        Ok(claims)
    }

    /// How many times the JWKS has been fetched; for monitoring and tests.
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.jwks.fetches()
    }
}

impl VerifierBuilder {
    /// The expected `aud`; defaults to the issuer, as Portcullis does.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// The algorithms to accept (default: EdDSA only). HS256 is not supported here: a
    /// shared secret has no JWKS; verify those tokens with introspection instead.
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Self {
        self.algorithms = algorithms.to_vec();
        self
    }

    /// Clock leeway for `exp` and `nbf` (default 5 s, at most 30 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Where this service reaches the issuer, when that differs from the public `iss`
    /// (a private network address, say). The JWKS is fetched from
    /// `{base_url}/.well-known/jwks.json` and introspection goes to
    /// `{base_url}/api/auth/introspect`. Defaults to the issuer.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// How long a fetched JWKS is used before it is fetched again (default 5 min).
    pub fn max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }

    /// The least time between two fetches, whatever tokens arrive (default 30 s).
    pub fn min_refetch_interval(mut self, interval: Duration) -> Self {
        self.min_refetch_interval = interval;
        self
    }

    /// Also asks `{issuer}/api/auth/introspect` (with `secret`) whether each token is still
    /// active, caching each answer for `cache_for` (a few seconds keeps revocation prompt).
    pub fn introspection(mut self, secret: impl Into<String>, cache_for: Duration) -> Self {
        self.introspection = Some((secret.into(), cache_for));
        self
    }

    pub fn build(self) -> Result<Verifier, VerifyError> {
        if self.algorithms.is_empty() {
            return Err(VerifyError::Config("allow at least one algorithm".into()));
        }
        if self
            .algorithms
            .iter()
            .any(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(VerifyError::Config(
                "HMAC algorithms have no public keys; use introspection".into(),
            ));
        }
        if self.leeway > Duration::from_secs(30) {
            return Err(VerifyError::Config("leeway must be at most 30 s".into()));
        }
        // One TLS provider for the process; an application that installed its own keeps it.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| VerifyError::Config(e.to_string()))?;
        let base = self.base_url.unwrap_or_else(|| self.issuer.clone());
        let jwks_uri = format!("{base}/.well-known/jwks.json");
        let introspector = self.introspection.map(|(secret, ttl)| {
            Introspector::new(
                http.clone(),
                format!("{base}/api/auth/introspect"),
                secret,
                ttl,
            )
        });
        Ok(Verifier {
            inner: Arc::new(Inner {
                audience: self.audience.unwrap_or_else(|| self.issuer.clone()),
                issuer: self.issuer,
                algorithms: self.algorithms,
                leeway: self.leeway,
                jwks: JwksCache::new(http, jwks_uri, self.max_age, self.min_refetch_interval),
                introspector,
            }),
        })
    }
}
