//! One typed configuration in sections, one file per concern: defaults < TOML file
//! (`PORTCULLIS_CONFIG`) < environment. Every field is named as its variable without the
//! `PORTCULLIS_` prefix, so the sections flatten into the flat names the contract fixes, and
//! `config check` prints the configuration by serialising these same definitions (secrets
//! serialise masked).

mod accounts;
mod database;
mod limits;
mod mail;
mod oauth;
mod operations;
mod pages;
mod passwords;
mod redis;
mod server;
mod sessions;
mod tokens;
pub mod values;

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use serde::{Deserialize, Serialize};

pub use accounts::AccountConfig;
pub use database::DatabaseConfig;
pub use limits::{Group, LimitsConfig, Rates, Switch};
pub use mail::MailConfig;
pub use oauth::{OauthConfig, ProviderConfig, ProviderKind};
pub use operations::OperationsConfig;
pub use pages::PagesConfig;
pub use passwords::PasswordConfig;
pub use redis::RedisConfig;
pub use server::{Mode, ServerConfig};
pub use sessions::SessionConfig;
pub use tokens::{TokenConfig, decode_secret};
pub use values::{Secret, SecretUrl};

/// Every setting, as read, by concern.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Config {
    #[serde(flatten)]
    pub server: ServerConfig,
    #[serde(flatten)]
    pub database: DatabaseConfig,
    #[serde(flatten)]
    pub tokens: TokenConfig,
    #[serde(flatten)]
    pub sessions: SessionConfig,
    #[serde(flatten)]
    pub accounts: AccountConfig,
    #[serde(flatten)]
    pub passwords: PasswordConfig,
    #[serde(flatten)]
    pub mail: MailConfig,
    #[serde(flatten)]
    pub operations: OperationsConfig,
    #[serde(flatten)]
    pub limits: LimitsConfig,
    #[serde(flatten)]
    pub redis: RedisConfig,
    #[serde(flatten)]
    pub pages: PagesConfig,
    /// Social sign-in providers: named at run time, so read from the raw keys in `load`.
    #[serde(skip)]
    pub oauth: OauthConfig,
}

/// A setting that cannot be used; the message names it, in one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl ConfigError {
    pub fn new(message: &str) -> Self {
        Self(message.to_owned())
    }
}

/// The `oauth_*` settings as text, whatever form the file gave them (lists joined by commas).
fn oauth_keys(
    figment: &Figment,
) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
    use figment::value::Value;
    fn text(value: &Value) -> String {
        match value {
            Value::String(_, text) => text.clone(),
            Value::Array(_, items) => items.iter().map(text).collect::<Vec<_>>().join(","),
            other => serde_json::to_value(other).map_or_else(|_| String::new(), |v| v.to_string()),
        }
    }
    let all: std::collections::BTreeMap<String, Value> = figment
        .extract()
        .map_err(|e| ConfigError(format!("configuration: {e}")))?;
    Ok(all
        .iter()
        .filter(|(key, _)| key.starts_with("oauth_"))
        .map(|(key, value)| (key.clone(), text(value)))
        .collect())
}

/// Variables read without the `PORTCULLIS_` prefix.
const UNPREFIXED: &[&str] = &["DATABASE_URL", "REDIS_URL"];

impl Config {
    /// Reads the TOML file named by `PORTCULLIS_CONFIG`, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut figment = Figment::new();
        if let Ok(path) = std::env::var("PORTCULLIS_CONFIG") {
            if !Path::new(&path).is_file() {
                return Err(ConfigError(format!("PORTCULLIS_CONFIG: no file at {path}")));
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(Env::prefixed("PORTCULLIS_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(UNPREFIXED));
        let mut config: Self = figment
            .extract()
            .map_err(|e| ConfigError(format!("configuration: {e}")))?;
        config.oauth = OauthConfig::from_keys(&oauth_keys(&figment)?)?;
        Ok(config)
    }

    /// Refuses what is unsafe or inconsistent; in production, what is missing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let production = self.server.is_production();
        self.server.validate()?;
        self.tokens.validate(production)?;
        self.mail.validate(production, &self.server.public_url)?;
        self.accounts.role_set()?;
        if self.accounts.quiet_signup && !self.require_email_verification() {
            return Err(ConfigError::new(
                "PORTCULLIS_QUIET_SIGNUP needs PORTCULLIS_REQUIRE_EMAIL_VERIFICATION=true: a quiet sign-up cannot sign in at once",
            ));
        }
        self.passwords.validate()?;
        self.sessions.validate()?;
        self.limits.validate()?;
        self.redis.validate()?;
        self.oauth.validate()?;
        self.pages.validate()?;
        self.operations.validate(production)
    }

    /// Each setting by its variable name with its effective value, secrets masked: the
    /// definitions above, serialised.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut effective = self.clone();
        effective.resolve();
        let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(&effective) else {
            return Vec::new();
        };
        let mut described: Vec<(String, String)> = fields
            .into_iter()
            .map(|(field, value)| {
                let upper = field.to_uppercase();
                let name = if UNPREFIXED.contains(&upper.as_str()) {
                    upper
                } else {
                    format!("PORTCULLIS_{upper}")
                };
                let shown = match value {
                    serde_json::Value::Null => "(unset)".to_owned(),
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                };
                (name, shown)
            })
            .collect();
        described.extend(self.oauth.describe());
        described
    }

    /// Fills the settings whose default depends on others with what they resolve to.
    fn resolve(&mut self) {
        self.accounts.require_email_verification = Some(self.require_email_verification());
        self.tokens.jwt_audience = Some(self.audience());
        self.passwords.hash_workers = Some(self.passwords.hash_workers());
        self.passwords.hash_queue = Some(self.passwords.hash_queue());
        if self.database.database_url.is_none() {
            self.database.database_url = Some(self.database_url().into());
        }
        if self.mail.mail_from.is_none() {
            self.mail.mail_from = self.mail_from().ok().map(|m| m.to_string());
        }
    }

    pub fn require_email_verification(&self) -> bool {
        self.accounts
            .require_email_verification
            .unwrap_or(self.server.is_production())
    }

    /// The database URL: the configured one, or the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        self.database.database_url.as_ref().map_or_else(
            || {
                format!(
                    "sqlite://{}",
                    self.server.data_dir.join("portcullis.db").display()
                )
            },
            |url| url.expose().to_owned(),
        )
    }

    pub fn issuer(&self) -> String {
        self.server.issuer()
    }

    pub fn audience(&self) -> String {
        self.tokens
            .jwt_audience
            .clone()
            .unwrap_or_else(|| self.issuer())
    }

    pub fn mail_from(&self) -> Result<lettre::message::Mailbox, ConfigError> {
        self.mail
            .sender(&self.accounts.product_name, &self.server.public_url)
    }

    pub fn password_policy(&self) -> portcullis_core::PasswordPolicy {
        self.passwords.policy(&self.accounts.product_name)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::keys::SigningAlg;

    fn production() -> Config {
        let mut config = Config::default();
        config.server.env = Mode::Production;
        config.tokens.secret = Some(STANDARD.encode([7u8; 32]).into());
        config.server.public_url = "https://auth.example.com".parse().unwrap();
        config.mail.smtp_url = Some("smtp://mail.example.com:587".into());
        config
    }

    #[test]
    fn development_defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn production_names_what_is_missing() {
        assert!(production().validate().is_ok());
        type Breakage = fn(&mut Config);
        let cases: [(Breakage, &str); 6] = [
            (|c| c.tokens.secret = None, "PORTCULLIS_SECRET"),
            (
                |c| c.server.public_url = "http://auth.example.com".parse().unwrap(),
                "https",
            ),
            (|c| c.mail.smtp_url = None, "PORTCULLIS_SMTP_URL"),
            (|c| c.server.cookie_secure = false, "COOKIE_SECURE"),
            (
                |c| c.operations.metrics_token = Some("short-token".into()),
                "PORTCULLIS_METRICS_TOKEN",
            ),
            (|c| c.accounts.default_role = "admin".into(), "DEFAULT_ROLE"),
        ];
        for (break_it, expected) in cases {
            let mut config = production();
            break_it(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
        let mut long_token = production();
        long_token.operations.metrics_token = Some("m".repeat(32).into());
        assert!(long_token.validate().is_ok());
    }

    #[test]
    fn quiet_sign_up_needs_verification_before_sign_in() {
        let mut config = Config::default();
        config.accounts.quiet_signup = true;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("PORTCULLIS_QUIET_SIGNUP"), "{err}");
        config.accounts.require_email_verification = Some(true);
        assert!(config.validate().is_ok());
        assert!(production().validate().is_ok());
    }

    #[test]
    fn the_default_role_can_never_be_admin() {
        let mut config = Config::default();
        config.accounts.default_role = "admin".into();
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("cannot be admin"), "{err}");
    }

    #[test]
    fn short_secrets_and_null_origins_are_refused() {
        let mut config = production();
        config.tokens.secret = Some(STANDARD.encode([7u8; 16]).into());
        assert!(config.validate().is_err());
        assert!(
            serde_json::from_value::<ServerConfig>(
                serde_json::json!({ "allowed_origins": "null" })
            )
            .is_err()
        );
        let config: ServerConfig = serde_json::from_value(
            serde_json::json!({ "allowed_origins": "https://app.example.com/" }),
        )
        .unwrap();
        assert_eq!(
            config.origins(),
            ["http://localhost:8080", "https://app.example.com"]
        );
    }

    #[test]
    fn hs256_needs_its_own_secret_and_nothing_else() {
        let hs = |secret: Option<&str>| {
            let mut config = Config::default();
            config.tokens.jwt_alg = SigningAlg::HS256;
            config.tokens.jwt_secret = secret.map(Secret::from);
            config
        };
        assert!(hs(None).validate().is_err());
        assert!(hs(Some("c2hvcnQ=")).validate().is_err());
        assert!(hs(Some(&STANDARD.encode([3u8; 32]))).validate().is_ok());
        let mut stray = Config::default();
        stray.tokens.jwt_secret = Some(STANDARD.encode([3u8; 32]).into());
        assert!(
            stray.validate().is_err(),
            "a JWT secret without HS256 is a mistake"
        );
    }

    #[test]
    fn roles_must_include_admin_and_the_default() {
        let roles = |list: &[&str], default: &str| {
            let mut config = Config::default();
            config.accounts.roles = list.iter().map(|r| r.to_string()).collect();
            config.accounts.default_role = default.into();
            config
        };
        assert!(
            roles(&["user", "admin", "editor"], "user")
                .validate()
                .is_ok()
        );
        assert!(roles(&["user", "editor"], "user").validate().is_err());
        assert!(roles(&["user", "admin"], "viewer").validate().is_err());
        assert!(roles(&["User", "admin"], "User").validate().is_err());
    }

    #[test]
    fn describe_masks_secrets() {
        let mut config = production();
        config.database.database_url = Some("postgres://app:hunter2@db/portcullis".into());
        let text = format!("{:?}", config.describe());
        assert!(!text.contains("hunter2"));
        assert!(!text.contains(&STANDARD.encode([7u8; 32])));
        assert!(text.contains("postgres://app:********@db/portcullis"));
    }

    #[test]
    fn describe_lists_every_setting_by_its_variable() {
        let described = Config::default().describe();
        let names: Vec<&str> = described.iter().map(|(name, _)| name.as_str()).collect();
        for name in [
            "DATABASE_URL",
            "PORTCULLIS_SECRET",
            "PORTCULLIS_ACCESS_TOKEN_TTL",
            "PORTCULLIS_TRUSTED_PROXIES",
            "PORTCULLIS_REQUIRE_EMAIL_VERIFICATION",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }
        let value = |name: &str| {
            described
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(value("PORTCULLIS_ACCESS_TOKEN_TTL"), "15m");
        assert_eq!(value("PORTCULLIS_REQUIRE_EMAIL_VERIFICATION"), "false");
        assert_eq!(value("PORTCULLIS_SECRET"), "(unset)");
    }

    #[test]
    fn no_debug_output_of_the_configuration_shows_a_secret() {
        const CANARY: &str = "canary-4f1c9e-secret-value-0123456789";
        let mut config = production();
        config.tokens.secret = Some(CANARY.into());
        config.tokens.jwt_secret = Some(CANARY.into());
        config.tokens.introspection_secret = Some(CANARY.into());
        config.operations.metrics_token = Some(CANARY.into());
        config.mail.smtp_url = Some(format!("smtp://u:{CANARY}@mail.example.com").into());
        config.database.database_url = Some(format!("postgres://u:{CANARY}@db/x").into());
        config.redis.redis_url = Some(format!("redis://u:{CANARY}@cache:6379/0").into());
        assert!(!format!("{config:?}").contains(CANARY));
        assert!(!format!("{config:#?}").contains(CANARY));
        assert!(!format!("{:?}", config.describe()).contains(CANARY));
    }
}
