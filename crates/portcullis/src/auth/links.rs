//! Emailed link tokens: 256 random bits, stored as keyed hashes, single-use, expiring, and
//! replaced by a newer one of the same kind. Issuing one queues the letter that carries it
//! in the same transaction, so a token never exists without its message, nor the reverse.

use std::time::Duration;

use portcullis_core::PlainToken;
use portcullis_store::NewOneTimeToken;

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

/// Whether a `link` mail went to the user within the cooldown; if so, another is not sent,
/// so that the endpoints that send mail on request cannot flood an inbox.
pub async fn cooling_down(
    state: &AppState,
    change: &mut Change<'_>,
    link: Link,
    user_id: &str,
) -> ApiResult<bool> {
    let since = state.now() - millis(state.config.mail_cooldown);
    Ok(change
        .token_issued_since(user_id, link.kind(), since)
        .await?)
}
