//! Signing in, starting sessions and rotating refresh tokens.

use portcullis_core::password_hash::ARGON2ID;
use portcullis_core::{Password, PlainToken, SessionId};
use portcullis_store::{Credential, NewSession, RefreshOutcome, SessionRow, UserRow};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::ClientInfo;
use super::purpose;
use crate::audit::{Action, AuditEvent, Outcome};
use crate::change::Change;
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
    pub fn as_str(self) -> &'static str {
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

/// The result of checking a password against an account.
pub enum Verdict {
    /// The password is the user's: it matched `hash`. `rehash` is set when that hash was of a
    /// legacy scheme or weaker parameters: the replacement to store with the sign-in.
    Valid {
        user: UserRow,
        hash: String,
        rehash: Option<Credential>,
    },
    /// No such account (`None`) or the wrong password.
    Invalid { user: Option<UserRow> },
}

/// Checks `password` for the account named by `login`. Unknown accounts cost one hash too,
/// so neither the answer nor its timing tells whether an account exists.
pub async fn check_password(
    state: &AppState,
    login: LoginName<'_>,
    password: Password,
) -> ApiResult<Verdict> {
    let found = match login {
        LoginName::Email(email) => state.store.user_with_password_by_email(email).await?,
        LoginName::Username(username) => {
            state.store.user_with_password_by_username(username).await?
        }
    };
    let (user, stored) = found.map_or((None, None), |(user, stored)| (Some(user), stored));
    match (verify(state, stored.clone(), password).await?, user, stored) {
        ((true, rehash), Some(user), Some(hash)) => Ok(Verdict::Valid { user, hash, rehash }),
        (_, user, _) => Ok(Verdict::Invalid { user }),
    }
}

/// Whether `password` is the password of the signed-in user `user_id`.
pub async fn confirm_password(
    state: &AppState,
    user_id: &str,
    password: Password,
) -> ApiResult<()> {
    let stored = state.store.password_hash(user_id).await?;
    match verify(state, stored, password).await? {
        (true, _) => Ok(()),
        (false, _) => Err(ApiError::InvalidCredentials),
    }
}

/// Verifies against `stored` (or, without one, a dummy hash) on the hash pool; on a match
/// with an outdated hash also makes its replacement.
async fn verify(
    state: &AppState,
    stored: Option<String>,
    password: Password,
) -> ApiResult<(bool, Option<Credential>)> {
    let verdict = state
        .hash_pool
        .run(move |hasher| {
            let Some(stored) = stored else {
                hasher.verify_dummy(&password);
                return Ok((false, None));
            };
            if !hasher.verify(&password, &stored)? {
                return Ok((false, None));
            }
            let rehash = hasher
                .needs_rehash(&stored)
                .then(|| hasher.hash(&password))
                .transpose()?
                .map(|hash| Credential {
                    hash,
                    scheme: ARGON2ID.to_owned(),
                });
            Ok::<_, portcullis_core::HashError>((true, rehash))
        })
        .await??;
    Ok(verdict)
}

/// A new Argon2id hash of `password`, on the hash pool.
pub async fn hash_password(state: &AppState, password: Password) -> ApiResult<Credential> {
    let hash = state
        .hash_pool
        .run(move |hasher| hasher.hash(&password))
        .await??;
    Ok(Credential {
        hash,
        scheme: ARGON2ID.to_owned(),
    })
}

/// Stores a new password in `change` and ends what the old one opened: every session but
/// `keep` (refresh tokens die with them) and every emailed link. Returns the sessions ended.
pub async fn replace_password(
    change: &mut Change<'_>,
    user_id: &str,
    credential: &Credential,
    keep: Option<&str>,
    now: i64,
) -> ApiResult<u64> {
    // The user's row first, as a sign-in locks it, so the two wait for each other in order.
    change.lock_user(user_id).await?;
    change
        .set_password(user_id, &credential.hash, &credential.scheme, now)
        .await?;
    let revoked = change.revoke_sessions_of(user_id, keep, now).await?;
    change.delete_one_time_tokens_of(user_id).await?;
    Ok(revoked)
}

/// What a user signs in with.
pub enum LoginName<'a> {
    Email(&'a str),
    Username(&'a str),
}

/// Stores a new session for `user` in `change` and mints the transport's credentials.
/// Every sign-in gets a fresh session id and fresh tokens.
pub async fn start_session(
    state: &AppState,
    change: &mut Change<'_>,
    user: &UserRow,
    transport: Transport,
    client: &ClientInfo,
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
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    change.create_session(&new).await?;
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
pub async fn refresh(
    state: &AppState,
    raw: &str,
    client: &ClientInfo,
) -> ApiResult<(String, PlainToken)> {
    let presented = PlainToken::parse(raw).ok_or(ApiError::InvalidRefreshToken)?;
    let presented_hash = state.token_hasher.hash(purpose::REFRESH, &presented);
    let child = PlainToken::generate();
    let child_hash = state.token_hasher.hash(purpose::REFRESH, &child);
    let child_id = uuid::Uuid::now_v7().to_string();
    let live = state.liveness();
    let mut change = Change::begin(state).await?;
    let outcome = change
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
    match outcome {
        RefreshOutcome::Rotated(session) => {
            let user = change
                .user_by_id(&session.user_id)
                .await?
                .filter(|u| !u.is_banned(live.now))
                .ok_or(ApiError::InvalidRefreshToken)?;
            let event = AuditEvent::by_user(Action::SessionRefreshed, client, &user.id)
                .detail(json!({ "session_id": session.id }));
            change.audit(event).await?;
            change.commit().await?;
            // Signed after the commit, so that SQLite's writer is not held for it.
            let access = access_token(state, &user, &session.id, live.now)?;
            Ok((access, child))
        }
        RefreshOutcome::ReusedSessionRevoked {
            session_id,
            user_id,
        } => {
            let event = AuditEvent::by_user(Action::RefreshReuseDetected, client, &user_id)
                .outcome(Outcome::Failure)
                .detail(json!({ "session_id": session_id, "session_revoked": true }));
            change.audit(event).await?;
            change.commit().await?;
            Err(ApiError::RefreshTokenReused)
        }
        RefreshOutcome::ReusedWithinGrace {
            session_id,
            user_id,
        } => {
            tracing::info!(%session_id, %user_id, "refresh token replayed within the grace window");
            Err(ApiError::RefreshTokenReused)
        }
        RefreshOutcome::Invalid => Err(ApiError::InvalidRefreshToken),
    }
}
