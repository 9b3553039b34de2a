//! Emailed link tokens: 256 random bits, stored as keyed hashes, single-use, expiring, and
//! replaced by a newer one of the same kind. Issuing one queues the letter that carries it
//! in the same transaction, so a token never exists without its message, nor the reverse.

use portcullis_core::{Email, HashedToken, PlainToken, UserId};
use portcullis_store::{NewOneTimeToken, UserRow};

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::{Client, Core, ServiceResult};
use crate::mail::Letter;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new address; the token row keeps the address it was sent to.
    ChangeEmail,
    /// A reset link, in the letter that tells the owner of an address that someone tried to
    /// sign up with it (quiet sign-up).
    AccountExists,
}

impl Link {
    /// The stored kind, which is also the purpose the token is hashed under.
    pub fn kind(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword | Self::AccountExists => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }

    fn ttl_ms(self, core: &Core) -> i64 {
        match self {
            Self::VerifyEmail | Self::ChangeEmail => core.policy.verify_link_ms,
            Self::ResetPassword | Self::AccountExists => core.policy.reset_link_ms,
        }
    }

    fn letter(self, token: &PlainToken) -> Letter<'_> {
        match self {
            Self::VerifyEmail => Letter::VerifyEmail { token },
            Self::ResetPassword => Letter::ResetPassword { token },
            Self::ChangeEmail => Letter::ConfirmNewEmail { token },
            Self::AccountExists => Letter::AccountExists { token },
        }
    }

    /// The stored hash of a presented token; `None` for anything not shaped like one.
    pub fn hash(self, core: &Core, raw: &str) -> Option<HashedToken> {
        let token = PlainToken::parse(raw)?;
        Some(core.token_hasher.hash(self.kind(), &token))
    }
}

/// Issues a `link` token for `user_id` to `to` and queues its letter, both in `change`.
pub async fn send_link(
    core: &Core,
    change: &mut Change<'_>,
    link: Link,
    user_id: &UserId,
    to: &str,
) -> ServiceResult<()> {
    let token = PlainToken::generate();
    let now = core.now();
    change
        .issue_one_time_token(&NewOneTimeToken {
            token_hash: core.token_hasher.hash(link.kind(), &token),
            kind: link.kind(),
            user_id: *user_id,
            email: to.to_owned(),
            created_at: now,
            expires_at: now + link.ttl_ms(core),
        })
        .await?;
    change.send(link.letter(&token), to, user_id).await
}

/// Sends `user` the link that verifies their address, and records that it went.
pub async fn send_verification(
    core: &Core,
    change: &mut Change<'_>,
    user: &UserRow,
    client: &Client,
) -> ServiceResult<()> {
    send_link(core, change, Link::VerifyEmail, &user.id, &user.email).await?;
    change
        .audit(AuditEvent::by_user(
            Action::EmailVerificationSent,
            client,
            &user.id,
        ))
        .await
}

/// Issues a `link` token and queues its letter as [`send_link`] does, unless such a mail went
/// to the user within `PORTCULLIS_MAIL_COOLDOWN`, so that requests which send mail cannot
/// flood an inbox; true when sent. The user's row is locked before looking, so concurrent
/// requests for one account send one mail.
pub async fn send_link_once(
    core: &Core,
    change: &mut Change<'_>,
    link: Link,
    user_id: &UserId,
    to: &str,
) -> ServiceResult<bool> {
    change.lock_user(user_id).await?;
    if change
        .token_issued_since(user_id, link.kind(), cooldown_start(core))
        .await?
    {
        return Ok(false);
    }
    send_link(core, change, link, user_id, to).await?;
    Ok(true)
}

/// Whether a `link` mail went to the user within the cooldown: a cheap look before taking a
/// transaction, which [`send_link_once`] repeats inside it.
async fn cooling_down(core: &Core, link: Link, user_id: &UserId) -> ServiceResult<bool> {
    Ok(core
        .store
        .token_issued_since(user_id, link.kind(), cooldown_start(core))
        .await?)
}

fn cooldown_start(core: &Core) -> i64 {
    core.now() - core.policy.mail_cooldown_ms
}

/// For the requests that name an address (forgot-password, resend): after the answer, in the
/// background, sends `link` to the account with `email`, if there is one and `wanted` says
/// so, at most once per cooldown, recording `action`. Neither the answer nor its timing can
/// tell whether the account exists; when the background is full, every caller alike is
/// refused with `overloaded`.
pub fn send_on_request(
    core: &std::sync::Arc<Core>,
    client: Client,
    email: Email,
    link: Link,
    action: Action,
    wanted: fn(&UserRow) -> bool,
) -> ServiceResult<()> {
    let core = core.clone();
    let background = core.background.clone();
    background.spawn(link.kind(), async move {
        let Some(user) = core.store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if !wanted(&user) || cooling_down(&core, link, &user.id).await? {
            return Ok(());
        }
        let mut change = Change::begin(&core).await?;
        if send_link_once(&core, &mut change, link, &user.id, &user.email).await? {
            change
                .audit(AuditEvent::new(action, &client).subject(&user.id))
                .await?;
            change.commit().await?;
        }
        Ok(())
    })
}
