//! Rate limiting by GCRA (the generic cell rate algorithm), in memory: a rate of N per period
//! answers a burst of N and then one request every period ÷ N. Each key keeps one number, its
//! theoretical arrival time (TAT), so a check is a lookup and a compare; a refused request
//! changes nothing, so refusals do not count against the budget.
//!
//! The table is bounded. A key whose TAT has passed is a full budget, the same as no entry,
//! so such keys are dropped first; if a flood of distinct keys still fills the table, the
//! half of it nearest to a full budget is forgotten at once (amortised O(1) a check). Those
//! keys get a fresh budget early: the bound costs accuracy for keys already almost refilled,
//! never memory.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

/// `count` requests per `period`: a burst of `count`, refilling at `count` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    count: u32,
    period_ms: i64,
}

/// A rate that cannot be: no requests, no period, or a period beyond a day.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a rate is `count/duration` with 1 ≤ count ≤ 1,000,000 and 1 s ≤ duration ≤ 1 d, such as `5/1m`"
)]
pub struct InvalidRate;

impl Rate {
    const MAX_COUNT: u32 = 1_000_000;
    const MAX_PERIOD: Duration = Duration::from_secs(86_400);

    pub fn new(count: u32, period: Duration) -> Result<Self, InvalidRate> {
        if count == 0
            || count > Self::MAX_COUNT
            || period < Duration::from_secs(1)
            || period > Self::MAX_PERIOD
        {
            return Err(InvalidRate);
        }
        Ok(Self {
            count,
            period_ms: i64::try_from(period.as_millis()).map_err(|_| InvalidRate)?,
        })
    }

    /// `count` per minute.
    pub fn per_minute(count: u32) -> Result<Self, InvalidRate> {
        Self::new(count, Duration::from_secs(60))
    }

    pub fn count(self) -> u32 {
        self.count
    }

    pub fn period(self) -> Duration {
        Duration::from_millis(self.period_ms.unsigned_abs())
    }

    /// The same period, `factor` times the count (the per-client figure beside a per-account
    /// one, say).
    pub fn times(self, factor: u32) -> Result<Self, InvalidRate> {
        Self::new(self.count.saturating_mul(factor), self.period())
    }

    /// The time one request's place takes to refill, rounded up so that a burst never exceeds
    /// `count`.
    fn interval_ms(self) -> i64 {
        (self.period_ms + i64::from(self.count) - 1) / i64::from(self.count)
    }

    /// How far ahead of now a key's TAT may run: the whole burst.
    fn tolerance_ms(self) -> i64 {
        self.interval_ms() * i64::from(self.count)
    }
}

impl FromStr for Rate {
    type Err = InvalidRate;

    /// `5/1m`, `20/1h`, `100/30s` (the duration in humantime's form).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (count, period) = text.trim().split_once('/').ok_or(InvalidRate)?;
        let count = count.trim().parse().map_err(|_| InvalidRate)?;
        let period = humantime::parse_duration(period.trim()).map_err(|_| InvalidRate)?;
        Self::new(count, period)
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.count,
            humantime::format_duration(self.period())
        )
    }
}

/// The answer to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused; the next request would be answered after `retry_after`, when the budget at
    /// index `by` of those checked (the one with the longest wait) has room again.
    Limited {
        retry_after: Duration,
        by: usize,
    },
}

impl Decision {
    /// Refused by budget `by`, `ms` milliseconds before its next place frees.
    fn limited(by: usize, ms: i64) -> Self {
        Self::Limited {
            retry_after: Duration::from_millis(ms.max(1).unsigned_abs()),
            by,
        }
    }

    /// `Retry-After` in whole seconds, at least 1, rounded up.
    pub fn retry_after_secs(self) -> Option<u64> {
        match self {
            Self::Allowed => None,
            Self::Limited { retry_after, .. } => {
                Some(retry_after.as_millis().div_ceil(1000).max(1) as u64)
            }
        }
    }
}

/// A bounded table of keys and their TATs, safe to share between threads.
pub struct MemoryLimiter {
    tats: Mutex<HashMap<Box<str>, i64>>,
    capacity: usize,
}

impl MemoryLimiter {
    /// A table of at most `capacity` keys (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self {
            tats: Mutex::new(HashMap::new()),
            capacity: capacity.max(2),
        }
    }

    /// Spends one request of `key`'s budget at `rate` at time `now_ms`, or refuses without
    /// spending anything.
    pub fn check(&self, key: &str, rate: Rate, now_ms: i64) -> Decision {
        self.check_all(&[(key, rate)], now_ms)
    }

    /// Spends one request of every budget, `(key, rate)`, at once, or refuses without
    /// spending any: a request one budget refuses counts against none of the others.
    pub fn check_all(&self, budgets: &[(&str, Rate)], now_ms: i64) -> Decision {
        let mut tats = self
            .tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = |tats: &HashMap<Box<str>, i64>, key: &str, rate: Rate| {
            tats.get(key).copied().unwrap_or(now_ms).max(now_ms) + rate.interval_ms()
        };
        let mut refused: Option<(usize, i64)> = None;
        for (by, &(key, rate)) in budgets.iter().enumerate() {
            let over = next(&tats, key, rate) - now_ms - rate.tolerance_ms();
            if over > 0 && refused.is_none_or(|(_, longest)| over > longest) {
                refused = Some((by, over));
            }
        }
        if let Some((by, over)) = refused {
            return Decision::limited(by, over);
        }
        for &(key, rate) in budgets {
            let after = next(&tats, key, rate);
            if let Some(entry) = tats.get_mut(key) {
                *entry = after;
            } else {
                if tats.len() >= self.capacity {
                    make_room(&mut tats, now_ms, self.capacity);
                }
                tats.insert(key.into(), after);
            }
        }
        Decision::Allowed
    }

    /// Forgets `key`: its budget is full again.
    pub fn reset(&self, key: &str) {
        self.tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(key);
    }

    /// Keys held now.
    pub fn len(&self) -> usize {
        self.tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Drops the keys whose budget is full again; if the table is still full, the half nearest
/// to a full budget (the lowest TATs).
fn make_room(tats: &mut HashMap<Box<str>, i64>, now_ms: i64, capacity: usize) {
    tats.retain(|_, tat| *tat > now_ms);
    if tats.len() < capacity {
        return;
    }
    let mut order: Vec<i64> = tats.values().copied().collect();
    let middle = order.len() / 2;
    let (_, &mut cut, _) = order.select_nth_unstable(middle);
    tats.retain(|_, tat| *tat > cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five_a_minute() -> Rate {
        "5/1m".parse().unwrap()
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let limiter = MemoryLimiter::new(100);
        let rate = five_a_minute();
        for _ in 0..5 {
            assert_eq!(limiter.check("k", rate, 0), Decision::Allowed);
        }
        let refused = limiter.check("k", rate, 0);
        assert_eq!(refused.retry_after_secs(), Some(12));
        // Refusals spend nothing: 12 s later exactly one more is answered.
        assert_eq!(limiter.check("k", rate, 11_999).retry_after_secs(), Some(1));
        assert_eq!(limiter.check("k", rate, 12_000), Decision::Allowed);
        assert!(matches!(
            limiter.check("k", rate, 12_000),
            Decision::Limited { .. }
        ));
        // A minute of quiet refills the whole burst.
        for _ in 0..5 {
            assert_eq!(limiter.check("k", rate, 72_000), Decision::Allowed);
        }
    }

    #[test]
    fn keys_have_budgets_of_their_own() {
        let limiter = MemoryLimiter::new(100);
        let rate = Rate::per_minute(1).unwrap();
        assert_eq!(limiter.check("a", rate, 0), Decision::Allowed);
        assert_eq!(limiter.check("b", rate, 0), Decision::Allowed);
        assert!(matches!(
            limiter.check("a", rate, 0),
            Decision::Limited { .. }
        ));
        limiter.reset("a");
        assert_eq!(limiter.check("a", rate, 0), Decision::Allowed);
    }

    #[test]
    fn a_flood_of_distinct_keys_cannot_grow_the_table() {
        let limiter = MemoryLimiter::new(1_000);
        let rate = five_a_minute();
        for n in 0..50_000 {
            limiter.check(&format!("key-{n}"), rate, n);
            assert!(limiter.len() <= 1_000);
        }
        // The most recent keys are kept, so a key under attack now keeps its count.
        for _ in 0..4 {
            limiter.check("victim", rate, 50_000);
        }
        assert_eq!(limiter.check("victim", rate, 50_000), Decision::Allowed);
        assert!(matches!(
            limiter.check("victim", rate, 50_000),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn rates_parse_and_refuse_the_impossible() {
        assert_eq!(
            "10/1m".parse::<Rate>().unwrap(),
            Rate::per_minute(10).unwrap()
        );
        assert_eq!(
            " 20 / 1h ".parse::<Rate>().unwrap().period(),
            Duration::from_secs(3600)
        );
        assert_eq!("20/1h".parse::<Rate>().unwrap().to_string(), "20/1h");
        for bad in [
            "",
            "5",
            "0/1m",
            "5/0s",
            "5/500ms",
            "5/2d",
            "-1/1m",
            "x/1m",
            "5/soon",
            "2000000/1m",
        ] {
            assert_eq!(bad.parse::<Rate>(), Err(InvalidRate), "{bad}");
        }
        assert_eq!(Rate::per_minute(5).unwrap().times(6).unwrap().count(), 30);
    }

    #[test]
    fn budgets_checked_together_are_spent_together_or_not_at_all() {
        let limiter = MemoryLimiter::new(100);
        let (one, three) = (Rate::per_minute(1).unwrap(), Rate::per_minute(3).unwrap());
        let budgets = [("client", three), ("account", one)];
        assert_eq!(limiter.check_all(&budgets, 0), Decision::Allowed);
        // The account's budget refuses; the client's is not spent by the refusal.
        for _ in 0..5 {
            assert!(matches!(
                limiter.check_all(&budgets, 0),
                Decision::Limited { by: 1, .. }
            ));
        }
        assert_eq!(
            limiter.check_all(&[("client", three), ("other", one)], 0),
            Decision::Allowed
        );
        assert_eq!(
            limiter.check_all(&[("client", three), ("third", one)], 0),
            Decision::Allowed
        );
        let refused = limiter.check_all(&[("client", three), ("fourth", one)], 0);
        assert!(matches!(refused, Decision::Limited { by: 0, .. }));
        assert_eq!(refused.retry_after_secs(), Some(20));
    }

    #[test]
    fn parallel_checks_cannot_exceed_the_budget() {
        let limiter = std::sync::Arc::new(MemoryLimiter::new(100));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..20)
                        .filter(|_| limiter.check("k", five_a_minute(), 0) == Decision::Allowed)
                        .count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 5);
    }

    #[test]
    fn an_uneven_period_never_allows_more_than_the_burst() {
        let limiter = MemoryLimiter::new(10);
        let rate = Rate::new(7, Duration::from_secs(10)).unwrap();
        let allowed = (0..20)
            .filter(|_| limiter.check("k", rate, 0) == Decision::Allowed)
            .count();
        assert_eq!(allowed, 7);
    }
}
