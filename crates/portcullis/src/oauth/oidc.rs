//! OpenID Connect providers (Google and any other by its issuer), through the
//! `openidconnect` crate: discovery and keys fetched and cached, an unknown key refetched at
//! most once per interval, the authorization code exchanged with the PKCE verifier, and the
//! id_token checked whole (signature with the provider's keys and an algorithm it announced,
//! never a shared secret; `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`, `sub`), then userinfo,
//! whose `sub` must be the id_token's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreGenderClaim, CoreGrantType, CoreIdToken, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreSubjectIdentifierType,
};
use openidconnect::{
    AccessToken, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId,
    ClientSecret, CsrfToken, EmptyAdditionalClaims, IdTokenClaims, IssuerUrl, JsonWebKeySet,
    JwsSigningAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, Scope, SignatureVerificationError, SubjectIdentifier,
    TokenResponse, UserInfoClaims,
};
use portcullis_core::Clock;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use url::Url;

use super::http::Http;
use super::{Authorization, BoxFuture, Callback, Identity, IdentityProvider, OauthError};
use crate::config::ProviderConfig;

/// Discovery and keys are fetched again after this long.
const METADATA_MAX_AGE: Duration = Duration::from_secs(3600);
/// An id_token signed by a key the cached set does not hold refetches the keys at most this
/// often (as `portcullis-verify` does for our own keys).
const KEYS_MIN_INTERVAL: Duration = Duration::from_secs(60);
/// How far an id_token's `iat` may lie in the future (clock skew), and how old it may be.
const IAT_SKEW_MS: i64 = 60_000;
const IAT_MAX_AGE_MS: i64 = 24 * 3600 * 1000;

/// RFC 9207: whether the provider adds `iss` to its authorization responses.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
struct IssuerParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssuerParameter {}

type Metadata = ProviderMetadata<
    IssuerParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

pub struct Oidc {
    name: String,
    display_name: String,
    issuer: IssuerUrl,
    client_id: ClientId,
    client_secret: ClientSecret,
    scopes: Vec<Scope>,
    http: Http,
    clock: Arc<dyn Clock>,
    cache: Mutex<Option<Cached>>,
}

#[derive(Clone)]
struct Cached {
    metadata: Metadata,
    fetched: Instant,
    keys_fetched: Instant,
}

impl Oidc {
    pub fn new(config: &ProviderConfig, http: Http, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let issuer = config
            .issuer
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("the provider {} has no issuer", config.name))?;
        Ok(Self {
            name: config.name.clone(),
            display_name: config.display_name.clone(),
            issuer: IssuerUrl::new(issuer.as_str().trim_end_matches('/').to_owned())?,
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: ClientSecret::new(config.client_secret.expose().to_owned()),
            scopes: config.scopes.iter().cloned().map(Scope::new).collect(),
            http,
            clock,
            cache: Mutex::new(None),
        })
    }

    /// The provider's discovery document and keys, fetched when missing or stale.
    async fn metadata(&self) -> Result<Metadata, OauthError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache
            .as_ref()
            .filter(|c| c.fetched.elapsed() < METADATA_MAX_AGE)
        {
            return Ok(cached.metadata.clone());
        }
        let metadata = Metadata::discover_async(self.issuer.clone(), &self.http)
            .await
            .map_err(|e| OauthError::Provider(format!("discovery: {e}")))?;
        let now = Instant::now();
        *cache = Some(Cached {
            metadata: metadata.clone(),
            fetched: now,
            keys_fetched: now,
        });
        Ok(metadata)
    }

    /// The metadata with freshly fetched keys, unless they were fetched within the interval.
    async fn refetch_keys(&self) -> Result<Option<Metadata>, OauthError> {
        let mut cache = self.cache.lock().await;
        let Some(cached) = cache
            .as_mut()
            .filter(|c| c.keys_fetched.elapsed() >= KEYS_MIN_INTERVAL)
        else {
            return Ok(None);
        };
        let keys = JsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| OauthError::Provider(format!("keys: {e}")))?;
        cached.metadata = cached.metadata.clone().set_jwks(keys);
        cached.keys_fetched = Instant::now();
        Ok(Some(cached.metadata.clone()))
    }

    /// Checks `token` against `metadata` as the id_token of this client, with `nonce` (none for
    /// a token the client obtained itself), and returns its claims.
    fn check(
        &self,
        metadata: &Metadata,
        token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<IdTokenClaims<EmptyAdditionalClaims, CoreGenderClaim>, ClaimsVerificationError>
    {
        let client = CoreClient::from_provider_metadata(
            metadata.clone(),
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        );
        // Only the asymmetric algorithms the provider announces: a token "signed" with the
        // client secret (HS256) or none at all is refused.
        let algs: Vec<CoreJwsSigningAlgorithm> = metadata
            .id_token_signing_alg_values_supported()
            .iter()
            .filter(|alg| {
                !matches!(alg, CoreJwsSigningAlgorithm::None) && !alg.uses_shared_secret()
            })
            .cloned()
            .collect();
        let clock = self.clock.clone();
        let now =
            move || chrono::DateTime::from_timestamp_millis(clock.now_ms()).unwrap_or_default();
        let iat_clock = self.clock.clone();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(algs)
            .set_time_fn(now)
            .set_issue_time_verifier_fn(move |iat| {
                let now = iat_clock.now_ms();
                let iat = iat.timestamp_millis();
                if iat > now + IAT_SKEW_MS {
                    Err("issued in the future".into())
                } else if iat < now - IAT_MAX_AGE_MS {
                    Err("issued too long ago".into())
                } else {
                    Ok(())
                }
            });
        let claims = match nonce {
            Some(nonce) => token.claims(&verifier, nonce)?,
            None => token.claims(&verifier, |_: Option<&Nonce>| Ok(()))?,
        };
        // Several audiences are refused above unless trusted (none are); an `azp`, when
        // present, must be this client.
        if let Some(azp) = claims.authorized_party()
            && **azp != *self.client_id
        {
            return Err(ClaimsVerificationError::InvalidAudience(
                "azp is another client".into(),
            ));
        }
        Ok(claims.clone())
    }

    /// [`Self::check`], refetching the keys once (within the interval) when the token names
    /// a key the cached set does not hold.
    async fn verified(
        &self,
        token: &CoreIdToken,
        nonce: Option<&Nonce>,
    ) -> Result<IdTokenClaims<EmptyAdditionalClaims, CoreGenderClaim>, OauthError> {
        let metadata = self.metadata().await?;
        match self.check(&metadata, token, nonce) {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => match self.refetch_keys().await? {
                Some(metadata) => self.check(&metadata, token, nonce),
                None => Err(ClaimsVerificationError::SignatureVerification(
                    SignatureVerificationError::NoMatchingKey,
                )),
            },
            checked => checked,
        }
        .map_err(|e| OauthError::IdToken(e.to_string()))
    }

    async fn authorize_url(&self, request: &Authorization<'_>) -> Result<Url, OauthError> {
        let metadata = self.metadata().await?;
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(redirect_url(request.redirect_uri)?);
        let state = request.state.to_owned();
        let nonce = request.nonce.to_owned();
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            request.pkce_verifier.to_owned(),
        ));
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scopes(
                self.scopes
                    .iter()
                    .filter(|s| s.as_str() != "openid")
                    .cloned(),
            )
            .set_pkce_challenge(challenge)
            .url();
        Ok(url)
    }

    async fn identity(&self, callback: &Callback<'_>) -> Result<Identity, OauthError> {
        let metadata = self.metadata().await?;
        // RFC 9207: the response names its issuer when the provider says it will, and a
        // response that names another is refused either way.
        let announced = metadata
            .additional_metadata()
            .authorization_response_iss_parameter_supported;
        match callback.iss {
            Some(iss)
                if iss.trim_end_matches('/')
                    != metadata.issuer().as_str().trim_end_matches('/') =>
            {
                return Err(OauthError::Issuer("another issuer".into()));
            }
            None if announced => return Err(OauthError::Issuer("missing".into())),
            _ => {}
        }
        let client = CoreClient::from_provider_metadata(
            metadata,
            self.client_id.clone(),
            Some(self.client_secret.clone()),
        )
        .set_redirect_uri(redirect_url(callback.redirect_uri)?);
        let tokens = client
            .exchange_code(AuthorizationCode::new(callback.code.to_owned()))
            .map_err(|e| OauthError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| OauthError::IdToken("none in the token response".into()))?;
        let claims = self
            .verified(id_token, Some(&Nonce::new(callback.nonce.to_owned())))
            .await?;
        let mut identity = identity_of(&claims);
        if client.user_info_url().is_some() {
            let info: UserInfoClaims<EmptyAdditionalClaims, CoreGenderClaim> = client
                .user_info(
                    AccessToken::new(tokens.access_token().secret().clone()),
                    Some(SubjectIdentifier::new(identity.subject.clone())),
                )
                .map_err(|e| OauthError::UserInfo(e.to_string()))?
                .request_async(&self.http)
                .await
                .map_err(|e| OauthError::UserInfo(e.to_string()))?;
            if let Some(email) = info.email() {
                identity.email = Some(email.to_string());
                identity.email_verified = info.email_verified().unwrap_or(false);
            }
            identity.name = identity.name.or_else(|| localized(info.name()));
            identity.picture = identity.picture.or_else(|| localized(info.picture()));
        }
        Ok(identity)
    }
}

fn redirect_url(raw: &str) -> Result<RedirectUrl, OauthError> {
    RedirectUrl::new(raw.to_owned()).map_err(|e| OauthError::Provider(e.to_string()))
}

/// The default-language value of a localized claim.
fn localized<T: std::ops::Deref<Target = String>>(
    claim: Option<&openidconnect::LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| (**v).clone())
}

fn identity_of(claims: &IdTokenClaims<EmptyAdditionalClaims, CoreGenderClaim>) -> Identity {
    Identity {
        subject: claims.subject().to_string(),
        email: claims.email().map(|e| e.to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: localized(claims.name()),
        picture: localized(claims.picture()),
    }
}

impl IdentityProvider for Oidc {
    fn name(&self) -> &str {
        &self.name
    }

    fn display_name(&self) -> &str {
        &self.display_name
    }

    fn authorize<'a>(
        &'a self,
        request: &'a Authorization<'a>,
    ) -> BoxFuture<'a, Result<Url, OauthError>> {
        Box::pin(self.authorize_url(request))
    }

    fn identify<'a>(
        &'a self,
        callback: &'a Callback<'a>,
    ) -> BoxFuture<'a, Result<Identity, OauthError>> {
        Box::pin(self.identity(callback))
    }

    fn verify_id_token<'a>(
        &'a self,
        id_token: &'a str,
    ) -> BoxFuture<'a, Result<Identity, OauthError>> {
        Box::pin(async move {
            let token: CoreIdToken = id_token
                .parse()
                .map_err(|e: serde_json::Error| OauthError::IdToken(e.to_string()))?;
            let claims = self.verified(&token, None).await?;
            Ok(identity_of(&claims))
        })
    }
}
