//! Prometheus metrics. Requests are labelled from fixed sets only (the route template, never
//! the raw path; a known method or `other`; the status), so nothing a client sends can add
//! series without bound. `/metrics` answers loopback clients, or anyone presenting
//! `PORTCULLIS_METRICS_TOKEN` as a bearer token when that is set.

use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;

use crate::http::middleware::SERVED_METHODS;
use crate::service::Core;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "portcullis_http_requests_total";
pub const REQUEST_SECONDS: &str = "portcullis_http_request_duration_seconds";
pub const LOGINS: &str = "portcullis_logins_total";
pub const REGISTRATIONS: &str = "portcullis_registrations_total";
pub const REFRESHES: &str = "portcullis_refreshes_total";
pub const HASH_QUEUE: &str = "portcullis_hash_queue_depth";
pub const HASH_REJECTIONS: &str = "portcullis_hash_rejections_total";
pub const HASH_RUNNING: &str = "portcullis_hash_running";
pub const HASH_WORKERS: &str = "portcullis_hash_workers";
/// Hashes that may run or wait at once; beyond it, 503 `overloaded`.
pub const HASH_CAPACITY: &str = "portcullis_hash_capacity";
/// 1 when the database answered the scrape's queries, else 0.
pub const DATABASE_UP: &str = "portcullis_database_up";
/// Always 1, labelled with the version.
pub const BUILD_INFO: &str = "portcullis_build_info";
/// Requests answered 429 by a rate limit or a lockout, by group.
pub const RATE_LIMITED: &str = "portcullis_rate_limited_total";
/// Lockouts begun (counted at their first refusal).
pub const LOCKOUTS: &str = "portcullis_lockouts_total";
/// 1 while this node limits with its own memory because Redis does not answer.
pub const RATE_LIMIT_DEGRADED: &str = "portcullis_rate_limit_degraded";
/// Calls to Redis that failed or timed out.
pub const REDIS_ERRORS: &str = "portcullis_redis_errors_total";
pub const ACTIVE_SESSIONS: &str = "portcullis_active_sessions";
pub const AUDIT_EVENTS: &str = "portcullis_audit_events_total";
pub const MAIL_SENT: &str = "portcullis_mail_sent_total";
/// Failed delivery attempts; `final="true"` when the message was given up.
pub const MAIL_FAILURES: &str = "portcullis_mail_failures_total";
pub const MAIL_PENDING: &str = "portcullis_mail_outbox_pending";
pub const MAIL_FAILED: &str = "portcullis_mail_outbox_failed";
/// Background work (the mail of forgot-password and resend) refused under a flood; its
/// request answered 503.
pub const BACKGROUND_REFUSED: &str = "portcullis_background_refused_total";
/// Authentication cache lookups by `kind` (`token`, `session`, `user`) and `outcome`.
pub const AUTH_CACHE_LOOKUPS: &str = "portcullis_auth_cache_lookups_total";
/// 1 while the node hears other nodes' changes (or needs not: SQLite), else 0.
pub const AUTH_CACHE_TRUSTED: &str = "portcullis_auth_cache_trusted";

/// How often histogram samples are drained when nothing scrapes.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The method as a label: one the server serves, else `other`.
fn method_label(method: &Method) -> &'static str {
    SERVED_METHODS
        .iter()
        .find(|served| *served == method)
        .map_or("other", Method::as_str)
}

/// Marks requests that arrived on the separate metrics listener (`PORTCULLIS_METRICS_ADDR`).
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// The process-wide recorder (metrics are global; several servers in one test process share it).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
        ];
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.into()), &buckets)
            .expect("static buckets are valid")
            .build_recorder();
        let handle = recorder.handle();
        // Histogram samples pile up until they are drained into their buckets, which
        // rendering does; upkeep drains them when nothing scrapes.
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_INTERVAL);
                    upkeep.run_upkeep();
                }
            })
            .expect("the upkeep thread starts");
        // Another recorder may already be installed by an embedding application; then ours
        // still renders whatever this module records through it.
        let _ = metrics::set_global_recorder(recorder);
        metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
        handle
    })
}

/// Sets the gauges that are cheaper to read at scrape time than to keep up to date. Those
/// read from the database keep their last value while it does not answer, so that a scrape
/// still answers, with `portcullis_database_up` at 0.
pub async fn sample(core: &Core) {
    let hashing = &core.hashing;
    metrics::gauge!(HASH_QUEUE).set(hashing.queue_depth() as f64);
    metrics::gauge!(HASH_RUNNING).set(hashing.running() as f64);
    metrics::gauge!(HASH_WORKERS).set(hashing.workers() as f64);
    metrics::gauge!(HASH_CAPACITY).set(hashing.capacity() as f64);
    let (sessions, outbox) = tokio::join!(
        core.store.count_live_sessions(core.liveness()),
        core.store.outbox_counts()
    );
    match (sessions, outbox) {
        (Ok(sessions), Ok(outbox)) => {
            metrics::gauge!(ACTIVE_SESSIONS).set(sessions as f64);
            metrics::gauge!(MAIL_PENDING).set(outbox.pending as f64);
            metrics::gauge!(MAIL_FAILED).set(outbox.failed as f64);
            metrics::gauge!(DATABASE_UP).set(1.0);
        }
        (Err(err), _) | (_, Err(err)) => {
            tracing::warn!(%err, "metrics: the database does not answer");
            metrics::gauge!(DATABASE_UP).set(0.0);
        }
    }
}

/// Inner layer on matched routes: hands the route template to [`track`] via the response.
pub async fn keep_route(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if let Some(route) = route {
        response.extensions_mut().insert(route);
    }
    response
}

/// Outer layer: counts every request and its latency by method, route template and status.
pub async fn track(req: Request, next: Next) -> Response {
    let method = method_label(req.method());
    let start = Instant::now();
    let response = next.run(req).await;
    let route = response
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let (requests, seconds) = request_series(method, route, response.status().as_u16());
    requests.increment(1);
    seconds.record(start.elapsed().as_secs_f64());
    response
}

/// Counts one authentication cache lookup: `kind` is `token`, `session` or `user`. The six
/// series are registered at the first lookup (after the recorder is installed) and reused.
pub fn auth_cache_lookup(kind: CacheKind, hit: bool) {
    static COUNTERS: OnceLock<[metrics::Counter; 6]> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        std::array::from_fn(|i| {
            let kind = [CacheKind::Token, CacheKind::Session, CacheKind::User][i / 2];
            let outcome = ["hit", "miss"][i % 2];
            metrics::counter!(AUTH_CACHE_LOOKUPS, "kind" => kind.label(), "outcome" => outcome)
        })
    });
    counters[kind as usize * 2 + usize::from(!hit)].increment(1);
}

/// What an authentication cache lookup looked for.
#[derive(Debug, Clone, Copy)]
pub enum CacheKind {
    Token = 0,
    Session = 1,
    User = 2,
}

impl CacheKind {
    fn label(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::Session => "session",
            Self::User => "user",
        }
    }
}

/// The request counter and latency histogram of one method, route and status.
type Series = (metrics::Counter, metrics::Histogram);

/// The series of one method, route and status, registered once and then found without
/// building their label sets again: by method, then status, then route. Bounded, as the
/// labels come from fixed sets.
fn request_series(method: &'static str, route: &str, status: u16) -> Series {
    type ByRoute = HashMap<Box<str>, Series>;
    static SERIES: OnceLock<RwLock<HashMap<(&'static str, u16), ByRoute>>> = OnceLock::new();
    let series = SERIES.get_or_init(Default::default);
    let found = series
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(method, status))
        .and_then(|by_route| by_route.get(route).cloned());
    if let Some(found) = found {
        return found;
    }
    let status_label = status.to_string();
    let made: Series = (
        metrics::counter!(REQUESTS, "method" => method, "route" => route.to_owned(), "status" => status_label),
        metrics::histogram!(REQUEST_SECONDS, "method" => method, "route" => route.to_owned()),
    );
    series
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((method, status))
        .or_default()
        .insert(route.into(), made.clone());
    made
}
