//! Email verification and email change.

use axum::extract::State;
use axum::http::StatusCode;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{Accepted, MAIL_ON_ITS_WAY, accepted};
use crate::http::auth::{Auth, ClientInfo, SameOrigin};
use crate::http::error::Problem;
use crate::http::{ApiResult, Json};
use crate::service::email;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(change_email))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    /// The `token` parameter of the emailed link.
    #[schema(value_type = String)]
    token: SecretString,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Verified {
    email_verified: bool,
    /// The verified address (the new one, for an email change).
    email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailRequest {
    email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    new_email: String,
    /// The current password; left out by an account without one, which re-authenticates
    /// through its provider first (`GET /api/auth/oauth/{provider}/start?reauth=true`).
    #[schema(value_type = Option<String>)]
    password: Option<SecretString>,
}

/// Use an emailed link: a verification link verifies the address; an email-change link
/// makes the new address the account's, if it is still free.
#[utoipa::path(post, path = "/api/auth/email/verify", tag = "email", request_body = TokenRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 200, body = Verified),
        (status = 400, body = Problem, description = "`invalid_token`: unknown, used or expired"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 409, body = Problem, description = "`email_taken`: the new address was registered meanwhile"),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<TokenRequest>,
) -> ApiResult<axum::Json<Verified>> {
    let verified = email::verify(&state.core, &body.token, &client).await?;
    Ok(axum::Json(Verified {
        email_verified: true,
        email: verified.email,
    }))
}

/// Send a new verification link, if an unverified account has this address. The answer is
/// the same whether or not it does, and comes before any work that could tell.
#[utoipa::path(post, path = "/api/auth/email/verify/resend", tag = "email", request_body = EmailRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 202, body = Accepted),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: not an email address"),
        (status = 503, body = Problem, description = "`overloaded`: too much mail work under way; the same for every address"),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    _: SameOrigin,
    ClientInfo(client): ClientInfo,
    Json(body): Json<EmailRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    email::resend(&state.core, &body.email, client).await?;
    Ok(accepted(MAIL_ON_ITS_WAY))
}

/// Ask to change the address: a link goes to the new address and a notice to the old; the
/// address changes only when the link is used.
#[utoipa::path(post, path = "/api/auth/email/change", tag = "email", request_body = EmailChangeRequest,
    responses(
        (status = 429, body = Problem, description = "`rate_limited`: too many attempts; retry after `Retry-After` seconds"),
        (status = 202, body = Accepted),
        (status = 401, body = Problem, description = "`invalid_credentials` (wrong password), `reauthentication_required` (an account without a password, not re-authenticated through its provider in the last 5 minutes) or `unauthenticated` (also when the session was revoked before the change committed)"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cookie-authenticated write without the CSRF token, or from a foreign origin"),
        (status = 409, body = Problem, description = "`email_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn change_email(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
    Json(body): Json<EmailChangeRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    let request = email::EmailChange {
        new_email: body.new_email,
        password: body.password,
    };
    email::change(&state.core, &auth, request, &client).await?;
    Ok(accepted(MAIL_ON_ITS_WAY))
}
