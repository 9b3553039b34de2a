//! The signed-in user's sessions: list and revoke.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use portcullis_core::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::views::SessionView;
use crate::http::ApiResult;
use crate::http::auth::{Auth, ClientInfo};
use crate::http::error::Problem;
use crate::http::path::Ids;
use crate::service::sessions;
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

impl SessionList {
    pub fn new(sessions: Vec<portcullis_store::SessionRow>, current: &SessionId) -> Self {
        Self {
            sessions: sessions
                .into_iter()
                .map(|s| SessionView::new(s, current))
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevokeAll {
    /// Keep the session making the request (default true).
    keep_current: Option<bool>,
}

/// The user's live sessions, oldest first.
#[utoipa::path(get, path = "/api/auth/sessions", tag = "sessions",
    responses((status = 200, body = SessionList), (status = 401, body = Problem)))]
async fn list_sessions(
    State(state): State<AppState>,
    Auth(auth): Auth,
) -> ApiResult<axum::Json<SessionList>> {
    let sessions = sessions::list(&state.core, &auth.user.id).await?;
    Ok(axum::Json(SessionList::new(sessions, &auth.session.id)))
}

/// Revoke one of the user's sessions.
#[utoipa::path(delete, path = "/api/auth/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`csrf_failed`: a cookie-authenticated write without the CSRF token, or from a foreign origin"),
        (status = 404, body = Problem, description = "`not_found`, also for another user's session"),
    ))]
async fn revoke_session(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
    Ids(id): Ids<SessionId>,
) -> ApiResult<StatusCode> {
    sessions::revoke(&state.core, &auth, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke all of the user's sessions, by default except the current one.
#[utoipa::path(delete, path = "/api/auth/sessions", tag = "sessions", params(RevokeAll),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = Problem),
        (status = 403, body = Problem, description = "`csrf_failed`: a cookie-authenticated write without the CSRF token, or from a foreign origin"),
    ))]
async fn revoke_sessions(
    State(state): State<AppState>,
    Auth(auth): Auth,
    ClientInfo(client): ClientInfo,
    query: Result<Query<RevokeAll>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<StatusCode> {
    let Query(query) = query?;
    let keep_current = query.keep_current.unwrap_or(true);
    sessions::revoke_all(&state.core, &auth, keep_current, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
