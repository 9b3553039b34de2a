//! Administration: finding users, and every change an admin makes to one. All changes go
//! through [`act`], which locks the target and refuses, in one place, any action that would
//! leave no admin: a new action must say whether it takes administration away
//! ([`AdminAction::ends_administration`]) to compile.

use portcullis_core::{DisplayName, Email, Role, SessionId, UserId, Username};
use portcullis_store::{OauthAccountRow, Page, SessionRow, UserChange, UserFilter, UserRow};
use secrecy::SecretString;
use serde_json::json;

use super::accounts::{self, NewAccount};
use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::credentials;
use super::limits;
use super::sessions::Authenticated;
use super::{Client, Core, ServiceError, ServiceResult, Violations};

/// Proof that the caller administers: the role is read from the store with the session, on
/// every request, so a demotion takes effect at once whatever the access token says.
pub fn require_admin(auth: Authenticated) -> ServiceResult<Authenticated> {
    if auth.user.role.is_admin() {
        Ok(auth)
    } else {
        Err(ServiceError::Forbidden)
    }
}

/// A page of the user list and how many match in all.
pub struct UserPage {
    pub users: Vec<UserRow>,
    pub total: i64,
}

pub async fn list_users(core: &Core, filter: UserFilter, page: Page) -> ServiceResult<UserPage> {
    let (users, total) = core.store.list_users(&filter, page).await?;
    Ok(UserPage { users, total })
}

pub async fn user(core: &Core, id: &UserId) -> ServiceResult<UserRow> {
    core.store
        .user_by_id(id)
        .await?
        .ok_or(ServiceError::NotFound)
}

/// The user and their linked sign-in methods.
pub async fn user_with_accounts(
    core: &Core,
    id: &UserId,
) -> ServiceResult<(UserRow, Vec<OauthAccountRow>)> {
    let user = user(core, id).await?;
    Ok((user, core.store.oauth_accounts_of(id).await?))
}

/// The user's live sessions; `not_found` when there is no such user.
pub async fn sessions_of(core: &Core, id: &UserId) -> ServiceResult<Vec<SessionRow>> {
    user(core, id).await?;
    Ok(core.store.live_sessions_of(id, core.liveness()).await?)
}

/// What an admin may set on a user. `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct AdminPatch {
    pub name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
}

impl AdminPatch {
    /// The update to make, or every rule the values broke.
    pub fn into_action(self) -> ServiceResult<AdminAction> {
        let fields: Vec<&'static str> = [
            ("name", self.name.is_some()),
            ("username", self.username.is_some()),
            ("email", self.email.is_some()),
            ("email_verified", self.email_verified.is_some()),
        ]
        .into_iter()
        .filter_map(|(field, set)| set.then_some(field))
        .collect();
        let mut violations = Violations::default();
        let name = violations.optional("name", self.name, DisplayName::parse, |r| r.code());
        let username =
            violations.optional("username", self.username, Username::parse, |r| r.code());
        let email = self
            .email
            .map(|raw| violations.check("email", Email::parse(&raw), |e| e.code()));
        violations.finish()?;
        let email = email.flatten();
        let update = UserChange {
            name,
            username,
            image: None,
            // A new address is unverified unless the admin says otherwise.
            email_verified: self.email_verified.or(email.is_some().then_some(false)),
            email,
        };
        Ok(AdminAction::Update { update, fields })
    }
}

/// Every change an admin makes to a user.
pub enum AdminAction {
    /// `fields` names what the admin set, for the audit trail.
    Update {
        update: UserChange,
        fields: Vec<&'static str>,
    },
    SetRole(Role),
    Ban {
        reason: String,
        expires_at: Option<i64>,
    },
    Unban,
    /// Ends one session, or all of them.
    RevokeSessions(Option<SessionId>),
    Delete,
}

impl AdminAction {
    /// Whether the action takes administration away from `target`: the last admin may not
    /// lose it.
    fn ends_administration(&self) -> bool {
        match self {
            Self::SetRole(role) => !role.is_admin(),
            Self::Ban { .. } | Self::Delete => true,
            Self::Update { .. } | Self::Unban | Self::RevokeSessions(_) => false,
        }
    }
}

/// Validates a ban's reason (1 to 500 characters, no controls) and expiry (in the future).
pub fn ban(core: &Core, reason: &str, expires_at: Option<&str>) -> ServiceResult<AdminAction> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(ServiceError::field("reason", "required"));
    }
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(ServiceError::field("reason", "invalid"));
    }
    let expires_at = match expires_at.map(crate::time::parse_rfc3339) {
        None => None,
        Some(Some(at)) if at > core.now() => Some(at),
        Some(Some(_)) => return Err(ServiceError::field("expires_at", "in_the_past")),
        Some(None) => return Err(ServiceError::field("expires_at", "invalid_timestamp")),
    };
    Ok(AdminAction::Ban {
        reason: reason.to_owned(),
        expires_at,
    })
}

/// Carries out `action` on user `target` for `admin` in one transaction with its audit
/// event; returns the user as the action left them (`None` once deleted).
#[tracing::instrument(name = "admin_action", skip_all, fields(target = %target))]
pub async fn act(
    core: &Core,
    admin: &Authenticated,
    target: &UserId,
    action: AdminAction,
    client: &Client,
) -> ServiceResult<Option<UserRow>> {
    let now = core.now();
    let mut change = Change::begin(core).await?;
    // The last-admin check locks every admin's row before the target's, in one order.
    if action.ends_administration() && change.is_last_admin(target, now).await? {
        return Err(ServiceError::LastAdmin);
    }
    let before = change
        .lock_user(target)
        .await?
        .ok_or(ServiceError::NotFound)?;
    let event = |action: Action| AuditEvent::by_admin(action, client, &admin.user.id, target);
    let audited = match action {
        AdminAction::Update { update, fields } => {
            change.update_user(target, &update, now).await?;
            if update.email.is_some() {
                // Links already sent went to the old address.
                change.delete_one_time_tokens_of(target).await?;
            }
            (!fields.is_empty())
                .then(|| event(Action::UserUpdated).detail(json!({ "fields": fields })))
        }
        AdminAction::SetRole(role) => {
            change.set_role(target, &role, now).await?;
            Some(
                event(Action::RoleChanged)
                    .detail(json!({ "from": before.role.as_str(), "to": role.as_str() })),
            )
        }
        AdminAction::Ban { reason, expires_at } => {
            change.ban_user(target, &reason, expires_at, now).await?;
            let revoked = change.revoke_sessions_of(target, None, now).await?;
            Some(event(Action::UserBanned).detail(json!({
                "reason": reason,
                "expires_at": expires_at.map(crate::time::rfc3339),
                "sessions_revoked": revoked,
            })))
        }
        AdminAction::Unban => {
            change.unban_user(target, now).await?;
            Some(event(Action::UserUnbanned))
        }
        AdminAction::RevokeSessions(None) => {
            let revoked = change.revoke_sessions_of(target, None, now).await?;
            Some(event(Action::SessionsRevoked).detail(json!({ "count": revoked })))
        }
        AdminAction::RevokeSessions(Some(session_id)) => {
            if !change.revoke_session(target, &session_id, now).await? {
                return Err(ServiceError::NotFound);
            }
            Some(event(Action::SessionsRevoked).detail(json!({ "session_id": session_id })))
        }
        AdminAction::Delete => {
            change.delete_user(target).await?;
            Some(event(Action::UserDeleted))
        }
    };
    let after = change.user_by_id(target).await?;
    if let Some(event) = audited {
        change.audit(event).await?;
    }
    change.commit().await?;
    Ok(after)
}

/// Lifts a sign-in lockout of user `target` at once (answered alike whether one held);
/// `account.unlocked` is recorded when one did.
#[tracing::instrument(name = "admin_unlock", skip_all, fields(target = %target))]
pub async fn unlock(
    core: &Core,
    admin: &Authenticated,
    target: &UserId,
    client: &Client,
) -> ServiceResult<()> {
    user(core, target).await?;
    let unlocked = AuditEvent::by_admin(Action::AccountUnlocked, client, &admin.user.id, target)
        .detail(json!({ "by": "admin" }));
    limits::unlock(core, target, unlocked).await?;
    Ok(())
}

/// `portcullis admin create`: the only way to make the first admin. The operator vouches for
/// the address they typed, so it counts as verified.
#[tracing::instrument(name = "create_admin", skip_all)]
pub async fn create_admin(
    core: &Core,
    email: &str,
    password: &SecretString,
    client: &Client,
) -> ServiceResult<UserRow> {
    let email = Email::parse(email).map_err(|e| ServiceError::field("email", e.code()))?;
    let password = credentials::chosen(core, password, "password", Some(&email))?;
    let credential = credentials::hash(core, password).await?;
    let account = NewAccount::new(email, Role::admin(), core.now())
        .verified(true)
        .password(Some(credential));
    let mut change = Change::begin(core).await?;
    let user = accounts::create(&mut change, &account).await?;
    let event = AuditEvent::new(Action::UserRegistered, client)
        .subject(&user.id)
        .detail(json!({ "source": "cli", "role": Role::admin().as_str() }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(user)
}
