//! The audit trail as admins read it, and the summary of failed sign-ins that shows
//! credential stuffing.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use portcullis_store::{AuditFilter, AuditRow};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::Paging;
use crate::http::auth::AdminAuth;
use crate::http::error::Problem;
use crate::http::{ApiError, ApiResult};
use crate::service::audit_trail;
use crate::state::AppState;
use crate::time::{parse_rfc3339, rfc3339};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(suspicious))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Events whose actor or subject is this user.
    user_id: Option<String>,
    /// One action name, e.g. `user.login_failed`.
    action: Option<String>,
    /// RFC 3339, inclusive.
    since: Option<String>,
    /// RFC 3339, exclusive.
    until: Option<String>,
    page: Option<i64>,
    per_page: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    id: String,
    at: String,
    action: String,
    /// `success`, `failure` (wrong credentials or token) or `denied` (refused by policy).
    outcome: String,
    actor_user_id: Option<String>,
    subject_user_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    #[schema(value_type = Object)]
    detail: Value,
}

impl From<AuditRow> for AuditEventView {
    fn from(row: AuditRow) -> Self {
        Self {
            id: row.id,
            at: rfc3339(row.at),
            action: row.action,
            outcome: row.outcome,
            actor_user_id: row.actor_user_id,
            subject_user_id: row.subject_user_id,
            ip: row.ip,
            user_agent: row.user_agent,
            request_id: row.request_id,
            detail: serde_json::from_str(&row.detail).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    events: Vec<AuditEventView>,
    page: i64,
    per_page: i64,
    total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    /// How far back to look: `15m`, `1h` (default), up to `30d`.
    window: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Suspicious {
    window: String,
    since: String,
    /// Failed sign-ins per client address, most first.
    by_ip: Vec<IpFailures>,
    /// Failed sign-ins per identifier tried, most first.
    by_account: Vec<AccountFailures>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IpFailures {
    ip: Option<String>,
    failures: i64,
    /// Distinct accounts tried from the address, whether they exist or not.
    distinct_accounts: i64,
    first_seen: String,
    last_seen: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountFailures {
    /// A keyed pseudonym of the identifier tried, so that failures against addresses with no
    /// account group too without the trail keeping the address.
    account_key: String,
    /// The account, when one has the identifier.
    user_id: Option<String>,
    failures: i64,
    distinct_ips: i64,
    first_seen: String,
    last_seen: String,
}

/// Audit events, newest first, with filters and pagination.
#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", params(AuditQuery),
    responses(
        (status = 200, body = AuditPage),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 422, body = Problem),
    ))]
async fn list_events(
    State(state): State<AppState>,
    _admin: AdminAuth,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> ApiResult<axum::Json<AuditPage>> {
    let Query(query) = query?;
    let paging = Paging::parse(query.page, query.per_page)?;
    let time = |field: &str, value: Option<String>| match value {
        None => Ok(None),
        Some(text) => parse_rfc3339(&text)
            .map(Some)
            .ok_or_else(|| ApiError::field(field, "invalid_timestamp")),
    };
    let filter = AuditFilter {
        user_id: query.user_id,
        action: query.action,
        since: time("since", query.since)?,
        until: time("until", query.until)?,
    };
    let found = audit_trail::events(&state.core, filter, paging.window()).await?;
    Ok(axum::Json(AuditPage {
        events: found.events.into_iter().map(AuditEventView::from).collect(),
        page: paging.page,
        per_page: paging.per_page,
        total: found.total,
    }))
}

/// Failed sign-ins in the window, grouped by client address and by account.
#[utoipa::path(get, path = "/api/admin/audit/suspicious", tag = "admin", params(WindowQuery),
    responses(
        (status = 200, body = Suspicious),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
        (status = 422, body = Problem),
    ))]
async fn suspicious(
    State(state): State<AppState>,
    _admin: AdminAuth,
    query: Result<Query<WindowQuery>, QueryRejection>,
) -> ApiResult<axum::Json<Suspicious>> {
    let Query(query) = query?;
    let window_text = query.window.unwrap_or_else(|| "1h".into());
    let found = audit_trail::suspicious(&state.core, &window_text).await?;
    Ok(axum::Json(Suspicious {
        window: window_text,
        since: rfc3339(found.since),
        by_ip: found
            .by_ip
            .into_iter()
            .map(|g| IpFailures {
                ip: g.ip,
                failures: g.failures,
                distinct_accounts: g.accounts,
                first_seen: rfc3339(g.first_seen),
                last_seen: rfc3339(g.last_seen),
            })
            .collect(),
        by_account: found
            .by_account
            .into_iter()
            .map(|g| AccountFailures {
                account_key: g.login_key,
                user_id: g.user_id,
                failures: g.failures,
                distinct_ips: g.ips,
                first_seen: rfc3339(g.first_seen),
                last_seen: rfc3339(g.last_seen),
            })
            .collect(),
    }))
}
