//! One typed configuration: defaults < TOML file (`PORTCULLIS_CONFIG`) < environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use figment::Figment;
use figment::providers::{Env, Format, Toml};
use ipnet::IpNet;
use lettre::Address;
use lettre::message::Mailbox;
use portcullis_core::{HashParams, PasswordPolicy};
use portcullis_store::ADMIN;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};

use crate::keys::SigningAlg;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

/// Every setting, as read. Field names are the variable names without `PORTCULLIS_`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Config {
    pub env: Mode,
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub secret: Option<SecretString>,
    pub public_url: String,
    pub smtp_url: Option<SecretString>,
    /// PEM certificates to trust for the SMTP server, beside the public roots (an internal
    /// relay's own certificate authority).
    pub smtp_ca_file: Option<PathBuf>,
    /// Bearer token for `GET /metrics`; without it only loopback clients may scrape.
    pub metrics_token: Option<SecretString>,
    /// Bearer secret for `POST /api/auth/introspect`; the endpoint is off without it.
    pub introspection_secret: Option<SecretString>,
    pub cookie_secure: bool,
    pub jwt_audience: Option<String>,
    pub jwt_alg: SigningAlg,
    /// The shared secret for HS256 only (base64, at least 32 bytes).
    pub jwt_secret: Option<SecretString>,
    /// A PEM private key to sign with instead of generated keys.
    pub jwt_key_file: Option<PathBuf>,
    #[serde(deserialize_with = "duration")]
    pub jwt_leeway: Duration,
    /// How often a node re-reads the stored signing keys (rotations elsewhere, expiries).
    #[serde(deserialize_with = "duration")]
    pub key_reload_interval: Duration,
    #[serde(deserialize_with = "duration")]
    pub access_token_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub session_idle_timeout: Duration,
    #[serde(deserialize_with = "duration")]
    pub session_lifetime: Duration,
    #[serde(deserialize_with = "duration")]
    pub refresh_reuse_grace: Duration,
    #[serde(deserialize_with = "list")]
    pub allowed_origins: Vec<String>,
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<String>,
    pub registration_open: bool,
    /// The role names users may hold; must include `admin` and the default role.
    #[serde(deserialize_with = "list")]
    pub roles: Vec<String>,
    /// The role of new users.
    pub default_role: String,
    pub password_min_length: usize,
    pub password_max_length: usize,
    pub product_name: String,
    pub hash_memory_kib: u32,
    pub hash_iterations: u32,
    pub hash_parallelism: u32,
    /// Concurrent hashes; defaults to the number of cores.
    pub hash_workers: Option<usize>,
    /// Hash requests allowed to wait for a worker before 503; defaults to 8 per worker.
    pub hash_queue: Option<usize>,
    pub body_limit_bytes: usize,
    pub hsts: bool,
    pub database_max_connections: u32,
    /// `json` or `pretty`; defaults to pretty in development, JSON in production.
    pub log_format: Option<String>,
    /// Serve `/metrics` on this address only (instead of the main listener).
    pub metrics_addr: Option<SocketAddr>,
    /// The sender of every message, e.g. `Example <no-reply@example.com>`; defaults to the
    /// product name at `no-reply@` the public URL's host.
    pub mail_from: Option<String>,
    /// Delivery attempts before a message is given up.
    pub mail_max_attempts: u32,
    /// Wait before the second attempt; it doubles with each attempt up to `mail_retry_max`.
    #[serde(deserialize_with = "duration")]
    pub mail_retry_base: Duration,
    #[serde(deserialize_with = "duration")]
    pub mail_retry_max: Duration,
    /// How often each node looks for mail queued by other nodes.
    #[serde(deserialize_with = "duration")]
    pub mail_poll_interval: Duration,
    /// At most one verification or reset mail per account in this window.
    #[serde(deserialize_with = "duration")]
    pub mail_cooldown: Duration,
    /// Where verification and email-change links point (`?token=` is appended); defaults
    /// to the hosted page `/verify-email`.
    pub verify_email_url: Option<String>,
    /// Where reset links point; defaults to the hosted page `/reset-password`.
    pub reset_password_url: Option<String>,
    /// Lifetime of verification and email-change links.
    #[serde(deserialize_with = "duration")]
    pub verify_token_ttl: Duration,
    #[serde(deserialize_with = "duration")]
    pub reset_token_ttl: Duration,
    /// Refuse sign-in until the email is verified; defaults to true in production only.
    pub require_email_verification: Option<bool>,
    /// Audit events older than this are deleted.
    #[serde(deserialize_with = "duration")]
    pub audit_retention: Duration,
    /// How often expired tokens, old audit events and settled mail are pruned.
    #[serde(deserialize_with = "duration")]
    pub prune_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        let hash = HashParams::default();
        let policy = PasswordPolicy::default();
        Self {
            env: Mode::Development,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            secret: None,
            public_url: "http://localhost:8080".into(),
            smtp_url: None,
            smtp_ca_file: None,
            introspection_secret: None,
            metrics_token: None,
            cookie_secure: true,
            jwt_audience: None,
            jwt_alg: SigningAlg::EdDSA,
            jwt_secret: None,
            jwt_key_file: None,
            jwt_leeway: Duration::from_secs(5),
            key_reload_interval: Duration::from_secs(10),
            access_token_ttl: Duration::from_secs(15 * 60),
            session_idle_timeout: Duration::from_secs(7 * 86_400),
            session_lifetime: Duration::from_secs(30 * 86_400),
            refresh_reuse_grace: Duration::from_secs(10),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            registration_open: true,
            roles: vec!["user".into(), ADMIN.into()],
            default_role: "user".into(),
            password_min_length: policy.min_length,
            password_max_length: policy.max_length,
            product_name: policy.product_name,
            hash_memory_kib: hash.memory_kib,
            hash_iterations: hash.iterations,
            hash_parallelism: hash.parallelism,
            hash_workers: None,
            hash_queue: None,
            body_limit_bytes: 64 * 1024,
            hsts: false,
            database_max_connections: 16,
            log_format: None,
            metrics_addr: None,
            mail_from: None,
            mail_max_attempts: 10,
            mail_retry_base: Duration::from_secs(30),
            mail_retry_max: Duration::from_secs(3600),
            mail_poll_interval: Duration::from_secs(5),
            mail_cooldown: Duration::from_secs(60),
            verify_email_url: None,
            reset_password_url: None,
            verify_token_ttl: Duration::from_secs(24 * 3600),
            reset_token_ttl: Duration::from_secs(30 * 60),
            require_email_verification: None,
            audit_retention: Duration::from_secs(180 * 86_400),
            prune_interval: Duration::from_secs(3600),
        }
    }
}

/// A setting that cannot be used; the message names it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

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
        figment
            .merge(Env::prefixed("PORTCULLIS_").ignore(&["CONFIG"]))
            .merge(
                Env::raw()
                    .only(&["DATABASE_URL"])
                    .map(|_| "database_url".into()),
            )
            .extract()
            .map_err(|e| ConfigError(format!("configuration: {e}")))
    }

    /// Refuses what is unsafe or inconsistent; in production, what is missing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        if self.env == Mode::Production {
            if self.secret.is_none() {
                return fail(
                    "production needs PORTCULLIS_SECRET (at least 32 random bytes, base64)",
                );
            }
            if !self.public_url.starts_with("https://") {
                return fail("production needs an https PORTCULLIS_PUBLIC_URL");
            }
            if self.smtp_url.is_none() {
                return fail("production needs a mail transport: set PORTCULLIS_SMTP_URL");
            }
            if !self.cookie_secure {
                return fail("PORTCULLIS_COOKIE_SECURE=false is allowed only in development");
            }
        }
        if let Some(secret) = &self.secret {
            decode_secret(secret)?;
        }
        match (self.jwt_alg, &self.jwt_secret, &self.jwt_key_file) {
            (SigningAlg::HS256, None, _) => {
                return fail("PORTCULLIS_JWT_ALG=HS256 needs PORTCULLIS_JWT_SECRET");
            }
            (SigningAlg::HS256, Some(_), Some(_)) => {
                return fail("PORTCULLIS_JWT_KEY_FILE cannot be used with HS256");
            }
            (SigningAlg::HS256, Some(secret), None) => {
                decode_secret(secret).map_err(|_| {
                    ConfigError("PORTCULLIS_JWT_SECRET must be base64 of at least 32 bytes".into())
                })?;
            }
            (_, Some(_), _) => {
                return fail("PORTCULLIS_JWT_SECRET is used only with PORTCULLIS_JWT_ALG=HS256");
            }
            _ => {}
        }
        if !(self.public_url.starts_with("http://") || self.public_url.starts_with("https://"))
            || origin_of(&self.public_url).is_none()
        {
            return fail("PORTCULLIS_PUBLIC_URL must be an absolute http(s) URL");
        }
        if let Some(bad) = self.allowed_origins.iter().find(|o| !valid_origin(o)) {
            return Err(ConfigError(format!(
                "PORTCULLIS_ALLOWED_ORIGINS: {bad:?} is not an origin like https://app.example.com"
            )));
        }
        if self
            .introspection_secret
            .as_ref()
            .is_some_and(|s| s.expose_secret().len() < 32)
        {
            return fail("PORTCULLIS_INTROSPECTION_SECRET must be at least 32 characters");
        }
        let role_name = |r: &String| {
            !r.is_empty()
                && r.len() <= 32
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        };
        if !self.roles.iter().all(role_name) {
            return fail("PORTCULLIS_ROLES: role names are 1-32 of a-z, 0-9, _ and -");
        }
        if !self.roles.iter().any(|r| r == ADMIN) || !self.roles.contains(&self.default_role) {
            return fail("PORTCULLIS_ROLES must include admin and PORTCULLIS_DEFAULT_ROLE");
        }
        self.trusted_proxy_nets()?;
        self.password_policy().validate().map_err(ConfigError)?;
        if self.jwt_leeway > Duration::from_secs(30) {
            return fail("PORTCULLIS_JWT_LEEWAY must be at most 30s");
        }
        if self.session_idle_timeout > self.session_lifetime {
            return fail(
                "PORTCULLIS_SESSION_IDLE_TIMEOUT must not exceed PORTCULLIS_SESSION_LIFETIME",
            );
        }
        self.validate_mail()
    }

    fn validate_mail(&self) -> Result<(), ConfigError> {
        let fail = |msg: &str| Err(ConfigError(msg.to_owned()));
        if let Some(url) = &self.smtp_url {
            crate::mail::transport::smtp_builder(url.expose_secret(), self.smtp_ca()?.as_deref())
                .map_err(|e| ConfigError(format!("PORTCULLIS_SMTP_URL: {e}")))?;
        }
        self.mail_from()?;
        for (name, url) in [
            ("PORTCULLIS_VERIFY_EMAIL_URL", &self.verify_email_url),
            ("PORTCULLIS_RESET_PASSWORD_URL", &self.reset_password_url),
        ] {
            if url
                .as_deref()
                .is_some_and(|u| origin_of(u).is_none() || !u.starts_with("http"))
            {
                return Err(ConfigError(format!(
                    "{name} must be an absolute http(s) URL"
                )));
            }
        }
        if self.mail_max_attempts == 0 {
            return fail("PORTCULLIS_MAIL_MAX_ATTEMPTS must be at least 1");
        }
        if self.verify_token_ttl.is_zero() || self.reset_token_ttl.is_zero() {
            return fail(
                "link lifetimes (PORTCULLIS_VERIFY_TOKEN_TTL, PORTCULLIS_RESET_TOKEN_TTL) must be positive",
            );
        }
        Ok(())
    }

    /// The contents of `PORTCULLIS_SMTP_CA_FILE`, when it is set.
    pub fn smtp_ca(&self) -> Result<Option<Vec<u8>>, ConfigError> {
        self.smtp_ca_file
            .as_ref()
            .map(|path| {
                std::fs::read(path).map_err(|e| {
                    ConfigError(format!("PORTCULLIS_SMTP_CA_FILE {}: {e}", path.display()))
                })
            })
            .transpose()
    }

    pub fn require_email_verification(&self) -> bool {
        self.require_email_verification
            .unwrap_or(self.env == Mode::Production)
    }

    /// The sender of every message.
    pub fn mail_from(&self) -> Result<Mailbox, ConfigError> {
        let bad = |_| {
            ConfigError(
                "PORTCULLIS_MAIL_FROM must be an address like `Example <no-reply@example.com>`"
                    .into(),
            )
        };
        match &self.mail_from {
            Some(raw) => raw.parse().map_err(bad),
            None => {
                let host = origin_of(&self.public_url)
                    .and_then(|o| o.split("://").nth(1).map(str::to_owned))
                    .unwrap_or_default();
                let host = host.rsplit_once(':').map_or(host.as_str(), |(h, _)| h);
                Address::new("no-reply", host)
                    .map(|address| Mailbox::new(Some(self.product_name.clone()), address))
                    .map_err(bad)
            }
        }
    }

    /// Where a link of this kind points, before its `token` parameter.
    pub fn verify_email_url(&self) -> String {
        self.verify_email_url
            .clone()
            .unwrap_or_else(|| format!("{}/verify-email", self.issuer()))
    }

    pub fn reset_password_url(&self) -> String {
        self.reset_password_url
            .clone()
            .unwrap_or_else(|| format!("{}/reset-password", self.issuer()))
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.password_min_length,
            max_length: self.password_max_length,
            product_name: self.product_name.clone(),
        }
    }

    pub fn hash_params(&self) -> HashParams {
        HashParams {
            memory_kib: self.hash_memory_kib,
            iterations: self.hash_iterations,
            parallelism: self.hash_parallelism,
        }
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("portcullis.db").display())
        })
    }

    /// The `iss` of tokens: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.trim_end_matches('/').to_owned()
    }

    pub fn audience(&self) -> String {
        self.jwt_audience.clone().unwrap_or_else(|| self.issuer())
    }

    /// Origins trusted for CORS and CSRF: the public URL's, then the configured ones.
    pub fn origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = origin_of(&self.public_url).into_iter().collect();
        origins.extend(
            self.allowed_origins
                .iter()
                .map(|o| o.trim_end_matches('/').to_owned()),
        );
        origins.dedup();
        origins
    }

    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.trusted_proxies
            .iter()
            .map(|cidr| {
                cidr.parse::<IpNet>()
                    .or_else(|_| cidr.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError(format!(
                            "PORTCULLIS_TRUSTED_PROXIES: {cidr:?} is not a CIDR"
                        ))
                    })
            })
            .collect()
    }

    /// `Secure` cookies carry the `__Host-` prefix; plain-http development drops both.
    pub fn cookie_prefix(&self) -> &'static str {
        if self.cookie_secure { "__Host-" } else { "" }
    }

    /// The settings as `config check` prints them, secrets masked.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let mask =
            |s: &Option<SecretString>| s.as_ref().map_or("(unset)".into(), |_| "********".into());
        let dur = |d: Duration| humantime::format_duration(d).to_string();
        vec![
            ("PORTCULLIS_ENV", format!("{:?}", self.env).to_lowercase()),
            ("PORTCULLIS_ADDR", self.addr.to_string()),
            ("PORTCULLIS_DATA_DIR", self.data_dir.display().to_string()),
            ("DATABASE_URL", mask_url_password(&self.database_url())),
            ("PORTCULLIS_SECRET", mask(&self.secret)),
            ("PORTCULLIS_PUBLIC_URL", self.public_url.clone()),
            ("PORTCULLIS_SMTP_URL", mask(&self.smtp_url)),
            (
                "PORTCULLIS_SMTP_CA_FILE",
                self.smtp_ca_file
                    .as_ref()
                    .map_or("(unset: public roots only)".into(), |p| {
                        p.display().to_string()
                    }),
            ),
            (
                "PORTCULLIS_INTROSPECTION_SECRET",
                mask(&self.introspection_secret),
            ),
            ("PORTCULLIS_METRICS_TOKEN", mask(&self.metrics_token)),
            ("PORTCULLIS_COOKIE_SECURE", self.cookie_secure.to_string()),
            ("PORTCULLIS_JWT_AUDIENCE", self.audience()),
            ("PORTCULLIS_JWT_ALG", self.jwt_alg.as_str().to_owned()),
            ("PORTCULLIS_JWT_SECRET", mask(&self.jwt_secret)),
            (
                "PORTCULLIS_JWT_KEY_FILE",
                self.jwt_key_file
                    .as_ref()
                    .map_or("(unset: keys are generated and stored)".into(), |p| {
                        p.display().to_string()
                    }),
            ),
            ("PORTCULLIS_JWT_LEEWAY", dur(self.jwt_leeway)),
            ("PORTCULLIS_ACCESS_TOKEN_TTL", dur(self.access_token_ttl)),
            (
                "PORTCULLIS_SESSION_IDLE_TIMEOUT",
                dur(self.session_idle_timeout),
            ),
            ("PORTCULLIS_SESSION_LIFETIME", dur(self.session_lifetime)),
            (
                "PORTCULLIS_REFRESH_REUSE_GRACE",
                dur(self.refresh_reuse_grace),
            ),
            ("PORTCULLIS_ALLOWED_ORIGINS", self.origins().join(",")),
            ("PORTCULLIS_TRUSTED_PROXIES", self.trusted_proxies.join(",")),
            (
                "PORTCULLIS_REGISTRATION_OPEN",
                self.registration_open.to_string(),
            ),
            (
                "PORTCULLIS_PASSWORD_MIN_LENGTH",
                self.password_min_length.to_string(),
            ),
            (
                "PORTCULLIS_PASSWORD_MAX_LENGTH",
                self.password_max_length.to_string(),
            ),
            ("PORTCULLIS_PRODUCT_NAME", self.product_name.clone()),
            (
                "PORTCULLIS_HASH_*",
                format!(
                    "argon2id m={} t={} p={}, workers {}, queue {}",
                    self.hash_memory_kib,
                    self.hash_iterations,
                    self.hash_parallelism,
                    self.hash_workers(),
                    self.hash_queue()
                ),
            ),
            (
                "PORTCULLIS_BODY_LIMIT_BYTES",
                self.body_limit_bytes.to_string(),
            ),
            ("PORTCULLIS_HSTS", self.hsts().to_string()),
            (
                "PORTCULLIS_METRICS_ADDR",
                self.metrics_addr
                    .map_or("(unset: /metrics on the main address)".into(), |a| {
                        a.to_string()
                    }),
            ),
            (
                "PORTCULLIS_MAIL_FROM",
                self.mail_from().map_or_else(|e| e.0, |m| m.to_string()),
            ),
            (
                "PORTCULLIS_MAIL_*",
                format!(
                    "{} attempts, retry after {} doubling to {}, poll {}, cooldown {}",
                    self.mail_max_attempts,
                    dur(self.mail_retry_base),
                    dur(self.mail_retry_max),
                    dur(self.mail_poll_interval),
                    dur(self.mail_cooldown)
                ),
            ),
            ("PORTCULLIS_VERIFY_EMAIL_URL", self.verify_email_url()),
            ("PORTCULLIS_RESET_PASSWORD_URL", self.reset_password_url()),
            ("PORTCULLIS_VERIFY_TOKEN_TTL", dur(self.verify_token_ttl)),
            ("PORTCULLIS_RESET_TOKEN_TTL", dur(self.reset_token_ttl)),
            (
                "PORTCULLIS_REQUIRE_EMAIL_VERIFICATION",
                self.require_email_verification().to_string(),
            ),
            ("PORTCULLIS_AUDIT_RETENTION", dur(self.audit_retention)),
            ("PORTCULLIS_PRUNE_INTERVAL", dur(self.prune_interval)),
        ]
    }

    pub fn hash_workers(&self) -> usize {
        self.hash_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }

    pub fn hash_queue(&self) -> usize {
        self.hash_queue.unwrap_or(8 * self.hash_workers())
    }

    /// HSTS is sent when configured or when the public URL is https.
    pub fn hsts(&self) -> bool {
        self.hsts || self.public_url.starts_with("https://")
    }
}

/// Decodes `PORTCULLIS_SECRET`: base64 of at least 32 bytes.
pub fn decode_secret(secret: &SecretString) -> Result<Vec<u8>, ConfigError> {
    let bytes = STANDARD
        .decode(secret.expose_secret().trim())
        .map_err(|_| ConfigError("PORTCULLIS_SECRET must be base64".into()))?;
    if bytes.len() < 32 {
        return Err(ConfigError(
            "PORTCULLIS_SECRET must decode to at least 32 bytes".into(),
        ));
    }
    Ok(bytes)
}

/// `scheme://host[:port]` of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty() && !host.contains('@')).then(|| format!("{scheme}://{host}").to_lowercase())
}

fn valid_origin(origin: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    origin != "null" && origin_of(origin).as_deref() == Some(&origin.to_lowercase())
}

fn mask_url_password(url: &str) -> String {
    match url
        .split_once("://")
        .and_then(|(s, rest)| rest.split_once('@').map(|(cred, host)| (s, cred, host)))
    {
        Some((scheme, cred, host)) => {
            let user = cred.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:********@{host}")
        }
        None => url.to_owned(),
    }
}

/// Durations are written `30s`, `15m`, `24h`, `7d`.
fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(&text).map_err(serde::de::Error::custom)
}

/// Lists come as a comma-separated string (environment) or an array (TOML).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    let items = match Raw::deserialize(d)? {
        Raw::One(text) => text.split(',').map(str::to_owned).collect(),
        Raw::Many(items) => items,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> Config {
        Config {
            env: Mode::Production,
            secret: Some(SecretString::from(STANDARD.encode([7u8; 32]))),
            public_url: "https://auth.example.com".into(),
            smtp_url: Some(SecretString::from("smtp://mail.example.com:587")),
            ..Config::default()
        }
    }

    #[test]
    fn development_defaults_are_valid() {
        assert!(Config::default().validate().is_ok());
    }

    #[test]
    fn production_names_what_is_missing() {
        assert!(production().validate().is_ok());
        type Breakage = fn(&mut Config);
        let cases: [(Breakage, &str); 4] = [
            (|c| c.secret = None, "PORTCULLIS_SECRET"),
            (|c| c.public_url = "http://auth.example.com".into(), "https"),
            (|c| c.smtp_url = None, "PORTCULLIS_SMTP_URL"),
            (|c| c.cookie_secure = false, "COOKIE_SECURE"),
        ];
        for (break_it, expected) in cases {
            let mut config = production();
            break_it(&mut config);
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
    }

    #[test]
    fn short_secrets_and_null_origins_are_refused() {
        let mut config = production();
        config.secret = Some(SecretString::from(STANDARD.encode([7u8; 16])));
        assert!(config.validate().is_err());
        let mut config = Config {
            allowed_origins: vec!["null".into()],
            ..Config::default()
        };
        assert!(config.validate().is_err());
        config.allowed_origins = vec!["https://app.example.com/".into()];
        assert!(config.validate().is_ok());
        assert_eq!(
            config.origins(),
            ["http://localhost:8080", "https://app.example.com"]
        );
    }

    #[test]
    fn hs256_needs_its_own_secret_and_nothing_else() {
        let hs = |secret: Option<&str>| Config {
            jwt_alg: SigningAlg::HS256,
            jwt_secret: secret.map(SecretString::from),
            ..Config::default()
        };
        assert!(hs(None).validate().is_err());
        assert!(hs(Some("c2hvcnQ=")).validate().is_err());
        assert!(hs(Some(&STANDARD.encode([3u8; 32]))).validate().is_ok());
        let stray = Config {
            jwt_secret: Some(STANDARD.encode([3u8; 32]).into()),
            ..Config::default()
        };
        assert!(
            stray.validate().is_err(),
            "a JWT secret without HS256 is a mistake"
        );
    }

    #[test]
    fn roles_must_include_admin_and_the_default() {
        let roles = |list: &[&str], default: &str| Config {
            roles: list.iter().map(|r| r.to_string()).collect(),
            default_role: default.into(),
            ..Config::default()
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
        config.database_url = Some("postgres://app:hunter2@db/portcullis".into());
        let text = format!("{:?}", config.describe());
        assert!(!text.contains("hunter2"));
        assert!(!text.contains(&STANDARD.encode([7u8; 32])));
        assert!(text.contains("postgres://app:********@db/portcullis"));
    }
}
