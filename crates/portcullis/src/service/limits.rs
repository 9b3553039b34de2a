//! Rate limits by group of endpoints, and lockouts of account keys, checked before any hash
//! or database write, on this node's [`Limiter`] (Redis when configured, so that they hold
//! across nodes). Keys never hold a plain address or identifier: the client is a keyed hash
//! of its address (IPv6 by its /64, IPv4-mapped IPv6 as IPv4), the account is its id or the
//! keyed hash the audit trail gives an unknown identifier; each endpoint counts apart.

use std::net::IpAddr;

use portcullis_core::UserId;
use portcullis_core::rate_limit::{Check, Decision, Limit, LockoutPolicy, Rate};
use portcullis_core::token::TokenHasher;
use serde_json::json;

use super::audit::{Action, AuditEvent, Outcome};
use super::{Client, Core, ServiceError, ServiceResult, change};
use crate::config::{Config, Group, Rates};
use crate::limiter::Limiter;

/// The per-client sign-in ceiling, as a multiple of the per-(client, account) budget.
const LOGIN_CLIENT_FACTOR: u32 = 6;

pub struct Limits {
    /// `None` when `PORTCULLIS_RATE_LIMIT=off`, which turns lockouts off too.
    rules: Option<Rules>,
    pub limiter: Limiter,
}

struct Rules {
    rates: Rates,
    lockout: LockoutPolicy,
}

/// Whose budget and lockout a sign-in attempt spends: the account the identifier names, if
/// any, and the audit trail's pseudonym of the identifier.
pub struct Account<'a> {
    pub id: Option<&'a UserId>,
    pub pseudonym: &'a str,
}

impl Account<'_> {
    /// The account's key: its id, so that every name of one account shares it, else the
    /// pseudonym of the identifier.
    fn key(&self) -> String {
        match self.id {
            Some(id) => id_key(id),
            None => format!("name:{}", self.pseudonym),
        }
    }
}

fn id_key(id: &UserId) -> String {
    format!("id:{id}")
}

/// A sign-in attempt that the limits let through; [`Attempt::succeeded`] clears the
/// account's count of failures once the password proves right.
#[must_use]
pub struct Attempt {
    lockout_key: Option<String>,
}

impl Limits {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let rules = match config.limits.enabled() {
            true => Some(Rules {
                rates: config.limits.rates()?,
                lockout: config.limits.lockout()?,
            }),
            false => None,
        };
        Ok(Self {
            rules,
            limiter: Limiter::from_config(&config.redis)?,
        })
    }
}

/// Spends one request of `endpoint`'s budget in `group` for the client, or refuses with
/// 429 `rate_limited`.
pub async fn per_client(
    core: &Core,
    group: Group,
    endpoint: &'static str,
    client: &Client,
) -> ServiceResult<()> {
    let Some(rules) = &core.limits.rules else {
        return Ok(());
    };
    let key = format!("{endpoint}|c|{}", client_key(&core.token_hasher, client));
    let budgets = [(key.as_str(), rules.rates.of(group))];
    let decision = core
        .limits
        .limiter
        .decide(&Check::budgets(&budgets), core.now())
        .await;
    refuse(core, decision, &budgets, group, client, None).await
}

/// Spends one sign-in attempt at `endpoint` of the client's ceiling and of the (client,
/// account) budget, and counts it against the account's lockout, or does none of it. All
/// of it happens before the password is hashed, so parallel attempts cannot get more hashes
/// than the budget or the lockout threshold allows.
pub async fn sign_in(
    core: &Core,
    endpoint: &'static str,
    client: &Client,
    account: Account<'_>,
) -> ServiceResult<Attempt> {
    let Some(rules) = &core.limits.rules else {
        return Ok(Attempt { lockout_key: None });
    };
    let rate = rules.rates.of(Group::Login);
    let client_key = client_key(&core.token_hasher, client);
    let ceiling = rate.times(LOGIN_CLIENT_FACTOR).unwrap_or(rate);
    let account_key = account.key();
    let per_client = format!("{endpoint}|c|{client_key}");
    let per_account = format!("{endpoint}|ca|{client_key}|{account_key}");
    let budgets = [(per_client.as_str(), ceiling), (per_account.as_str(), rate)];
    let check = Check {
        budgets: &budgets,
        lockout: Some((&account_key, rules.lockout)),
    };
    let decision = core.limits.limiter.decide(&check, core.now()).await;
    refuse(
        core,
        decision,
        &budgets,
        Group::Login,
        client,
        Some(&account),
    )
    .await?;
    Ok(Attempt {
        lockout_key: Some(account_key),
    })
}

impl Attempt {
    /// The password was right: the account's run of failures is over.
    pub async fn succeeded(self, core: &Core) {
        let Some(key) = self.lockout_key else {
            return;
        };
        // An outage is logged by the limiter; the count then runs out by itself.
        let _ = core.limits.limiter.clear_lockout(&key, core.now()).await;
    }
}

/// Lifts a lockout of `user_id` (by a password reset, by an admin) and records `unlocked`,
/// an `account.unlocked` event, when there was one; true if so. `unavailable` when the
/// shared store holding it does not answer.
pub async fn unlock(core: &Core, user_id: &UserId, unlocked: AuditEvent) -> ServiceResult<bool> {
    let was_locked = core
        .limits
        .limiter
        .clear_lockout(&id_key(user_id), core.now())
        .await
        .map_err(|_| ServiceError::Unavailable)?;
    if was_locked {
        change::record(core, unlocked.subject(user_id)).await?;
    }
    Ok(was_locked)
}

/// Passes an allowed request; refuses a limited one with its wait, recording the first
/// refusal of a budget's period (`rate_limit.exceeded`) or of a lockout of `account`
/// (`account.locked`, with the subject when the account exists).
async fn refuse(
    core: &Core,
    decision: Decision,
    budgets: &[(&str, Rate)],
    group: Group,
    client: &Client,
    account: Option<&Account<'_>>,
) -> ServiceResult<()> {
    let (Decision::Limited { by, first, .. }, Some(retry_after)) =
        (decision, decision.retry_after_secs())
    else {
        return Ok(());
    };
    metrics::counter!(crate::metrics::RATE_LIMITED, "group" => group.as_str()).increment(1);
    if first {
        let event = match by {
            Limit::Budget(index) => AuditEvent::new(Action::RateLimitExceeded, client)
                .detail(json!({ "group": group.as_str(), "limit": budgets[index].1.to_string() })),
            Limit::Lockout => {
                metrics::counter!(crate::metrics::LOCKOUTS).increment(1);
                let mut event = AuditEvent::new(Action::AccountLocked, client)
                    .detail(json!({ "retry_after": retry_after }));
                if let Some(account) = account {
                    event = event.login_key(account.pseudonym.to_owned());
                    event.subject = account.id.copied();
                }
                event
            }
        };
        change::record(core, event.outcome(Outcome::Denied)).await?;
    }
    Err(ServiceError::RateLimited { retry_after })
}

/// The client's key: a keyed hash of its address, IPv6 by its /64 and IPv4-mapped IPv6 as
/// the IPv4 address. A request with no address (none the server could trust) shares one
/// key with every other such request.
fn client_key(hasher: &TokenHasher, client: &Client) -> String {
    let address = client
        .ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok());
    let counted = match address.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        None => "unknown".to_owned(),
    };
    hasher.digest("rate_limit_client", &counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: &str) -> String {
        let hasher = TokenHasher::new([7; 32]);
        client_key(
            &hasher,
            &Client {
                ip: Some(ip.to_owned()),
                ..Client::default()
            },
        )
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::9"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        assert_eq!(key("::ffff:203.0.113.9"), key("203.0.113.9"));
        assert_ne!(key("203.0.113.9"), key("203.0.113.10"));
        assert!(!key("203.0.113.9").contains("203"));
    }
}
