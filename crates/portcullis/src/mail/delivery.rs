//! The outbox worker. Each node runs one; they share the outbox through claims with a lease,
//! so a message is in one worker's hands at a time and a crashed worker's claim lapses. A
//! failed attempt is retried with exponential backoff until `mail_max_attempts`, then the
//! message is marked failed, logged and counted. Requests never wait for any of it.

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
use crate::state::millis;

/// How long a claim lasts: well beyond one SMTP conversation, so it never lapses mid-send.
const LEASE: Duration = Duration::from_secs(300);
const BATCH: i64 = 16;

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
            max_attempts: i32::try_from(config.mail_max_attempts).unwrap_or(i32::MAX),
            base: config.mail_retry_base,
            max: config.mail_retry_max,
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
        loop {
            self.drain().await;
            tokio::select! {
                () = self.mailer.woken() => {}
                () = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// Claims and delivers batches until nothing is due.
    async fn drain(&self) {
        loop {
            let claim = uuid::Uuid::now_v7().to_string();
            let now = self.clock.now_ms();
            let batch = match self
                .store
                .claim_mail(&claim, now, now + millis(LEASE), BATCH)
                .await
            {
                Ok(batch) => batch,
                Err(err) => {
                    tracing::warn!(error = %err, "mail outbox unavailable; retrying later");
                    return;
                }
            };
            if batch.is_empty() {
                return;
            }
            for mail in batch {
                if let Err(err) = self.deliver(&mail, &claim).await {
                    tracing::warn!(mail_id = %mail.id, error = %err, "recording a delivery failed");
                }
            }
        }
    }

    async fn deliver(&self, mail: &ClaimedMail, claim: &str) -> portcullis_store::Result<()> {
        let outcome = match self.mailer.open(mail) {
            Ok(message) => self.transport.send(message).await,
            Err(err) => Err(SendError {
                permanent: true,
                message: format!("{err:#}"),
            }),
        };
        let now = self.clock.now_ms();
        match outcome {
            Ok(()) => {
                self.store.mark_mail_sent(&mail.id, claim, now).await?;
                ::metrics::counter!(metrics::MAIL_SENT, "kind" => mail.kind.clone()).increment(1);
                tracing::info!(mail_id = %mail.id, kind = %mail.kind, attempts = mail.attempts, "mail sent");
            }
            Err(err) if err.permanent || mail.attempts >= self.retry.max_attempts => {
                self.store
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
            }
            Err(err) => {
                let next = now + millis(self.retry.delay(mail.attempts));
                self.store
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
            }
        }
        Ok(())
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
