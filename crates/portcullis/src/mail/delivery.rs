//! The outbox worker. Each node runs one; they share the outbox through claims with a lease,
//! one message at a time, so a message is in one worker's hands at a time and a crashed
//! worker's claim lapses. A failed attempt is retried with exponential backoff until
//! `mail_max_attempts`, then the message is marked failed, logged and counted. Requests never
//! wait for any of it.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::Clock;
use portcullis_store::{ClaimedMail, Store};
use rand::Rng;
use tokio::sync::watch;

use super::Mailer;
use super::transport::{SendError, Transport};
use crate::config::Config;
use crate::metrics;
use crate::service::millis;

/// The longest one delivery may take, the whole SMTP conversation included; beyond it the
/// attempt counts as failed.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a claim lasts: well beyond [`SEND_TIMEOUT`], so it cannot lapse mid-send.
const LEASE: Duration = Duration::from_secs(300);

/// When to try again after a failed attempt.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub max_attempts: i32,
    pub base: Duration,
    pub max: Duration,
}

impl Retry {
    pub fn from_config(config: &Config) -> Self {
        Self {
            max_attempts: i32::try_from(config.mail.mail_max_attempts).unwrap_or(i32::MAX),
            base: config.mail.mail_retry_base,
            max: config.mail.mail_retry_max,
        }
    }

    /// The wait after failed attempt number `attempts` (from 1): doubling from `base`, capped
    /// at `max`, plus up to a quarter more so that nodes do not retry in lockstep.
    pub fn delay(&self, attempts: i32) -> Duration {
        let doublings = u32::try_from(attempts.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let delay = self.base.saturating_mul(1 << doublings).min(self.max);
        delay.mul_f64(1.0 + rand::thread_rng().gen_range(0.0..0.25))
    }
}

pub struct Delivery {
    pub store: Store,
    pub mailer: Arc<Mailer>,
    pub transport: Transport,
    pub clock: Arc<dyn Clock>,
    pub retry: Retry,
    pub poll_interval: Duration,
}

impl Delivery {
    /// Delivers due mail until `shutdown` turns true; a message in flight is finished first.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            self.drain(&shutdown).await;
            tokio::select! {
                () = self.mailer.woken() => {}
                () = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Claims and delivers one message after another until nothing is due or it is time to
    /// stop.
    async fn drain(&self, shutdown: &watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            let claim = uuid::Uuid::now_v7().to_string();
            let now = self.clock.now_ms();
            let mail = match self
                .store
                .claim_mail(&claim, now, now + millis(LEASE))
                .await
            {
                Ok(Some(mail)) => mail,
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "mail outbox unavailable; retrying later");
                    return;
                }
            };
            match self.deliver(&mail, &claim).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(
                    mail_id = %mail.id,
                    "the claim on a message lapsed before its delivery was recorded"
                ),
                Err(err) => {
                    tracing::warn!(mail_id = %mail.id, error = %err, "recording a delivery failed");
                }
            }
        }
    }

    /// One attempt at `mail`; false when the claim had lapsed when the outcome was recorded.
    async fn deliver(&self, mail: &ClaimedMail, claim: &str) -> portcullis_store::Result<bool> {
        let outcome = match self.mailer.open(mail) {
            Ok(message) => tokio::time::timeout(SEND_TIMEOUT, self.transport.send(message))
                .await
                .unwrap_or_else(|_| {
                    Err(SendError {
                        permanent: false,
                        message: format!("no answer within {}s", SEND_TIMEOUT.as_secs()),
                    })
                }),
            Err(err) => Err(SendError {
                permanent: true,
                message: format!("{err:#}"),
            }),
        };
        let now = self.clock.now_ms();
        let recorded = match outcome {
            Ok(()) => {
                let recorded = self.store.mark_mail_sent(&mail.id, claim, now).await?;
                ::metrics::counter!(metrics::MAIL_SENT, "kind" => mail.kind.clone()).increment(1);
                tracing::info!(mail_id = %mail.id, kind = %mail.kind, attempts = mail.attempts, "mail sent");
                recorded
            }
            Err(err) if err.permanent || mail.attempts >= self.retry.max_attempts => {
                let recorded = self
                    .store
                    .mark_mail_failed(&mail.id, claim, now, &err.message)
                    .await?;
                ::metrics::counter!(metrics::MAIL_FAILURES, "kind" => mail.kind.clone(), "final" => "true")
                    .increment(1);
                tracing::error!(
                    mail_id = %mail.id,
                    kind = %mail.kind,
                    attempts = mail.attempts,
                    error = %err.message,
                    "mail given up"
                );
                recorded
            }
            Err(err) => {
                let next = now + millis(self.retry.delay(mail.attempts));
                let recorded = self
                    .store
                    .mark_mail_retry(&mail.id, claim, next, &err.message)
                    .await?;
                ::metrics::counter!(metrics::MAIL_FAILURES, "kind" => mail.kind.clone(), "final" => "false")
                    .increment(1);
                tracing::warn!(
                    mail_id = %mail.id,
                    kind = %mail.kind,
                    attempts = mail.attempts,
                    error = %err.message,
                    "mail delivery failed; will retry"
                );
                recorded
            }
        };
        Ok(recorded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let retry = Retry {
            max_attempts: 10,
            base: Duration::from_secs(30),
            max: Duration::from_secs(3600),
        };
        for (attempts, base) in [(1, 30), (2, 60), (3, 120), (8, 3600), (40, 3600)] {
            let delay = retry.delay(attempts);
            assert!(
                delay >= Duration::from_secs(base) && delay < Duration::from_secs(base) * 5 / 4,
                "attempt {attempts}: {delay:?}"
            );
        }
    }
}
