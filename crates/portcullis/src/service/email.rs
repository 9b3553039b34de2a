//! Email verification (by emailed link) and email change (a link to the new address).

use std::sync::Arc;

use portcullis_core::Email;
use portcullis_store::{UserChange, UserRow};
use secrecy::{ExposeSecret, SecretString};

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::credentials;
use super::limits;
use super::links::{self, Link};
use super::password::still_signed_in;
use super::sessions::Authenticated;
use super::{Client, Core, ServiceError, ServiceResult};
use crate::config::Group;
use crate::mail::Letter;

/// The address a link proved.
pub struct Verified {
    pub email: String,
}

/// Uses an emailed link: a verification link verifies the address; an email-change link
/// makes the new address the account's, if it is still free.
#[tracing::instrument(name = "verify_email", skip_all)]
pub async fn verify(core: &Core, token: &SecretString, client: &Client) -> ServiceResult<Verified> {
    limits::per_client(core, Group::Link, "POST /api/auth/email/verify", client).await?;
    let now = core.now();
    // Which kind of link this is, found by a read: a token that was never issued (or has
    // expired) is refused without taking the writer.
    let mut found = None;
    for link in [Link::VerifyEmail, Link::ChangeEmail] {
        let Some(hash) = link.hash(core, token.expose_secret()) else {
            return Err(ServiceError::InvalidToken);
        };
        if core
            .store
            .live_one_time_token(link.kind(), &hash, now)
            .await?
            .is_some()
        {
            found = Some((link, hash));
            break;
        }
    }
    let (link, hash) = found.ok_or(ServiceError::InvalidToken)?;
    let mut change = Change::begin(core).await?;
    let used = change
        .use_one_time_token(link.kind(), &hash, now)
        .await?
        .ok_or(ServiceError::InvalidToken)?;
    let action = if link == Link::VerifyEmail {
        // A link to an address the account no longer has proves nothing.
        if !change
            .mark_email_verified(&used.user_id, &used.email, now)
            .await?
        {
            return Err(ServiceError::InvalidToken);
        }
        Action::EmailVerified
    } else {
        let email = Email::parse(&used.email).map_err(|_| ServiceError::InvalidToken)?;
        let new_address = UserChange {
            email: Some(email),
            email_verified: Some(true),
            ..UserChange::default()
        };
        change
            .update_user(&used.user_id, &new_address, now)
            .await?
            .ok_or(ServiceError::InvalidToken)?;
        // Links sent to the old address are void now.
        change.delete_one_time_tokens_of(&used.user_id).await?;
        Action::EmailChanged
    };
    change
        .audit(AuditEvent::by_user(action, client, &used.user_id))
        .await?;
    change.commit().await?;
    Ok(Verified { email: used.email })
}

/// Sends a new verification link if an unverified account has this address. Answers the
/// same whether or not it does, before any work that could tell.
#[tracing::instrument(name = "resend_verification", skip_all)]
pub async fn resend(core: &Arc<Core>, email: &str, client: Client) -> ServiceResult<()> {
    limits::per_client(
        core,
        Group::Mail,
        "POST /api/auth/email/verify/resend",
        &client,
    )
    .await?;
    let email = Email::parse(email).map_err(|e| ServiceError::field("email", e.code()))?;
    let unverified = |user: &UserRow| !user.email_verified;
    links::send_on_request(
        core,
        client,
        email,
        Link::VerifyEmail,
        Action::EmailVerificationSent,
        unverified,
    )
}

pub struct EmailChange {
    pub new_email: String,
    /// Absent for an account without a password, which re-authenticates through its
    /// provider instead.
    pub password: Option<SecretString>,
}

/// Asks to change the address: a link goes to the new address and a notice to the old; the
/// address changes only when the link is used. Within the mail cooldown it answers the same
/// and sends nothing more.
#[tracing::instrument(name = "change_email", skip_all)]
pub async fn change(
    core: &Core,
    auth: &Authenticated,
    request: EmailChange,
    client: &Client,
) -> ServiceResult<()> {
    limits::per_client(core, Group::Mail, "POST /api/auth/email/change", client).await?;
    let new_email =
        Email::parse(&request.new_email).map_err(|e| ServiceError::field("new_email", e.code()))?;
    if new_email.lowercase() == auth.user.email.to_lowercase() {
        return Err(ServiceError::field("new_email", "unchanged"));
    }
    let proof = credentials::confirm(core, auth, request.password.as_ref()).await?;
    if core
        .store
        .user_by_email(new_email.as_str())
        .await?
        .is_some()
    {
        return Err(ServiceError::EmailTaken);
    }
    let mut change = Change::begin(core).await?;
    still_signed_in(core, &mut change, auth, &proof).await?;
    let sent = links::send_link_once(
        core,
        &mut change,
        Link::ChangeEmail,
        &auth.user.id,
        new_email.as_str(),
    )
    .await?;
    if !sent {
        return Ok(());
    }
    let notice = Letter::EmailChangeRequested {
        new_email: new_email.as_str(),
    };
    change.send(notice, &auth.user.email, &auth.user.id).await?;
    change
        .audit(AuditEvent::by_user(
            Action::EmailChangeRequested,
            client,
            &auth.user.id,
        ))
        .await?;
    change.commit().await
}
