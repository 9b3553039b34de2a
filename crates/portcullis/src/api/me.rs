//! The signed-in user: profile and password.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::Email;
use portcullis_core::Password;
use portcullis_core::password_hash::ARGON2ID;
use portcullis_store::ProfileChange;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate::{self, Violations};
use super::views::UserView;
use crate::auth::Auth;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, patch_me))
        .routes(routes!(change_password))
}

/// The fields a user may change about themselves; anything else is refused with 422.
/// `null` clears a field; an absent field is left alone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfilePatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    image: Option<Option<String>>,
}

/// Marks a field as present, whether its value is `null` or not.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me", tag = "me",
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
async fn get_me(auth: Auth) -> axum::Json<UserView> {
    axum::Json(auth.user.into())
}

/// Update `name`, `username` or `image`.
#[utoipa::path(patch, path = "/api/auth/me", tag = "me", request_body = ProfilePatch,
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem),
        (status = 409, body = Problem, description = "`username_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`, also for fields such as `role` or `email`"),
    ))]
async fn patch_me(
    State(state): State<AppState>,
    auth: Auth,
    Json(patch): Json<ProfilePatch>,
) -> ApiResult<axum::Json<UserView>> {
    let mut violations = Violations::default();
    let mut checked =
        |field: &str,
         value: Option<Option<String>>,
         rule: fn(&str) -> Result<String, &'static str>| match value {
            Some(Some(raw)) => violations.check(field, rule(&raw), |code| code).map(Some),
            absent_or_null => absent_or_null,
        };
    let change = ProfileChange {
        name: checked("name", patch.name, validate::name),
        username: checked("username", patch.username, validate::username),
        image: checked("image", patch.image, validate::image),
    };
    if !violations.is_empty() {
        return Err(violations.into_error());
    }
    let user = state
        .store
        .update_profile(&auth.user.id, &change, state.now())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(axum::Json(user.into()))
}

/// Change the password; every other session of the user is revoked.
#[utoipa::path(post, path = "/api/auth/password/change", tag = "me", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions revoked"),
        (status = 401, body = Problem, description = "`invalid_credentials` or `unauthenticated`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    auth: Auth,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let email = Email::parse(&auth.user.email).ok();
    let mut violations = Violations::default();
    let Some(new_password) = validate::new_password(
        &mut violations,
        "new_password",
        &body.new_password,
        &state.policy,
        email.as_ref(),
    ) else {
        return Err(violations.into_error());
    };
    let current = Password::for_verification(&body.current_password)
        .map_err(|_| ApiError::InvalidCredentials)?;
    let stored = state
        .store
        .password_hash(&auth.user.id)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let new_hash = state
        .hash_pool
        .run(move |hasher| match hasher.verify(&current, &stored) {
            Ok(true) => hasher.hash(&new_password).map(Some),
            Ok(false) => Ok(None),
            Err(e) => Err(e),
        })
        .await??
        .ok_or(ApiError::InvalidCredentials)?;
    state
        .store
        .change_password(
            &auth.user.id,
            &new_hash,
            ARGON2ID,
            &auth.session.id,
            state.now(),
        )
        .await?;
    tracing::info!(action = "password.changed", user_id = %auth.user.id, "password changed; other sessions revoked");
    Ok(StatusCode::NO_CONTENT)
}
