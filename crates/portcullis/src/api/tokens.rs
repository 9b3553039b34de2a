//! Tokens for application backends: the JWKS and discovery document, access tokens for
//! cookie sessions, and RFC 7662 introspection for instant revocation checks.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use portcullis_core::secrets_equal;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, bearer_token, json};
use crate::service::tokens;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(jwks))
        .routes(routes!(openid_configuration))
        .routes(routes!(token_for_cookie_session))
        .routes(routes!(introspect))
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "JSON Web Key Set", content_type = "application/json")))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    // Retired keys stay listed until their tokens have expired, and verifiers refetch on an
    // unknown kid, so five minutes of caching never breaks verification.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.core.tokens.jwks()),
    )
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    introspection_endpoint: Option<String>,
    id_token_signing_alg_values_supported: Vec<&'static str>,
}

/// Discovery: where the keys are and who issues tokens.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "tokens",
    responses((status = 200, body = Discovery)))]
async fn openid_configuration(State(state): State<AppState>) -> impl IntoResponse {
    let issuer = state.config.issuer();
    let discovery = Discovery {
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        introspection_endpoint: state
            .config
            .tokens
            .introspection_secret
            .as_ref()
            .map(|_| format!("{issuer}/api/auth/introspect")),
        id_token_signing_alg_values_supported: vec![state.config.tokens.jwt_alg.as_str()],
        issuer,
    };
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(discovery),
    )
}

#[derive(Serialize, ToSchema)]
pub struct AccessToken {
    access_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    expires_in: i64,
}

/// An access token for the cookie session, for calling separate resource servers.
#[utoipa::path(get, path = "/api/auth/token", tag = "tokens",
    responses(
        (status = 200, body = AccessToken),
        (status = 401, body = Problem, description = "no cookie session (bearer callers already hold tokens)"),
    ))]
async fn token_for_cookie_session(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<axum::Json<AccessToken>> {
    let token = tokens::for_cookie_session(&state.core, &auth)?;
    Ok(axum::Json(AccessToken {
        access_token: token,
        token_type: "Bearer",
        expires_in: state.core.tokens.ttl_secs(),
    }))
}

/// RFC 7662 parameters; extension parameters are allowed and ignored, as the RFC says.
#[derive(Debug, Deserialize, ToSchema)]
pub struct IntrospectionRequest {
    #[schema(value_type = String)]
    token: SecretString,
    /// `access_token` or `refresh_token`; both are tried either way.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
}

/// RFC 7662 response: only `active` when the token is not.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Introspection {
    active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
}

/// Whether a token is active right now: signature and lifetime, and a live session of a
/// user who is not banned. Callers authenticate with `PORTCULLIS_INTROSPECTION_SECRET`.
#[utoipa::path(post, path = "/api/auth/introspect", tag = "tokens",
    request_body(content = IntrospectionRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = Introspection),
        (status = 401, body = Problem, description = "missing or wrong introspection secret"),
        (status = 404, body = Problem, description = "introspection is not configured"),
    ))]
async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<axum::Json<Introspection>> {
    let secret = state
        .config
        .tokens
        .introspection_secret
        .as_ref()
        .ok_or(ApiError::NOT_FOUND)?;
    let presented = bearer_token(&headers).unwrap_or_default();
    if !secrets_equal(presented, secret.expose()) {
        return Err(crate::service::ServiceError::Unauthenticated.into());
    }
    let request: IntrospectionRequest =
        match json::essence(headers.get(header::CONTENT_TYPE)).as_deref() {
            Some("application/json") => json::parse(&body)?,
            Some("application/x-www-form-urlencoded") => serde_urlencoded::from_bytes(&body)
                .map_err(|_| ApiError::field("token", "required"))?,
            _ => return Err(ApiError::UnsupportedMediaType),
        };
    let Some(active) = tokens::introspect(&state.core, request.token.expose_secret()).await? else {
        return Ok(axum::Json(Introspection::default()));
    };
    let answer = match active.claims {
        Some(claims) => Introspection {
            sub: Some(claims.sub.clone()),
            sid: Some(claims.sid.clone()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            iss: Some(claims.iss.clone()),
            aud: Some(claims.aud.clone()),
            token_type: Some("access_token"),
            ..Introspection::default()
        },
        None => Introspection {
            sub: Some(active.user.id.to_string()),
            sid: Some(active.session.id.to_string()),
            exp: Some(active.session.expires_at / 1000),
            token_type: Some("refresh_token"),
            ..Introspection::default()
        },
    };
    // The role as it is now, not as the token was minted.
    Ok(axum::Json(Introspection {
        active: true,
        role: Some(active.user.role.to_string()),
        ..answer
    }))
}
