//! Administration (role `admin`): finding users. Changes to users arrive with the audit
//! trail, so that each is recorded in the same transaction.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use portcullis_store::UserFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::UserView;
use crate::auth::AdminAuth;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

const MAX_PER_PAGE: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(get_user))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Case-insensitive substring of email, name or username.
    q: Option<String>,
    role: Option<String>,
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
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(50);
    if page < 1 {
        return Err(ApiError::field("page", "out_of_range"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::field("per_page", "out_of_range"));
    }
    let filter = UserFilter {
        q: query
            .q
            .filter(|q| !q.trim().is_empty())
            .map(|q| q.trim().to_owned()),
        role: query.role,
        banned: query.banned,
    };
    let offset = (page - 1).saturating_mul(per_page);
    let (users, total) = state.store.list_users(&filter, per_page, offset).await?;
    let users = users.into_iter().map(UserView::from).collect();
    Ok(axum::Json(UserPage {
        users,
        page,
        per_page,
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
    Ok(axum::Json(user.into()))
}
