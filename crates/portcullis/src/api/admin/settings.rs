//! Runtime settings (role `admin`): read them, and change them without a restart.

use std::collections::BTreeMap;

use axum::extract::State;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::{AdminAuth, ClientInfo};
use crate::http::error::Problem;
use crate::http::{ApiResult, Json};
use crate::service::settings::{self, Settings};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_settings, patch_settings))
}

/// The switches in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// Sign-up allowed (403 `registration_disabled` otherwise, on the API and the pages).
    registration_open: bool,
    /// Email and password sign-in allowed (403 `method_disabled` otherwise).
    password_login: bool,
    /// Each configured provider, enabled or not.
    providers: BTreeMap<String, bool>,
    /// Sign-in refused until the address is verified.
    email_verification_required: bool,
}

impl From<&Settings> for SettingsView {
    fn from(settings: &Settings) -> Self {
        Self {
            registration_open: settings.registration_open,
            password_login: settings.password_login,
            providers: settings.providers.clone(),
            email_verification_required: settings.email_verification_required,
        }
    }
}

/// The settings in force, and the configuration's defaults they override.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsAnswer {
    #[serde(flatten)]
    current: SettingsView,
    /// What each setting is when reset to `null`.
    defaults: SettingsView,
}

fn answer(state: &AppState, current: &Settings) -> axum::Json<SettingsAnswer> {
    axum::Json(SettingsAnswer {
        current: current.into(),
        defaults: state.core.settings.defaults().into(),
    })
}

/// The runtime settings.
#[utoipa::path(get, path = "/api/admin/settings", tag = "admin",
    responses(
        (status = 200, body = SettingsAnswer),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden`"),
    ))]
async fn get_settings(
    State(state): State<AppState>,
    _admin: AdminAuth,
) -> axum::Json<SettingsAnswer> {
    answer(&state, &state.core.settings.get())
}

/// Change runtime settings: each key given is set, or reset to its default with `null`
/// (`providers` takes a map of configured provider names to `true`, `false` or `null`).
/// This node applies it at once, every other within 10 s.
#[utoipa::path(patch, path = "/api/admin/settings", tag = "admin",
    request_body(content = Object, description = "Any of `registration_open`, `password_login`, `email_verification_required` (each `true`, `false` or `null`) and `providers` (`{name: true|false|null}`, or `null`)"),
    responses(
        (status = 200, body = SettingsAnswer),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "`forbidden` or `csrf_failed`"),
        (status = 422, body = Problem, description = "`validation_failed`: an unknown setting (`unknown_setting`), a value of the wrong kind or an unknown provider (`invalid`), or turning verification off under quiet sign-up (`needed_by_quiet_signup`)"),
    ))]
async fn patch_settings(
    State(state): State<AppState>,
    AdminAuth(admin): AdminAuth,
    ClientInfo(client): ClientInfo,
    Json(patch): Json<Map<String, Value>>,
) -> ApiResult<axum::Json<SettingsAnswer>> {
    let current = settings::update(&state.core, &admin, patch, &client).await?;
    Ok(answer(&state, &current))
}
