//! Liveness, readiness, the public settings a UI needs, and the JWKS.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(public_config))
        .routes(routes!(jwks))
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
    /// `ok` or `unreachable`.
    database: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicConfig {
    registration_open: bool,
    email_verification_required: bool,
    password_policy: PolicyView,
    /// Names of enabled social sign-in providers.
    providers: Vec<String>,
    transports: [&'static str; 2],
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

/// Readiness: 200 when the database answers, else 503 naming what failed.
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(state): State<AppState>) -> (StatusCode, axum::Json<Readiness>) {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(Readiness {
                status: "ok",
                database: "ok",
            }),
        ),
        Err(err) => {
            tracing::warn!(%err, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(Readiness {
                    status: "unavailable",
                    database: "unreachable",
                }),
            )
        }
    }
}

/// Public settings for sign-in and sign-up screens.
#[utoipa::path(get, path = "/api/auth/config", tag = "operations", responses((status = 200, body = PublicConfig)))]
async fn public_config(State(state): State<AppState>) -> axum::Json<PublicConfig> {
    axum::Json(PublicConfig {
        registration_open: state.config.registration_open,
        // Email verification is not built yet, so it cannot be required.
        email_verification_required: false,
        password_policy: PolicyView {
            min_length: state.policy.min_length,
            max_length: state.policy.max_length,
        },
        providers: Vec::new(),
        transports: ["bearer", "cookie"],
    })
}

/// The public keys that verify access tokens.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "tokens",
    responses((status = 200, description = "JSON Web Key Set", content_type = "application/json")))]
async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    // Short enough that a rotated-in key is seen within minutes; retired keys stay listed
    // until their tokens have expired, so caching never breaks verification.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        axum::Json(state.tokens.jwks().clone()),
    )
}
