//! Users as admins see them: find, inspect, edit, change role, ban, end sessions, delete.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use portcullis_core::{SessionId, UserId};
use portcullis_store::UserFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Paging;
use crate::api::sessions::SessionList;
use crate::api::views::{AccountView, UserView, present};
use crate::http::auth::{AdminAuth, ClientInfo};
use crate::http::error::Problem;
use crate::http::path::Ids;
use crate::http::{ApiError, ApiResult, Json};
use crate::service::admin::{self, AdminAction, AdminPatch};
use crate::service::{Client, ServiceError};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user, patch_user, delete_user))
        .routes(routes!(set_role))
        .routes(routes!(ban_user, unban_user))
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(revoke_session))
        .routes(routes!(unlock_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
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
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
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
    let now = state.core.now();
    let filter = UserFilter {
        q: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_owned()),
        role: query.role,
        banned: query.banned,
        now,
    };
    let page = admin::list_users(&state.core, filter, paging.window()).await?;
    Ok(axum::Json(UserPage {
        users: page
            .users
            .into_iter()
            .map(|u| UserView::new(&u, now))
            .collect(),
        page: paging.page,
        per_page: paging.per_page,
        total: page.total,
    }))
}

/// A user as an admin sees them: with their linked sign-in methods.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserView {
    #[serde(flatten)]
    user: UserView,
    accounts: Vec<AccountView>,
}

/// One user, with their linked sign-in methods.
#[utoipa::path(get, path = "/api/admin/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = AdminUserView),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn get_user(
    State(state): State<AppState>,
    _admin: AdminAuth,
    Ids(id): Ids<UserId>,
) -> ApiResult<axum::Json<AdminUserView>> {
    let (user, accounts) = admin::user_with_accounts(&state.core, &id).await?;
    Ok(axum::Json(AdminUserView {
        user: UserView::new(&user, state.core.now()),
        accounts: accounts.into_iter().map(AccountView::from).collect(),
    }))
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
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
    Json(body): Json<AdminUserPatch>,
) -> ApiResult<axum::Json<UserView>> {
    let patch = AdminPatch {
        name: body.name,
        username: body.username,
        email: body.email,
        email_verified: body.email_verified,
    };
    let action = patch.into_action()?;
    answer_with_user(&state, &admin, &id, action, &client).await
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
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
    Json(body): Json<RoleRequest>,
) -> ApiResult<axum::Json<UserView>> {
    let role = state
        .core
        .policy
        .roles
        .parse(&body.role)
        .ok_or_else(|| ApiError::field("role", "unknown_role"))?;
    answer_with_user(&state, &admin, &id, AdminAction::SetRole(role), &client).await
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
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
    Json(body): Json<BanRequest>,
) -> ApiResult<axum::Json<UserView>> {
    let action = admin::ban(&state.core, &body.reason, body.expires_at.as_deref())?;
    answer_with_user(&state, &admin, &id, action, &client).await
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
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
) -> ApiResult<axum::Json<UserView>> {
    answer_with_user(&state, &admin, &id, AdminAction::Unban, &client).await
}

/// The user's live sessions, oldest first (`current` marks the admin's own, when listing
/// their own account).
#[utoipa::path(get, path = "/api/admin/users/{id}/sessions", tag = "admin", operation_id = "admin_list_sessions",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 200, body = SessionList),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn list_sessions(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    Ids(id): Ids<UserId>,
) -> ApiResult<axum::Json<SessionList>> {
    let sessions = admin::sessions_of(&state.core, &id).await?;
    Ok(axum::Json(SessionList::new(sessions, &admin.session.id)))
}

/// End every session of the user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions", tag = "admin", operation_id = "admin_revoke_sessions",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
    ))]
async fn revoke_sessions(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
) -> ApiResult<StatusCode> {
    let action = AdminAction::RevokeSessions(None);
    admin::act(&state.core, &admin, &id, action, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End one session of the user.
#[utoipa::path(delete, path = "/api/admin/users/{id}/sessions/{sid}", tag = "admin", operation_id = "admin_revoke_session",
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
    ClientInfo(client): ClientInfo,
    Ids((id, sid)): Ids<(UserId, SessionId)>,
) -> ApiResult<StatusCode> {
    let action = AdminAction::RevokeSessions(Some(sid));
    admin::act(&state.core, &admin, &id, action, &client).await?;
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
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
) -> ApiResult<StatusCode> {
    admin::act(&state.core, &admin, &id, AdminAction::Delete, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Lift a sign-in lockout of the user at once; 204 also when none held.
#[utoipa::path(delete, path = "/api/admin/users/{id}/lock", tag = "admin",
    params(("id" = String, Path, description = "User id")),
    responses(
        (status = 204, description = "No lockout holds now"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 404, body = Problem, description = "`not_found`"),
        (status = 503, body = Problem, description = "`unavailable`: the shared rate-limit store does not answer"),
    ))]
async fn unlock_user(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<UserId>,
) -> ApiResult<StatusCode> {
    admin::unlock(&state.core, &admin, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Carries out an admin action that answers with the user as it left them.
async fn answer_with_user(
    state: &AppState,
    admin: &crate::service::sessions::Authenticated,
    id: &UserId,
    action: AdminAction,
    client: &Client,
) -> ApiResult<axum::Json<UserView>> {
    let user = admin::act(&state.core, admin, id, action, client)
        .await?
        .ok_or(ServiceError::NotFound)?;
    Ok(axum::Json(UserView::new(&user, state.core.now())))
}
