//! The audit trail as admins read it, and the summary of failed sign-ins that shows
//! credential stuffing.

use std::time::Duration;

use portcullis_store::{
    AuditFilter, AuditRow, FailureQuery, FailuresByAccount, FailuresByIp, Page,
};

use super::audit::{Action, Outcome};
use super::{Core, ServiceError, ServiceResult, millis};

/// Groups listed per summary.
const TOP: i64 = 50;
const MAX_WINDOW: Duration = Duration::from_secs(30 * 86_400);

pub struct EventPage {
    pub events: Vec<AuditRow>,
    pub total: i64,
}

/// Events matching `filter`, newest first; an action name that is not one is refused.
pub async fn events(core: &Core, filter: AuditFilter, page: Page) -> ServiceResult<EventPage> {
    if let Some(action) = &filter.action
        && Action::parse(action).is_none()
    {
        return Err(ServiceError::field("action", "unknown_action"));
    }
    let (events, total) = core.store.list_audit(&filter, page).await?;
    Ok(EventPage { events, total })
}

/// Failed sign-ins since the window's start, grouped by client address and by account.
pub struct Suspicious {
    pub since: i64,
    pub by_ip: Vec<FailuresByIp>,
    pub by_account: Vec<FailuresByAccount>,
}

/// The summary over the last `window` (`15m`, `1h`, up to `30d`).
pub async fn suspicious(core: &Core, window: &str) -> ServiceResult<Suspicious> {
    let window = humantime::parse_duration(window)
        .ok()
        .filter(|w| !w.is_zero() && *w <= MAX_WINDOW)
        .ok_or_else(|| ServiceError::field("window", "invalid_duration"))?;
    let since = core.now() - millis(window);
    let failures = FailureQuery {
        action: Action::LoginFailed.as_str(),
        outcome: Outcome::Failure.as_str(),
        since,
        limit: TOP,
    };
    Ok(Suspicious {
        since,
        by_ip: core.store.failures_by_ip(&failures).await?,
        by_account: core.store.failures_by_account(&failures).await?,
    })
}
