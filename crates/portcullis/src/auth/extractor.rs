//! `Auth`: the signed-in user and session of a request, by bearer token or session cookie.
//! Every request re-reads the session and user from the store, so revocation is immediate.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use portcullis_core::PlainToken;
use portcullis_store::{ADMIN, SessionRow, UserRow};

use super::Transport;
use super::purpose;
use crate::http::client_ip::client_ip;
use crate::http::cookies::CookieSettings;
use crate::http::middleware::RequestId;
use crate::http::{ApiError, bearer_token, csrf};
use crate::state::AppState;

/// Cookie sessions record their use at most this often, so reads stay reads.
const TOUCH_INTERVAL_MS: i64 = 60_000;

pub struct Auth {
    pub user: UserRow,
    pub session: SessionRow,
    pub transport: Transport,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let live = state.liveness();
        let (session, transport) = if parts.headers.contains_key(header::AUTHORIZATION) {
            let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
            let claims = state.tokens.verify(token, live.now).map_err(|err| {
                tracing::debug!(%err, "bearer token refused");
                ApiError::Unauthenticated
            })?;
            let session = state.store.live_session(&claims.sid, live).await?;
            let session = session
                .filter(|s| s.user_id == claims.sub)
                .ok_or(ApiError::Unauthenticated)?;
            (session, Transport::Bearer)
        } else {
            let token = CookieSettings::read(&parts.headers, &state.cookies.session_name())
                .and_then(|raw| PlainToken::parse(&raw))
                .ok_or(ApiError::Unauthenticated)?;
            let hash = state.token_hasher.hash(purpose::SESSION, &token);
            let session = state
                .store
                .live_session_by_token(hash.as_str(), live)
                .await?
                .ok_or(ApiError::Unauthenticated)?;
            if csrf::is_state_changing(&parts.method) {
                let cookie = CookieSettings::read(&parts.headers, &state.cookies.csrf_name());
                let expected = state.token_hasher.derive(purpose::CSRF, &token);
                csrf::check_cookie_request(
                    &parts.headers,
                    &state.origins,
                    cookie.as_deref(),
                    &expected,
                )?;
            }
            // Sliding expiry: each use extends the idle timeout, up to the absolute lifetime.
            state
                .store
                .touch_session(&session.id, live.now, TOUCH_INTERVAL_MS)
                .await?;
            (session, Transport::Cookie)
        };
        let user = state
            .store
            .user_by_id(&session.user_id)
            .await?
            .filter(|u| !u.is_banned(live.now))
            .ok_or(ApiError::Unauthenticated)?;
        Ok(Self {
            user,
            session,
            transport,
        })
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
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

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
        Ok(Self {
            ip: client_ip(parts, &state.trusted_proxies).map(|ip| ip.to_string()),
            user_agent,
            request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
        })
    }
}

/// An authenticated admin. The role is read from the store on every request (through
/// [`Auth`]), so a demotion takes effect at once, whatever the access token says.
pub struct AdminAuth(pub Auth);

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = Auth::from_request_parts(parts, state).await?;
        if auth.user.role != ADMIN {
            return Err(ApiError::Forbidden(
                "forbidden",
                "the admin role is required",
            ));
        }
        Ok(Self(auth))
    }
}
