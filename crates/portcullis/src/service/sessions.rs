//! Sessions: starting one (a fresh id and fresh secrets at every sign-in), the one way a
//! presented credential is found to belong to a live session of an unbanned user, and the
//! user's own view of their sessions.

use std::sync::Arc;

use portcullis_core::{HashedToken, PlainToken, SessionId, UserId};
use portcullis_store::{NewSession, SessionRow, UserRow};
use serde_json::json;

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::{Client, Core, ServiceError, ServiceResult};
use crate::cache::Epoch;
use crate::jwt::{AccessClaims, Subject};

/// The purposes tokens are hashed under, kept apart so one kind never passes as another.
pub mod purpose {
    pub const SESSION: &str = "session";
    pub const REFRESH: &str = "refresh";
    pub const CSRF: &str = "csrf";
}

/// Cookie sessions record their use at most this often, so reads stay reads.
const TOUCH_INTERVAL_MS: i64 = 60_000;

/// How the client holds its session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// A session stored in a change that has not committed yet, and the secrets its client will
/// receive. The access token is signed only after the commit, see [`Opened::finish`].
pub struct Opened {
    session: SessionRow,
    secret: Secret,
}

enum Secret {
    Refresh(PlainToken),
    Cookie(PlainToken),
}

/// A new session and the credentials the client receives for it.
pub struct SignedIn {
    pub user: UserRow,
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

/// Stores a new session for `user` in `change`. Every sign-in gets a fresh session id and
/// fresh secrets.
pub async fn open(
    core: &Core,
    change: &mut Change<'_>,
    user: &UserRow,
    transport: Transport,
    client: &Client,
) -> ServiceResult<Opened> {
    let now = core.now();
    let token = PlainToken::generate();
    let (token_hash, refresh, secret) = match transport {
        Transport::Cookie => (
            Some(core.token_hasher.hash(purpose::SESSION, &token)),
            None,
            Secret::Cookie(token),
        ),
        Transport::Bearer => (
            None,
            Some(core.token_hasher.hash(purpose::REFRESH, &token)),
            Secret::Refresh(token),
        ),
    };
    let new = NewSession {
        id: SessionId::new(),
        user_id: user.id,
        transport: transport.as_str(),
        token_hash,
        refresh,
        now,
        expires_at: now + core.policy.session_lifetime_ms,
        ip: client.ip.clone(),
        user_agent: client.user_agent.clone(),
    };
    change.create_session(&new).await?;
    let session = SessionRow {
        id: new.id,
        user_id: new.user_id,
        transport: new.transport.to_owned(),
        created_at: now,
        last_seen_at: now,
        expires_at: new.expires_at,
        ip: new.ip,
        user_agent: new.user_agent,
        reauthenticated_at: None,
    };
    Ok(Opened { session, secret })
}

impl Opened {
    pub fn id(&self) -> &SessionId {
        &self.session.id
    }

    /// After the commit: signs the access token (outside the transaction, so SQLite's one
    /// writer is never held for it) and hands out the credentials.
    pub fn finish(self, core: &Core, user: UserRow) -> ServiceResult<SignedIn> {
        let credentials = match self.secret {
            Secret::Refresh(refresh_token) => Credentials::Bearer {
                access_token: access_token(core, &user, &self.session.id)?,
                refresh_token,
            },
            Secret::Cookie(session_token) => Credentials::Cookie {
                csrf_token: csrf_token(core, &session_token),
                session_token,
            },
        };
        let user = UserRow {
            last_login_at: Some(self.session.created_at),
            ..user
        };
        Ok(SignedIn {
            user,
            session: self.session,
            credentials,
        })
    }
}

/// The CSRF token bound to a cookie session's token.
pub fn csrf_token(core: &Core, session_token: &PlainToken) -> String {
    core.token_hasher.derive(purpose::CSRF, session_token)
}

/// A signed access token for `user` in session `session_id`, valid from now.
pub fn access_token(core: &Core, user: &UserRow, session_id: &SessionId) -> ServiceResult<String> {
    let subject = Subject {
        user_id: &user.id,
        session_id,
        email: &user.email,
        email_verified: user.email_verified,
        role: user.role.as_str(),
    };
    core.tokens
        .issue(&subject, core.now())
        .map_err(|e| ServiceError::Internal(e.into()))
}

/// A credential as a client presents it.
pub enum Presented<'a> {
    /// A signed access token (bearer transport).
    AccessToken(&'a str),
    /// The session cookie's token (cookie transport).
    SessionCookie(&'a PlainToken),
    /// An unused refresh token (introspection only).
    RefreshToken(&'a PlainToken),
}

/// A request's proof of identity: the live session and its user, who is not banned.
pub struct Authenticated {
    pub user: Arc<UserRow>,
    pub session: Arc<SessionRow>,
    pub transport: Transport,
    /// The verified claims, when an access token was presented.
    pub claims: Option<Arc<AccessClaims>>,
}

/// The one authentication path: whether `presented` belongs to a live session of a user who
/// exists and is not banned. Sessions and users come from this node's cache when it holds
/// them (see `crate::cache` for why a revocation or ban still takes effect at once), else
/// from the store.
#[tracing::instrument(name = "authenticate", skip_all)]
pub async fn authenticate(core: &Core, presented: Presented<'_>) -> ServiceResult<Authenticated> {
    let live = core.liveness();
    // Read before the store is, so that what it returns is kept only if nothing changed.
    let epoch = core.cache.epoch();
    let (session, transport, claims) = match presented {
        Presented::AccessToken(token) => {
            let claims = core.tokens.verify(token, live.now).map_err(|err| {
                tracing::debug!(%err, "bearer token refused");
                ServiceError::Unauthenticated
            })?;
            let (Ok(sid), Ok(sub)) = (claims.sid.parse(), claims.sub.parse::<UserId>()) else {
                return Err(ServiceError::Unauthenticated);
            };
            let session = match core.cache.session(&sid, live.now) {
                Some(session) => Some(session),
                None => {
                    let found = core.store.live_session(&sid, live).await?;
                    kept_session(core, epoch, found, None)
                }
            };
            let session = session.filter(|s| s.user_id == sub);
            (session, Transport::Bearer, Some(claims))
        }
        Presented::SessionCookie(token) => {
            let hash = core.token_hasher.hash(purpose::SESSION, token);
            let session = match core.cache.session_by_token(&hash, live.now) {
                Some(session) => Some(session),
                None => {
                    let found = core.store.live_session_by_token(&hash, live).await?;
                    kept_session(core, epoch, found, Some(&hash))
                }
            };
            (session, Transport::Cookie, None)
        }
        Presented::RefreshToken(token) => {
            let hash = core.token_hasher.hash(purpose::REFRESH, token);
            let session = core
                .store
                .live_session_by_refresh_token(&hash, live)
                .await?;
            (session.map(Arc::new), Transport::Bearer, None)
        }
    };
    // A copy is checked as the store's query checks a row: it may have aged since it was read.
    let session = session
        .filter(|s| s.is_live(live))
        .ok_or(ServiceError::Unauthenticated)?;
    let user = match core.cache.user(&session.user_id, live.now) {
        Some(user) => user,
        None => {
            let user = core
                .store
                .user_by_id(&session.user_id)
                .await?
                .map(Arc::new)
                .ok_or(ServiceError::Unauthenticated)?;
            core.cache.keep_user(epoch, &user, live.now);
            user
        }
    };
    if user.is_banned(live.now) {
        return Err(ServiceError::Unauthenticated);
    }
    Ok(Authenticated {
        user,
        session,
        transport,
        claims,
    })
}

/// A session just read from the store, kept in the cache when found.
fn kept_session(
    core: &Core,
    epoch: Epoch,
    found: Option<SessionRow>,
    token_hash: Option<&HashedToken>,
) -> Option<Arc<SessionRow>> {
    let session = Arc::new(found?);
    core.cache
        .keep_session(epoch, &session, token_hash, core.now());
    Some(session)
}

/// Records the use of a cookie session, which slides its idle timeout (up to the absolute
/// lifetime); written at most once a minute, so reads stay reads.
pub async fn slide(core: &Core, auth: &Authenticated) -> ServiceResult<()> {
    let now = core.now();
    if auth.transport == Transport::Cookie && auth.session.last_seen_at < now - TOUCH_INTERVAL_MS {
        core.store
            .touch_session(&auth.session.id, now, TOUCH_INTERVAL_MS)
            .await?;
        core.cache.seen(&auth.session.id, now);
    }
    Ok(())
}

/// The user's live sessions, oldest first.
pub async fn list(core: &Core, user_id: &UserId) -> ServiceResult<Vec<SessionRow>> {
    Ok(core
        .store
        .live_sessions_of(user_id, core.liveness())
        .await?)
}

/// Revokes one of the signed-in user's sessions; `not_found` for anyone else's.
#[tracing::instrument(name = "revoke_session", skip_all)]
pub async fn revoke(
    core: &Core,
    auth: &Authenticated,
    session_id: &SessionId,
    client: &Client,
) -> ServiceResult<()> {
    let mut change = Change::begin(core).await?;
    if !change
        .revoke_session(&auth.user.id, session_id, core.now())
        .await?
    {
        return Err(ServiceError::NotFound);
    }
    let event = AuditEvent::by_user(Action::SessionRevoked, client, &auth.user.id)
        .detail(json!({ "session_id": session_id }));
    change.audit(event).await?;
    change.commit().await
}

/// Revokes all of the signed-in user's sessions, or all but the current one.
#[tracing::instrument(name = "revoke_sessions", skip_all)]
pub async fn revoke_all(
    core: &Core,
    auth: &Authenticated,
    keep_current: bool,
    client: &Client,
) -> ServiceResult<()> {
    let keep = keep_current.then_some(&auth.session.id);
    let mut change = Change::begin(core).await?;
    let revoked = change
        .revoke_sessions_of(&auth.user.id, keep, core.now())
        .await?;
    let event = AuditEvent::by_user(Action::SessionRevoked, client, &auth.user.id)
        .detail(json!({ "count": revoked, "kept_current": keep.is_some() }));
    change.audit(event).await?;
    change.commit().await
}
