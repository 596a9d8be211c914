//! The Redis [`Dedup`] store, for several instances behind a load balancer.

use std::fmt;
use std::sync::LazyLock;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, ExistenceCheck, Script, SetExpiry, SetOptions};

use super::dedup::{Claim, Completion, Dedup, DedupError, DedupFuture, Lease, DEFAULT_DONE_TTL};

/// The default key prefix: an id's record is `wechatpay:notify:<id>`.
pub const DEFAULT_REDIS_PREFIX: &str = "wechatpay:notify:";

/// The value of a done record; a lease's value is `lease:<token>`.
const DONE: &str = "done";

/// Marks done whoever holds the id (the handler did succeed), and says whether the lease
/// was still ours: 1 ours, 0 lost (expired or another delivery's), 2 already done.
static MARK_DONE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"local current = redis.call('GET', KEYS[1])
if current == ARGV[2] then return 2 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if current == ARGV[1] then return 1 end
return 0",
    )
});

/// Deletes the record only if it still holds our lease, never another delivery's lease
/// or a done record: 1 released, 0 not ours.
static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0",
    )
});

/// A [`Dedup`] store in Redis, shared by every instance that uses the same Redis and key
/// prefix: exactly-once across a load-balanced fleet.
///
/// - claim: `SET <prefix><id> lease:<random token> NX PX <lease ms>`; if the key exists,
///   `GET` tells a done record from another delivery's lease;
/// - mark done: a Lua script sets the value `done` with a `PX` of the done TTL (48 h
///   by default, past the platform's 24 h of redeliveries) and reports whether the key
///   still held this delivery's token;
/// - release: a Lua script deletes the key only if it still holds this delivery's token.
///
/// Each step is one atomic Redis command or script, so two instances can never both hold
/// a lease on one id. Commands time out after 2 s (the platform waits about 5 s for an
/// answer); the connection is re-established after a failure.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::notify::DedupError> {
/// use wechatpay::notify::{ExactlyOnce, RedisDedup};
///
/// let store = RedisDedup::connect("redis://127.0.0.1:6379/").await?.prefix("shop:wxpay:");
/// let once = ExactlyOnce::new(store);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisDedup {
    connection: ConnectionManager,
    prefix: String,
    done_ttl: Duration,
}

impl RedisDedup {
    /// Connects to the Redis at `url` (`redis://[:password@]host:port/[db]`,
    /// `rediss://` for TLS when the `redis` crate has a TLS feature enabled).
    ///
    /// # Errors
    ///
    /// [`DedupError`] for a URL that does not parse or a server that cannot be reached
    /// within 5 s. The message never repeats the URL (it may hold a password).
    pub async fn connect(url: &str) -> Result<RedisDedup, DedupError> {
        let client = ::redis::Client::open(url)
            .map_err(|e| DedupError::with_source("the Redis URL is not valid", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2);
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| DedupError::with_source("cannot connect to Redis", e))?;
        Ok(RedisDedup::new(connection))
    }

    /// A store on an existing connection manager (with its own timeouts and TLS).
    pub fn new(connection: ConnectionManager) -> RedisDedup {
        RedisDedup {
            connection,
            prefix: DEFAULT_REDIS_PREFIX.to_owned(),
            done_ttl: DEFAULT_DONE_TTL,
        }
    }

    /// The key prefix (default [`DEFAULT_REDIS_PREFIX`]); give each merchant or
    /// application sharing a Redis its own.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> RedisDedup {
        self.prefix = prefix.into();
        self
    }

    /// How long done records are kept (default 48 h; keep it past the platform's 24 h of
    /// redeliveries). At least 1 ms.
    #[must_use]
    pub fn done_ttl(mut self, ttl: Duration) -> RedisDedup {
        self.done_ttl = ttl.max(Duration::from_millis(1));
        self
    }

    fn key(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    async fn claim_id(&self, id: &str, lease: Duration) -> Result<Claim, DedupError> {
        let granted = Lease::random()?;
        let key = self.key(id);
        let mut connection = self.connection.clone();
        let options = SetOptions::default()
            .conditional_set(ExistenceCheck::NX)
            .with_expiration(SetExpiry::PX(millis(lease)));
        let set: Option<String> = connection
            .set_options(&key, lease_value(&granted), options)
            .await
            .map_err(|e| DedupError::with_source(format!("cannot claim `{key}` in Redis"), e))?;
        if set.is_some() {
            return Ok(Claim::Acquired(granted));
        }
        let current: Option<String> = connection
            .get(&key)
            .await
            .map_err(|e| DedupError::with_source(format!("cannot read `{key}` in Redis"), e))?;
        // Absent now means the other lease expired between the two commands: the next
        // delivery will claim it.
        Ok(match current.as_deref() {
            Some(DONE) => Claim::Done,
            _ => Claim::InProgress,
        })
    }

    async fn mark_id_done(&self, id: &str, lease: &Lease) -> Result<Completion, DedupError> {
        let key = self.key(id);
        let mut connection = self.connection.clone();
        let found: i64 = MARK_DONE
            .key(&key)
            .arg(lease_value(lease))
            .arg(DONE)
            .arg(millis(self.done_ttl))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| {
                DedupError::with_source(format!("cannot mark `{key}` done in Redis"), e)
            })?;
        Ok(match found {
            1 => Completion::Recorded,
            2 => Completion::AlreadyDone,
            _ => Completion::LeaseLost,
        })
    }

    async fn release_id(&self, id: &str, lease: &Lease) -> Result<bool, DedupError> {
        let key = self.key(id);
        let mut connection = self.connection.clone();
        let released: i64 = RELEASE
            .key(&key)
            .arg(lease_value(lease))
            .invoke_async(&mut connection)
            .await
            .map_err(|e| DedupError::with_source(format!("cannot release `{key}` in Redis"), e))?;
        Ok(released == 1)
    }
}

fn lease_value(lease: &Lease) -> String {
    format!("lease:{}", lease.token())
}

/// Whole milliseconds, at least 1 (`PX 0` is an error).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl fmt::Debug for RedisDedup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not the connection: its URL may carry a password.
        f.debug_struct("RedisDedup")
            .field("prefix", &self.prefix)
            .field("done_ttl", &self.done_ttl)
            .finish_non_exhaustive()
    }
}

impl Dedup for RedisDedup {
    fn claim<'a>(&'a self, id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        Box::pin(self.claim_id(id, lease))
    }

    fn mark_done<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, Completion> {
        Box::pin(self.mark_id_done(id, lease))
    }

    fn release<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, bool> {
        Box::pin(self.release_id(id, lease))
    }
}
