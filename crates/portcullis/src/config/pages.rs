//! Hosted pages: the operator's theme.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::ConfigError;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct PagesConfig {
    /// A directory whose `templates/*.html`, `assets/*` and `i18n/*.toml` replace or add to the
    /// built-in ones, file by file.
    pub theme_dir: Option<PathBuf>,
}

impl PagesConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        match &self.theme_dir {
            Some(dir) if !dir.is_dir() => Err(ConfigError(format!(
                "PORTCULLIS_THEME_DIR: no directory at {}",
                dir.display()
            ))),
            _ => Ok(()),
        }
    }
}
