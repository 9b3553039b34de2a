//! The node's rate limiter: one interface ([`Backend`]) over two backends, this process's
//! memory ([`MemoryLimiter`]) and Redis ([`RedisLimiter`]), which decide by the same rules.
//! [`Limiter`] uses Redis when one is configured, so that limits and lockouts hold across
//! nodes, and its own memory while Redis does not answer: a check never waits on Redis longer
//! than `PORTCULLIS_REDIS_TIMEOUT`, the outage is logged once, counted and shown by
//! readiness, and a probe returns the node to Redis as soon as it answers again.

pub mod redis;

use std::future::{Future, ready};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use portcullis_core::rate_limit::{Check, Decision, MemoryLimiter};

pub use self::redis::RedisLimiter;
use crate::config::RedisConfig;

/// Keys one node tracks at most, per table; a flood of distinct keys beyond it makes a table
/// forget the keys nearest to a full budget first (see `MemoryLimiter`).
const MAX_KEYS: usize = 100_000;

/// How often a node whose Redis stopped answering asks it again.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// A store of limits that decides a [`Check`] whole, in one step.
pub trait Backend: Send + Sync {
    /// Decides `check` at `now_ms` (see `MemoryLimiter::decide`).
    fn decide(
        &self,
        check: &Check<'_>,
        now_ms: i64,
    ) -> impl Future<Output = Result<Decision, Unreachable>> + Send;

    /// Clears `key`'s failures and lockout; true when it was locked at `now_ms`.
    fn clear_lockout(
        &self,
        key: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, Unreachable>> + Send;
}

/// The store did not answer in time, or failed.
#[derive(Debug, thiserror::Error)]
#[error("the rate-limit store did not answer: {0}")]
pub struct Unreachable(pub String);

impl Backend for MemoryLimiter {
    fn decide(
        &self,
        check: &Check<'_>,
        now_ms: i64,
    ) -> impl Future<Output = Result<Decision, Unreachable>> + Send {
        ready(Ok(MemoryLimiter::decide(self, check, now_ms)))
    }

    fn clear_lockout(
        &self,
        key: &str,
        now_ms: i64,
    ) -> impl Future<Output = Result<bool, Unreachable>> + Send {
        ready(Ok(MemoryLimiter::clear_lockout(self, key, now_ms)))
    }
}

/// Whether the shared store answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SharedState {
    Ok,
    /// Limits are this node's own until the store answers again.
    Degraded,
}

/// This node's limiter: Redis when configured and answering, else memory.
pub struct Limiter {
    memory: MemoryLimiter,
    shared: Option<Shared>,
}

struct Shared {
    redis: RedisLimiter,
    timeout: Duration,
    degraded: AtomicBool,
}

impl Limiter {
    /// Limits in this node's memory only.
    pub fn in_memory() -> Self {
        Self {
            memory: MemoryLimiter::new(MAX_KEYS),
            shared: None,
        }
    }

    /// Limits in Redis when `config` names one (connected on first use), else in memory.
    pub fn from_config(config: &RedisConfig) -> anyhow::Result<Self> {
        let mut limiter = Self::in_memory();
        if let Some(url) = &config.redis_url {
            let redis = RedisLimiter::connect_lazily(
                url.expose(),
                &config.redis_prefix,
                config.redis_timeout,
            )?;
            metrics::gauge!(crate::metrics::RATE_LIMIT_DEGRADED).set(0.0);
            limiter.shared = Some(Shared {
                redis,
                timeout: config.redis_timeout,
                degraded: AtomicBool::new(false),
            });
        }
        Ok(limiter)
    }

    /// Decides `check` in Redis, or in memory when there is no Redis or it does not answer.
    pub async fn decide(&self, check: &Check<'_>, now_ms: i64) -> Decision {
        if let Some(shared) = self.shared.as_ref().filter(|s| !s.is_degraded()) {
            match shared.call(shared.redis.decide(check, now_ms)).await {
                Ok(decision) => return decision,
                Err(err) => shared.degrade(&err),
            }
        }
        self.memory.decide(check, now_ms)
    }

    /// Clears `key`'s failures and lockout everywhere they may be kept; true when it was
    /// locked. Fails when Redis holds the lockout and does not answer.
    pub async fn clear_lockout(&self, key: &str, now_ms: i64) -> Result<bool, Unreachable> {
        let local = self.memory.clear_lockout(key, now_ms);
        let Some(shared) = &self.shared else {
            return Ok(local);
        };
        match shared.call(shared.redis.clear_lockout(key, now_ms)).await {
            Ok(shared_lock) => Ok(shared_lock || local),
            Err(err) => {
                shared.degrade(&err);
                Err(err)
            }
        }
    }

    /// Asks Redis whether it answers, and moves the node to or from its fallback by the
    /// answer; `None` when no Redis is configured.
    pub async fn probe(&self) -> Option<SharedState> {
        let shared = self.shared.as_ref()?;
        Some(match shared.call(shared.redis.ping()).await {
            Ok(()) => {
                shared.recover();
                SharedState::Ok
            }
            Err(err) => {
                shared.degrade(&err);
                SharedState::Degraded
            }
        })
    }

    /// While Redis is configured, probes it every second when it has stopped answering, so
    /// that the node returns to shared limits soon after it is back.
    pub async fn watch(&self) {
        let Some(shared) = &self.shared else {
            return;
        };
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            if shared.is_degraded() {
                self.probe().await;
            }
        }
    }
}

impl Shared {
    fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Runs one call to Redis, given up after the timeout.
    async fn call<T>(
        &self,
        call: impl Future<Output = Result<T, Unreachable>>,
    ) -> Result<T, Unreachable> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(Unreachable(format!("no answer within {:?}", self.timeout))),
        }
    }

    fn degrade(&self, err: &Unreachable) {
        metrics::counter!(crate::metrics::REDIS_ERRORS).increment(1);
        if !self.degraded.swap(true, Ordering::Relaxed) {
            metrics::gauge!(crate::metrics::RATE_LIMIT_DEGRADED).set(1.0);
            tracing::warn!(
                error = %err,
                "Redis does not answer: rate limits and lockouts are per node until it does"
            );
        }
    }

    fn recover(&self) {
        if self.degraded.swap(false, Ordering::Relaxed) {
            metrics::gauge!(crate::metrics::RATE_LIMIT_DEGRADED).set(0.0);
            tracing::info!("Redis answers again: rate limits and lockouts are shared again");
        }
    }
}
