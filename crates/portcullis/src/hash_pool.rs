//! Password hashing off the async runtime, on a fixed set of worker threads behind an
//! admission gate: at most `workers` hashes run at once and at most `queue` wait; beyond that
//! callers are turned away at once (503) instead of queueing without bound.
//!
//! The workers are threads of their own, started once, rather than tokio's blocking pool:
//! each keeps its Argon2 memory between hashes (see `portcullis_core::PasswordHasher`), so
//! the memory that hashing holds is `workers` × the hash's memory, however many sign-ins come
//! and however the blocking pool would grow and shrink.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use portcullis_core::PasswordHasher;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

type Job = Box<dyn FnOnce(&PasswordHasher) + Send>;

/// How much lower than the request threads a hash worker runs (a nice value).
#[cfg(target_os = "linux")]
const HASH_NICENESS: i32 = 10;

/// Lowers the calling worker's scheduling priority so that, when hashes fill every core,
/// the runtime's threads still get the CPU at once: a flood of sign-ins slows other sign-ins,
/// not every other request. Linux's nice value is per thread; elsewhere nothing changes.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    if let Err(err) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), HASH_NICENESS)
    {
        tracing::warn!(%err, "the hash workers run at the requests' priority");
    }
}

/// Cheap to clone; the workers stop once the last clone is dropped.
#[derive(Clone)]
pub struct HashPool {
    jobs: flume::Sender<Job>,
    admission: Arc<Semaphore>,
    running: Arc<AtomicUsize>,
    capacity: usize,
    workers: usize,
}

/// The pool is saturated (or a hash failed to finish); the caller should retry shortly.
#[derive(Debug, thiserror::Error)]
#[error("password hashing pool is saturated")]
pub struct Overloaded;

impl HashPool {
    /// Starts `workers` threads (at least one) that take jobs in arrival order.
    pub fn new(hasher: PasswordHasher, workers: usize, queue: usize) -> Self {
        let workers = workers.max(1);
        let (jobs, waiting) = flume::unbounded::<Job>();
        let hasher = Arc::new(hasher);
        for n in 0..workers {
            let (waiting, hasher) = (waiting.clone(), hasher.clone());
            std::thread::Builder::new()
                .name(format!("hash-{n}"))
                .spawn(move || {
                    yield_to_requests();
                    work(&waiting, &hasher)
                })
                .expect("the hash worker threads can start");
        }
        Self {
            jobs,
            admission: Arc::new(Semaphore::new(workers + queue)),
            running: Arc::new(AtomicUsize::new(0)),
            capacity: workers + queue,
            workers,
        }
    }

    /// Hashes running now.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Relaxed)
    }

    /// The worker threads: how many hashes may run at once.
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Hashes that may run or wait at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Hash requests admitted but not yet running.
    pub fn queue_depth(&self) -> usize {
        let admitted = self.capacity - self.admission.available_permits();
        admitted.saturating_sub(self.running.load(Ordering::Relaxed))
    }

    /// Runs `job` with the hasher on a worker once one is free, inside a `hash` span of the
    /// caller's span (so the request id follows it). A caller that gives up while its job
    /// waits costs no hash: the job is skipped.
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
        let (done, result) = oneshot::channel();
        let running = self.running.clone();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |hasher| {
            if done.is_closed() {
                return;
            }
            // The job ends, and frees its place, before its caller hears of it.
            let result = {
                let _running = Running::start(running, admitted);
                span.in_scope(|| job(hasher))
            };
            let _ = done.send(result);
        });
        self.jobs.send(job).map_err(|_| Overloaded)?;
        result.await.map_err(|_| Overloaded)
    }
}

/// A worker's loop; a job that panics fails its caller only, not the worker.
fn work(waiting: &flume::Receiver<Job>, hasher: &PasswordHasher) {
    for job in waiting.iter() {
        let _ = catch_unwind(AssertUnwindSafe(|| job(hasher)));
    }
}

/// Counts a job as running, and holds its admission, until it ends (panics included).
struct Running {
    running: Arc<AtomicUsize>,
    _admitted: OwnedSemaphorePermit,
}

impl Running {
    fn start(running: Arc<AtomicUsize>, admitted: OwnedSemaphorePermit) -> Self {
        running.fetch_add(1, Ordering::Relaxed);
        Self {
            running,
            _admitted: admitted,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use portcullis_core::HashParams;

    use super::*;

    fn cheap_pool(workers: usize, queue: usize) -> HashPool {
        let hasher = PasswordHasher::new(HashParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
        .unwrap();
        HashPool::new(hasher, workers, queue)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn saturated_pool_refuses_at_once() {
        let pool = cheap_pool(1, 1);
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
        assert_eq!(pool.queue_depth(), 1);
        assert!(pool.run(|_| ()).await.is_err());
        release_tx.send(()).unwrap();
        assert!(blocker.await.unwrap().is_ok());
        assert!(queued.await.unwrap().is_ok());
        assert!(pool.run(|_| ()).await.is_ok());
        assert_eq!(pool.queue_depth(), 0);
    }

    #[tokio::test]
    async fn jobs_run_on_the_same_few_threads() {
        let pool = cheap_pool(2, 8);
        let mut threads = std::collections::HashSet::new();
        for _ in 0..50 {
            threads.insert(pool.run(|_| std::thread::current().id()).await.unwrap());
        }
        assert!(threads.len() <= 2, "{} threads ran the jobs", threads.len());
    }

    #[tokio::test]
    async fn a_panicking_job_fails_its_caller_and_spares_the_worker() {
        let pool = cheap_pool(1, 1);
        assert!(pool.run(|_| panic!("a bad job")).await.is_err());
        assert_eq!(pool.run(|_| 7).await.unwrap(), 7);
        assert_eq!(pool.queue_depth(), 0);
        assert_eq!(pool.admission.available_permits(), 2);
    }
}
