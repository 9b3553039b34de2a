//! Password reset by emailed link.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::Email;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::validate::{self, Violations};
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
    tokio::spawn(async move {
        if let Err(err) = send_reset_link(&state, &email, &client).await {
            tracing::warn!(error = %err, "sending a reset link failed");
        }
    });
    Ok(accepted())
}

async fn send_reset_link(state: &AppState, email: &Email, client: &ClientInfo) -> ApiResult<()> {
    let Some(user) = state.store.user_by_email(email.as_str()).await? else {
        return Ok(());
    };
    let mut change = Change::begin(state).await?;
    if links::cooling_down(state, &mut change, Link::ResetPassword, &user.id).await? {
        return Ok(());
    }
    links::send_link(
        state,
        &mut change,
        Link::ResetPassword,
        &user.id,
        &user.email,
    )
    .await?;
    change
        .audit(AuditEvent::new(Action::PasswordResetRequested, client).subject(&user.id))
        .await?;
    change.commit().await
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
    let mut violations = Violations::default();
    let email = Email::parse(&user.email).ok();
    let Some(password) = validate::new_password(
        &mut violations,
        "new_password",
        &body.new_password,
        &state.policy,
        email.as_ref(),
    ) else {
        return Err(violations.into_error());
    };
    let credential = service::hash_password(&state, password).await?;
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    let used = change
        .use_one_time_token(link.kind(), &hash, now)
        .await?
        .ok_or(ApiError::InvalidToken)?;
    change
        .set_password(&user.id, &credential.hash, &credential.scheme, now)
        .await?;
    let revoked = change.revoke_sessions_of(&user.id, None, now).await?;
    change.delete_one_time_tokens_of(&user.id).await?;
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
