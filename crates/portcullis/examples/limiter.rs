//! What a rate-limit check costs: Portcullis's GCRA in memory beside the `governor` crate's
//! keyed limiter, and the Redis script over loopback, one check at a time (p50, p99) and with
//! 16 checks in flight. The checks are shaped as sign-ins: two budgets and a lockout, spread
//! over 10,000 clients and accounts.
//!
//!   cargo run --release -p portcullis --example limiter [redis://127.0.0.1:6379]

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::{Quota, RateLimiter};
use portcullis::limiter::{Backend, RedisLimiter};
use portcullis_core::rate_limit::{Check, LockoutPolicy, MemoryLimiter, Rate};

const KEYS: usize = 10_000;

/// Latencies of `count` runs of `one`, sorted, in nanoseconds.
fn timed(count: usize, mut one: impl FnMut(usize)) -> Vec<u128> {
    let mut samples: Vec<u128> = (0..count)
        .map(|n| {
            let start = Instant::now();
            one(n);
            start.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    samples
}

fn report(name: &str, samples: &[u128]) {
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let mean = samples.iter().sum::<u128>() / samples.len() as u128;
    println!(
        "{name:<52} p50 {:>9} ns   p99 {:>9} ns   mean {:>9} ns   {:>11.0} checks/s",
        at(0.50),
        at(0.99),
        mean,
        1e9 / mean as f64
    );
}

struct Keys {
    clients: Vec<String>,
    pairs: Vec<String>,
    accounts: Vec<String>,
}

impl Keys {
    fn new() -> Self {
        let digest = |kind: &str, n: usize| format!("{kind}-{n:040x}");
        Self {
            clients: (0..KEYS)
                .map(|n| digest("POST /api/auth/login|c", n))
                .collect(),
            pairs: (0..KEYS)
                .map(|n| digest("POST /api/auth/login|ca", n))
                .collect(),
            accounts: (0..KEYS).map(|n| digest("id", n)).collect(),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let redis_url = std::env::args().nth(1);
    let keys = Keys::new();
    let rate = Rate::per_minute(5).unwrap();
    let ceiling = rate.times(6).unwrap();
    let lockout = LockoutPolicy::new(10, Duration::from_secs(900)).unwrap();
    let now = 1_700_000_000_000_i64;
    let sign_in = |n: usize| {
        let k = n % KEYS;
        [
            (keys.clients[k].as_str(), ceiling),
            (keys.pairs[k].as_str(), rate),
        ]
    };

    println!("== one check at a time, {KEYS} keys");
    let memory = MemoryLimiter::new(100_000);
    report(
        "memory: one budget (GCRA)",
        &timed(200_000, |n| {
            memory.decide(&Check::budgets(&sign_in(n)[..1]), now + n as i64);
        }),
    );
    let governor = RateLimiter::hashmap(Quota::per_minute(NonZeroU32::new(5).unwrap()));
    report(
        "governor: one budget (keyed, HashMap store)",
        &timed(200_000, |n| {
            let _ = governor.check_key(&keys.clients[n % KEYS]);
        }),
    );
    let memory = MemoryLimiter::new(100_000);
    report(
        "memory: a sign-in (two budgets and a lockout)",
        &timed(200_000, |n| {
            let budgets = sign_in(n);
            let check = Check {
                budgets: &budgets,
                lockout: Some((&keys.accounts[n % KEYS], lockout)),
            };
            memory.decide(&check, now + n as i64);
        }),
    );

    let Some(url) = redis_url else {
        println!("(no Redis URL given: Redis not measured)");
        return;
    };
    let prefix = format!("bench-{}", std::process::id());
    let redis = RedisLimiter::connect_lazily(&url, &prefix, Duration::from_secs(2)).unwrap();
    redis.ping().await.expect("Redis answers");
    let mut samples = Vec::with_capacity(20_000);
    for n in 0..20_000 {
        let budgets = sign_in(n);
        let check = Check {
            budgets: &budgets,
            lockout: Some((&keys.accounts[n % KEYS], lockout)),
        };
        let start = Instant::now();
        redis.decide(&check, now + n as i64).await.unwrap();
        samples.push(start.elapsed().as_nanos());
    }
    samples.sort_unstable();
    report("redis: a sign-in (one script, one round trip)", &samples);

    println!("== 16 checks in flight on one connection");
    let started = Instant::now();
    let total = 64_000;
    let tasks = (0..16).map(|task| {
        let (redis, keys) = (&redis, &keys);
        async move {
            for n in (task..total).step_by(16) {
                let k = n % KEYS;
                let budgets = [
                    (keys.clients[k].as_str(), ceiling),
                    (keys.pairs[k].as_str(), rate),
                ];
                let check = Check {
                    budgets: &budgets,
                    lockout: Some((&keys.accounts[k], lockout)),
                };
                redis.decide(&check, now + n as i64).await.unwrap();
            }
        }
    });
    futures::future::join_all(tasks).await;
    let elapsed = started.elapsed();
    println!(
        "{:<52} {:>11.0} checks/s",
        "redis: sign-in checks",
        total as f64 / elapsed.as_secs_f64()
    );
}
