//! The signed-in user: profile and password.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{UserView, present};
use crate::http::auth::{Auth, ClientInfo};
use crate::http::error::Problem;
use crate::http::{ApiResult, Json};
use crate::service::password;
use crate::service::profile;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// Left out by an account without a password, which re-authenticates through its
    /// provider first (`GET /api/auth/oauth/{provider}/start?reauth=true`) to set one.
    #[schema(value_type = Option<String>)]
    current_password: Option<SecretString>,
    #[schema(value_type = String)]
    new_password: SecretString,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/auth/me", tag = "me",
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
async fn get_me(State(state): State<AppState>, Auth(auth): Auth) -> axum::Json<UserView> {
    axum::Json(UserView::new(&auth.user, state.core.now()))
}

/// Update `name`, `username` or `image`.
#[utoipa::path(patch, path = "/api/auth/me", tag = "me", request_body = ProfilePatch,
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`csrf_failed`: a cookie-authenticated write without the CSRF token, or from a foreign origin"),
        (status = 409, body = Problem, description = "`username_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`, also for fields such as `role` or `email`"),
    ))]
async fn patch_me(
    State(state): State<AppState>,
    Auth(auth): Auth,
    Json(body): Json<ProfilePatch>,
) -> ApiResult<axum::Json<UserView>> {
    let patch = profile::ProfilePatch {
        name: body.name,
        username: body.username,
        image: body.image,
    };
    let user = profile::update(&state.core, &auth, patch).await?;
    Ok(axum::Json(UserView::new(&user, state.core.now())))
}

/// Change the password; every other session of the user is revoked.
#[utoipa::path(post, path = "/api/auth/password/change", tag = "me", request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions revoked"),
        (status = 401, body = Problem, description = "`invalid_credentials`, `reauthentication_required` (an account without a password, not re-authenticated through its provider in the last 5 minutes), or `unauthenticated` (also when the session was revoked before the change committed)"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cookie-authenticated write without the CSRF token, or from a foreign origin"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn change_password(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
    Json(body): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let request = password::PasswordChange {
        current_password: body.current_password,
        new_password: body.new_password,
    };
    password::change(&state.core, &auth, request, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
