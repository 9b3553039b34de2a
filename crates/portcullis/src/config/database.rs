//! The database: its URL (a secret: it may carry a password) and the pool size.

use serde::{Deserialize, Serialize};

use super::values::SecretUrl;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct DatabaseConfig {
    /// `sqlite://…` or `postgres://…`; the SQLite file in the data directory when unset.
    pub database_url: Option<SecretUrl>,
    pub database_max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            database_url: None,
            database_max_connections: 16,
        }
    }
}
