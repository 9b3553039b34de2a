//! Extractors that adapt a request to the service layer: [`Auth`] (the signed-in user and
//! session, by bearer token or session cookie, through the one authentication path),
//! [`AdminAuth`], [`SameOrigin`] and the [`Client`] a request comes from.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use portcullis_core::PlainToken;

use super::client_ip::client_ip;
use super::cookies::CookieSettings;
use super::middleware::RequestId;
use super::{ApiError, bearer_token, csrf};
use crate::service::admin::require_admin;
use crate::service::sessions::{self, Authenticated, Presented};
use crate::service::{Client, ServiceError};
use crate::state::AppState;

/// The signed-in user and session of a request. Every request re-reads both from the store,
/// so revocation and bans take effect at once.
pub struct Auth(pub Authenticated);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let core = &state.core;
        if parts.headers.contains_key(header::AUTHORIZATION) {
            let token = bearer_token(&parts.headers).ok_or(ServiceError::Unauthenticated)?;
            let auth = sessions::authenticate(core, Presented::AccessToken(token)).await?;
            return Ok(Self(auth));
        }
        let token = CookieSettings::read(&parts.headers, &state.cookies.session_name())
            .and_then(|raw| PlainToken::parse(&raw))
            .ok_or(ServiceError::Unauthenticated)?;
        let auth = sessions::authenticate(core, Presented::SessionCookie(&token)).await?;
        if csrf::is_state_changing(&parts.method) {
            let cookie = CookieSettings::read(&parts.headers, &state.cookies.csrf_name());
            let expected = sessions::csrf_token(core, &token);
            csrf::check_cookie_request(
                &parts.headers,
                &state.origins,
                cookie.as_deref(),
                &expected,
            )?;
        }
        sessions::slide(core, &auth).await?;
        Ok(Self(auth))
    }
}

/// An authenticated admin (see [`require_admin`]).
pub struct AdminAuth(pub Authenticated);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(auth) = Auth::from_request_parts(parts, state).await?;
        Ok(Self(require_admin(auth)?))
    }
}

/// Proof that a request is not a cross-site browser request: any `Origin` is allow-listed
/// and `Sec-Fetch-Site` is not `cross-site` (403 `csrf_failed` otherwise). For the endpoints
/// that act without a session: sign-in, sign-up, and emailed links and their requests.
pub struct SameOrigin;

impl FromRequestParts<AppState> for SameOrigin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        csrf::check_origin(&parts.headers, &state.origins)?;
        Ok(Self)
    }
}

/// Where a request came from, for session records and audit events.
pub struct ClientInfo(pub Client);

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(512).collect());
        Ok(Self(Client {
            ip: client_ip(parts, &state.trusted_proxies).map(|ip| ip.to_string()),
            user_agent,
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        }))
    }
}
