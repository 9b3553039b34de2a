//! What every handler can reach. Built once in `startup`, cloned cheaply per request.

use std::ops::Deref;
use std::sync::Arc;

use ipnet::IpNet;
use portcullis_core::{Clock, PasswordPolicy, TokenHasher};
use portcullis_store::{Liveness, Store};

use crate::background::Background;
use crate::config::Config;
use crate::hash_pool::HashPool;
use crate::http::cookies::CookieSettings;
use crate::jwt::AccessTokens;
use crate::mail::Mailer;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hash_pool: HashPool,
    pub tokens: AccessTokens,
    pub token_hasher: TokenHasher,
    pub cookies: CookieSettings,
    pub origins: Vec<String>,
    pub trusted_proxies: Vec<IpNet>,
    pub policy: PasswordPolicy,
    pub mailer: Arc<Mailer>,
    pub background: Background,
}

impl AppState {
    pub fn new(inner: Inner) -> Self {
        Self(Arc::new(inner))
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The bounds within which a session is live right now.
    pub fn liveness(&self) -> Liveness {
        let now = self.now();
        Liveness {
            now,
            idle_cutoff: now - millis(self.config.session_idle_timeout),
        }
    }
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

pub fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
