//! The signed-in user: profile and password.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::Password;
use portcullis_store::UserChange;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate::{self, Violations};
use super::views::UserView;
use crate::audit::{Action, AuditEvent};
use crate::auth::{Auth, ClientInfo, service};
use crate::change::Change;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
use crate::mail::Letter;
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
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    username: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    image: Option<Option<String>>,
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
async fn get_me(State(state): State<AppState>, auth: Auth) -> axum::Json<UserView> {
    axum::Json(UserView::new(auth.user, state.now()))
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
    let profile = UserChange {
        name: violations.optional("name", patch.name, validate::name),
        username: violations.optional("username", patch.username, validate::username),
        image: violations.optional("image", patch.image, validate::image),
        ..UserChange::default()
    };
    if !violations.is_empty() {
        return Err(violations.into_error());
    }
    let mut change = Change::begin(&state).await?;
    let user = change
        .update_user(&auth.user.id, &profile, state.now())
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    change.commit().await?;
    Ok(axum::Json(UserView::new(user, state.now())))
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
    client: ClientInfo,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let new_password = validate::new_password_of(
        "new_password",
        &body.new_password,
        &state.policy,
        &auth.user.email,
    )?;
    let current = Password::for_verification(&body.current_password)
        .map_err(|_| ApiError::InvalidCredentials)?;
    service::confirm_password(&state, &auth.user.id, current).await?;
    let credential = service::hash_password(&state, new_password).await?;
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    let revoked = service::replace_password(
        &mut change,
        &auth.user.id,
        &credential,
        Some(&auth.session.id),
        now,
    )
    .await?;
    let event = AuditEvent::by_user(Action::PasswordChanged, &client, &auth.user.id)
        .detail(json!({ "sessions_revoked": revoked }));
    change.audit(event).await?;
    change
        .send(Letter::PasswordChanged, &auth.user.email, &auth.user.id)
        .await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
