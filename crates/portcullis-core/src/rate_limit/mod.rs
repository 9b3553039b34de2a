//! Rate limits and lockouts, decided the same way wherever their state lives (this module's
//! [`MemoryLimiter`] in one process, or a shared store that runs the same rules).
//!
//! Budgets are GCRA (the generic cell rate algorithm): a rate of N per period answers a burst
//! of N and then one request every period ÷ N. Each key keeps one number, its theoretical
//! arrival time (TAT), so a check is a lookup and a compare; a refused request changes
//! nothing, so refusals do not count against the budget.
//!
//! A sign-in also asks its account's [`lockout`]: consecutive failures are counted before the
//! password is checked, so parallel attempts cannot get more evaluated than the threshold.
//!
//! One [`Check`] is decided whole: every budget is spent and the attempt counted, or, when
//! anything refuses, nothing is.

pub mod lockout;
mod memory;

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use lockout::LockoutPolicy;
pub use memory::MemoryLimiter;

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

    pub fn period_ms(self) -> i64 {
        self.period_ms
    }

    /// The same period, `factor` times the count (the per-client figure beside a per-account
    /// one, say).
    pub fn times(self, factor: u32) -> Result<Self, InvalidRate> {
        Self::new(self.count.saturating_mul(factor), self.period())
    }

    /// The time one request's place takes to refill, rounded up so that a burst never exceeds
    /// `count`.
    pub fn interval_ms(self) -> i64 {
        (self.period_ms + i64::from(self.count) - 1) / i64::from(self.count)
    }

    /// How far ahead of now a key's TAT may run: the whole burst.
    pub fn tolerance_ms(self) -> i64 {
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

/// What one request asks: a place in each budget, `(key, rate)`, and for a sign-in, one
/// attempt on its account's lockout, `(key, policy)`.
#[derive(Debug, Clone, Copy)]
pub struct Check<'a> {
    pub budgets: &'a [(&'a str, Rate)],
    pub lockout: Option<(&'a str, LockoutPolicy)>,
}

impl<'a> Check<'a> {
    pub fn budgets(budgets: &'a [(&'a str, Rate)]) -> Self {
        Self {
            budgets,
            lockout: None,
        }
    }
}

/// What refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// The budget at this index of those checked.
    Budget(usize),
    /// The account is locked out.
    Lockout,
}

/// The answer to one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// Refused by `by`, the limit with the longest wait; the next request would be answered
    /// after `retry_after`. `first` is set on the first refusal by that budget within its
    /// period, or the first refusal of that lockout: the one worth recording.
    Limited {
        retry_after: Duration,
        by: Limit,
        first: bool,
    },
}

impl Decision {
    /// Refused by `by`, `ms` milliseconds before it lets a request through.
    pub fn limited(by: Limit, ms: i64, first: bool) -> Self {
        Self::Limited {
            retry_after: Duration::from_millis(ms.max(1).unsigned_abs()),
            by,
            first,
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn retry_after_rounds_up_to_whole_seconds() {
        let decision = |ms| Decision::limited(Limit::Lockout, ms, false).retry_after_secs();
        assert_eq!(decision(0), Some(1));
        assert_eq!(decision(1_000), Some(1));
        assert_eq!(decision(1_001), Some(2));
        assert_eq!(Decision::Allowed.retry_after_secs(), None);
    }
}
