//! The signed-in user's own profile: name, username, image.

use portcullis_core::{DisplayName, ImageUrl, Username};
use portcullis_store::{UserChange, UserRow};

use super::change::Change;
use super::sessions::Authenticated;
use super::{Core, ServiceError, ServiceResult, Violations};

/// `None` leaves a field alone; `Some(None)` clears it.
#[derive(Debug, Default)]
pub struct ProfilePatch {
    pub name: Option<Option<String>>,
    pub username: Option<Option<String>>,
    pub image: Option<Option<String>>,
}

#[tracing::instrument(name = "update_profile", skip_all)]
pub async fn update(
    core: &Core,
    auth: &Authenticated,
    patch: ProfilePatch,
) -> ServiceResult<UserRow> {
    let mut violations = Violations::default();
    let profile = UserChange {
        name: violations.optional("name", patch.name, DisplayName::parse, |r| r.code()),
        username: violations.optional("username", patch.username, Username::parse, |r| r.code()),
        image: violations.optional("image", patch.image, ImageUrl::parse, |r| r.code()),
        ..UserChange::default()
    };
    violations.finish()?;
    let mut change = Change::begin(core).await?;
    let user = change
        .update_user(&auth.user.id, &profile, core.now())
        .await?
        .ok_or(ServiceError::Unauthenticated)?;
    change.commit().await?;
    Ok(user)
}
