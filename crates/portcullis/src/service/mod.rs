//! The core of Portcullis: one function per use case (sign-in, registration, refresh,
//! sign-out, passwords, email, sessions, administration, import), each deciding everything
//! its rule needs, behind its own error type and without HTTP types. The JSON API, the
//! command line and (later) hosted pages and social sign-in are adapters over it.

pub mod accounts;
pub mod admin;
pub mod audit;
pub mod audit_trail;
pub mod background;
pub mod change;
pub mod client;
pub mod credentials;
pub mod email;
pub mod error;
pub mod import;
pub mod limits;
pub mod links;
pub mod oauth;
pub mod password;
pub mod policy;
pub mod profile;
pub mod redirects;
pub mod refresh;
pub mod registration;
pub mod sessions;
pub mod settings;
pub mod sign_in;
pub mod sign_out;
pub mod tokens;

use std::sync::Arc;

use portcullis_core::{Clock, PasswordHasher, TokenHasher};
use portcullis_store::{Liveness, Store};

pub use client::Client;
pub use error::{ServiceError, ServiceResult, Violations};

use self::background::Background;
use self::policy::Policy;
use self::settings::{RuntimeSettings, Settings};
use crate::cache::AuthCache;
use crate::config::Config;
use crate::hash_pool::HashPool;
use crate::jwt::AccessTokens;
use crate::keys::Keys;
use crate::mail::Mailer;
use crate::oauth::Providers;
use crate::secret::{DerivedKeys, load_secret};

/// What the use cases need, and nothing of HTTP: the store, the clock, hashing, token
/// signing and hashing, mail, and the policy read from the configuration.
pub struct Core {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub hashing: HashPool,
    pub tokens: AccessTokens,
    pub token_hasher: TokenHasher,
    pub mailer: Arc<Mailer>,
    pub policy: Policy,
    pub background: Background,
    pub limits: limits::Limits,
    /// Social sign-in providers.
    pub providers: Providers,
    /// Seals the secrets of social sign-ins under way.
    pub state_key: [u8; 32],
    /// The switches admins flip at run time, over the configuration's defaults.
    pub settings: RuntimeSettings,
    /// This node's copies of hot sessions and users.
    pub cache: Arc<AuthCache>,
}

impl Core {
    /// The core over `store`: the server secret and the keys derived from it, the signing
    /// keys (made on first start), the hasher and the mailer.
    pub async fn new(config: &Config, store: Store, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let derived = DerivedKeys::from_secret(&load_secret(config)?);
        let settings = crate::startup::key_settings(config, derived.key_encryption)?;
        let keys = Keys::load(&store, settings, clock.now_ms()).await?;
        let tokens = AccessTokens::new(
            keys,
            config.issuer(),
            config.audience(),
            secs(config.tokens.access_token_ttl),
            secs(config.tokens.jwt_leeway),
            config.sessions.auth_cache_entries,
        );
        let hasher = PasswordHasher::new(config.passwords.hash_params())?;
        let settings = RuntimeSettings::new(Settings::from_config(config));
        settings.reload(&store).await?;
        Ok(Self {
            hashing: HashPool::new(
                hasher,
                config.passwords.hash_workers(),
                config.passwords.hash_queue(),
            ),
            tokens,
            token_hasher: derived.token_hasher,
            mailer: Arc::new(Mailer::new(config, derived.mail_encryption)?),
            policy: Policy::from_config(config)?,
            background: Background::new(config.operations.background_tasks),
            limits: limits::Limits::from_config(config)?,
            providers: Providers::from_config(config, clock.clone())?,
            state_key: derived.state_encryption,
            settings,
            // Trusted from the start where this node's own writes are all there is (SQLite).
            cache: Arc::new(AuthCache::new(
                config.sessions.auth_cache_entries,
                !store.has_change_feed(),
            )),
            clock,
            store,
        })
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The bounds within which a session is live right now.
    pub fn liveness(&self) -> Liveness {
        let now = self.now();
        Liveness {
            now,
            idle_cutoff: now - self.policy.session_idle_ms,
        }
    }
}

pub fn millis(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn secs(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
