//! Limits in Redis, shared by every node: one Lua script decides a whole check in one round
//! trip, by the rules of `MemoryLimiter` (the script says how; a test holds the two to the
//! same answers). Keys are `{prefix}:rl:…`; they hold keyed hashes, never an address or an
//! identifier, and expire when their state is worth nothing more.

use std::time::Duration;

use portcullis_core::rate_limit::{Check, Decision, Limit};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script};

use super::{Backend, Unreachable};

const CHECK: &str = include_str!("check.lua");

/// Deletes a lockout; answers 1 when it was locked at `ARGV[1]`.
const CLEAR: &str = r"
local u = tonumber(redis.call('HGET', KEYS[1], 'u')) or 0
redis.call('DEL', KEYS[1])
if u > tonumber(ARGV[1]) then return 1 end
return 0
";

pub struct RedisLimiter {
    connection: ConnectionManager,
    check: Script,
    clear: Script,
    prefix: String,
}

impl RedisLimiter {
    /// A limiter on the Redis at `url`, connected on first use (so that a node starts while
    /// Redis is down), each connection attempt and answer bounded by `timeout`.
    pub fn connect_lazily(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(timeout);
        Ok(Self {
            connection: ConnectionManager::new_lazy_with_config(client, config)?,
            check: Script::new(CHECK),
            clear: Script::new(CLEAR),
            prefix: format!("{prefix}:rl:"),
        })
    }

    pub async fn ping(&self) -> Result<(), Unreachable> {
        let mut connection = self.connection.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .map(drop)
            .map_err(unreachable)
    }

    fn key(&self, kind: &str, key: &str) -> String {
        format!("{}{kind}:{key}", self.prefix)
    }
}

fn unreachable(err: RedisError) -> Unreachable {
    Unreachable(err.to_string())
}

impl Backend for RedisLimiter {
    async fn decide(&self, check: &Check<'_>, now_ms: i64) -> Result<Decision, Unreachable> {
        let mut invocation = self.check.prepare_invoke();
        for (key, _) in check.budgets {
            invocation.key(self.key("b", key));
        }
        for (key, _) in check.budgets {
            invocation.key(self.key("r", key));
        }
        invocation.arg(now_ms).arg(check.budgets.len());
        for (_, rate) in check.budgets {
            invocation
                .arg(rate.interval_ms())
                .arg(rate.tolerance_ms())
                .arg(rate.period_ms());
        }
        if let Some((key, policy)) = check.lockout {
            invocation
                .key(self.key("l", key))
                .arg(policy.threshold())
                .arg(policy.max_ms())
                .arg(policy.memory_ms());
        }
        let mut connection = self.connection.clone();
        let (kind, index, wait, first): (u8, usize, i64, u8) = invocation
            .invoke_async(&mut connection)
            .await
            .map_err(unreachable)?;
        Ok(match kind {
            0 => Decision::Allowed,
            1 if index < check.budgets.len() => {
                Decision::limited(Limit::Budget(index), wait, first == 1)
            }
            2 => Decision::limited(Limit::Lockout, wait, first == 1),
            _ => return Err(Unreachable(format!("unexpected answer {kind}/{index}"))),
        })
    }

    async fn clear_lockout(&self, key: &str, now_ms: i64) -> Result<bool, Unreachable> {
        let mut connection = self.connection.clone();
        let was_locked: u8 = self
            .clear
            .key(self.key("l", key))
            .arg(now_ms)
            .invoke_async(&mut connection)
            .await
            .map_err(unreachable)?;
        Ok(was_locked == 1)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use portcullis_core::rate_limit::{LockoutPolicy, MemoryLimiter, Rate};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    /// The script and `MemoryLimiter` give the same answers to the same checks: 5,000 random
    /// ones over a few keys, rates and lockouts, with time moving on and lockouts cleared.
    /// Runs where `TEST_REDIS_URL` names a Redis.
    #[tokio::test]
    async fn the_script_decides_as_memory_does() {
        let Some(url) = std::env::var("TEST_REDIS_URL")
            .ok()
            .filter(|u| !u.is_empty())
        else {
            return;
        };
        let prefix = format!("parity-{}", uuid::Uuid::now_v7().simple());
        let redis = RedisLimiter::connect_lazily(&url, &prefix, Duration::from_secs(2)).unwrap();
        let memory = MemoryLimiter::new(1_000);
        let rates = [
            Rate::per_minute(1).unwrap(),
            Rate::per_minute(5).unwrap(),
            Rate::new(7, Duration::from_secs(10)).unwrap(),
        ];
        let policies = [
            LockoutPolicy::new(3, Duration::from_secs(900)).unwrap(),
            LockoutPolicy::new(2, Duration::from_secs(20)).unwrap(),
        ];
        let keys = ["a", "b", "c", "d"];
        let mut rng = StdRng::seed_from_u64(7);
        let mut now = 1_700_000_000_000_i64;
        for step in 0..5_000 {
            now += [0, 0, 1, 999, 12_000, 61_000][rng.gen_range(0..6)];
            let lockout_key = keys[rng.gen_range(0..keys.len())];
            if rng.gen_ratio(1, 20) {
                assert_eq!(
                    redis.clear_lockout(lockout_key, now).await.unwrap(),
                    memory.clear_lockout(lockout_key, now),
                    "clear at step {step}"
                );
                continue;
            }
            let budgets: Vec<(&str, Rate)> = (0..rng.gen_range(0..3))
                .map(|i| {
                    (
                        keys[(i + rng.gen_range(0..2)) % keys.len()],
                        rates[rng.gen_range(0..3)],
                    )
                })
                .collect();
            let check = Check {
                budgets: &budgets,
                lockout: rng
                    .gen_bool(0.6)
                    .then(|| (lockout_key, policies[rng.gen_range(0..2)])),
            };
            assert_eq!(
                redis.decide(&check, now).await.unwrap(),
                memory.decide(&check, now),
                "step {step}: {check:?}"
            );
        }
    }
}
