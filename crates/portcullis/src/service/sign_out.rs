//! Sign-out: the current session ends.

use serde_json::json;

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::sessions::Authenticated;
use super::{Client, Core, ServiceResult};

#[tracing::instrument(name = "sign_out", skip_all)]
pub async fn sign_out(core: &Core, auth: &Authenticated, client: &Client) -> ServiceResult<()> {
    let mut change = Change::begin(core).await?;
    change
        .revoke_session(&auth.user.id, &auth.session.id, core.now())
        .await?;
    let event = AuditEvent::by_user(Action::Logout, client, &auth.user.id)
        .detail(json!({ "session_id": auth.session.id }));
    change.audit(event).await?;
    change.commit().await
}
