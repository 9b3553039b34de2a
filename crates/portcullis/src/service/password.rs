//! Passwords: change (signed in), forgot (a link by mail) and reset (with the link).

use std::sync::Arc;

use portcullis_core::Email;
use secrecy::SecretString;
use serde_json::json;

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::credentials;
use super::limits;
use super::links::{self, Link};
use super::sessions::Authenticated;
use super::{Client, Core, ServiceError, ServiceResult};
use crate::config::Group;
use crate::mail::Letter;

pub struct PasswordChange {
    /// Absent for an account without a password, which re-authenticates through its
    /// provider instead.
    pub current_password: Option<SecretString>,
    pub new_password: SecretString,
}

/// Changes the signed-in user's password; every other session ends.
#[tracing::instrument(name = "change_password", skip_all)]
pub async fn change(
    core: &Core,
    auth: &Authenticated,
    request: PasswordChange,
    client: &Client,
) -> ServiceResult<()> {
    let email = Email::parse(&auth.user.email).ok();
    let new_password =
        credentials::chosen(core, &request.new_password, "new_password", email.as_ref())?;
    let proof = credentials::confirm(core, auth, request.current_password.as_ref()).await?;
    let credential = credentials::hash(core, new_password).await?;
    let now = core.now();
    let mut change = Change::begin(core).await?;
    still_signed_in(core, &mut change, auth, &proof).await?;
    let revoked = credentials::replace(
        &mut change,
        &auth.user.id,
        &credential,
        Some(&auth.session.id),
        now,
    )
    .await?;
    let event = AuditEvent::by_user(Action::PasswordChanged, client, &auth.user.id)
        .detail(json!({ "sessions_revoked": revoked }));
    change.audit(event).await?;
    change
        .send(Letter::PasswordChanged, &auth.user.email, &auth.user.id)
        .await?;
    change.commit().await
}

/// Inside `change`, after locking the user: the request's session is still live and the
/// proof of who they are still holds (the same password hash, or still none). A reset, ban or
/// sign-out elsewhere that committed while this request was hashing wins (401), and one that
/// comes later waits for this change and then undoes what it must.
pub(super) async fn still_signed_in(
    core: &Core,
    change: &mut Change<'_>,
    auth: &Authenticated,
    proof: &credentials::Proof,
) -> ServiceResult<()> {
    change.lock_user(&auth.user.id).await?;
    if change
        .live_session(&auth.session.id, core.liveness())
        .await?
        .is_none()
    {
        return Err(ServiceError::Unauthenticated);
    }
    if !proof.holds(change, &auth.user.id).await? {
        return Err(ServiceError::InvalidCredentials);
    }
    Ok(())
}

/// Sends a reset link if an account has this address. Answers the same whether or not it
/// does, before any work that could tell: the lookup and the mail happen in the background.
#[tracing::instrument(name = "forgot_password", skip_all)]
pub async fn forgot(core: &Arc<Core>, email: &str, client: Client) -> ServiceResult<()> {
    limits::per_client(core, Group::Mail, "POST /api/auth/password/forgot", &client).await?;
    let email = Email::parse(email).map_err(|e| ServiceError::field("email", e.code()))?;
    links::send_on_request(
        core,
        client,
        email,
        Link::ResetPassword,
        Action::PasswordResetRequested,
        |_| true,
    )
}

pub struct PasswordReset {
    pub token: SecretString,
    pub new_password: SecretString,
}

/// Sets a new password with an emailed link; every session of the user ends.
#[tracing::instrument(name = "reset_password", skip_all)]
pub async fn reset(core: &Core, request: PasswordReset, client: &Client) -> ServiceResult<()> {
    limits::per_client(core, Group::Link, "POST /api/auth/password/reset", client).await?;
    use secrecy::ExposeSecret;
    let link = Link::ResetPassword;
    let hash = link
        .hash(core, request.token.expose_secret())
        .ok_or(ServiceError::InvalidToken)?;
    // Look before using it up: the policy needs the account's address, and the new hash is
    // made outside the transaction so that it never holds the database while hashing.
    let token = core
        .store
        .live_one_time_token(link.kind(), &hash, core.now())
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    let user = core
        .store
        .user_by_id(&token.user_id)
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    let email = Email::parse(&user.email).ok();
    let password =
        credentials::chosen(core, &request.new_password, "new_password", email.as_ref())?;
    let credential = credentials::hash(core, password).await?;
    let now = core.now();
    let mut change = Change::begin(core).await?;
    let used = change
        .use_one_time_token(link.kind(), &hash, now)
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    let revoked = credentials::replace(&mut change, &user.id, &credential, None, now).await?;
    // The link reached the address it was sent to, which proves that address.
    change
        .mark_email_verified(&user.id, &used.email, now)
        .await?;
    let event = AuditEvent::by_user(Action::PasswordReset, client, &user.id)
        .detail(json!({ "sessions_revoked": revoked }));
    change.audit(event).await?;
    change
        .send(Letter::PasswordReset, &user.email, &user.id)
        .await?;
    change.commit().await?;
    // A reset ends a lockout of the account too. Should the shared store not answer, the
    // lockout runs out by itself; the reset stands.
    let unlocked = AuditEvent::by_user(Action::AccountUnlocked, client, &user.id)
        .detail(json!({ "by": "password_reset" }));
    if limits::unlock(core, &user.id, unlocked).await.is_err() {
        tracing::warn!(
            "a password reset could not lift a lockout: the rate-limit store does not answer"
        );
    }
    Ok(())
}
