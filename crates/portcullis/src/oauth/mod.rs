//! Social sign-in providers as this server meets them over the network: each behind the small
//! [`IdentityProvider`] trait (build the authorization URL, turn a callback into a proven
//! [`Identity`], check an id_token a client brought), with an OpenID Connect implementation
//! (Google and any issuer) and GitHub's. What to do with an identity (sign in, link, create) is
//! the service's decision, not theirs.

mod github;
mod http;
mod oidc;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use portcullis_core::Clock;
use url::Url;

pub use self::http::Http;
use crate::config::{Config, ProviderKind};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who the provider says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable id of the user (`sub`, or GitHub's numeric id).
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches for `email`.
    pub email_verified: bool,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// Why a provider's answer was refused: for the audit trail and the log, never the client.
#[derive(Debug, thiserror::Error)]
pub enum OauthError {
    #[error("the provider could not be used: {0}")]
    Provider(String),
    #[error("the provider refused: {0}")]
    Refused(String),
    #[error("the token response is malformed: {0}")]
    TokenResponse(String),
    #[error("the id_token is not valid: {0}")]
    IdToken(String),
    #[error("the authorization response's issuer: {0}")]
    Issuer(String),
    #[error("userinfo: {0}")]
    UserInfo(String),
}

impl OauthError {
    /// A short reason for the audit trail.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Provider(_) => "provider_unavailable",
            Self::Refused(_) => "code_refused",
            Self::TokenResponse(_) => "token_response_invalid",
            Self::IdToken(_) => "id_token_invalid",
            Self::Issuer(_) => "issuer_mismatch",
            Self::UserInfo(_) => "userinfo_invalid",
        }
    }
}

impl<RE, T> From<oauth2::RequestTokenError<RE, T>> for OauthError
where
    RE: std::error::Error + 'static,
    T: oauth2::ErrorResponse + 'static,
{
    /// A failed code exchange: refused by the provider, unreachable, or answered with what
    /// is not a token response (an id_token without `sub` makes one).
    fn from(err: oauth2::RequestTokenError<RE, T>) -> Self {
        match err {
            oauth2::RequestTokenError::ServerResponse(refusal) => {
                Self::Refused(refusal.to_string())
            }
            oauth2::RequestTokenError::Request(err) => Self::Provider(err.to_string()),
            oauth2::RequestTokenError::Parse(err, _) => Self::TokenResponse(err.to_string()),
            oauth2::RequestTokenError::Other(err) => Self::TokenResponse(err),
        }
    }
}

/// What the authorization request carries.
pub struct Authorization<'a> {
    pub state: &'a str,
    pub nonce: &'a str,
    /// The PKCE verifier; the URL carries its S256 challenge.
    pub pkce_verifier: &'a str,
    pub redirect_uri: &'a str,
}

/// What the callback brought, and the secrets its state kept.
pub struct Callback<'a> {
    pub code: &'a str,
    /// The `iss` parameter of the authorization response (RFC 9207), if any.
    pub iss: Option<&'a str>,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub redirect_uri: &'a str,
}

/// One provider. Implementations never decide what an identity may do.
pub trait IdentityProvider: Send + Sync {
    fn name(&self) -> &str;
    fn display_name(&self) -> &str;
    /// The provider's authorization URL for `request`.
    fn authorize<'a>(
        &'a self,
        request: &'a Authorization<'a>,
    ) -> BoxFuture<'a, Result<Url, OauthError>>;
    /// The identity a callback proves.
    fn identify<'a>(
        &'a self,
        callback: &'a Callback<'a>,
    ) -> BoxFuture<'a, Result<Identity, OauthError>>;
    /// The identity of an id_token a client obtained itself (Google One Tap, native apps),
    /// checked with the provider's keys and this client as its audience.
    fn verify_id_token<'a>(
        &'a self,
        id_token: &'a str,
    ) -> BoxFuture<'a, Result<Identity, OauthError>>;
}

/// The configured providers, in the order configured.
#[derive(Default)]
pub struct Providers(Vec<Arc<dyn IdentityProvider>>);

impl Providers {
    pub fn from_config(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let oauth = &config.oauth;
        if oauth.providers.is_empty() {
            return Ok(Self::default());
        }
        let http = Http::new()?;
        let providers = oauth
            .providers
            .iter()
            .map(|p| -> anyhow::Result<Arc<dyn IdentityProvider>> {
                Ok(match p.kind {
                    ProviderKind::GitHub => Arc::new(github::GitHub::new(p, oauth, http.clone())?),
                    ProviderKind::Google | ProviderKind::Oidc => {
                        Arc::new(oidc::Oidc::new(p, http.clone(), clock.clone())?)
                    }
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self(providers))
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn IdentityProvider>> {
        self.0.iter().find(|p| p.name() == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn IdentityProvider>> {
        self.0.iter()
    }
}
