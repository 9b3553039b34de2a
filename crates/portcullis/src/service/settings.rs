//! Runtime settings: switches an admin flips without a restart (`registration_open`,
//! `password_login`, `providers`, `email_verification_required`). The configuration gives
//! each its default; a value stored by an admin wins until it is reset with `null`. The node
//! that makes a change applies it at once; every node re-reads the stored values every
//! [`RELOAD_INTERVAL`], so the others follow within it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use portcullis_store::Store;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::audit::{Action, AuditEvent};
use super::change::Change;
use super::sessions::Authenticated;
use super::{Client, Core, ServiceError, ServiceResult, Violations};
use crate::config::Config;

/// How often every node re-reads the stored settings (the contract allows other nodes 10 s).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);

/// The settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// Sign-up is allowed (API and pages).
    pub registration_open: bool,
    /// Sign-in with email (or username) and password is allowed.
    pub password_login: bool,
    /// Each configured social sign-in provider, enabled or not.
    pub providers: BTreeMap<String, bool>,
    /// Sign-in is refused until the address is verified.
    pub email_verification_required: bool,
}

const KEYS: [&str; 4] = [
    "registration_open",
    "password_login",
    "providers",
    "email_verification_required",
];

impl Settings {
    /// The defaults the configuration gives.
    pub fn from_config(config: &Config) -> Self {
        Self {
            registration_open: config.accounts.registration_open,
            password_login: config.accounts.password_login,
            providers: config
                .oauth
                .providers
                .iter()
                .map(|p| (p.name.clone(), true))
                .collect(),
            email_verification_required: config.require_email_verification(),
        }
    }

    /// Whether the provider `name` is configured and enabled.
    pub fn provider_enabled(&self, name: &str) -> bool {
        self.providers.get(name).copied().unwrap_or(false)
    }

    /// `self` with the stored values applied; a stored value that no longer fits (a provider
    /// no longer configured, a value of the wrong type) is ignored.
    fn with(&self, stored: &[(String, String)]) -> Self {
        let mut settings = self.clone();
        for (key, raw) in stored {
            let Ok(value) = serde_json::from_str::<Value>(raw) else {
                continue;
            };
            match (key.as_str(), value) {
                ("registration_open", Value::Bool(on)) => settings.registration_open = on,
                ("password_login", Value::Bool(on)) => settings.password_login = on,
                ("email_verification_required", Value::Bool(on)) => {
                    settings.email_verification_required = on;
                }
                ("providers", Value::Object(map)) => {
                    for (name, on) in map {
                        if let (Some(slot), Value::Bool(on)) =
                            (settings.providers.get_mut(&name), on)
                        {
                            *slot = on;
                        }
                    }
                }
                _ => {}
            }
        }
        settings
    }
}

/// This node's view of the settings.
pub struct RuntimeSettings {
    defaults: Settings,
    current: RwLock<Arc<Settings>>,
}

impl RuntimeSettings {
    pub fn new(defaults: Settings) -> Self {
        Self {
            current: RwLock::new(Arc::new(defaults.clone())),
            defaults,
        }
    }

    /// The settings in force now.
    pub fn get(&self) -> Arc<Settings> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn defaults(&self) -> &Settings {
        &self.defaults
    }

    /// Re-reads the stored values.
    pub async fn reload(&self, store: &Store) -> Result<(), portcullis_store::StoreError> {
        let stored = store.settings().await?;
        let settings = Arc::new(self.defaults.with(&stored));
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
        Ok(())
    }

    /// Re-reads the stored values every [`RELOAD_INTERVAL`], so changes made on other nodes
    /// apply here too.
    pub async fn watch(&self, store: Store) {
        loop {
            tokio::time::sleep(RELOAD_INTERVAL).await;
            if let Err(err) = self.reload(&store).await {
                tracing::warn!(error = %err, "reloading runtime settings failed; keeping the current ones");
            }
        }
    }
}

/// Applies an admin's change: each key of `patch` set to a value, or back to its default
/// with `null`; `providers` changes the named providers only. Unknown keys and values are
/// 422 with every offending field named; nothing changes unless all of it is valid.
#[tracing::instrument(name = "update_settings", skip_all)]
pub async fn update(
    core: &Core,
    admin: &Authenticated,
    patch: Map<String, Value>,
    client: &Client,
) -> ServiceResult<Arc<Settings>> {
    let defaults = core.settings.defaults();
    let mut violations = Violations::default();
    for (key, value) in &patch {
        let valid = match (key.as_str(), value) {
            (_, Value::Null) => KEYS.contains(&key.as_str()),
            (
                "registration_open" | "password_login" | "email_verification_required",
                Value::Bool(_),
            ) => true,
            ("providers", Value::Object(map)) => map.iter().all(|(name, on)| {
                defaults.providers.contains_key(name) && (on.is_boolean() || on.is_null())
            }),
            _ => false,
        };
        if !valid {
            let rule = if KEYS.contains(&key.as_str()) {
                "invalid"
            } else {
                "unknown_setting"
            };
            violations.check(key, Err::<(), &'static str>(rule), |rule| *rule);
        }
    }
    violations.finish()?;
    let mut change = Change::begin(core).await?;
    let now = core.now();
    for (key, value) in &patch {
        let stored = match (key.as_str(), value) {
            (_, Value::Null) => None,
            ("providers", Value::Object(map)) => {
                let mut merged: Map<String, Value> = change
                    .setting("providers")
                    .await?
                    .and_then(|raw| serde_json::from_str(&raw).ok())
                    .unwrap_or_default();
                for (name, on) in map {
                    match on {
                        Value::Null => merged.remove(name),
                        on => merged.insert(name.clone(), on.clone()),
                    };
                }
                (!merged.is_empty()).then_some(Value::Object(merged))
            }
            (_, value) => Some(value.clone()),
        };
        match stored {
            Some(value) => {
                change
                    .put_setting(key, &value.to_string(), now, &admin.user.id)
                    .await?;
            }
            None => change.delete_setting(key).await?,
        }
    }
    // Quiet sign-up answers before anything depends on the address, so it cannot sign a new
    // account in: verification must stay required while it is on.
    if core.policy.quiet_signup {
        let stored = change.setting("email_verification_required").await?;
        let required = stored
            .and_then(|raw| serde_json::from_str::<bool>(&raw).ok())
            .unwrap_or(defaults.email_verification_required);
        if !required {
            return Err(ServiceError::field(
                "email_verification_required",
                "needed_by_quiet_signup",
            ));
        }
    }
    let event = AuditEvent::new(Action::SettingsChanged, client)
        .actor(&admin.user.id)
        .detail(json!({ "changed": patch }));
    change.audit(event).await?;
    change.commit().await?;
    core.settings.reload(&core.store).await?;
    Ok(core.settings.get())
}
