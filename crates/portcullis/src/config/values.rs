//! Value types and (de)serialisers shared by the sections: durations as `30s`, `15m`, `24h`,
//! `7d`; lists as comma-separated text (environment) or arrays (TOML); secrets that
//! serialise masked, so `config check` can print the whole configuration as it is.

use std::fmt;
use std::str::FromStr;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const MASK: &str = "********";

/// A secret setting: redacted in `Debug`, masked in `config check`.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(SecretString);

impl Secret {
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(SecretString::from(value))
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(SecretString::from(value))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

/// A URL that may carry a password (`DATABASE_URL`, `REDIS_URL`, `PORTCULLIS_SMTP_URL`):
/// secret as a whole, shown by `config check` with its password masked, whatever characters
/// the password holds.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The URL with its credentials masked. A URL that parses with a password shows its user
    /// and the mask; anything else that holds an `@` shows the mask for everything before the
    /// last `@`, wherever a stray `/`, `?` or `#` in the password would have ended it.
    pub fn masked(&self) -> String {
        let raw = self.expose();
        let Some((before, host)) = raw.rsplit_once('@') else {
            return raw.to_owned();
        };
        if let Ok(mut url) = url::Url::parse(raw)
            && url.password().is_some()
            && url.set_password(Some(MASK)).is_ok()
            && url.as_str().matches('@').count() == 1
        {
            return url.to_string();
        }
        match before.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{MASK}@{host}"),
            None => MASK.to_owned(),
        }
    }
}

impl From<&str> for SecretUrl {
    fn from(value: &str) -> Self {
        Self(Secret::from(value))
    }
}

impl From<String> for SecretUrl {
    fn from(value: String) -> Self {
        Self(Secret::from(value))
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretUrl(**redacted**)")
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.masked())
    }
}

/// `Vec<T>` from `a,b,c` (environment) or `["a", "b"]` (TOML); empty items are dropped.
pub mod list {
    use super::*;

    pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: fmt::Display,
    {
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
        items
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse()
                    .map_err(|e| serde::de::Error::custom(format!("{s:?}: {e}")))
            })
            .collect()
    }

    /// Written back as `a,b,c`, the way the environment gives it.
    pub fn serialize<S, T>(items: &[T], serializer: S) -> Result<S::Ok, S::Error>
    where
        S: Serializer,
        T: fmt::Display,
    {
        let text: Vec<String> = items.iter().map(ToString::to_string).collect();
        serializer.serialize_str(&text.join(","))
    }
}

/// A CIDR or a bare address (a /32 or /128).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(pub ipnet::IpNet);

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
            .map(Self)
            .map_err(|_| "not a CIDR or an IP address".to_owned())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// An origin, `scheme://host[:port]`, lowercased, never `null`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin(String);

impl Origin {
    /// The origin of an absolute http(s) URL.
    pub fn of(url: &url::Url) -> Option<Self> {
        let origin = url.origin();
        origin
            .is_tuple()
            .then(|| Self(origin.ascii_serialization()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let refuse = || format!("{s:?} is not an origin like https://app.example.com");
        let url = url::Url::parse(s).map_err(|_| refuse())?;
        let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none();
        let plain = url.username().is_empty() && url.password().is_none();
        match Self::of(&url) {
            Some(origin) if bare && plain && matches!(url.scheme(), "http" | "https") => Ok(origin),
            _ => Err(refuse()),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_masked_whatever_they_hold() {
        let masked = |raw: &str| SecretUrl::from(raw).masked();
        assert_eq!(
            masked("postgres://app:hunter2@db/portcullis"),
            "postgres://app:********@db/portcullis"
        );
        for tricky in [
            "postgres://app:p@ss:w0rd@db/portcullis",
            "postgres://app:a:b@c@db:5432/portcullis",
            "postgres://app:%40%3A@db/portcullis",
        ] {
            let shown = masked(tricky);
            for part in ["p@ss", "w0rd", "a:b", "c@db", "%40%3A"] {
                assert!(!shown.contains(part), "{tricky} shown as {shown}");
            }
        }
        assert_eq!(
            masked("sqlite://./data/portcullis.db"),
            "sqlite://./data/portcullis.db"
        );
        assert_eq!(masked("not a url with a p@ssword"), MASK);
        assert_eq!(
            masked("postgres://app:/a#0#A#A@db.internal:5432/portcullis"),
            "postgres://********@db.internal:5432/portcullis"
        );
        assert!(!format!("{:?}", SecretUrl::from("postgres://a:hunter2@b/c")).contains("hunter2"));
    }

    #[test]
    fn origins_are_bare_scheme_host_and_port() {
        assert_eq!(
            "https://App.Example.com"
                .parse::<Origin>()
                .unwrap()
                .as_str(),
            "https://app.example.com"
        );
        assert_eq!(
            "http://localhost:8080/".parse::<Origin>().unwrap().as_str(),
            "http://localhost:8080"
        );
        for bad in [
            "null",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "ftp://app.example.com",
            "app.example.com",
        ] {
            assert!(bad.parse::<Origin>().is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// The mask hides the password, whatever characters it holds.
        #[test]
        fn a_masked_url_never_shows_its_password(password in "[!-~]{8,40}") {
            let raw = format!("postgres://app:{password}@db.internal:5432/portcullis");
            let shown = SecretUrl::from(raw.as_str()).masked();
            prop_assert!(!shown.contains(&password), "{shown}");
        }

        /// Origins parse totally, and one that parses reads back as itself.
        #[test]
        fn origins_parse_totally_and_round_trip(raw in "\\PC{0,60}|https?://[a-zA-Z0-9.-]{1,20}(:[0-9]{1,5})?/?") {
            if let Ok(origin) = raw.parse::<Origin>() {
                prop_assert_eq!(origin.as_str().parse::<Origin>().unwrap(), origin.clone());
                prop_assert!(origin.as_str() != "null");
            }
            let _ = raw.parse::<Cidr>();
        }

        /// Durations as the configuration reads them parse totally.
        #[test]
        fn durations_parse_totally(raw in "\\PC{0,20}|[0-9]{1,6}(ms|s|m|h|d)") {
            let _ = humantime::parse_duration(&raw);
        }
    }
}
