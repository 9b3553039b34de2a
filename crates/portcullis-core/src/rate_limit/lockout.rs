//! Lockouts: after `threshold` consecutive failed sign-ins for one account key, from any
//! client, sign-in for that key is refused for a minute, doubling with each further failure
//! up to the policy's longest wait (which, below a minute, caps the first lockout too). Never
//! permanent: a lockout always ends, and a count is forgotten a day after its last failure.
//!
//! An attempt is counted as a failure before its password is checked (so parallel attempts
//! cannot get more than the threshold evaluated); a correct password clears the count, as do
//! a password reset and an admin. Attempts refused during a lockout count for nothing.

use std::time::Duration;

/// The first lockout's length, before the policy's cap.
const FIRST_MS: i64 = 60_000;

/// How long a count of failures is remembered after the last one.
const MEMORY_MS: i64 = 24 * 3600 * 1000;

/// When lockouts start and how long they last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    threshold: u32,
    max_ms: i64,
}

/// A lockout policy that cannot be: no threshold, or a longest wait outside 1 s to 1 d.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a lockout needs a threshold of at least 1 and a longest wait from 1 s to 1 d")]
pub struct InvalidLockout;

impl LockoutPolicy {
    pub fn new(threshold: u32, max: Duration) -> Result<Self, InvalidLockout> {
        if threshold == 0 || max < Duration::from_secs(1) || max > Duration::from_secs(86_400) {
            return Err(InvalidLockout);
        }
        Ok(Self {
            threshold,
            max_ms: i64::try_from(max.as_millis()).map_err(|_| InvalidLockout)?,
        })
    }

    pub fn threshold(self) -> u32 {
        self.threshold
    }

    pub fn max_ms(self) -> i64 {
        self.max_ms
    }

    /// The length of the lockout that the failure `beyond` failures past the threshold
    /// starts: a minute for the threshold's own, doubling, capped.
    pub fn duration_ms(self, beyond: u32) -> i64 {
        let doubled = 1_i64
            .checked_shl(beyond)
            .and_then(|factor| FIRST_MS.checked_mul(factor))
            .unwrap_or(i64::MAX);
        doubled.min(self.max_ms)
    }

    /// How long a count is remembered after its last failure.
    pub fn memory_ms(self) -> i64 {
        MEMORY_MS.max(self.max_ms)
    }
}

/// One account key's state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockoutState {
    /// Consecutive failures, attempts under way included.
    pub failures: u32,
    /// Sign-in is refused until then.
    pub locked_until: i64,
    /// The `locked_until` of the last lockout whose first refusal was reported.
    pub reported: i64,
    /// When the last attempt was counted.
    pub last_ms: i64,
}

impl LockoutState {
    /// The state as it stands at `now`: forgotten once the memory of its last failure has
    /// passed and no lockout remains.
    pub fn at(self, now: i64, policy: LockoutPolicy) -> Self {
        if self.locked_until <= now && now - self.last_ms > policy.memory_ms() {
            Self::default()
        } else {
            self
        }
    }

    /// How long sign-in stays refused, if it is refused at `now`.
    pub fn locked_for(&self, now: i64) -> Option<i64> {
        (self.locked_until > now).then(|| self.locked_until - now)
    }

    /// Marks the current lockout's refusal reported; true the first time.
    pub fn report(&mut self) -> bool {
        let first = self.reported != self.locked_until;
        self.reported = self.locked_until;
        first
    }

    /// Counts an attempt as a failure until it is shown otherwise; the attempt that reaches
    /// the threshold (or goes beyond it) starts a lockout at once.
    pub fn count_attempt(&mut self, now: i64, policy: LockoutPolicy) {
        self.failures = self.failures.saturating_add(1);
        self.last_ms = now;
        if let Some(beyond) = self.failures.checked_sub(policy.threshold) {
            self.locked_until = now + policy.duration_ms(beyond);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(threshold: u32, max_secs: u64) -> LockoutPolicy {
        LockoutPolicy::new(threshold, Duration::from_secs(max_secs)).unwrap()
    }

    #[test]
    fn lockouts_double_up_to_the_cap() {
        let p = policy(10, 15 * 60);
        let minutes: Vec<i64> = (0..6).map(|n| p.duration_ms(n) / 60_000).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 15, 15]);
        assert_eq!(p.duration_ms(200), 15 * 60_000);
        // A cap below a minute caps the first lockout too.
        assert_eq!(policy(3, 20).duration_ms(0), 20_000);
    }

    #[test]
    fn the_threshold_th_attempt_locks_and_later_ones_double() {
        let p = policy(3, 900);
        let mut state = LockoutState::default();
        for _ in 0..2 {
            state.count_attempt(0, p);
            assert_eq!(state.locked_for(0), None);
        }
        state.count_attempt(0, p);
        assert_eq!(state.locked_for(0), Some(60_000));
        assert!(state.report());
        assert!(!state.report(), "reported once per lockout");
        // After the lockout, the next failure locks for twice as long.
        state.count_attempt(60_000, p);
        assert_eq!(state.locked_for(60_000), Some(120_000));
        assert!(state.report());
    }

    #[test]
    fn policies_that_could_lock_forever_or_never_are_refused() {
        for (threshold, max) in [(0, 60), (10, 0), (10, 86_401)] {
            assert_eq!(
                LockoutPolicy::new(threshold, Duration::from_secs(max)),
                Err(InvalidLockout)
            );
        }
    }

    #[test]
    fn a_count_is_forgotten_a_day_after_its_last_failure() {
        let p = policy(10, 900);
        let mut state = LockoutState::default();
        state.count_attempt(0, p);
        assert_eq!(state.at(p.memory_ms(), p).failures, 1);
        assert_eq!(state.at(p.memory_ms() + 1, p), LockoutState::default());
    }
}
