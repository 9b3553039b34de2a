//! Rate limits and lockouts: on or off, the budget of each group of endpoints, and when a
//! run of failed sign-ins locks an account key.

use std::time::Duration;

use portcullis_core::rate_limit::{LockoutPolicy, Rate};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// `on` (the default) or `off` (benchmarks and test harnesses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    #[default]
    On,
    Off,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct LimitsConfig {
    /// Rate limits and lockouts, both.
    pub rate_limit: Switch,
    /// Overrides of the groups' budgets: `login=10/1m,register=20/1h`.
    pub rate_limits: Option<String>,
    /// Consecutive failed sign-ins for one account key before it is locked.
    pub lockout_threshold: u32,
    /// The longest lockout; each lockout doubles from a minute up to it.
    #[serde(with = "humantime_serde")]
    pub lockout_max: Duration,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            rate_limit: Switch::On,
            rate_limits: None,
            lockout_threshold: 10,
            lockout_max: Duration::from_secs(15 * 60),
        }
    }
}

/// The endpoints that share one kind of budget (each endpoint still counts apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Per (client, account); the per-client ceiling is six times it.
    Login,
    Register,
    Mail,
    Link,
    Refresh,
    /// The start and callback of social sign-in.
    Oauth,
}

impl Group {
    pub const ALL: [Self; 6] = [
        Self::Login,
        Self::Register,
        Self::Mail,
        Self::Link,
        Self::Refresh,
        Self::Oauth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Register => "register",
            Self::Mail => "mail",
            Self::Link => "link",
            Self::Refresh => "refresh",
            Self::Oauth => "oauth",
        }
    }

    /// The contract's default: N per minute.
    fn default_per_minute(self) -> u32 {
        match self {
            Self::Login | Self::Register | Self::Mail => 5,
            Self::Link => 10,
            Self::Refresh => 60,
            Self::Oauth => 20,
        }
    }
}

/// Each group's rate, defaults replaced by the overrides.
#[derive(Debug, Clone)]
pub struct Rates([Rate; Group::ALL.len()]);

impl Rates {
    pub fn of(&self, group: Group) -> Rate {
        self.0[group as usize]
    }
}

impl LimitsConfig {
    pub fn enabled(&self) -> bool {
        self.rate_limit == Switch::On
    }

    /// The rates, or which override cannot be read.
    pub fn rates(&self) -> Result<Rates, ConfigError> {
        let mut rates = Group::ALL.map(|group| {
            Rate::per_minute(group.default_per_minute()).expect("the defaults are valid rates")
        });
        let overrides = self.rate_limits.as_deref().unwrap_or_default();
        for entry in overrides
            .split(',')
            .filter(|entry| !entry.trim().is_empty())
        {
            let invalid = |why: &str| {
                ConfigError(format!("PORTCULLIS_RATE_LIMITS: `{}`: {why}", entry.trim()))
            };
            let (name, rate) = entry
                .split_once('=')
                .ok_or_else(|| invalid("not group=rate"))?;
            let group = Group::ALL
                .into_iter()
                .find(|group| group.as_str() == name.trim())
                .ok_or_else(|| {
                    invalid("no such group (login, register, mail, link, refresh, oauth)")
                })?;
            rates[group as usize] = rate
                .parse()
                .map_err(|e: portcullis_core::rate_limit::InvalidRate| invalid(&e.to_string()))?;
        }
        Ok(Rates(rates))
    }

    pub fn lockout(&self) -> Result<LockoutPolicy, ConfigError> {
        LockoutPolicy::new(self.lockout_threshold, self.lockout_max).map_err(|_| {
            ConfigError::new(
                "PORTCULLIS_LOCKOUT_THRESHOLD must be at least 1 and PORTCULLIS_LOCKOUT_MAX from 1s to 1d",
            )
        })
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.rates()?;
        self.lockout().map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(overrides: &str) -> LimitsConfig {
        LimitsConfig {
            rate_limits: Some(overrides.to_owned()),
            ..LimitsConfig::default()
        }
    }

    #[test]
    fn overrides_replace_the_defaults_they_name() {
        let rates = limits("login=10/1m, register=20/1h").rates().unwrap();
        assert_eq!(rates.of(Group::Login).to_string(), "10/1m");
        assert_eq!(rates.of(Group::Register).to_string(), "20/1h");
        assert_eq!(rates.of(Group::Refresh).to_string(), "60/1m");
        assert_eq!(
            LimitsConfig::default()
                .rates()
                .unwrap()
                .of(Group::Link)
                .count(),
            10
        );
    }

    #[test]
    fn unreadable_overrides_are_named() {
        for bad in ["login", "logon=5/1m", "login=5", "login=0/1m"] {
            let err = limits(bad).validate().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
