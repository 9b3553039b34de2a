//! The rules the configuration sets for the use cases, read once at start.

use portcullis_core::{PasswordPolicy, RoleSet};

use super::millis;
use crate::config::{Config, ConfigError};

#[derive(Debug, Clone)]
pub struct Policy {
    pub passwords: PasswordPolicy,
    pub roles: RoleSet,
    pub quiet_signup: bool,
    pub session_lifetime_ms: i64,
    pub session_idle_ms: i64,
    pub refresh_grace_ms: i64,
    pub verify_link_ms: i64,
    pub reset_link_ms: i64,
    pub mail_cooldown_ms: i64,
    /// The public URL without a trailing slash: `iss`, and the root of our own pages.
    pub public_url: String,
    /// Origins where a browser may be sent back to (`redirect_to`, `return_to`): the public
    /// URL's, then the allowed ones.
    pub origins: Vec<String>,
}

impl Policy {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            passwords: config.password_policy(),
            roles: config.accounts.role_set()?,
            quiet_signup: config.accounts.quiet_signup,
            session_lifetime_ms: millis(config.sessions.session_lifetime),
            session_idle_ms: millis(config.sessions.session_idle_timeout),
            refresh_grace_ms: millis(config.sessions.refresh_reuse_grace),
            verify_link_ms: millis(config.mail.verify_token_ttl),
            reset_link_ms: millis(config.mail.reset_token_ttl),
            mail_cooldown_ms: millis(config.mail.mail_cooldown),
            public_url: config.issuer(),
            origins: config.server.origins(),
        })
    }
}
