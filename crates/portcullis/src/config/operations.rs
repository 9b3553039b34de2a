//! Metrics, and the background upkeep of the audit trail and expired rows.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::values::Secret;

/// The shortest metrics token production accepts: a token an operator chose for the job.
const MIN_METRICS_TOKEN: usize = 32;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct OperationsConfig {
    /// Bearer token for `GET /metrics`; without it only loopback clients may scrape.
    pub metrics_token: Option<Secret>,
    /// Serve `/metrics` on this address only (instead of the main listener).
    pub metrics_addr: Option<SocketAddr>,
    /// Audit events older than this are deleted.
    #[serde(with = "humantime_serde")]
    pub audit_retention: Duration,
    /// How often expired tokens, old audit events and settled mail are pruned.
    #[serde(with = "humantime_serde")]
    pub prune_interval: Duration,
    /// Mail work of forgot-password and resend that may run at once; beyond it those
    /// requests answer 503 `overloaded`.
    pub background_tasks: u32,
}

impl Default for OperationsConfig {
    fn default() -> Self {
        Self {
            metrics_token: None,
            metrics_addr: None,
            audit_retention: Duration::from_secs(180 * 86_400),
            prune_interval: Duration::from_secs(3600),
            background_tasks: 64,
        }
    }
}

impl OperationsConfig {
    pub fn validate(&self, production: bool) -> Result<(), ConfigError> {
        if self.background_tasks == 0 {
            return Err(ConfigError::new(
                "PORTCULLIS_BACKGROUND_TASKS must be at least 1",
            ));
        }
        if production
            && self
                .metrics_token
                .as_ref()
                .is_some_and(|t| t.expose().len() < MIN_METRICS_TOKEN)
        {
            return Err(ConfigError(format!(
                "production needs a PORTCULLIS_METRICS_TOKEN of at least {MIN_METRICS_TOKEN} characters"
            )));
        }
        Ok(())
    }
}
