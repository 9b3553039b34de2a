//! Password reset by emailed link.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{Accepted, MAIL_ON_ITS_WAY, accepted};
use crate::http::auth::{ClientInfo, SameOrigin};
use crate::http::error::Problem;
use crate::http::{ApiResult, Json};
use crate::service::password;
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
    #[schema(value_type = String)]
    token: SecretString,
    #[schema(value_type = String)]
    new_password: SecretString,
}

/// Send a reset link, if an account has this address. The answer is the same whether or not
/// it does, and comes before any work that could tell.
#[utoipa::path(post, path = "/api/auth/password/forgot", tag = "password", request_body = ForgotRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 202, body = Accepted),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: not an email address"),
        (status = 503, body = Problem, description = "`overloaded`: too much mail work under way; the same for every address"),
    ))]
async fn forgot_password(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<ForgotRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    password::forgot(&state.core, &body.email, client).await?;
    Ok(accepted(MAIL_ON_ITS_WAY))
}

/// Set a new password with an emailed link; every session of the user is revoked.
#[utoipa::path(post, path = "/api/auth/password/reset", tag = "password", request_body = ResetRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 204, description = "Reset; every session revoked"),
        (status = 400, body = Problem, description = "`invalid_token`: unknown, used or expired"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: the password policy"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn reset_password(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<ResetRequest>,
) -> ApiResult<StatusCode> {
    let request = password::PasswordReset {
        token: body.token,
        new_password: body.new_password,
    };
    password::reset(&state.core, request, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
