//! Where CPU-heavy work (forecasts, analyses, CSV inspection) runs.
//!
//! A Lambda instance serves one request at a time, so the work runs in place. The local
//! server serves many requests on a few async workers: there the work goes to the blocking
//! thread pool, at most `workers` jobs at once and `max_queued` waiting, and a job that
//! would wait beyond that is refused with a 503 the client can retry, so a burst of large
//! forecasts can't stall every other request (`/health` included).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Runs CPU-bound jobs for handlers.
#[derive(Debug)]
pub struct ComputePool {
    bounded: Option<Bounded>,
}

#[derive(Debug)]
struct Bounded {
    running: Arc<Semaphore>,
    /// Jobs admitted: running plus waiting.
    admitted: Arc<AtomicUsize>,
    capacity: usize,
}

impl ComputePool {
    /// Jobs run on the calling task (Lambda: one request per instance).
    pub fn inline() -> Self {
        Self { bounded: None }
    }

    /// At most `workers` jobs at once on the blocking pool, and `max_queued` more waiting.
    pub fn bounded(workers: usize, max_queued: usize) -> Self {
        let workers = workers.max(1);
        Self {
            bounded: Some(Bounded {
                running: Arc::new(Semaphore::new(workers)),
                admitted: Arc::new(AtomicUsize::new(0)),
                capacity: workers + max_queued,
            }),
        }
    }

    /// Runs `job`, or refuses it with [`ApiError::Busy`] when the pool and its queue are full.
    pub async fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let Some(pool) = &self.bounded else { return Ok(job()) };
        let admitted = pool.admitted.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(Arc::clone(&pool.admitted));
        if admitted >= pool.capacity {
            return Err(ApiError::Busy);
        }
        let permit = Arc::clone(&pool.running).acquire_owned().await.map_err(ApiError::internal)?;
        // The place and the permit go with the job: if the request gives up (its deadline),
        // the job still holds them until it really ends, so the pool never runs more.
        tokio::task::spawn_blocking(move || {
            let _held = (permit, slot);
            job()
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// Gives an admitted job's place back when it ends, however it ends.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_pool_refuses_and_frees_its_places_when_jobs_end() {
        let pool = Arc::new(ComputePool::bounded(1, 1));
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let gate = Arc::new(std::sync::Mutex::new(gate));
        let started = Arc::new(AtomicUsize::new(0));
        let job = |gate: Arc<std::sync::Mutex<std::sync::mpsc::Receiver<()>>>, started: Arc<AtomicUsize>| {
            move || {
                started.fetch_add(1, Ordering::SeqCst);
                gate.lock().unwrap().recv().unwrap();
            }
        };
        let first = tokio::spawn({
            let (pool, job) = (Arc::clone(&pool), job(Arc::clone(&gate), Arc::clone(&started)));
            async move { pool.run(job).await }
        });
        while started.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let second = tokio::spawn({
            let (pool, job) = (Arc::clone(&pool), job(Arc::clone(&gate), Arc::clone(&started)));
            async move { pool.run(job).await }
        });
        while pool.bounded.as_ref().unwrap().admitted.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // One running, one waiting: a third is refused at once.
        assert!(matches!(pool.run(|| ()).await, Err(ApiError::Busy)));
        release.send(()).unwrap();
        release.send(()).unwrap();
        first.await.unwrap().unwrap();
        second.await.unwrap().unwrap();
        assert_eq!(started.load(Ordering::SeqCst), 2);
        assert_eq!(pool.run(|| 7).await.unwrap(), 7, "places are given back");
    }
}
