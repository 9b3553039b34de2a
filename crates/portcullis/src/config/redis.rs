//! Redis, where rate-limit counters and lockouts are shared by every node.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;
use super::values::SecretUrl;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct RedisConfig {
    /// `redis://…` or `rediss://…`; limits stay in each node's memory when unset.
    pub redis_url: Option<SecretUrl>,
    /// Prefix of every key this deployment writes, so that several share one Redis.
    pub redis_prefix: String,
    /// The longest a request waits on Redis before the node limits with its own memory.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            redis_url: None,
            redis_prefix: "portcullis".into(),
            redis_timeout: Duration::from_millis(250),
        }
    }
}

impl RedisConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.redis_url {
            redis::parse_redis_url(url.expose())
                .ok_or_else(|| ConfigError::new("REDIS_URL is not a redis:// or rediss:// URL"))?;
        }
        if self.redis_timeout.is_zero() || self.redis_timeout > Duration::from_secs(5) {
            return Err(ConfigError::new(
                "PORTCULLIS_REDIS_TIMEOUT must be above 0 and at most 5s",
            ));
        }
        Ok(())
    }
}
