//! The in-process [`Dedup`] store, for a single instance.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::dedup::{Claim, Completion, Dedup, DedupError, DedupFuture, Lease, DEFAULT_DONE_TTL};

/// How often expired records are swept out (on the next claim).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A [`Dedup`] store in this process's memory: exactly-once for one instance (behind a
/// load balancer with several, use `RedisDedup`). Records vanish
/// with the process; done records are kept for [`DEFAULT_DONE_TTL`] (48 h) unless
/// [`done_ttl`](MemoryDedup::done_ttl) says otherwise, and expired ones are swept out
/// once a minute, so memory stays bounded by the notifications of that period.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::notify::DedupError> {
/// use std::time::Duration;
/// use wechatpay::notify::{Claim, Dedup, MemoryDedup};
///
/// let store = MemoryDedup::new();
/// let Claim::Acquired(lease) = store.claim("EV-1", Duration::from_secs(60)).await? else {
///     unreachable!("a new id is free")
/// };
/// assert_eq!(store.claim("EV-1", Duration::from_secs(60)).await?, Claim::InProgress);
/// store.mark_done("EV-1", &lease).await?;
/// assert_eq!(store.claim("EV-1", Duration::from_secs(60)).await?, Claim::Done);
/// # Ok(()) }
/// ```
pub struct MemoryDedup {
    records: Mutex<Records>,
    done_ttl: Duration,
}

struct Records {
    by_id: HashMap<String, Record>,
    last_sweep: Instant,
}

enum Record {
    Leased { token: String, until: Instant },
    Done { until: Instant },
}

impl Record {
    fn expired(&self, now: Instant) -> bool {
        match self {
            Record::Leased { until, .. } | Record::Done { until } => *until <= now,
        }
    }
}

impl MemoryDedup {
    /// An empty store.
    pub fn new() -> MemoryDedup {
        MemoryDedup {
            records: Mutex::new(Records {
                by_id: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            done_ttl: DEFAULT_DONE_TTL,
        }
    }

    /// How long done records are kept (default 48 h; keep it past the platform's 24 h of
    /// redeliveries).
    #[must_use]
    pub fn done_ttl(mut self, ttl: Duration) -> MemoryDedup {
        self.done_ttl = ttl;
        self
    }

    /// How many ids are recorded (leased or done, expired ones not yet swept included).
    pub fn len(&self) -> usize {
        self.lock().by_id.len()
    }

    /// Whether no id is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // A poisoned lock only means another thread panicked mid-update of a plain map whose
    // every state is valid; keep serving.
    fn lock(&self) -> MutexGuard<'_, Records> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn claim_now(&self, id: &str, lease: Duration) -> Result<Claim, DedupError> {
        let now = Instant::now();
        let mut records = self.lock();
        if now.duration_since(records.last_sweep) >= SWEEP_EVERY {
            records.by_id.retain(|_, record| !record.expired(now));
            records.last_sweep = now;
        }
        match records.by_id.get(id) {
            Some(record) if !record.expired(now) => Ok(match record {
                Record::Done { .. } => Claim::Done,
                Record::Leased { .. } => Claim::InProgress,
            }),
            _ => {
                let granted = Lease::random()?;
                records.by_id.insert(
                    id.to_owned(),
                    Record::Leased {
                        token: granted.token().to_owned(),
                        until: now + lease,
                    },
                );
                Ok(Claim::Acquired(granted))
            }
        }
    }

    fn mark_done_now(&self, id: &str, lease: &Lease) -> Completion {
        let now = Instant::now();
        let mut records = self.lock();
        let completion = match records.by_id.get(id) {
            Some(Record::Done { until }) if *until > now => return Completion::AlreadyDone,
            Some(Record::Leased { token, until }) if token == lease.token() && *until > now => {
                Completion::Recorded
            }
            _ => Completion::LeaseLost,
        };
        records.by_id.insert(
            id.to_owned(),
            Record::Done {
                until: now + self.done_ttl,
            },
        );
        completion
    }

    fn release_now(&self, id: &str, lease: &Lease) -> bool {
        let mut records = self.lock();
        let ours = matches!(
            records.by_id.get(id),
            Some(Record::Leased { token, .. }) if token == lease.token()
        );
        if ours {
            records.by_id.remove(id);
        }
        ours
    }
}

impl Default for MemoryDedup {
    fn default() -> Self {
        MemoryDedup::new()
    }
}

impl fmt::Debug for MemoryDedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDedup")
            .field("records", &self.len())
            .field("done_ttl", &self.done_ttl)
            .finish()
    }
}

impl Dedup for MemoryDedup {
    fn claim<'a>(&'a self, id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        let claimed = self.claim_now(id, lease);
        Box::pin(std::future::ready(claimed))
    }

    fn mark_done<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, Completion> {
        let completion = self.mark_done_now(id, lease);
        Box::pin(std::future::ready(Ok(completion)))
    }

    fn release<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, bool> {
        let released = self.release_now(id, lease);
        Box::pin(std::future::ready(Ok(released)))
    }
}
