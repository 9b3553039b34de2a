//! Password hashing off the async runtime, on a bounded pool behind an admission gate: at
//! most `workers` hashes run at once and at most `queue` wait; beyond that callers are
//! turned away at once (503) instead of queueing without bound.

use std::sync::Arc;

use portcullis_core::PasswordHasher;
use tokio::sync::Semaphore;

#[derive(Clone)]
pub struct HashPool {
    hasher: Arc<PasswordHasher>,
    admission: Arc<Semaphore>,
    workers: Arc<Semaphore>,
    capacity: usize,
    workers_total: usize,
}

/// The pool is saturated; the caller should retry shortly.
#[derive(Debug, thiserror::Error)]
#[error("password hashing pool is saturated")]
pub struct Overloaded;

impl HashPool {
    pub fn new(hasher: PasswordHasher, workers: usize, queue: usize) -> Self {
        Self {
            hasher: Arc::new(hasher),
            admission: Arc::new(Semaphore::new(workers + queue)),
            workers: Arc::new(Semaphore::new(workers)),
            capacity: workers + queue,
            workers_total: workers,
        }
    }

    /// Hash requests admitted but not yet running.
    pub fn queue_depth(&self) -> usize {
        let admitted = self.capacity - self.admission.available_permits();
        admitted.saturating_sub(self.workers_total - self.workers.available_permits())
    }

    /// Runs `job` with the hasher on a blocking thread once a worker is free, inside a `hash`
    /// span of the caller's span (so the request id follows it).
    #[tracing::instrument(name = "hash", skip_all)]
    pub async fn run<T, F>(&self, job: F) -> Result<T, Overloaded>
    where
        F: FnOnce(&PasswordHasher) -> T + Send + 'static,
        T: Send + 'static,
    {
        let admitted = self.admission.clone().try_acquire_owned().map_err(|_| {
            metrics::counter!(crate::metrics::HASH_REJECTIONS).increment(1);
            Overloaded
        })?;
        let worker = self
            .workers
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Overloaded)?;
        let hasher = self.hasher.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, worker);
            span.in_scope(|| job(&hasher))
        })
        .await
        .map_err(|_| Overloaded)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use portcullis_core::HashParams;

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saturated_pool_refuses_at_once() {
        let hasher = PasswordHasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        let pool = HashPool::new(hasher, 1, 1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
        // One job holds the worker, one waits in the queue: the third must be refused.
        let (started_tx, mut started_rx) = tokio::sync::mpsc::channel(1);
        let blocker = {
            let pool = pool.clone();
            let rx = release_rx.clone();
            tokio::spawn(async move {
                pool.run(move |_| {
                    started_tx.blocking_send(()).unwrap();
                    rx.lock().unwrap().recv().unwrap();
                })
                .await
            })
        };
        started_rx.recv().await.unwrap();
        let queued = {
            let pool = pool.clone();
            tokio::spawn(async move { pool.run(|_| ()).await })
        };
        while pool.admission.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(pool.run(|_| ()).await.is_err());
        release_tx.send(()).unwrap();
        assert!(blocker.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert!(pool.run(|_| ()).await.is_ok());
    }
}
