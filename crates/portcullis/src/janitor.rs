//! Background pruning: expired link tokens, audit events past their retention, and mail
//! settled a week ago. Idempotent deletes, so every node may run it.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::Clock;
use portcullis_store::Store;
use tokio::sync::watch;

use crate::service::millis;

/// How long sent and failed messages are kept, for looking into a delivery.
const MAIL_RETENTION: Duration = Duration::from_secs(7 * 86_400);

pub struct Janitor {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub interval: Duration,
    pub audit_retention: Duration,
}

impl Janitor {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.prune().await;
            tokio::select! {
                () = tokio::time::sleep(self.interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// One round of pruning; failures are logged and retried next round.
    pub async fn prune(&self) {
        let now = self.clock.now_ms();
        let rounds = [
            ("link tokens", self.store.prune_one_time_tokens(now).await),
            (
                "audit events",
                self.store
                    .prune_audit(now - millis(self.audit_retention))
                    .await,
            ),
            (
                "settled mail",
                self.store.prune_mail(now - millis(MAIL_RETENTION)).await,
            ),
        ];
        for (what, result) in rounds {
            match result {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "pruned {what}"),
                Err(err) => tracing::warn!(error = %err, "pruning {what} failed"),
            }
        }
    }
}
