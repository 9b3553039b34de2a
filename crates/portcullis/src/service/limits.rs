//! Rate limits by group of endpoints, checked before any hash or database write, in memory
//! on this node. Keys never hold a plain address or identifier: the client is a keyed hash
//! of its address (IPv6 by its /64, IPv4-mapped IPv6 as IPv4), the account is its id or the
//! keyed hash the audit trail gives an unknown identifier; each endpoint counts apart.

use std::net::IpAddr;

use portcullis_core::UserId;
use portcullis_core::rate_limit::{Decision, MemoryLimiter, Rate};
use portcullis_core::token::TokenHasher;
use serde_json::json;

use super::audit::{Action, AuditEvent, Outcome};
use super::{Client, Core, ServiceError, ServiceResult, change};
use crate::config::{Config, ConfigError, Group, Rates};

/// Keys one node tracks at most, per table; a flood of distinct keys beyond it makes the
/// table forget the keys nearest to a full budget first (see `MemoryLimiter`).
const MAX_KEYS: usize = 100_000;

/// The per-client sign-in ceiling, as a multiple of the per-(client, account) budget.
const LOGIN_CLIENT_FACTOR: u32 = 6;

pub struct Limits {
    /// `None` when `PORTCULLIS_RATE_LIMIT=off`.
    rates: Option<Rates>,
    budgets: MemoryLimiter,
    /// One `rate_limit.exceeded` event per key and window: a budget of one per window.
    reported: MemoryLimiter,
}

/// Whose budget an attempt spends.
pub enum Account<'a> {
    Known(&'a UserId),
    /// The audit trail's pseudonym of an identifier that names no account.
    Unknown(&'a str),
}

impl Limits {
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(Self {
            rates: config
                .limits
                .enabled()
                .then(|| config.limits.rates())
                .transpose()?,
            budgets: MemoryLimiter::new(MAX_KEYS),
            reported: MemoryLimiter::new(MAX_KEYS),
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
    let Some(rates) = &core.limits.rates else {
        return Ok(());
    };
    let key = format!("{endpoint}|c|{}", client_key(&core.token_hasher, client));
    spend(core, &[(&key, rates.of(group))], group, client).await
}

/// Spends one sign-in attempt at `endpoint` of both the client's ceiling and the (client,
/// account) budget, or of neither. Both are spent before the password is hashed, so
/// parallel attempts cannot get more hashes than the budget.
pub async fn sign_in(
    core: &Core,
    endpoint: &'static str,
    client: &Client,
    account: Account<'_>,
) -> ServiceResult<()> {
    let Some(rates) = &core.limits.rates else {
        return Ok(());
    };
    let rate = rates.of(Group::Login);
    let client_key = client_key(&core.token_hasher, client);
    let ceiling = rate.times(LOGIN_CLIENT_FACTOR).unwrap_or(rate);
    let account = match account {
        Account::Known(id) => format!("id:{id}"),
        Account::Unknown(pseudonym) => format!("name:{pseudonym}"),
    };
    let per_client = format!("{endpoint}|c|{client_key}");
    let per_account = format!("{endpoint}|ca|{client_key}|{account}");
    let budgets = [(per_client.as_str(), ceiling), (per_account.as_str(), rate)];
    spend(core, &budgets, Group::Login, client).await
}

/// Spends one request of each budget, or refuses with the longest wait among them, audited
/// once per window of the budget that refused.
async fn spend(
    core: &Core,
    budgets: &[(&str, Rate)],
    group: Group,
    client: &Client,
) -> ServiceResult<()> {
    let now = core.now();
    let decision = core.limits.budgets.check_all(budgets, now);
    let (Decision::Limited { by, .. }, Some(retry_after)) = (decision, decision.retry_after_secs())
    else {
        return Ok(());
    };
    let (key, rate) = budgets[by];
    metrics::counter!(crate::metrics::RATE_LIMITED, "group" => group.as_str()).increment(1);
    let once = Rate::new(1, rate.period()).unwrap_or(rate);
    if core.limits.reported.check(key, once, now) == Decision::Allowed {
        let event = AuditEvent::new(Action::RateLimitExceeded, client)
            .outcome(Outcome::Denied)
            .detail(json!({ "group": group.as_str(), "limit": rate.to_string() }));
        change::record(core, event).await?;
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
