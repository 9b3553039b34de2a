//! Limits in this process's memory: correct for one node, and the fallback of a node whose
//! shared store is out of reach.
//!
//! Every table is bounded. An entry whose state has run out (a TAT in the past is a full
//! budget, the same as no entry) is dropped first; if a flood of distinct keys still fills a
//! table, the half of it nearest to running out is forgotten at once (amortised O(1) a
//! check). Those keys get a fresh budget early: the bound costs accuracy for keys already
//! almost refilled, never memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::lockout::LockoutState;
use super::{Check, Decision, Limit, Rate};

/// Budgets, refusal reports and lockouts by key, safe to share between threads.
pub struct MemoryLimiter {
    tables: Mutex<Tables>,
}

struct Tables {
    /// Each budget's TAT.
    tats: Table<i64>,
    /// Per budget, the TAT of a budget of one refusal report per period.
    reported: Table<i64>,
    lockouts: Table<LockoutState>,
}

impl MemoryLimiter {
    /// Tables of at most `capacity` keys each (at least 2).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Self {
            tables: Mutex::new(Tables {
                tats: Table::new(capacity),
                reported: Table::new(capacity),
                lockouts: Table::new(capacity),
            }),
        }
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Decides `check` at `now_ms`: spends a place in every budget and counts the attempt on
    /// the lockout, or, when any of them refuses, changes nothing but the refusal's report.
    pub fn decide(&self, check: &Check<'_>, now_ms: i64) -> Decision {
        let mut tables = self.tables();
        let next = |tats: &Table<i64>, key: &str, rate: Rate| {
            tats.get(key).copied().unwrap_or(now_ms).max(now_ms) + rate.interval_ms()
        };
        let mut refused: Option<(Limit, i64)> = None;
        let mut refuse = |by: Limit, wait: i64| {
            if refused.is_none_or(|(_, longest)| wait > longest) {
                refused = Some((by, wait));
            }
        };
        // Every budget's next TAT is read before any is written.
        let tats: Vec<i64> = check
            .budgets
            .iter()
            .map(|&(key, rate)| next(&tables.tats, key, rate))
            .collect();
        for (index, (&(_, rate), tat)) in check.budgets.iter().zip(&tats).enumerate() {
            let over = tat - now_ms - rate.tolerance_ms();
            if over > 0 {
                refuse(Limit::Budget(index), over);
            }
        }
        let lockout = check.lockout.map(|(key, policy)| {
            let state = tables
                .lockouts
                .get(key)
                .map_or_else(LockoutState::default, |s| s.at(now_ms, policy));
            (key, policy, state)
        });
        if let Some((_, _, state)) = &lockout
            && let Some(wait) = state.locked_for(now_ms)
        {
            refuse(Limit::Lockout, wait);
        }
        match (refused, lockout) {
            (Some((Limit::Lockout, wait)), Some((key, policy, mut state))) => {
                let first = state.report();
                let expires = expiry(&state, policy.memory_ms());
                tables.lockouts.put(key, state, expires, now_ms);
                Decision::limited(Limit::Lockout, wait, first)
            }
            (Some((Limit::Budget(index), wait)), _) => {
                let (key, rate) = check.budgets[index];
                let once = Rate::new(1, rate.period()).unwrap_or(rate);
                let report = next(&tables.reported, key, once);
                let first = report - now_ms <= once.tolerance_ms();
                if first {
                    tables.reported.put(key, report, report, now_ms);
                }
                Decision::limited(Limit::Budget(index), wait, first)
            }
            (Some((Limit::Lockout, _)), None) => unreachable!("only a lockout refuses so"),
            (None, lockout) => {
                for (&(key, _), tat) in check.budgets.iter().zip(tats) {
                    tables.tats.put(key, tat, tat, now_ms);
                }
                if let Some((key, policy, mut state)) = lockout {
                    state.count_attempt(now_ms, policy);
                    let expires = expiry(&state, policy.memory_ms());
                    tables.lockouts.put(key, state, expires, now_ms);
                }
                Decision::Allowed
            }
        }
    }

    /// Clears `key`'s count of failures and any lockout; true when it was locked at `now_ms`.
    pub fn clear_lockout(&self, key: &str, now_ms: i64) -> bool {
        self.tables()
            .lockouts
            .remove(key)
            .is_some_and(|state| state.locked_for(now_ms).is_some())
    }

    /// Keys held now, in all tables.
    pub fn len(&self) -> usize {
        let tables = self.tables();
        tables.tats.len() + tables.reported.len() + tables.lockouts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// When a lockout state is worth nothing more: its lockout is over and its count forgotten.
fn expiry(state: &LockoutState, memory_ms: i64) -> i64 {
    state
        .locked_until
        .max(state.last_ms.saturating_add(memory_ms))
}

/// A map of at most `capacity` keys, each with the time after which it is worth nothing.
struct Table<V> {
    entries: HashMap<Box<str>, (V, i64)>,
    capacity: usize,
}

impl<V> Table<V> {
    fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    fn get(&self, key: &str) -> Option<&V> {
        self.entries.get(key).map(|(value, _)| value)
    }

    fn put(&mut self, key: &str, value: V, expires: i64, now_ms: i64) {
        if let Some(entry) = self.entries.get_mut(key) {
            *entry = (value, expires);
            return;
        }
        if self.entries.len() >= self.capacity {
            self.make_room(now_ms);
        }
        self.entries.insert(key.into(), (value, expires));
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        self.entries.remove(key).map(|(value, _)| value)
    }

    fn len(&self) -> usize {
        self.entries.len()
    }

    /// Drops the entries worth nothing now; if still full, the half nearest to that.
    fn make_room(&mut self, now_ms: i64) {
        self.entries.retain(|_, (_, expires)| *expires > now_ms);
        if self.entries.len() < self.capacity {
            return;
        }
        let mut order: Vec<i64> = self.entries.values().map(|(_, e)| *e).collect();
        let middle = order.len() / 2;
        let (_, &mut cut, _) = order.select_nth_unstable(middle);
        self.entries.retain(|_, (_, expires)| *expires > cut);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::LockoutPolicy;
    use super::*;

    fn five_a_minute() -> Rate {
        "5/1m".parse().unwrap()
    }

    fn check(limiter: &MemoryLimiter, key: &str, rate: Rate, now: i64) -> Decision {
        limiter.decide(&Check::budgets(&[(key, rate)]), now)
    }

    fn allowed(decision: Decision) -> bool {
        decision == Decision::Allowed
    }

    #[test]
    fn a_burst_of_n_then_one_per_interval() {
        let limiter = MemoryLimiter::new(100);
        let rate = five_a_minute();
        for _ in 0..5 {
            assert!(allowed(check(&limiter, "k", rate, 0)));
        }
        let refused = check(&limiter, "k", rate, 0);
        assert_eq!(refused.retry_after_secs(), Some(12));
        // Refusals spend nothing: 12 s later exactly one more is answered.
        assert_eq!(
            check(&limiter, "k", rate, 11_999).retry_after_secs(),
            Some(1)
        );
        assert!(allowed(check(&limiter, "k", rate, 12_000)));
        assert!(!allowed(check(&limiter, "k", rate, 12_000)));
        // A minute of quiet refills the whole burst.
        for _ in 0..5 {
            assert!(allowed(check(&limiter, "k", rate, 72_000)));
        }
    }

    #[test]
    fn keys_have_budgets_of_their_own() {
        let limiter = MemoryLimiter::new(100);
        let rate = Rate::per_minute(1).unwrap();
        assert!(allowed(check(&limiter, "a", rate, 0)));
        assert!(allowed(check(&limiter, "b", rate, 0)));
        assert!(!allowed(check(&limiter, "a", rate, 0)));
    }

    #[test]
    fn the_first_refusal_in_each_period_is_marked() {
        let limiter = MemoryLimiter::new(100);
        let rate = Rate::per_minute(1).unwrap();
        assert!(allowed(check(&limiter, "k", rate, 0)));
        let firsts: Vec<bool> = (0..4)
            .map(|n| match check(&limiter, "k", rate, n * 1_000) {
                Decision::Limited { first, .. } => first,
                Decision::Allowed => panic!("allowed within the period"),
            })
            .collect();
        assert_eq!(firsts, [true, false, false, false]);
        assert!(allowed(check(&limiter, "k", rate, 60_000)));
        assert!(matches!(
            check(&limiter, "k", rate, 60_000),
            Decision::Limited { first: true, .. }
        ));
    }

    #[test]
    fn a_flood_of_distinct_keys_cannot_grow_the_tables() {
        let limiter = MemoryLimiter::new(1_000);
        let rate = five_a_minute();
        let policy = LockoutPolicy::new(10, Duration::from_secs(900)).unwrap();
        for n in 0..50_000 {
            let key = format!("key-{n}");
            let budgets = [(key.as_str(), rate)];
            let decision = limiter.decide(
                &Check {
                    budgets: &budgets,
                    lockout: Some((&key, policy)),
                },
                n,
            );
            assert!(allowed(decision));
            assert!(limiter.len() <= 2_000);
        }
        // The most recent keys are kept, so a key under attack now keeps its count.
        for _ in 0..4 {
            check(&limiter, "victim", rate, 50_000);
        }
        assert!(allowed(check(&limiter, "victim", rate, 50_000)));
        assert!(!allowed(check(&limiter, "victim", rate, 50_000)));
    }

    #[test]
    fn budgets_checked_together_are_spent_together_or_not_at_all() {
        let limiter = MemoryLimiter::new(100);
        let (one, three) = (Rate::per_minute(1).unwrap(), Rate::per_minute(3).unwrap());
        let pair = |account| [("client", three), (account, one)];
        assert!(allowed(
            limiter.decide(&Check::budgets(&pair("account")), 0)
        ));
        // The account's budget refuses; the client's is not spent by the refusal.
        for _ in 0..5 {
            assert!(matches!(
                limiter.decide(&Check::budgets(&pair("account")), 0),
                Decision::Limited {
                    by: Limit::Budget(1),
                    ..
                }
            ));
        }
        assert!(allowed(limiter.decide(&Check::budgets(&pair("other")), 0)));
        assert!(allowed(limiter.decide(&Check::budgets(&pair("third")), 0)));
        let refused = limiter.decide(&Check::budgets(&pair("fourth")), 0);
        assert!(matches!(
            refused,
            Decision::Limited {
                by: Limit::Budget(0),
                ..
            }
        ));
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
                        .filter(|_| allowed(check(&limiter, "k", five_a_minute(), 0)))
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
            .filter(|_| allowed(check(&limiter, "k", rate, 0)))
            .count();
        assert_eq!(allowed, 7);
    }

    fn attempt(limiter: &MemoryLimiter, budgets: &[(&str, Rate)], now: i64) -> Decision {
        let policy = LockoutPolicy::new(3, Duration::from_secs(900)).unwrap();
        limiter.decide(
            &Check {
                budgets,
                lockout: Some(("account", policy)),
            },
            now,
        )
    }

    #[test]
    fn parallel_attempts_cannot_exceed_the_lockout_threshold() {
        let limiter = std::sync::Arc::new(MemoryLimiter::new(100));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let limiter = limiter.clone();
                std::thread::spawn(move || {
                    (0..5)
                        .filter(|_| allowed(attempt(&limiter, &[], 0)))
                        .count()
                })
            })
            .collect();
        let evaluated: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(evaluated, 3);
    }

    #[test]
    fn a_lockout_refuses_once_reported_and_is_lifted_by_clearing() {
        let limiter = MemoryLimiter::new(100);
        for _ in 0..3 {
            assert!(allowed(attempt(&limiter, &[], 0)));
        }
        let firsts: Vec<bool> = (0..3)
            .map(|_| match attempt(&limiter, &[], 1_000) {
                Decision::Limited {
                    by: Limit::Lockout,
                    first,
                    retry_after,
                } => {
                    assert_eq!(retry_after, Duration::from_secs(59));
                    first
                }
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(firsts, [true, false, false]);
        assert!(limiter.clear_lockout("account", 1_000));
        assert!(allowed(attempt(&limiter, &[], 1_000)));
        assert!(!limiter.clear_lockout("account", 1_000), "nothing locked");
    }

    #[test]
    fn a_lockout_refusal_spends_no_budget_and_a_budget_refusal_counts_no_failure() {
        let limiter = MemoryLimiter::new(100);
        let one = Rate::per_minute(1).unwrap();
        assert!(allowed(attempt(&limiter, &[("client", one)], 0)));
        for _ in 0..5 {
            assert!(!allowed(attempt(&limiter, &[("client", one)], 0)));
        }
        // Refused by the budget five times, the account still has two attempts before its
        // lockout.
        assert!(allowed(attempt(&limiter, &[], 30_000)));
        assert!(allowed(attempt(&limiter, &[], 30_000)));
        assert!(matches!(
            attempt(&limiter, &[], 30_000),
            Decision::Limited {
                by: Limit::Lockout,
                ..
            }
        ));
        // Locked: the refusal does not spend the client's refilled budget.
        assert!(!allowed(attempt(&limiter, &[("client", one)], 60_000)));
        assert!(allowed(
            limiter.decide(&Check::budgets(&[("client", one)]), 60_000)
        ));
    }
}
