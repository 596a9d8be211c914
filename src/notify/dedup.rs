//! Exactly-once handling of notifications that the platform delivers more than once:
//! the [`Dedup`] store contract and [`ExactlyOnce`], which runs a handler through it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;

use super::{Ack, Nack, Notification};
use crate::error::BoxError;

/// How long a claim lasts unless renewed by completion: 60 s. The platform waits about
/// 5 s for an answer and first redelivers after 15 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(60);

/// How long a done record is kept: 48 hours, well past the platform's last redelivery
/// (24 hours after the first).
pub const DEFAULT_DONE_TTL: Duration = Duration::from_secs(48 * 3600);

/// The future a [`Dedup`] method returns (boxed, so the trait works as `dyn Dedup`).
pub type DedupFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DedupError>> + Send + 'a>>;

/// A store of notification ids that lets one delivery at a time handle each notification,
/// and remembers which are done. [`MemoryDedup`](super::MemoryDedup) serves one
/// instance; `RedisDedup` (feature `redis`) serves many sharing one
/// Redis.
///
/// Implement it for another shared store (a SQL table with a unique key, etc.). The
/// contract, which `tests/notify_once.rs` checks for both built-in stores:
/// - [`claim`](Dedup::claim) atomically records a lease on an unknown id (or one whose
///   lease expired) and returns it; otherwise it says whether the id is done or claimed;
/// - [`mark_done`](Dedup::mark_done) records the id as done for the store's done TTL,
///   whoever holds it now (the handler did succeed), and says whether the lease was
///   still this one's;
/// - [`release`](Dedup::release) forgets the id only if it is still leased under this
///   lease (never another delivery's lease, never a done record).
pub trait Dedup: Send + Sync {
    /// Claims `id` for `lease`.
    ///
    /// # Errors
    ///
    /// [`DedupError`] if the store cannot be reached; the notification is then not handled
    /// (and answered 503, so the platform retries).
    fn claim<'a>(&'a self, id: &'a str, lease: Duration) -> DedupFuture<'a, Claim>;

    /// Records `id` as done after its handler succeeded under `lease`.
    ///
    /// # Errors
    ///
    /// [`DedupError`] if the store cannot be reached.
    fn mark_done<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, Completion>;

    /// Gives `id` back after its handler failed under `lease`, so the next delivery runs
    /// it; returns whether the lease was still held (and so was released).
    ///
    /// # Errors
    ///
    /// [`DedupError`] if the store cannot be reached (the lease then expires by itself).
    fn release<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, bool>;
}

impl<D: Dedup + ?Sized> Dedup for Arc<D> {
    fn claim<'a>(&'a self, id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        (**self).claim(id, lease)
    }

    fn mark_done<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, Completion> {
        (**self).mark_done(id, lease)
    }

    fn release<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, bool> {
        (**self).release(id, lease)
    }
}

/// What [`Dedup::claim`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The id is now leased to the caller: run the handler, then
    /// [`mark_done`](Dedup::mark_done) or [`release`](Dedup::release) with this lease.
    Acquired(Lease),
    /// Another delivery holds an unexpired lease on the id and has not finished.
    InProgress,
    /// The id was handled already.
    Done,
}

/// What [`Dedup::mark_done`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// The lease was still the caller's; the id is done.
    Recorded,
    /// The lease had expired, or another delivery had claimed the id since; the id is
    /// done now (another handler run may be under way: the lease was too short).
    LeaseLost,
    /// Another delivery had marked the id done already: the handler ran twice (the
    /// lease was too short).
    AlreadyDone,
}

/// One claim on one id: a random token that tells this delivery's lease from any other.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    token: String,
}

impl Lease {
    /// A lease with a fresh random token (32 characters from the system CSPRNG).
    ///
    /// # Errors
    ///
    /// [`DedupError`] if the system random number generator fails.
    pub fn random() -> Result<Lease, DedupError> {
        crate::crypto::random_nonce(32)
            .map(|token| Lease { token })
            .map_err(|e| DedupError::with_source("cannot make a lease token", e))
    }

    /// A lease with a given token (for stores that make their own).
    pub fn from_token(token: impl Into<String>) -> Lease {
        Lease {
            token: token.into(),
        }
    }

    /// The token.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Lease").field(&self.token).finish()
    }
}

/// A [`Dedup`] store could not be used (unreachable, timed out, answered unexpectedly).
///
/// The message says what was attempted; the cause is in `source()`.
#[derive(Debug)]
pub struct DedupError {
    message: String,
    source: Option<BoxError>,
}

impl DedupError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> DedupError {
        DedupError {
            message: message.into(),
            source: None,
        }
    }

    /// An error with a message and its cause.
    pub fn with_source(message: impl Into<String>, source: impl Into<BoxError>) -> DedupError {
        DedupError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for DedupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "notification store: {}", self.message)
    }
}

impl std::error::Error for DedupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Runs a notification handler at most once per notification id across every instance
/// that shares the [`Dedup`] store, and at least once as long as the platform keeps
/// delivering.
///
/// The platform sends a notification again until it gets a 2xx: after a timeout, after a
/// 5xx, sometimes to another instance behind the load balancer, sometimes while the first
/// delivery is still being handled. [`run`](ExactlyOnce::run) claims the notification id
/// in the store with a lease before the handler runs, marks it done after the handler
/// succeeds and releases it if the handler fails:
///
/// | the id is | the delivery | answer |
/// |---|---|---|
/// | unknown, or its lease expired | runs the handler | 204, or 500 if the handler fails (the id is released, so the next delivery runs it again) |
/// | claimed by an unfinished delivery | does not run it | 503 (retryable: the platform delivers again) |
/// | done | does not run it | 204 |
/// | unknown because the store is unreachable | does not run it | 503 |
///
/// A handler that hangs or whose process dies keeps the id only until the lease expires;
/// then the next delivery runs it. Pick a lease longer than the handler ever needs: if it
/// expires while the handler is still working, a second delivery can start the handler
/// again (this is logged).
///
/// Cheap to clone (the store is behind an `Arc`): keep one in the web framework's state.
/// Framework-free; the `axum` and `actix-web` extractors hand it their verified
/// notification, and [`Outcome`] is an answer in both frameworks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use wechatpay::notify::{ExactlyOnce, MemoryDedup, Notification};
///
/// // The business side effect (here: counting).
/// async fn fulfil(n: Notification, fulfilled: &AtomicUsize) -> Result<(), std::io::Error> {
///     assert_eq!(n.resource["out_trade_no"], "1217752501201407033233368018");
///     fulfilled.fetch_add(1, Ordering::SeqCst);
///     Ok(())
/// }
///
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// let once = ExactlyOnce::new(MemoryDedup::new());
/// let incoming = wechatpay::sandbox::notification("TRANSACTION.SUCCESS", serde_json::json!({
///     "out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS",
/// }))?;
/// let fulfilled = AtomicUsize::new(0);
///
/// // The platform delivers it twice; the handler runs once.
/// for _ in 0..2 {
///     let notification = wxpay.notification(&incoming.headers, &incoming.body)?;
///     let outcome = once.run(notification, |n| fulfil(n, &fulfilled)).await;
///     assert_eq!(outcome.into_response().status(), 204);
/// }
/// assert_eq!(fulfilled.load(Ordering::SeqCst), 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ExactlyOnce {
    store: Arc<dyn Dedup>,
    lease: Duration,
}

impl ExactlyOnce {
    /// Handles notifications once per id in `store`, with a [`DEFAULT_LEASE`] of 60 s.
    pub fn new(store: impl Dedup + 'static) -> ExactlyOnce {
        ExactlyOnce::from_arc(Arc::new(store))
    }

    /// As [`new`](ExactlyOnce::new), for a store already shared.
    pub fn from_arc(store: Arc<dyn Dedup>) -> ExactlyOnce {
        ExactlyOnce {
            store,
            lease: DEFAULT_LEASE,
        }
    }

    /// How long a delivery may run the handler before another delivery may start it again
    /// (default 60 s; at least 1 ms). Longer than the handler ever takes; shorter leases
    /// retry a crashed or hung handler sooner.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> ExactlyOnce {
        self.lease = lease.max(Duration::from_millis(1));
        self
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Dedup> {
        &self.store
    }

    /// Runs `handler` on `notification` unless another delivery of it is done or under
    /// way, and says what happened; [`Outcome::into_response`] is the answer for the
    /// platform.
    ///
    /// The handler's error is logged (at `warn`) and kept in [`Outcome::Failed`]; the
    /// platform is only told that handling failed. A handler that panics, or a request
    /// dropped mid-way (the client went away), keeps the id leased until the lease
    /// expires.
    pub async fn run<F, Fut, E>(&self, notification: Notification, handler: F) -> Outcome<E>
    where
        F: FnOnce(Notification) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: fmt::Display,
    {
        let id = notification.id.clone();
        let lease = match self.store.claim(&id, self.lease).await {
            Ok(Claim::Acquired(lease)) => lease,
            Ok(Claim::Done) => {
                log::debug!("notification {id} was handled already; acknowledging");
                return Outcome::AlreadyHandled;
            }
            Ok(Claim::InProgress) => {
                log::info!("notification {id} is being handled by another delivery");
                return Outcome::InProgress;
            }
            Err(error) => {
                log::warn!("notification {id} not handled: {error}");
                return Outcome::StoreFailed(error);
            }
        };
        match handler(notification).await {
            Ok(()) => {
                match self.store.mark_done(&id, &lease).await {
                    Ok(Completion::Recorded) => {}
                    Ok(Completion::LeaseLost) => log::warn!(
                        "notification {id}: the {:?} lease expired before the handler finished; \
                         another delivery may have run it too (raise ExactlyOnce::lease)",
                        self.lease
                    ),
                    Ok(Completion::AlreadyDone) => log::warn!(
                        "notification {id}: another delivery finished it first; the handler ran twice \
                         (raise ExactlyOnce::lease above the handler's longest run)"
                    ),
                    // The handler's work is done; answering 5xx would only have it redone.
                    Err(error) => log::warn!(
                        "notification {id} was handled but could not be recorded as done: {error}"
                    ),
                }
                Outcome::Handled
            }
            Err(error) => {
                log::warn!("the handler failed on notification {id}: {error}");
                match self.store.release(&id, &lease).await {
                    Ok(_) => {}
                    Err(release_error) => log::warn!(
                        "notification {id} could not be released ({release_error}); \
                         it is retried when its {:?} lease expires",
                        self.lease
                    ),
                }
                Outcome::Failed(error)
            }
        }
    }
}

impl fmt::Debug for ExactlyOnce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExactlyOnce")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// What [`ExactlyOnce::run`] did, and the answer for the platform
/// ([`into_response`](Outcome::into_response); an axum `IntoResponse` and an actix-web
/// `Responder` with those features).
#[derive(Debug)]
#[non_exhaustive]
pub enum Outcome<E> {
    /// The handler ran and succeeded: 204.
    Handled,
    /// Another delivery had handled it: 204, the handler did not run.
    AlreadyHandled,
    /// Another delivery is handling it: 503, the handler did not run; the platform
    /// delivers again.
    InProgress,
    /// The handler failed with this error; the id was released: 500, and the platform's
    /// next delivery runs the handler again.
    Failed(E),
    /// The store could not be used: 503, the handler did not run.
    StoreFailed(DedupError),
}

impl<E> Outcome<E> {
    /// Whether the platform is told the notification was handled (2xx).
    pub fn is_acknowledged(&self) -> bool {
        matches!(self, Outcome::Handled | Outcome::AlreadyHandled)
    }

    /// The answer as a value.
    ///
    /// # Errors
    ///
    /// The [`Nack`] (503 while another delivery works on it or the store is down, 500
    /// after a handler failure) when the notification was not handled.
    pub fn answer(&self) -> Result<Ack, Nack> {
        match self {
            Outcome::Handled | Outcome::AlreadyHandled => Ok(Ack),
            Outcome::InProgress => Err(Nack::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the notification is being handled by another delivery; deliver it again later",
            )),
            Outcome::Failed(_) => Err(Nack::new(
                "the notification could not be handled; deliver it again later",
            )),
            Outcome::StoreFailed(_) => Err(Nack::with_status(
                StatusCode::SERVICE_UNAVAILABLE,
                "the notification store is unavailable; deliver it again later",
            )),
        }
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> StatusCode {
        match self.answer() {
            Ok(_) => StatusCode::NO_CONTENT,
            Err(nack) => nack.status(),
        }
    }

    /// The answer as an `http::Response`.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        match self.answer() {
            Ok(ack) => ack.into_response(),
            Err(nack) => nack.into_response(),
        }
    }
}
