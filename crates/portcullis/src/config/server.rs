//! Where the server listens and how it is reached: mode, address, public URL, origins,
//! proxies, cookies and HTTP limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use url::Url;

use super::ConfigError;
use super::values::{Cidr, Origin, list};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Development,
    Production,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct ServerConfig {
    pub env: Mode,
    pub addr: SocketAddr,
    /// Where development mode keeps its SQLite file and generated secret.
    pub data_dir: PathBuf,
    /// The URL users reach: links, `iss`, the origin always allowed.
    pub public_url: Url,
    /// Origins trusted for CORS, CSRF and redirects, beside the public URL's.
    #[serde(with = "list")]
    pub allowed_origins: Vec<Origin>,
    /// Peers whose `X-Forwarded-For` is believed.
    #[serde(with = "list")]
    pub trusted_proxies: Vec<Cidr>,
    /// `false` only for plain-http development: drops `Secure` and the `__Host-` prefix.
    pub cookie_secure: bool,
    /// Send Strict-Transport-Security even when the public URL is not https.
    pub hsts: bool,
    pub body_limit_bytes: usize,
    /// `json` or `pretty`; pretty in development and JSON in production when unset.
    pub log_format: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            env: Mode::Development,
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./data"),
            public_url: Url::parse("http://localhost:8080").expect("a valid default URL"),
            allowed_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            cookie_secure: true,
            hsts: false,
            body_limit_bytes: 64 * 1024,
            log_format: None,
        }
    }
}

impl ServerConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.public_url.scheme(), "http" | "https")
            || Origin::of(&self.public_url).is_none()
            || !self.public_url.username().is_empty()
        {
            return Err(ConfigError::new(
                "PORTCULLIS_PUBLIC_URL must be an absolute http(s) URL",
            ));
        }
        if self.env == Mode::Production {
            if self.public_url.scheme() != "https" {
                return Err(ConfigError::new(
                    "production needs an https PORTCULLIS_PUBLIC_URL",
                ));
            }
            if !self.cookie_secure {
                return Err(ConfigError::new(
                    "PORTCULLIS_COOKIE_SECURE=false is allowed only in development",
                ));
            }
        }
        Ok(())
    }

    /// The `iss` of tokens and the root of links: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// Origins trusted for CORS and CSRF: the public URL's, then the configured ones.
    pub fn origins(&self) -> Vec<String> {
        let mut origins: Vec<String> = Origin::of(&self.public_url)
            .into_iter()
            .chain(self.allowed_origins.iter().cloned())
            .map(|o| o.as_str().to_owned())
            .collect();
        origins.dedup();
        origins
    }

    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies.iter().map(|c| c.0).collect()
    }

    /// `Secure` cookies carry the `__Host-` prefix; plain-http development drops both.
    pub fn cookie_prefix(&self) -> &'static str {
        if self.cookie_secure { "__Host-" } else { "" }
    }

    /// HSTS is sent when configured or when the public URL is https.
    pub fn hsts(&self) -> bool {
        self.hsts || self.public_url.scheme() == "https"
    }

    pub fn is_production(&self) -> bool {
        self.env == Mode::Production
    }
}
