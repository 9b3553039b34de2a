//! GitHub: OAuth 2.0 (the `oauth2` crate, PKCE, client credentials in the body as GitHub
//! documents) and its REST API: `GET /user` for the numeric id, `GET /user/emails` for the one
//! address that counts, the primary one, and only when GitHub has verified it.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use serde::Deserialize;
use url::Url;

use super::http::{Http, read_bounded};
use super::{Authorization, BoxFuture, Callback, Identity, IdentityProvider, OauthError};
use crate::config::{OauthConfig, ProviderConfig};

pub struct GitHub {
    name: String,
    display_name: String,
    client_id: ClientId,
    client_secret: ClientSecret,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    api: Url,
    scopes: Vec<Scope>,
    http: Http,
}

#[derive(Deserialize)]
struct User {
    id: u64,
    name: Option<String>,
    avatar_url: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

impl GitHub {
    pub fn new(config: &ProviderConfig, urls: &OauthConfig, http: Http) -> anyhow::Result<Self> {
        let web = urls.github_url.as_str().trim_end_matches('/');
        let mut api = urls.github_api_url.clone();
        if !api.path().ends_with('/') {
            api.set_path(&format!("{}/", api.path()));
        }
        Ok(Self {
            name: config.name.clone(),
            display_name: config.display_name.clone(),
            client_id: ClientId::new(config.client_id.clone()),
            client_secret: ClientSecret::new(config.client_secret.expose().to_owned()),
            auth_url: AuthUrl::new(format!("{web}/login/oauth/authorize"))?,
            token_url: TokenUrl::new(format!("{web}/login/oauth/access_token"))?,
            api,
            scopes: config.scopes.iter().cloned().map(Scope::new).collect(),
            http,
        })
    }

    fn client(
        &self,
        redirect_uri: &str,
    ) -> Result<
        BasicClient<
            oauth2::EndpointSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointNotSet,
            oauth2::EndpointSet,
        >,
        OauthError,
    > {
        Ok(BasicClient::new(self.client_id.clone())
            .set_client_secret(self.client_secret.clone())
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(self.auth_url.clone())
            .set_token_uri(self.token_url.clone())
            .set_redirect_uri(
                RedirectUrl::new(redirect_uri.to_owned())
                    .map_err(|e| OauthError::Provider(e.to_string()))?,
            ))
    }

    /// `GET {api}/{path}` with the user's token, parsed.
    async fn get<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        token: &str,
    ) -> Result<T, OauthError> {
        let url = self
            .api
            .join(path)
            .map_err(|e| OauthError::Provider(e.to_string()))?;
        let mut response = self
            .http
            .client()
            .get(url)
            .bearer_auth(token)
            .header("accept", "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| OauthError::Provider(format!("{path}: {e}")))?;
        if !response.status().is_success() {
            return Err(OauthError::UserInfo(format!(
                "{path}: {}",
                response.status()
            )));
        }
        let body = read_bounded(&mut response)
            .await
            .map_err(|e| OauthError::Provider(format!("{path}: {e}")))?;
        serde_json::from_slice(&body).map_err(|e| OauthError::UserInfo(format!("{path}: {e}")))
    }

    async fn identity(&self, callback: &Callback<'_>) -> Result<Identity, OauthError> {
        let tokens = self
            .client(callback.redirect_uri)?
            .exchange_code(AuthorizationCode::new(callback.code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await?;
        let token = tokens.access_token().secret();
        let user: User = self.get("user", token).await?;
        let emails: Vec<Email> = self.get("user/emails", token).await?;
        let primary = emails.into_iter().find(|e| e.primary && e.verified);
        Ok(Identity {
            subject: user.id.to_string(),
            email_verified: primary.is_some(),
            email: primary.map(|e| e.email),
            name: user.name,
            picture: user.avatar_url,
        })
    }
}

impl IdentityProvider for GitHub {
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
        Box::pin(async move {
            let state = request.state.to_owned();
            let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
                request.pkce_verifier.to_owned(),
            ));
            let (url, _) = self
                .client(request.redirect_uri)?
                .authorize_url(move || CsrfToken::new(state))
                .add_scopes(self.scopes.iter().cloned())
                .set_pkce_challenge(challenge)
                .url();
            Ok(url)
        })
    }

    fn identify<'a>(
        &'a self,
        callback: &'a Callback<'a>,
    ) -> BoxFuture<'a, Result<Identity, OauthError>> {
        Box::pin(self.identity(callback))
    }

    fn verify_id_token<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Identity, OauthError>> {
        Box::pin(async { Err(OauthError::IdToken("GitHub issues no id_token".into())) })
    }
}
