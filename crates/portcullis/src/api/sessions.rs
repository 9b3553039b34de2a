//! The signed-in user's sessions: list and revoke.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::SessionView;
use crate::audit::{Action, AuditEvent};
use crate::auth::{Auth, ClientInfo};
use crate::change::Change;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sessions, revoke_sessions))
        .routes(routes!(revoke_session))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    pub sessions: Vec<SessionView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RevokeAll {
    /// Keep the session making the request (default true).
    keep_current: Option<bool>,
}

/// The user's live sessions, oldest first.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions",
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
async fn list_sessions(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<axum::Json<SessionList>> {
    let sessions = state
        .store
        .live_sessions_of(&auth.user.id, state.liveness())
        .await?;
    let sessions = sessions
        .into_iter()
        .map(|s| SessionView::new(s, &auth.session.id))
        .collect();
    Ok(axum::Json(SessionList { sessions }))
}

/// Revoke one of the user's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem),
        (status = 404, body = Problem, description = "`not_found`, also for another user's session"),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    auth: Auth,
    client: ClientInfo,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let mut change = Change::begin(&state).await?;
    if !change
        .revoke_session(&auth.user.id, &id, state.now())
        .await?
    {
        return Err(ApiError::NotFound);
    }
    let event = AuditEvent::by_user(Action::SessionRevoked, &client, &auth.user.id)
        .detail(json!({ "session_id": id }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke all of the user's sessions, by default except the current one.
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "sessions", params(RevokeAll),
    responses((status = 204, description = "Revoked"), (status = 401, body = Problem)))]
async fn revoke_sessions(
    State(state): State<AppState>,
    auth: Auth,
    client: ClientInfo,
    query: Result<Query<RevokeAll>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<StatusCode> {
    let Query(query) = query?;
    let keep = query
        .keep_current
        .unwrap_or(true)
        .then_some(auth.session.id.as_str());
    let mut change = Change::begin(&state).await?;
    let revoked = change
        .revoke_sessions_of(&auth.user.id, keep, state.now())
        .await?;
    let event = AuditEvent::by_user(Action::SessionRevoked, &client, &auth.user.id)
        .detail(json!({ "count": revoked, "kept_current": keep.is_some() }));
    change.audit(event).await?;
    change.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
