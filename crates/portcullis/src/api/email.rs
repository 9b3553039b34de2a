//! Email verification and email change.

use axum::extract::State;
use axum::http::StatusCode;
use portcullis_core::{Email, Password};
use portcullis_store::{UserChange, UserRow};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::{Accepted, accepted};
use crate::audit::{Action, AuditEvent};
use crate::auth::links::{self, Link};
use crate::auth::{Auth, ClientInfo, SameOrigin, service};
use crate::change::Change;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult, Json};
use crate::mail::Letter;
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
    token: String,
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
    /// The current password.
    password: String,
}

/// Use an emailed link: a verification link verifies the address; an email-change link
/// makes the new address the account's, if it is still free.
#[utoipa::path(post, path = "/api/auth/email/verify", tag = "email", request_body = TokenRequest,
    responses(
        (status = 200, body = Verified),
        (status = 400, body = Problem, description = "`invalid_token`: unknown, used or expired"),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 409, body = Problem, description = "`email_taken`: the new address was registered meanwhile"),
    ))]
async fn verify_email(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<TokenRequest>,
) -> ApiResult<axum::Json<Verified>> {
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    for link in [Link::VerifyEmail, Link::ChangeEmail] {
        let Some(hash) = link.hash(&state, &body.token) else {
            break;
        };
        let Some(used) = change.use_one_time_token(link.kind(), &hash, now).await? else {
            continue;
        };
        let action = if link == Link::VerifyEmail {
            // A link to an address the account no longer has proves nothing.
            if !change
                .mark_email_verified(&used.user_id, &used.email, now)
                .await?
            {
                return Err(ApiError::InvalidToken);
            }
            Action::EmailVerified
        } else {
            let new_address = UserChange {
                email: Some(used.email.clone()),
                email_verified: Some(true),
                ..UserChange::default()
            };
            change
                .update_user(&used.user_id, &new_address, now)
                .await?
                .ok_or(ApiError::InvalidToken)?;
            // Links sent to the old address are void now.
            change.delete_one_time_tokens_of(&used.user_id).await?;
            Action::EmailChanged
        };
        change
            .audit(AuditEvent::by_user(action, &client, &used.user_id))
            .await?;
        change.commit().await?;
        return Ok(axum::Json(Verified {
            email_verified: true,
            email: used.email,
        }));
    }
    Err(ApiError::InvalidToken)
}

/// Send a new verification link, if an unverified account has this address. The answer is
/// the same whether or not it does, and comes before any work that could tell.
#[utoipa::path(post, path = "/api/auth/email/verify/resend", tag = "email", request_body = EmailRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 403, body = Problem, description = "`csrf_failed`: a cross-site browser request"),
        (status = 422, body = Problem, description = "`validation_failed`: not an email address"),
    ))]
async fn resend_verification(
    State(state): State<AppState>,
    _: SameOrigin,
    client: ClientInfo,
    Json(body): Json<EmailRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    let email = Email::parse(&body.email).map_err(|e| ApiError::field("email", e.code()))?;
    let unverified = |user: &UserRow| !user.email_verified;
    links::send_on_request(
        &state,
        client,
        email,
        Link::VerifyEmail,
        Action::EmailVerificationSent,
        unverified,
    );
    Ok(accepted())
}

/// Ask to change the address: a link goes to the new address and a notice to the old; the
/// address changes only when the link is used.
#[utoipa::path(post, path = "/api/auth/email/change", tag = "email", request_body = EmailChangeRequest,
    responses(
        (status = 202, body = Accepted),
        (status = 401, body = Problem, description = "`invalid_credentials` (wrong password) or `unauthenticated`"),
        (status = 409, body = Problem, description = "`email_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
        (status = 503, body = Problem, description = "`overloaded`"),
    ))]
async fn change_email(
    State(state): State<AppState>,
    auth: Auth,
    client: ClientInfo,
    Json(body): Json<EmailChangeRequest>,
) -> ApiResult<(StatusCode, axum::Json<Accepted>)> {
    let new_email =
        Email::parse(&body.new_email).map_err(|e| ApiError::field("new_email", e.code()))?;
    if new_email.lowercase() == auth.user.email.to_lowercase() {
        return Err(ApiError::field("new_email", "unchanged"));
    }
    let password =
        Password::for_verification(&body.password).map_err(|_| ApiError::InvalidCredentials)?;
    service::confirm_password(&state, &auth.user.id, password).await?;
    if state
        .store
        .user_by_email(new_email.as_str())
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(
            "email_taken",
            "email address already registered",
        ));
    }
    let mut change = Change::begin(&state).await?;
    let sent = links::send_link_once(
        &state,
        &mut change,
        Link::ChangeEmail,
        &auth.user.id,
        new_email.as_str(),
    )
    .await?;
    if !sent {
        // A link went out within the cooldown: answer the same, send nothing more.
        return Ok(accepted());
    }
    let notice = Letter::EmailChangeRequested {
        new_email: new_email.as_str(),
    };
    change.send(notice, &auth.user.email, &auth.user.id).await?;
    change
        .audit(AuditEvent::by_user(
            Action::EmailChangeRequested,
            &client,
            &auth.user.id,
        ))
        .await?;
    change.commit().await?;
    Ok(accepted())
}
