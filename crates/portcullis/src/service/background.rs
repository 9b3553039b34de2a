//! Work a request hands off after answering: the mail of forgot-password and resend, whose
//! answer must not depend, in content or timing, on whether the account exists. At most
//! `capacity` tasks run at once; beyond that the work is refused, and the request that
//! offered it answers 503 `overloaded` (whatever the address), so that a flood can neither
//! queue without bound nor make legitimate mail vanish behind a 202. Shutdown waits for the
//! tasks under way.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Semaphore;

use super::{ServiceError, ServiceResult};

#[derive(Clone)]
pub struct Background {
    permits: Arc<Semaphore>,
    capacity: u32,
}

impl Background {
    pub fn new(capacity: u32) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(capacity as usize)),
            capacity,
        }
    }

    /// Runs `work` (described by `what` in logs) unless `capacity` tasks are running, in
    /// which case it is refused with `overloaded`.
    pub fn spawn<F>(&self, what: &'static str, work: F) -> ServiceResult<()>
    where
        F: Future<Output = ServiceResult<()>> + Send + 'static,
    {
        let Ok(permit) = self.permits.clone().try_acquire_owned() else {
            tracing::warn!(what, "too much background work at once; refused");
            metrics::counter!(crate::metrics::BACKGROUND_REFUSED, "what" => what).increment(1);
            return Err(ServiceError::Overloaded);
        };
        tokio::spawn(async move {
            if let Err(err) = work.await {
                tracing::warn!(error = %err, what, "background work failed");
            }
            drop(permit);
        });
        Ok(())
    }

    /// Waits until every task under way has finished.
    pub async fn finished(&self) {
        let _ = self.permits.acquire_many(self.capacity).await;
    }
}
