//! How long sessions live and how refresh-token replays are judged.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct SessionConfig {
    /// A session unused this long ends.
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    /// Absolute lifetime, whatever the activity.
    #[serde(with = "humantime_serde")]
    pub session_lifetime: Duration,
    /// A refresh token replayed within this window is refused without revoking the session.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_grace: Duration,
    /// How many verified access tokens, sessions and users each node keeps in memory (each);
    /// 0 reads every one from the database at every request.
    pub auth_cache_entries: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            session_idle_timeout: Duration::from_secs(7 * 86_400),
            session_lifetime: Duration::from_secs(30 * 86_400),
            refresh_reuse_grace: Duration::from_secs(10),
            auth_cache_entries: 10_000,
        }
    }
}

impl SessionConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.session_idle_timeout > self.session_lifetime {
            return Err(ConfigError::new(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT must not exceed PORTCULLIS_SESSION_LIFETIME",
            ));
        }
        Ok(())
    }
}
