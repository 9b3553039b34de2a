//! Audit events: who did what to whom, when, from where. Each is written in the transaction
//! of the change it records (see [`super::change::Change`]) and, once committed, goes to
//! the log as a structured line and to the `portcullis_audit_events_total` counter. Details
//! never hold a secret: no passwords, tokens, codes or links.

use portcullis_core::UserId;
use portcullis_store::NewAuditEvent;
use serde_json::{Value, json};

use super::Client;

macro_rules! actions {
    ($($variant:ident => $name:literal,)*) => {
        /// Every audited action, by its `action` name in the API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Action {
            $($variant,)*
        }

        impl Action {
            pub const ALL: &[Action] = &[$(Action::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|a| a.as_str() == name)
            }
        }
    };
}

actions! {
    UserRegistered => "user.registered",
    LoginSucceeded => "user.login_succeeded",
    LoginFailed => "user.login_failed",
    Logout => "user.logout",
    SessionRefreshed => "session.refreshed",
    RefreshReuseDetected => "session.refresh_reuse_detected",
    SessionRevoked => "session.revoked",
    PasswordChanged => "password.changed",
    PasswordResetRequested => "password.reset_requested",
    PasswordReset => "password.reset",
    EmailVerificationSent => "email.verification_sent",
    EmailVerified => "email.verified",
    EmailChangeRequested => "email.change_requested",
    EmailChanged => "email.changed",
    OauthLogin => "oauth.login",
    OauthLinked => "oauth.linked",
    OauthUnlinked => "oauth.unlinked",
    UserUpdated => "admin.user_updated",
    RoleChanged => "admin.role_changed",
    UserBanned => "admin.user_banned",
    UserUnbanned => "admin.user_unbanned",
    SessionsRevoked => "admin.sessions_revoked",
    UserDeleted => "admin.user_deleted",
    AccountLocked => "account.locked",
    AccountUnlocked => "account.unlocked",
    RateLimitExceeded => "rate_limit.exceeded",
    SettingsChanged => "admin.settings_changed",
}

/// How the action ended: done; refused for wrong credentials or a bad token; or refused by
/// policy after correct credentials (a ban, an unverified email).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }
}

/// One event, built where it happens and stamped with id and time when written.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub action: Action,
    pub outcome: Outcome,
    pub actor: Option<UserId>,
    pub subject: Option<UserId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub login_key: Option<String>,
    pub detail: Value,
}

impl AuditEvent {
    /// A successful `action` by the requester of `client`, with no actor or subject yet.
    pub fn new(action: Action, client: &Client) -> Self {
        Self {
            action,
            outcome: Outcome::Success,
            actor: None,
            subject: None,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            request_id: client.request_id.clone(),
            login_key: None,
            detail: json!({}),
        }
    }

    /// An action a user took on their own account: actor and subject are both them.
    pub fn by_user(action: Action, client: &Client, user_id: &UserId) -> Self {
        Self::new(action, client).actor(user_id).subject(user_id)
    }

    /// An action an admin took on another account.
    pub fn by_admin(action: Action, client: &Client, admin_id: &UserId, subject: &UserId) -> Self {
        Self::new(action, client).actor(admin_id).subject(subject)
    }

    pub fn actor(mut self, user_id: &UserId) -> Self {
        self.actor = Some(*user_id);
        self
    }

    pub fn subject(mut self, user_id: &UserId) -> Self {
        self.subject = Some(*user_id);
        self
    }

    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    pub fn login_key(mut self, key: String) -> Self {
        self.login_key = Some(key);
        self
    }

    /// Sets the detail object; it must never carry a secret.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }

    pub fn to_row(&self, at: i64) -> NewAuditEvent {
        NewAuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at,
            action: self.action.as_str(),
            outcome: self.outcome.as_str(),
            actor_user_id: self.actor,
            subject_user_id: self.subject,
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            login_key: self.login_key.clone(),
            detail: self.detail.to_string(),
        }
    }

    /// The structured log line and the counter, once the event is committed.
    pub fn emit(&self) {
        metrics::counter!(crate::metrics::AUDIT_EVENTS, "action" => self.action.as_str())
            .increment(1);
        tracing::info!(
            target: "portcullis::audit",
            action = self.action.as_str(),
            outcome = self.outcome.as_str(),
            actor_user_id = self.actor.map(|id| id.to_string()),
            subject_user_id = self.subject.map(|id| id.to_string()),
            ip = self.ip.as_deref(),
            user_agent = self.user_agent.as_deref(),
            request_id = self.request_id.as_deref(),
            detail = %self.detail,
            "audit"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_parse_back() {
        for action in Action::ALL {
            assert_eq!(Action::parse(action.as_str()), Some(*action));
        }
        assert_eq!(Action::ALL.len(), 27);
        assert_eq!(Action::parse("user.nope"), None);
    }
}
