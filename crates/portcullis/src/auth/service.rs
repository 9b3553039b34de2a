//! Signing in, starting sessions and rotating refresh tokens.

use portcullis_core::{Password, PlainToken, SessionId};
use portcullis_store::{NewSession, RefreshOutcome, SessionRow, UserRow};
use serde::Deserialize;
use utoipa::ToSchema;

use super::ClientInfo;
use super::purpose;
use crate::http::{ApiError, ApiResult};
use crate::jwt::Subject;
use crate::state::{AppState, millis};

/// How the client holds its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Bearer,
    Cookie,
}

impl Transport {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "bearer",
            Self::Cookie => "cookie",
        }
    }
}

/// A new session and the credentials the client receives for it.
pub struct SessionGrant {
    pub session: SessionRow,
    pub credentials: Credentials,
}

pub enum Credentials {
    Bearer {
        access_token: String,
        refresh_token: PlainToken,
    },
    Cookie {
        session_token: PlainToken,
        csrf_token: String,
    },
}

/// The user whose password this is. Unknown accounts cost one hash too, so neither the
/// answer nor its timing tells whether an account exists.
pub async fn check_password(
    state: &AppState,
    login: LoginName<'_>,
    password: Password,
) -> ApiResult<UserRow> {
    let found = match login {
        LoginName::Email(email) => state.store.user_with_password_by_email(email).await?,
        LoginName::Username(username) => {
            state.store.user_with_password_by_username(username).await?
        }
    };
    let (user, stored) = match found {
        Some((user, Some(stored))) => (Some(user), Some(stored)),
        _ => (None, None),
    };
    let matched = state
        .hash_pool
        .run(move |hasher| match stored {
            Some(stored) => hasher.verify(&password, &stored),
            None => {
                hasher.verify_dummy(&password);
                Ok(false)
            }
        })
        .await??;
    match user {
        Some(user) if matched => Ok(user),
        _ => Err(ApiError::InvalidCredentials),
    }
}

/// What a user signs in with.
pub enum LoginName<'a> {
    Email(&'a str),
    Username(&'a str),
}

/// Stores a new session for `user` and mints the transport's credentials. Every sign-in
/// gets a fresh session id and fresh tokens.
pub async fn start_session(
    state: &AppState,
    user: &UserRow,
    transport: Transport,
    client: ClientInfo,
) -> ApiResult<SessionGrant> {
    let now = state.now();
    let session_id = SessionId::new().to_string();
    let (token_hash, refresh, credentials) = match transport {
        Transport::Cookie => {
            let session_token = PlainToken::generate();
            let hash = state.token_hasher.hash(purpose::SESSION, &session_token);
            let csrf_token = state.token_hasher.derive(purpose::CSRF, &session_token);
            (
                Some(hash.as_str().to_owned()),
                None,
                Credentials::Cookie {
                    session_token,
                    csrf_token,
                },
            )
        }
        Transport::Bearer => {
            let refresh_token = PlainToken::generate();
            let hash = state.token_hasher.hash(purpose::REFRESH, &refresh_token);
            let access_token = access_token(state, user, &session_id, now)?;
            let refresh = (uuid::Uuid::now_v7().to_string(), hash.as_str().to_owned());
            (
                None,
                Some(refresh),
                Credentials::Bearer {
                    access_token,
                    refresh_token,
                },
            )
        }
    };
    let new = NewSession {
        id: session_id,
        user_id: user.id.clone(),
        transport: transport.as_str().to_owned(),
        token_hash,
        refresh,
        now,
        expires_at: now + millis(state.config.session_lifetime),
        ip: client.ip,
        user_agent: client.user_agent,
    };
    state.store.create_session(&new).await?;
    let session = SessionRow {
        id: new.id,
        user_id: new.user_id,
        transport: new.transport,
        created_at: now,
        last_seen_at: now,
        expires_at: new.expires_at,
        ip: new.ip,
        user_agent: new.user_agent,
    };
    Ok(SessionGrant {
        session,
        credentials,
    })
}

/// A signed access token for `user` in session `session_id`.
pub fn access_token(
    state: &AppState,
    user: &UserRow,
    session_id: &str,
    now: i64,
) -> ApiResult<String> {
    let subject = Subject {
        user_id: &user.id,
        session_id,
        email: &user.email,
        email_verified: user.email_verified,
        role: &user.role,
    };
    state
        .tokens
        .issue(&subject, now)
        .map_err(|e| ApiError::Internal(e.into()))
}

/// Uses a refresh token once and returns a new access token and refresh token.
pub async fn refresh(state: &AppState, raw: &str) -> ApiResult<(String, PlainToken)> {
    let presented = PlainToken::parse(raw).ok_or(ApiError::InvalidRefreshToken)?;
    let presented_hash = state.token_hasher.hash(purpose::REFRESH, &presented);
    let child = PlainToken::generate();
    let child_hash = state.token_hasher.hash(purpose::REFRESH, &child);
    let child_id = uuid::Uuid::now_v7().to_string();
    let live = state.liveness();
    let outcome = state
        .store
        .rotate_refresh_token(
            presented_hash.as_str(),
            (&child_id, child_hash.as_str()),
            live,
            millis(state.config.refresh_reuse_grace),
        )
        .await?;
    let label = match &outcome {
        RefreshOutcome::Rotated(_) => "rotated",
        RefreshOutcome::Invalid => "invalid",
        RefreshOutcome::ReusedWithinGrace { .. } => "reused_within_grace",
        RefreshOutcome::ReusedSessionRevoked { .. } => "reuse_detected",
    };
    metrics::counter!(crate::metrics::REFRESHES, "outcome" => label).increment(1);
    let session = match outcome {
        RefreshOutcome::Rotated(session) => session,
        RefreshOutcome::Invalid => return Err(ApiError::InvalidRefreshToken),
        RefreshOutcome::ReusedWithinGrace {
            session_id,
            user_id,
        } => {
            tracing::info!(%session_id, %user_id, "refresh token replayed within the grace window");
            return Err(ApiError::RefreshTokenReused);
        }
        RefreshOutcome::ReusedSessionRevoked {
            session_id,
            user_id,
        } => {
            tracing::warn!(
                action = "session.refresh_reuse_detected",
                %session_id,
                %user_id,
                "refresh token reused after rotation; session revoked"
            );
            return Err(ApiError::RefreshTokenReused);
        }
    };
    let user = state
        .store
        .user_by_id(&session.user_id)
        .await?
        .filter(|u| !u.banned)
        .ok_or(ApiError::InvalidRefreshToken)?;
    let access = access_token(state, &user, &session.id, live.now)?;
    Ok((access, child))
}
