//! Refresh-token rotation: each token is used once; a replay within the grace window is
//! refused and the session lives on, a later one revokes the session. The common case (an
//! unused token of a live session) is one exchange with the database: one statement on
//! PostgreSQL, one batch in one transaction on SQLite; anything else goes through a
//! transaction that says what happened.

use portcullis_core::{PlainToken, SessionId};
use portcullis_store::{RefreshOutcome, UserRow};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use super::audit::{Action, AuditEvent, Outcome};
use super::change::Change;
use super::limits;
use super::sessions::{self, purpose};
use super::{Client, Core, ServiceError, ServiceResult};
use crate::config::Group;

/// A new access token and the refresh token that replaces the one presented.
pub struct Refreshed {
    pub access_token: String,
    pub refresh_token: PlainToken,
}

#[tracing::instrument(name = "refresh", skip_all)]
pub async fn refresh(
    core: &Core,
    presented: &SecretString,
    client: &Client,
) -> ServiceResult<Refreshed> {
    limits::per_client(core, Group::Refresh, "POST /api/auth/refresh", client).await?;
    let presented =
        PlainToken::parse(presented.expose_secret()).ok_or(ServiceError::InvalidRefreshToken)?;
    let presented_hash = core.token_hasher.hash(purpose::REFRESH, &presented);
    let child = PlainToken::generate();
    let child_hash = core.token_hasher.hash(purpose::REFRESH, &child);
    let live = core.liveness();
    let event = AuditEvent::new(Action::SessionRefreshed, client);
    if let Some(rotation) = core
        .store
        .rotate_refresh_token_at_once(&presented_hash, &child_hash, live, &event.to_row(live.now))
        .await?
    {
        count("rotated");
        event
            .actor(&rotation.user.id)
            .subject(&rotation.user.id)
            .detail(json!({ "session_id": rotation.session_id }))
            .emit();
        return refreshed(core, &rotation.user, &rotation.session_id, child);
    }
    // A token that was never issued is refused by a read: only a real one takes the writer.
    if !core.store.refresh_token_exists(&presented_hash).await? {
        count("invalid");
        return Err(ServiceError::InvalidRefreshToken);
    }
    let mut change = Change::begin(core).await?;
    let outcome = change
        .rotate_refresh_token(
            &presented_hash,
            &child_hash,
            live,
            core.policy.refresh_grace_ms,
        )
        .await?;
    count(match &outcome {
        RefreshOutcome::Rotated(_) => "rotated",
        RefreshOutcome::Invalid => "invalid",
        RefreshOutcome::ReusedWithinGrace { .. } => "reused_within_grace",
        RefreshOutcome::ReusedSessionRevoked { .. } => "reuse_detected",
    });
    match outcome {
        RefreshOutcome::Rotated(session) => {
            let user = change
                .user_by_id(&session.user_id)
                .await?
                .filter(|u| !u.is_banned(live.now))
                .ok_or(ServiceError::InvalidRefreshToken)?;
            let event = AuditEvent::by_user(Action::SessionRefreshed, client, &user.id)
                .detail(json!({ "session_id": session.id }));
            change.audit(event).await?;
            change.commit().await?;
            refreshed(core, &user, &session.id, child)
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
            Err(ServiceError::RefreshTokenReused)
        }
        RefreshOutcome::ReusedWithinGrace {
            session_id,
            user_id,
        } => {
            tracing::info!(%session_id, %user_id, "refresh token replayed within the grace window");
            Err(ServiceError::RefreshTokenReused)
        }
        RefreshOutcome::Invalid => Err(ServiceError::InvalidRefreshToken),
    }
}

/// The answer to a rotation, signed after the commit so that SQLite's writer is not held for it.
fn refreshed(
    core: &Core,
    user: &UserRow,
    session_id: &SessionId,
    child: PlainToken,
) -> ServiceResult<Refreshed> {
    Ok(Refreshed {
        access_token: sessions::access_token(core, user, session_id)?,
        refresh_token: child,
    })
}

fn count(outcome: &'static str) {
    metrics::counter!(crate::metrics::REFRESHES, "outcome" => outcome).increment(1);
}
