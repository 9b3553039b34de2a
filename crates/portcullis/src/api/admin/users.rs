//! Users as admins see them: find, inspect, edit, change role, ban, end sessions, delete.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use portcullis_core::Email;
use portcullis_store::{RoleChange, UserChange, UserFilter, UserRow};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Paging;
use crate::api::sessions::SessionList;
use crate::api::validate::{self, Violations};
use crate::api::views::{SessionView, UserView};
use crate::audit::{Action, AuditEvent};
use crate::auth::{AdminAuth, ClientInfo};
use crate::change::Change;
use crate::http::error::Problem;
use crate::http::time::parse_rfc3339;
use crate::http::{ApiError, ApiResult, Json};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(set_role))
        .routes(routes!(ban_user, unban_user))
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(revoke_session))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Case-insensitive substring of email, name or username.
    q: Option<String>,
    role: Option<String>,
    /// Whether a ban holds now.
    banned: Option<bool>,
    /// From 1 (default 1).
    page: Option<i64>,
    /// 1 to 200 (default 50).
    per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    users: Vec<UserView>,
    page: i64,
    per_page: i64,
    total: i64,
}

/// The fields an admin may set; anything else is refused with 422. `null` clears `name` or
/// `username`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminUserPatch {
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "validate::present")]
    #[schema(value_type = Option<String>)]
    username: Option<Option<String>>,
    /// A new address; unless `email_verified` is given too, it counts as unverified.
    email: Option<String>,
    email_verified: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleRequest {
    #[schema(example = "admin")]
    role: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BanRequest {
    /// Why, for the record (1 to 500 characters).
    reason: String,
    /// RFC 3339; the ban lifts itself then. Absent: until lifted.
    expires_at: Option<String>,
}

/// Users, newest first, with search, filters and pagination.
#[utoipa::path(get, path = "/api/admin/users", tag = "admin", params(UserQuery),
    responses(
        (status = 200, body = UserPage),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 422, body = Problem),
    ))]
async fn list_users(
    State(state): State<AppState>,
    _admin: AdminAuth,
    query: Result<Query<UserQuery>, QueryRejection>,
) -> ApiResult<axum::Json<UserPage>> {
    let Query(query) = query?;
    let paging = Paging::parse(query.page, query.per_page)?;
    let now = state.now();
    let filter = UserFilter {
        q: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_owned()),
        role: query.role,
        banned: query.banned,
        now,
    };
    let (users, total) = state.store.list_users(&filter, paging.window()).await?;
    Ok(axum::Json(UserPage {
        users: users.into_iter().map(|u| UserView::new(u, now)).collect(),
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// One user.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserView>> {
    let user = state
        .store
        .user_by_id(&id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(axum::Json(UserView::new(user, state.now())))
}

/// Set `name`, `username`, `email` or `email_verified`.
#[utoipa::path(patch, path = "/api/admin/users/{id}", tag = "admin", request_body = AdminUserPatch,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 409, body = Problem, description = "`email_taken` or `username_taken`"),
        (status = 422, body = Problem, description = "`validation_failed`, also for any other field"),
    ))]
async fn patch_user(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(patch): Json<AdminUserPatch>,
) -> ApiResult<axum::Json<UserView>> {
    let mut violations = Violations::default();
    let name = violations.optional("name", patch.name, validate::name);
    let username = violations.optional("username", patch.username, validate::username);
    let email = patch
        .email
        .map(|raw| violations.check("email", Email::parse(&raw), |e| e.code()))
        .map(|email| email.map(|e| e.as_str().to_owned()));
    if !violations.is_empty() {
        return Err(violations.into_error());
    }
    let fields: Vec<&str> = [
        ("name", name.is_some()),
        ("username", username.is_some()),
        ("email", email.is_some()),
        ("email_verified", patch.email_verified.is_some()),
    ]
    .into_iter()
    .filter_map(|(field, set)| set.then_some(field))
    .collect();
    let email_changed = email.is_some();
    let update = UserChange {
        name,
        username,
        image: None,
        // A new address is unverified unless the admin says otherwise.
        email_verified: patch.email_verified.or(email_changed.then_some(false)),
        email: email.flatten(),
    };
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    let user = change
        .update_user(&id, &update, now)
        .await?
        .ok_or(ApiError::NotFound)?;
    if email_changed {
        // Links already sent went to the old address.
        change.delete_one_time_tokens_of(&id).await?;
    }
    if !fields.is_empty() {
        let event = AuditEvent::by_admin(Action::UserUpdated, &client, &admin.user.id, &id)
            .detail(json!({ "fields": fields }));
        change.audit(event).await?;
    }
    change.commit().await?;
    Ok(axum::Json(UserView::new(user, now)))
}

/// Set the user's role, from the configured set.
#[utoipa::path(put, path = "/api/admin/users/{id}/role", tag = "admin", request_body = RoleRequest,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 409, body = Problem, description = "`last_admin`: it would leave no admin"),
        (status = 422, body = Problem, description = "`validation_failed`: not a configured role"),
    ))]
async fn set_role(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<RoleRequest>,
) -> ApiResult<axum::Json<UserView>> {
    if !state.config.roles.contains(&body.role) {
        return Err(ApiError::field("role", "unknown_role"));
    }
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    let from = match change.set_role(&id, &body.role, now).await? {
        RoleChange::Changed { from } => from,
        RoleChange::NotFound => return Err(ApiError::NotFound),
        RoleChange::LastAdmin => return Err(last_admin()),
    };
    let event = AuditEvent::by_admin(Action::RoleChanged, &client, &admin.user.id, &id)
        .detail(json!({ "from": from, "to": body.role }));
    answer_with_user(change, &id, event, now).await
}

/// Ban the user: every session and refresh token dies at once, and sign-in answers 403
/// `user_banned` (after a correct password) until the ban is lifted or expires.
#[utoipa::path(post, path = "/api/admin/users/{id}/ban", tag = "admin", request_body = BanRequest,
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 409, body = Problem, description = "`last_admin`"),
        (status = 422, body = Problem, description = "`validation_failed`"),
    ))]
async fn ban_user(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
    Json(body): Json<BanRequest>,
) -> ApiResult<axum::Json<UserView>> {
    let now = state.now();
    let reason = body.reason.trim();
    if reason.is_empty() {
        return Err(ApiError::field("reason", "required"));
    }
    if reason.chars().count() > 500 || reason.chars().any(char::is_control) {
        return Err(ApiError::field("reason", "invalid"));
    }
    let expires_at = match body.expires_at.as_deref().map(parse_rfc3339) {
        None => None,
        Some(Some(at)) if at > now => Some(at),
        Some(Some(_)) => return Err(ApiError::field("expires_at", "in_the_past")),
        Some(None) => return Err(ApiError::field("expires_at", "invalid_timestamp")),
    };
    let mut change = Change::begin(&state).await?;
    refuse_last_admin(&mut change, &id, now).await?;
    found(change.lock_user(&id).await?)?;
    change.ban_user(&id, reason, expires_at, now).await?;
    let revoked = change.revoke_sessions_of(&id, None, now).await?;
    let event =
        AuditEvent::by_admin(Action::UserBanned, &client, &admin.user.id, &id).detail(json!({
            "reason": reason,
            "expires_at": body.expires_at,
            "sessions_revoked": revoked,
        }));
    answer_with_user(change, &id, event, now).await
}

/// Lift a ban.
#[utoipa::path(delete, path = "/api/admin/users/{id}/ban", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = UserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn unban_user(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<UserView>> {
    let now = state.now();
    let mut change = Change::begin(&state).await?;
    if !change.unban_user(&id, now).await? {
        return Err(ApiError::NotFound);
    }
    let event = AuditEvent::by_admin(Action::UserUnbanned, &client, &admin.user.id, &id);
    answer_with_user(change, &id, event, now).await
}

/// The user's live sessions, oldest first (`current` marks the admin's own, when listing
/// their own account).
#[utoipa::path(get, path = "/api/admin/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = SessionList),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn list_sessions(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<SessionList>> {
    found(state.store.user_by_id(&id).await?)?;
    let sessions = state
        .store
        .live_sessions_of(&id, state.liveness())
        .await?
        .into_iter()
        .map(|s| SessionView::new(s, &admin.session.id))
        .collect();
    Ok(axum::Json(SessionList { sessions }))
}

/// End every session of the user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn revoke_sessions(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut change = Change::begin(&state).await?;
    found(change.lock_user(&id).await?)?;
    let revoked = change.revoke_sessions_of(&id, None, state.now()).await?;
    let event = AuditEvent::by_admin(Action::SessionsRevoked, &client, &admin.user.id, &id)
        .detail(json!({ "count": revoked }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of the user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions/{sid}", tag = "admin",
    params(
        ("id" = String, Path, description = "User id"),
        ("sid" = String, Path, description = "Session id"),
    ),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`: no such live session of this user"),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path((id, sid)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let mut change = Change::begin(&state).await?;
    if !change.revoke_session(&id, &sid, state.now()).await? {
        return Err(ApiError::NotFound);
    }
    let event = AuditEvent::by_admin(Action::SessionsRevoked, &client, &admin.user.id, &id)
        .detail(json!({ "session_id": sid }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete the user with their sessions, tokens and pending mail. Audit events keep the id.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 409, body = Problem, description = "`last_admin`"),
    ))]
async fn delete_user(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut change = Change::begin(&state).await?;
    refuse_last_admin(&mut change, &id, state.now()).await?;
    found(change.lock_user(&id).await?)?;
    change.delete_user(&id).await?;
    let event = AuditEvent::by_admin(Action::UserDeleted, &client, &admin.user.id, &id);
    change.audit(event).await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Ends a change to user `id`: records `event`, commits, and answers with the user as the
/// change left them.
async fn answer_with_user(
    mut change: Change<'_>,
    id: &str,
    event: AuditEvent,
    now: i64,
) -> ApiResult<axum::Json<UserView>> {
    let user = found(change.user_by_id(id).await?)?;
    change.audit(event).await?;
    change.commit().await?;
    Ok(axum::Json(UserView::new(user, now)))
}

fn found(user: Option<UserRow>) -> ApiResult<UserRow> {
    user.ok_or(ApiError::NotFound)
}

fn last_admin() -> ApiError {
    ApiError::Conflict("last_admin", "this would leave no admin")
}

/// Refuses to ban or delete the only admin, which would leave nobody to administer.
async fn refuse_last_admin(change: &mut Change<'_>, user_id: &str, now: i64) -> ApiResult<()> {
    if change.is_last_admin(user_id, now).await? {
        return Err(last_admin());
    }
    Ok(())
}
