//! Social sign-in providers, configured by name: `PORTCULLIS_OAUTH_PROVIDERS=google,github,corp`
//! and, for each, `PORTCULLIS_OAUTH_{NAME}_CLIENT_ID`, `_CLIENT_SECRET`, `_ISSUER`, `_SCOPES`
//! and `_DISPLAY_NAME`; GitHub's web and API roots in `PORTCULLIS_OAUTH_GITHUB_URL` and
//! `PORTCULLIS_OAUTH_GITHUB_API_URL`. The names are not known in advance, so these settings are
//! read from the raw keys (see [`OauthConfig::from_keys`]) rather than declared as fields.

use std::collections::BTreeMap;

use url::Url;

use super::ConfigError;
use super::values::Secret;

/// The kind of provider a name stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// OpenID Connect with Google's issuer unless another is set.
    Google,
    /// OAuth 2.0 and GitHub's REST API.
    GitHub,
    /// Any OpenID Connect provider; its issuer is required.
    Oidc,
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Lower-case, as in the paths `/api/auth/oauth/{name}/…`.
    pub name: String,
    pub kind: ProviderKind,
    pub client_id: String,
    pub client_secret: Secret,
    /// OpenID issuer (Google and generic providers).
    pub issuer: Option<Url>,
    /// Scopes asked for: the kind's defaults and any configured.
    pub scopes: Vec<String>,
    pub display_name: String,
}

#[derive(Debug, Clone)]
pub struct OauthConfig {
    pub providers: Vec<ProviderConfig>,
    pub github_url: Url,
    pub github_api_url: Url,
}

impl Default for OauthConfig {
    fn default() -> Self {
        Self {
            providers: Vec::new(),
            github_url: Url::parse("https://github.com").expect("a valid default"),
            github_api_url: Url::parse("https://api.github.com").expect("a valid default"),
        }
    }
}

const GOOGLE_ISSUER: &str = "https://accounts.google.com";

impl ProviderKind {
    fn of(name: &str) -> Self {
        match name {
            "google" => Self::Google,
            "github" => Self::GitHub,
            _ => Self::Oidc,
        }
    }

    fn default_scopes(self) -> &'static [&'static str] {
        match self {
            Self::GitHub => &["read:user", "user:email"],
            Self::Google | Self::Oidc => &["openid", "email", "profile"],
        }
    }

    fn default_display_name(self, name: &str) -> String {
        match self {
            Self::Google => "Google".into(),
            Self::GitHub => "GitHub".into(),
            Self::Oidc => {
                let mut chars = name.chars();
                chars
                    .next()
                    .map(|first| first.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
        }
    }
}

impl OauthConfig {
    /// The providers named by `oauth_providers` among `keys` (setting names lower-cased,
    /// without the `PORTCULLIS_` prefix, as the environment and the TOML file give them).
    pub fn from_keys(keys: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let url = |key: &str, default: &Url| -> Result<Url, ConfigError> {
            match keys.get(key) {
                None => Ok(default.clone()),
                Some(raw) => Url::parse(raw.trim()).map_err(|_| {
                    ConfigError(format!("PORTCULLIS_{}: not a URL", key.to_uppercase()))
                }),
            }
        };
        config.github_url = url("oauth_github_url", &config.github_url)?;
        config.github_api_url = url("oauth_github_api_url", &config.github_api_url)?;
        let listed = keys.get("oauth_providers").map_or("", String::as_str);
        let mut names: Vec<String> = Vec::new();
        for name in listed.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let name = name.to_lowercase();
            if !valid_name(&name) {
                return Err(ConfigError(format!(
                    "PORTCULLIS_OAUTH_PROVIDERS: `{name}` is not a provider name (a letter, then letters, digits or _, at most 32)"
                )));
            }
            if names.contains(&name) {
                return Err(ConfigError(format!(
                    "PORTCULLIS_OAUTH_PROVIDERS: `{name}` is named twice"
                )));
            }
            names.push(name);
        }
        config.providers = names
            .iter()
            .map(|name| provider(name, keys))
            .collect::<Result<_, _>>()?;
        Ok(config)
    }

    pub fn provider(&self, name: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.name == name)
    }

    /// The settings as `config check` shows them, secrets masked.
    pub fn describe(&self) -> Vec<(String, String)> {
        let mut lines = vec![(
            "PORTCULLIS_OAUTH_PROVIDERS".to_owned(),
            self.providers
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
        )];
        for p in &self.providers {
            let var = |field: &str| format!("PORTCULLIS_OAUTH_{}_{field}", p.name.to_uppercase());
            lines.push((var("CLIENT_ID"), p.client_id.clone()));
            lines.push((var("CLIENT_SECRET"), super::values::MASK.to_owned()));
            if let Some(issuer) = &p.issuer {
                lines.push((var("ISSUER"), issuer.to_string()));
            }
            lines.push((var("SCOPES"), p.scopes.join(" ")));
            lines.push((var("DISPLAY_NAME"), p.display_name.clone()));
        }
        if self
            .providers
            .iter()
            .any(|p| p.kind == ProviderKind::GitHub)
        {
            lines.push((
                "PORTCULLIS_OAUTH_GITHUB_URL".into(),
                self.github_url.to_string(),
            ));
            lines.push((
                "PORTCULLIS_OAUTH_GITHUB_API_URL".into(),
                self.github_api_url.to_string(),
            ));
        }
        lines
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let github_urls = [
            ("PORTCULLIS_OAUTH_GITHUB_URL", &self.github_url),
            ("PORTCULLIS_OAUTH_GITHUB_API_URL", &self.github_api_url),
        ];
        for (var, url) in github_urls {
            safe_endpoint(url).map_err(|why| ConfigError(format!("{var}: {why}")))?;
        }
        for p in &self.providers {
            if let Some(issuer) = &p.issuer {
                safe_endpoint(issuer).map_err(|why| {
                    ConfigError(format!(
                        "PORTCULLIS_OAUTH_{}_ISSUER: {why}",
                        p.name.to_uppercase()
                    ))
                })?;
            }
        }
        Ok(())
    }
}

/// A letter, then letters, digits or `_`, at most 32: safe in a path and a variable name.
fn valid_name(name: &str) -> bool {
    name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn provider(name: &str, keys: &BTreeMap<String, String>) -> Result<ProviderConfig, ConfigError> {
    let kind = ProviderKind::of(name);
    let key = |field: &str| format!("oauth_{name}_{field}");
    let var = |field: &str| format!("PORTCULLIS_OAUTH_{}_{}", name.to_uppercase(), field);
    let value = |field: &str| {
        keys.get(&key(field))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let required = |field: &str| {
        value(field).ok_or_else(|| {
            ConfigError(format!(
                "{} is required for the provider `{name}`",
                var(&field.to_uppercase())
            ))
        })
    };
    let issuer = match (kind, value("issuer")) {
        (ProviderKind::GitHub, Some(_)) => {
            return Err(ConfigError(format!(
                "{}: GitHub is not an OpenID provider; set PORTCULLIS_OAUTH_GITHUB_URL instead",
                var("ISSUER")
            )));
        }
        (ProviderKind::GitHub, None) => None,
        (ProviderKind::Google, None) => Some(GOOGLE_ISSUER.to_owned()),
        (ProviderKind::Oidc, None) => Some(required("issuer")?),
        (_, Some(issuer)) => Some(issuer),
    };
    let issuer = issuer
        .map(|raw| {
            Url::parse(&raw).map_err(|_| ConfigError(format!("{}: not a URL", var("ISSUER"))))
        })
        .transpose()?;
    let mut scopes: Vec<String> = kind
        .default_scopes()
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for scope in value("scopes").unwrap_or_default().split([' ', ',']) {
        if !scope.is_empty() && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    Ok(ProviderConfig {
        name: name.to_owned(),
        kind,
        client_id: required("client_id")?,
        client_secret: Secret::from(required("client_secret")?),
        issuer,
        scopes,
        display_name: value("display_name").unwrap_or_else(|| kind.default_display_name(name)),
    })
}

/// Providers are reached over https, or plain http on a loopback address only (development
/// and tests); never with credentials in the URL.
fn safe_endpoint(url: &Url) -> Result<(), &'static str> {
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials");
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" => Err("must be https (plain http only on a loopback address)"),
        _ => Err("must be an https URL"),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(domain)) => domain == "localhost",
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn providers_come_by_name_with_their_defaults() {
        let config = OauthConfig::from_keys(&keys(&[
            ("oauth_providers", "Google, github,corp"),
            ("oauth_google_client_id", "g-id"),
            ("oauth_google_client_secret", "g-secret"),
            ("oauth_github_client_id", "gh-id"),
            ("oauth_github_client_secret", "gh-secret"),
            ("oauth_corp_client_id", "c-id"),
            ("oauth_corp_client_secret", "c-secret"),
            ("oauth_corp_issuer", "https://login.corp.example"),
            ("oauth_corp_scopes", "groups email"),
            ("oauth_corp_display_name", "Corp SSO"),
        ]))
        .unwrap();
        let google = config.provider("google").unwrap();
        assert_eq!(
            google.issuer.as_ref().unwrap().as_str(),
            "https://accounts.google.com/"
        );
        assert_eq!(google.display_name, "Google");
        let github = config.provider("github").unwrap();
        assert_eq!(github.kind, ProviderKind::GitHub);
        assert_eq!(github.scopes, ["read:user", "user:email"]);
        let corp = config.provider("corp").unwrap();
        assert_eq!(corp.scopes, ["openid", "email", "profile", "groups"]);
        assert_eq!(corp.display_name, "Corp SSO");
        assert!(config.validate().is_ok());
        let shown = format!("{:?}", config.describe());
        assert!(
            !shown.contains("c-secret") && shown.contains("PORTCULLIS_OAUTH_CORP_CLIENT_SECRET")
        );
    }

    #[test]
    fn what_is_missing_or_unsafe_is_named() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("oauth_providers", "corp")],
                "PORTCULLIS_OAUTH_CORP_ISSUER",
            ),
            (
                &[
                    ("oauth_providers", "corp"),
                    ("oauth_corp_issuer", "https://x.example"),
                ],
                "PORTCULLIS_OAUTH_CORP_CLIENT_ID",
            ),
            (&[("oauth_providers", "c-o-r-p")], "not a provider name"),
            (&[("oauth_providers", "a,a")], "named twice"),
            (
                &[
                    ("oauth_providers", "github"),
                    ("oauth_github_issuer", "https://x"),
                ],
                "not an OpenID provider",
            ),
        ];
        for (pairs, expected) in cases {
            let err = OauthConfig::from_keys(&keys(pairs))
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{err}");
        }
        let plain = OauthConfig::from_keys(&keys(&[
            ("oauth_providers", "corp"),
            ("oauth_corp_client_id", "id"),
            ("oauth_corp_client_secret", "secret"),
            ("oauth_corp_issuer", "http://login.corp.example"),
        ]))
        .unwrap();
        assert!(plain.validate().unwrap_err().to_string().contains("https"));
        let loopback = OauthConfig::from_keys(&keys(&[
            ("oauth_providers", "corp"),
            ("oauth_corp_client_id", "id"),
            ("oauth_corp_client_secret", "secret"),
            ("oauth_corp_issuer", "http://127.0.0.1:4000"),
        ]))
        .unwrap();
        assert!(loopback.validate().is_ok());
    }
}
