//! Background pruning: expired link tokens, audit events past their retention, mail settled
//! a week ago, and sessions ended and refresh tokens used a week ago. Idempotent deletes, so
//! every node may run it.

use std::sync::Arc;
use std::time::Duration;

use portcullis_core::Clock;
use portcullis_store::Store;
use tokio::sync::watch;

use crate::service::millis;

/// How long sent and failed messages are kept, for looking into a delivery.
const MAIL_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// How long ended sessions and used refresh tokens are kept: the window in which a replayed
/// refresh token is recognised as reuse and ends its session. Older used tokens are gone, so
/// their replay is refused as an unknown token, and a client looping on refresh leaves a
/// bounded trail.
pub const REUSE_DETECTION: Duration = Duration::from_secs(7 * 86_400);

pub struct Janitor {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub interval: Duration,
    pub audit_retention: Duration,
    pub session_idle_timeout: Duration,
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
        let ended_before = now - millis(REUSE_DETECTION);
        match self
            .store
            .prune_sessions(
                ended_before,
                ended_before - millis(self.session_idle_timeout),
            )
            .await
        {
            Ok((0, 0)) => {}
            Ok((sessions, tokens)) => tracing::info!(sessions, tokens, "pruned sessions"),
            Err(err) => tracing::warn!(error = %err, "pruning sessions failed"),
        }
        let rounds = [
            ("link tokens", self.store.prune_one_time_tokens(now).await),
            (
                "expired social sign-ins",
                self.store.prune_oauth_states(now).await,
            ),
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
