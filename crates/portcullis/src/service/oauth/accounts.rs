//! The signed-in user's linked sign-in methods: listing them, and unlinking one unless it is
//! the account's last way in (no password and no other identity).

use portcullis_store::OauthAccountRow;
use serde_json::json;

use super::super::audit::{Action, AuditEvent};
use super::super::change::Change;
use super::super::sessions::Authenticated;
use super::super::{Client, Core, ServiceError, ServiceResult};

pub async fn linked(core: &Core, auth: &Authenticated) -> ServiceResult<Vec<OauthAccountRow>> {
    Ok(core.store.oauth_accounts_of(&auth.user.id).await?)
}

/// Unlinks the user's identity at `provider`: 404 when there is none, 409
/// `last_login_method` when nothing else would let them sign in.
#[tracing::instrument(name = "unlink", skip_all, fields(provider))]
pub async fn unlink(
    core: &Core,
    auth: &Authenticated,
    provider: &str,
    client: &Client,
) -> ServiceResult<()> {
    let user_id = &auth.user.id;
    let mut change = Change::begin(core).await?;
    change.lock_user(user_id).await?;
    if !change.unlink_identity(user_id, provider).await? {
        return Err(ServiceError::NotFound);
    }
    let has_password = change.lock_password_hash(user_id).await?.is_some();
    if !has_password && change.identity_count(user_id).await? == 0 {
        return Err(ServiceError::LastLoginMethod);
    }
    change
        .audit(
            AuditEvent::by_user(Action::OauthUnlinked, client, user_id)
                .detail(json!({ "provider": provider })),
        )
        .await?;
    change.commit().await
}
