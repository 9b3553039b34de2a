//! Mail: the transport, the sender, retries, the cooldown, and the emailed links.

use std::path::PathBuf;
use std::time::Duration;

use lettre::Address;
use lettre::message::Mailbox;
use serde::{Deserialize, Serialize};
use url::Url;

use super::ConfigError;
use super::values::SecretUrl;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct MailConfig {
    /// `smtp://user:pass@host:port` or `smtps://…`; the log in development when unset.
    pub smtp_url: Option<SecretUrl>,
    /// PEM certificates to trust for the SMTP server, beside the public roots.
    pub smtp_ca_file: Option<PathBuf>,
    /// The sender, e.g. `Example <no-reply@example.com>`; the product name at `no-reply@`
    /// the public URL's host when unset.
    pub mail_from: Option<String>,
    /// Delivery attempts before a message is given up.
    pub mail_max_attempts: u32,
    /// Wait before the second attempt; doubles with each attempt up to `mail_retry_max`.
    #[serde(with = "humantime_serde")]
    pub mail_retry_base: Duration,
    #[serde(with = "humantime_serde")]
    pub mail_retry_max: Duration,
    /// How often each node looks for mail queued by other nodes.
    #[serde(with = "humantime_serde")]
    pub mail_poll_interval: Duration,
    /// At most one mail of a kind per account in this window.
    #[serde(with = "humantime_serde")]
    pub mail_cooldown: Duration,
    /// Where verification and email-change links point (`?token=` is appended); the
    /// `/verify-email` path of the public URL when unset.
    pub verify_email_url: Option<Url>,
    /// Where reset links point; `/reset-password` of the public URL when unset.
    pub reset_password_url: Option<Url>,
    #[serde(with = "humantime_serde")]
    pub verify_token_ttl: Duration,
    #[serde(with = "humantime_serde")]
    pub reset_token_ttl: Duration,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_url: None,
            smtp_ca_file: None,
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
        }
    }
}

impl MailConfig {
    pub fn validate(&self, production: bool, public_url: &Url) -> Result<(), ConfigError> {
        if production && self.smtp_url.is_none() {
            return Err(ConfigError::new(
                "production needs a mail transport: set PORTCULLIS_SMTP_URL",
            ));
        }
        self.sender("", public_url)?;
        for (name, url) in [
            ("PORTCULLIS_VERIFY_EMAIL_URL", &self.verify_email_url),
            ("PORTCULLIS_RESET_PASSWORD_URL", &self.reset_password_url),
        ] {
            if url
                .as_ref()
                .is_some_and(|u| !matches!(u.scheme(), "http" | "https") || !u.has_host())
            {
                return Err(ConfigError(format!(
                    "{name} must be an absolute http(s) URL"
                )));
            }
        }
        if self.mail_max_attempts == 0 {
            return Err(ConfigError::new(
                "PORTCULLIS_MAIL_MAX_ATTEMPTS must be at least 1",
            ));
        }
        if self.verify_token_ttl.is_zero() || self.reset_token_ttl.is_zero() {
            return Err(ConfigError::new(
                "link lifetimes (PORTCULLIS_VERIFY_TOKEN_TTL, PORTCULLIS_RESET_TOKEN_TTL) must be positive",
            ));
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

    /// The sender of every message.
    pub fn sender(&self, product_name: &str, public_url: &Url) -> Result<Mailbox, ConfigError> {
        let bad = |_| {
            ConfigError::new(
                "PORTCULLIS_MAIL_FROM must be an address like `Example <no-reply@example.com>`",
            )
        };
        match &self.mail_from {
            Some(raw) => raw.parse().map_err(bad),
            None => Address::new("no-reply", public_url.host_str().unwrap_or_default())
                .map(|address| Mailbox::new(Some(product_name.to_owned()), address))
                .map_err(bad),
        }
    }

    /// Where a link of this kind points, before its `token` parameter.
    pub fn verify_email_url(&self, issuer: &str) -> String {
        self.verify_email_url
            .as_ref()
            .map_or_else(|| format!("{issuer}/verify-email"), Url::to_string)
    }

    pub fn reset_password_url(&self, issuer: &str) -> String {
        self.reset_password_url
            .as_ref()
            .map_or_else(|| format!("{issuer}/reset-password"), Url::to_string)
    }
}
