//! Liveness, readiness, the public settings a UI needs, and the JWKS.

use axum::Extension;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use portcullis_core::secrets_equal;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::client_ip::is_direct_loopback;
use crate::http::{ApiError, ApiResult, bearer_token};
use crate::limiter::SharedState;
use crate::metrics::{self, MetricsListener};
use crate::service::ServiceError;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(public_config))
        .routes(routes!(prometheus))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
    version: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// `ok` or `unavailable`.
    status: &'static str,
    /// `ok` or `unavailable`.
    database: &'static str,
    /// `ok` or `degraded` (limits are per node until Redis answers); only where Redis is
    /// configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    redis: Option<&'static str>,
    /// On PostgreSQL: `ok` while this node hears other nodes' changes, `lost` while it does
    /// not (it then reads every session and user from the database: still ready).
    #[serde(skip_serializing_if = "Option::is_none")]
    announcements: Option<&'static str>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicConfig {
    registration_open: bool,
    /// Whether sign-in with a password is allowed (social sign-in is not affected).
    password_login: bool,
    email_verification_required: bool,
    password_policy: PolicyView,
    /// The enabled social sign-in providers, in the configured order.
    providers: Vec<ProviderView>,
    transports: [&'static str; 2],
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderView {
    name: String,
    display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PolicyView {
    min_length: usize,
    max_length: usize,
}

/// Liveness.
#[utoipa::path(get, path = "/health", tag = "operations", responses((status = 200, body = Health)))]
async fn health() -> axum::Json<Health> {
    axum::Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: 200 when the database answers, else 503 naming what failed. A Redis that does
/// not answer leaves the node ready (it limits with its own memory meanwhile) and shows as
/// `degraded`; so do lost change announcements (`lost`: no cache meanwhile).
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, axum::Json<Readiness>) {
    let (database, redis) =
        tokio::join!(state.core.store.ping(), state.core.limits.limiter.probe());
    let redis = redis.map(|shared| match shared {
        SharedState::Ok => "ok",
        SharedState::Degraded => "degraded",
    });
    let (status, body) = match database {
        Ok(()) => (StatusCode::OK, ("ok", "ok")),
        Err(err) => {
            tracing::warn!(%err, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                ("unavailable", "unavailable"),
            )
        }
    };
    (
        status,
        axum::Json(Readiness {
            status: body.0,
            database: body.1,
            redis,
            // Nothing is heard from a database that does not answer.
            announcements: state.core.store.has_change_feed().then(|| {
                if status == StatusCode::OK && state.core.cache.is_trusted() {
                    "ok"
                } else {
                    "lost"
                }
            }),
        }),
    )
}

/// Public settings for sign-in and sign-up screens.
#[utoipa::path(get, path = "/api/auth/config", tag = "operations", responses((status = 200, body = PublicConfig)))]
async fn public_config(State(state): State<AppState>) -> axum::Json<PublicConfig> {
    let policy = &state.core.policy;
    let settings = state.core.settings.get();
    axum::Json(PublicConfig {
        registration_open: settings.registration_open,
        password_login: settings.password_login,
        email_verification_required: settings.email_verification_required,
        password_policy: PolicyView {
            min_length: policy.passwords.min_length,
            max_length: policy.passwords.max_length,
        },
        providers: state
            .core
            .providers
            .iter()
            .filter(|p| settings.provider_enabled(p.name()))
            .map(|p| ProviderView {
                name: p.name().to_owned(),
                display_name: p.display_name().to_owned(),
            })
            .collect(),
        transports: ["bearer", "cookie"],
    })
}

/// Prometheus metrics, for loopback clients or holders of `PORTCULLIS_METRICS_TOKEN`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, body = crate::http::error::Problem, description = "not loopback and no valid token"),
    ))]
pub async fn prometheus(
    State(state): State<AppState>,
    listener: Option<Extension<MetricsListener>>,
    parts: Parts,
) -> ApiResult<impl IntoResponse> {
    // With an address of its own, /metrics is not served on the main listener at all.
    let operations = &state.config.operations;
    if operations.metrics_addr.is_some() && listener.is_none() {
        return Err(ApiError::NOT_FOUND);
    }
    let allowed = match &operations.metrics_token {
        Some(token) => bearer_token(&parts.headers)
            .is_some_and(|presented| secrets_equal(presented, token.expose())),
        None => is_direct_loopback(&parts, &state.trusted_proxies),
    };
    if !allowed {
        return Err(ServiceError::Unauthenticated.into());
    }
    metrics::sample(&state.core).await;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics::handle().render(),
    ))
}
