//! Password reset by emailed link.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::Email;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate;
use super::views::{Accepted, accepted};
use crate::audit::{Action, AuditEvent};
use crate::auth::links::{self, Link};
use crate::auth::{ClientInfo, SameOrigin, service};
use crate::change::Change;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
use crate::mail::Letter;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(forgot_password))
        .routes(routes!(reset_password))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The `token` parameter of the emailed link.
    token: String,
    new_password: String,
}

/// Send a reset link, if an account has this address. The answer is the same whether or not
/// it does, and comes before any work that could tell.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "password", request_body = ForgotRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: not an email address"),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<ForgotRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e.code()))?;
    links::send_on_request(
        &state,
        client,
        email,
        Link::ResetPassword,
        Action::PasswordResetRequested,
        |_| true,
    );
    Ok(accepted())
}

/// Set a new password with an emailed link; every session of the user is revoked.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "password", request_body = ResetRequest,
    responses(
        (status = 204, description = "Reset; every session revoked"),
        (status = 400, body = Problem, description = "`invalid_token`: unknown, used or expired"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: the password policy"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<ResetRequest>,
) -> ApiResult<StatusCode> {
    let link = Link::ResetPassword;
    let hash = link
        .hash(&state, &body.token)
        .ok_or(ApiError::InvalidToken)?;
    // Look before using it up: the policy needs the account's address, and the new hash is
    // made outside the transaction so that it never holds the database while hashing.
    let token = state
        .store
        .live_one_time_token(link.kind(), &hash, state.now())
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let user = state
        .store
        .user_by_id(&token.user_id)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let password = validate::new_password_of(
        "new_password",
        &body.new_password,
        &state.policy,
        &user.email,
    )?;
    let credential = service::hash_password(&state, password).await?;
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    let used = change
        .use_one_time_token(link.kind(), &hash, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    let revoked = service::replace_password(&mut change, &user.id, &credential, None, now).await?;
    // The link reached the address it was sent to, which proves that address.
    change
        .mark_email_verified(&user.id, &used.email, now)
        .await?;
    let event = AuditEvent::by_user(Action::PasswordReset, &client, &user.id)
        .detail(json!({ "sessions_revoked": revoked }));
    change.audit(event).await?;
    change
        .send(Letter::PasswordReset, &user.email, &user.id)
        .await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
