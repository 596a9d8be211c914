//! The signing pool: RSA signatures off the async executor.

use crate::error::Error;

/// Runs `job` (an RSA signature, hundreds of microseconds) on the signing pool instead of
/// the async executor, and waits for it without blocking the executor.
///
/// The pool is one thread per core, shared by every client of the process and started on
/// first use. Each thread takes the next job from one queue the moment it finishes the
/// last, so the cores stay busy under load; handing each signature to Tokio's blocking
/// pool instead left them idle between jobs (BENCHMARKS.md has both figures). The queue
/// is bounded by each client's `max_in_flight`. If no thread can be started the job runs
/// inline, correct if slower.
pub(crate) async fn off_executor<T, F>(job: F) -> Result<T, Error>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (done, result) = tokio::sync::oneshot::channel();
    let task: Job = Box::new(move || {
        let _ = done.send(job());
    });
    match pool() {
        Some(queue) => match queue.send(task) {
            Ok(()) => {}
            Err(std::sync::mpsc::SendError(task)) => task(),
        },
        None => task(),
    }
    result
        .await
        .map_err(|_| Error::crypto("the signing job panicked"))
}

type Job = Box<dyn FnOnce() + Send>;

fn pool() -> Option<&'static std::sync::mpsc::Sender<Job>> {
    static POOL: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (queue, jobs) = std::sync::mpsc::channel::<Job>();
        let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut started = 0;
        for i in 0..threads {
            let jobs = std::sync::Arc::clone(&jobs);
            let spawned = std::thread::Builder::new()
                .name(format!("wechatpay-sign-{i}"))
                .spawn(move || loop {
                    // The lock is held only while waiting for the next job.
                    let next = jobs.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(job) = next else { return };
                    // A panicking job drops its sender (the caller sees an error); the
                    // thread lives on for the next one.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                });
            if spawned.is_ok() {
                started += 1;
            }
        }
        (started > 0).then_some(queue)
    })
    .as_ref()
}
