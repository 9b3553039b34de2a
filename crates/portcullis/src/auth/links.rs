//! Emailed link tokens: 256 random bits, stored as keyed hashes, single-use, expiring, and
//! replaced by a newer one of the same kind. Issuing one queues the letter that carries it
//! in the same transaction, so a token never exists without its message, nor the reverse.

use std::time::Duration;

use portcullis_core::{Email, PlainToken};
use portcullis_store::{NewOneTimeToken, UserRow};

use super::ClientInfo;
use crate::audit::{Action, AuditEvent};
use crate::change::Change;
use crate::config::Config;
use crate::http::ApiResult;
use crate::mail::Letter;
use crate::state::{AppState, millis};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    VerifyEmail,
    ResetPassword,
    /// Confirms a new address; the token row keeps the address it was sent to.
    ChangeEmail,
}

impl Link {
    /// The stored kind, which is also the purpose the token is hashed under.
    pub fn kind(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }

    fn ttl(self, config: &Config) -> Duration {
        match self {
            Self::VerifyEmail | Self::ChangeEmail => config.verify_token_ttl,
            Self::ResetPassword => config.reset_token_ttl,
        }
    }

    fn letter(self, token: &PlainToken) -> Letter<'_> {
        match self {
            Self::VerifyEmail => Letter::VerifyEmail { token },
            Self::ResetPassword => Letter::ResetPassword { token },
            Self::ChangeEmail => Letter::ConfirmNewEmail { token },
        }
    }

    /// The stored hash of a presented token; `None` for anything not shaped like one.
    pub fn hash(self, state: &AppState, raw: &str) -> Option<String> {
        let token = PlainToken::parse(raw)?;
        Some(
            state
                .token_hasher
                .hash(self.kind(), &token)
                .as_str()
                .to_owned(),
        )
    }
}

/// Issues a `link` token for `user_id` to `to` and queues its letter, both in `change`.
pub async fn send_link(
    state: &AppState,
    change: &mut Change<'_>,
    link: Link,
    user_id: &str,
    to: &str,
) -> ApiResult<()> {
    let token = PlainToken::generate();
    let now = state.now();
    change
        .issue_one_time_token(&NewOneTimeToken {
            token_hash: state
                .token_hasher
                .hash(link.kind(), &token)
                .as_str()
                .to_owned(),
            kind: link.kind(),
            user_id: user_id.to_owned(),
            email: to.to_owned(),
            created_at: now,
            expires_at: now + millis(link.ttl(&state.config)),
        })
        .await?;
    change.send(link.letter(&token), to, user_id).await
}

/// Issues a `link` token and queues its letter as [`send_link`] does, unless such a mail went
/// to the user within `PORTCULLIS_MAIL_COOLDOWN`, so that requests which send mail cannot
/// flood an inbox; true when sent. The user's row is locked before looking, so concurrent
/// requests for one account send one mail.
pub async fn send_link_once(
    state: &AppState,
    change: &mut Change<'_>,
    link: Link,
    user_id: &str,
    to: &str,
) -> ApiResult<bool> {
    change.lock_user(user_id).await?;
    if change
        .token_issued_since(user_id, link.kind(), cooldown_start(state))
        .await?
    {
        return Ok(false);
    }
    send_link(state, change, link, user_id, to).await?;
    Ok(true)
}

/// Whether a `link` mail went to the user within the cooldown: a cheap look before taking a
/// transaction, which [`send_link_once`] repeats inside it.
pub async fn cooling_down(state: &AppState, link: Link, user_id: &str) -> ApiResult<bool> {
    Ok(state
        .store
        .token_issued_since(user_id, link.kind(), cooldown_start(state))
        .await?)
}

fn cooldown_start(state: &AppState) -> i64 {
    state.now() - millis(state.config.mail_cooldown)
}

/// For the requests that name an address (forgot-password, resend): after the answer, in the
/// background, sends `link` to the account with `email`, if there is one and `wanted` says
/// so, at most once per cooldown, recording `action`. Neither the answer nor its timing can
/// tell whether the account exists.
pub fn send_on_request(
    state: &AppState,
    client: ClientInfo,
    email: Email,
    link: Link,
    action: Action,
    wanted: fn(&UserRow) -> bool,
) {
    let background = state.background.clone();
    let state = state.clone();
    background.spawn(link.kind(), async move {
        let Some(user) = state.store.user_by_email(email.as_str()).await? else {
            return Ok(());
        };
        if !wanted(&user) || cooling_down(&state, link, &user.id).await? {
            return Ok(());
        }
        let mut change = Change::begin(&state).await?;
        if send_link_once(&state, &mut change, link, &user.id, &user.email).await? {
            change
                .audit(AuditEvent::new(action, &client).subject(&user.id))
                .await?;
            change.commit().await?;
        }
        Ok(())
    });
}
