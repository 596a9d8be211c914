//! Retries that are safe for payments: which failures are retried, how long to wait, and
//! how many retries a client may add to its load.
//!
//! Three pieces, kept apart so each can be tested alone:
//!
//! - [`RetryPolicy`], plain data: how many attempts, the backoff, the longest
//!   `Retry-After` honoured, an optional limit per attempt;
//! - the decision, a pure function of the policy, the attempt and what happened (no I/O,
//!   no clock, no randomness of its own: the jitter is an argument);
//! - [`RetryBudget`], a token bucket shared by a client and its clones, so that an outage
//!   does not multiply the load on the platform.
//!
//! The loop that uses them lives in the request layer, where each attempt can be signed
//! again with a fresh timestamp and nonce.
//!
//! # What is retried
//!
//! | what happened | GET, HEAD | POST, PUT, PATCH, DELETE |
//! |---|---|---|
//! | connect failure (refused, connect timeout, DNS): the request never left | retried | retried |
//! | TLS handshake failure | not retried (certificates or TLS inspection: a retry repeats it) | not retried |
//! | 429, 500, 502, 503, 504, or the codes `FREQUENCY_LIMITED`, `SYSTEM_ERROR` | retried | only with [`RequestBuilder::idempotent`](crate::RequestBuilder::idempotent) |
//! | connection lost mid-exchange, or [`RetryPolicy::attempt_timeout`] expired | retried | only with `idempotent()` |
//! | any other answer, a verification failure, the total timeout | not retried | not retried |
//!
//! A request the platform may have acted on is sent again only when the caller says that
//! sending it twice acts once, as for a body carrying an idempotency key such as
//! `out_trade_no` or `out_refund_no`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::{HeaderValue, StatusCode};
use tokio::time::Instant;

/// How a client retries, as plain data (see the [module documentation](self) for what is
/// retried). The default: 3 attempts in all, full-jitter exponential backoff from 100 ms
/// up to 2 s, `Retry-After` honoured up to 10 s, no limit per attempt (the
/// [total timeout](crate::Timeouts::total) covers every attempt and every wait).
///
/// Set it for a client with [`WechatpayBuilder::retry`](crate::WechatpayBuilder::retry)
/// and for one request with [`RequestBuilder::retry`](crate::RequestBuilder::retry).
///
/// ```
/// use std::time::Duration;
/// use wechatpay::RetryPolicy;
///
/// let patient = RetryPolicy { max_attempts: 5, max_backoff: Duration::from_secs(4), ..RetryPolicy::default() };
/// assert_eq!(patient.base_backoff, Duration::from_millis(100));
/// assert_eq!(RetryPolicy::none().max_attempts, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included: `1` never retries. Default 3.
    pub max_attempts: u32,
    /// The backoff before the first retry is drawn from `0..=base_backoff`; it doubles
    /// with each retry ("full jitter"). Default 100 ms.
    pub base_backoff: Duration,
    /// The backoff never exceeds this. Default 2 s.
    pub max_backoff: Duration,
    /// A `Retry-After` (seconds or an HTTP-date) is waited out exactly, if it is at most
    /// this long; a longer one ends the retries and the answer is returned. Default 10 s.
    pub max_retry_after: Duration,
    /// A limit on each attempt, so that one stalled exchange leaves time for another
    /// within the total timeout. An attempt that runs out of it is retried only for a
    /// request that may be sent twice. Default `None`: only the total timeout applies.
    pub attempt_timeout: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(10),
            attempt_timeout: None,
        }
    }
}

impl RetryPolicy {
    /// Never retries: one attempt (the failover to a backup host, which resends a request
    /// that never reached the first host, still happens).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use wechatpay::RetryPolicy;
    ///
    /// let request = wxpay.chain("v3/certificates").get().retry(RetryPolicy::none());
    /// # let _ = request;
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }
}

/// How many retries a client (and its clones) may add to its load: at most `ratio`
/// retries per request sent over the last ten seconds, or `min_per_second` retries per
/// second when that allows more (so a quiet client can still retry). Default: 10% extra
/// load, at least 5 retries per second.
///
/// When the budget is spent, a failure that would have been retried is returned as it
/// is. Set it with [`WechatpayBuilder::retry_budget`](crate::WechatpayBuilder::retry_budget).
///
/// ```
/// use wechatpay::RetryBudget;
///
/// let strict = RetryBudget { ratio: 0.05, ..RetryBudget::default() };
/// assert_eq!(strict.min_per_second, 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per request sent (first attempts), e.g. `0.1` for 10% extra load.
    pub ratio: f64,
    /// Retries allowed per second whatever the traffic.
    pub min_per_second: u32,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            ratio: 0.1,
            min_per_second: 5,
        }
    }
}

/// How the retry loop waits between attempts: `tokio::time::sleep` unless replaced with
/// [`WechatpayBuilder::retry_sleep`](crate::WechatpayBuilder::retry_sleep) (tests that
/// must not wait).
pub(crate) type Sleep =
    Arc<dyn Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// The budget's window: retries are counted against the requests of the last this many
/// seconds.
const WINDOW_SECONDS: usize = 10;

/// A [`RetryBudget`] in force: first attempts and retries counted per second over a
/// sliding window of [`WINDOW_SECONDS`].
pub(crate) struct Budget {
    config: RetryBudget,
    window: Mutex<Window>,
}

struct Window {
    /// The instant second 0 starts at.
    origin: Instant,
    /// The second the newest slot counts.
    second: u64,
    /// `(first attempts, retries)` per second; slot `second % WINDOW_SECONDS` is the newest.
    slots: [(u64, u64); WINDOW_SECONDS],
}

impl Window {
    /// Moves the window to `now`, emptying the seconds it leaves behind.
    fn advance(&mut self, now: Instant) -> &mut (u64, u64) {
        let second = now.saturating_duration_since(self.origin).as_secs();
        if second > self.second {
            let stale = (second - self.second).min(WINDOW_SECONDS as u64);
            for s in 1..=stale {
                self.slots[((self.second + s) % WINDOW_SECONDS as u64) as usize] = (0, 0);
            }
            self.second = second;
        }
        &mut self.slots[(self.second % WINDOW_SECONDS as u64) as usize]
    }
}

impl Budget {
    pub(crate) fn new(config: RetryBudget, now: Instant) -> Budget {
        Budget {
            config,
            window: Mutex::new(Window {
                origin: now,
                second: 0,
                slots: [(0, 0); WINDOW_SECONDS],
            }),
        }
    }

    /// Counts a first attempt.
    pub(crate) fn deposit(&self, now: Instant) {
        // A poisoned lock still holds consistent counters: every update is one addition.
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.advance(now).0 += 1;
    }

    /// Takes a retry from the budget, if there is one left.
    pub(crate) fn withdraw(&self, now: Instant) -> bool {
        let mut window = self.window.lock().unwrap_or_else(|e| e.into_inner());
        window.advance(now);
        let (requests, retries) = window
            .slots
            .iter()
            .fold((0u64, 0u64), |(r, t), (a, b)| (r + a, t + b));
        let by_ratio = self.config.ratio.max(0.0) * requests as f64;
        let floor = f64::from(self.config.min_per_second) * WINDOW_SECONDS as f64;
        if (retries + 1) as f64 <= by_ratio.max(floor) {
            window.advance(now).1 += 1;
            true
        } else {
            false
        }
    }
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What one attempt came to, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The request never left: the connection could not be made.
    NotSent,
    /// The request may have reached the platform: the connection broke mid-exchange, or
    /// the attempt ran out of its own time limit.
    Unknown,
    /// The platform answered with a failure.
    Answer {
        status: StatusCode,
        code: Option<String>,
        retry_after: Option<Duration>,
    },
    /// Nothing a retry could change: success, a verification failure, a TLS failure, the
    /// total timeout, a request that could not be formed.
    Final,
}

/// The attempt that just ended.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt {
    /// 1 for the first attempt.
    pub(crate) number: u32,
    /// Whether the request may be sent twice: GET/HEAD, or declared idempotent.
    pub(crate) idempotent: bool,
    /// Time left before the total timeout.
    pub(crate) remaining: Duration,
}

/// Why the loop stops without another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Success, or a failure a retry cannot change.
    Final,
    /// A retryable failure of a request the platform may have acted on.
    NotIdempotent,
    AttemptsExhausted,
    /// The platform asked for a wait longer than the policy allows.
    RetryAfterTooLong,
    /// The wait would end after the total timeout.
    DeadlineTooClose,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stop::Final => "not retryable",
            Stop::NotIdempotent => {
                "the platform may have acted on it and it is not declared idempotent"
            }
            Stop::AttemptsExhausted => "no attempts left",
            Stop::RetryAfterTooLong => "Retry-After is longer than the policy's max_retry_after",
            Stop::DeadlineTooClose => "the wait would end after the total timeout",
        })
    }
}

/// Retry after this long, or stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Retry(Duration),
    Stop(Stop),
}

/// Whether a platform answer is worth another attempt: overload and server-side failures.
fn retryable_answer(status: StatusCode, code: Option<&str>) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
        || matches!(code, Some("SYSTEM_ERROR" | "FREQUENCY_LIMITED"))
}

/// The retry decision: pure, so every rule is tested without a network. `jitter` is a
/// number in `[0, 1)` that scales the backoff (full jitter).
pub(crate) fn decide(
    policy: &RetryPolicy,
    attempt: &Attempt,
    outcome: &Outcome,
    jitter: f64,
) -> Decision {
    let retry_after = match outcome {
        Outcome::Final => return Decision::Stop(Stop::Final),
        Outcome::NotSent => None,
        Outcome::Unknown if attempt.idempotent => None,
        Outcome::Unknown => return Decision::Stop(Stop::NotIdempotent),
        Outcome::Answer {
            status,
            code,
            retry_after,
        } => {
            if !retryable_answer(*status, code.as_deref()) {
                return Decision::Stop(Stop::Final);
            }
            if !attempt.idempotent {
                return Decision::Stop(Stop::NotIdempotent);
            }
            *retry_after
        }
    };
    if attempt.number >= policy.max_attempts {
        return Decision::Stop(Stop::AttemptsExhausted);
    }
    let wait = match retry_after {
        Some(wait) if wait > policy.max_retry_after => {
            return Decision::Stop(Stop::RetryAfterTooLong)
        }
        Some(wait) => wait,
        None => backoff(policy, attempt.number, jitter),
    };
    if wait >= attempt.remaining {
        return Decision::Stop(Stop::DeadlineTooClose);
    }
    Decision::Retry(wait)
}

/// Full jitter: `jitter * min(max_backoff, base_backoff * 2^(number - 1))`.
pub(crate) fn backoff(policy: &RetryPolicy, number: u32, jitter: f64) -> Duration {
    let doublings = number.saturating_sub(1).min(30);
    let cap = policy
        .base_backoff
        .saturating_mul(1u32 << doublings)
        .min(policy.max_backoff);
    cap.mul_f64(jitter.clamp(0.0, 1.0))
}

/// A `Retry-After` value as a wait from `now`: delay-seconds, or an HTTP-date (a date in
/// the past is no wait). `None` for a value that is neither.
pub(crate) fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        // Saturates rather than fails on an absurd number of seconds: the policy's
        // max_retry_after then refuses it.
        return Some(Duration::from_secs(text.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(number: u32, idempotent: bool) -> Attempt {
        Attempt {
            number,
            idempotent,
            remaining: Duration::from_secs(30),
        }
    }

    fn answer(status: u16, code: Option<&str>) -> Outcome {
        Outcome::Answer {
            status: StatusCode::from_u16(status).unwrap(),
            code: code.map(str::to_owned),
            retry_after: None,
        }
    }

    #[test]
    fn connect_failures_are_retried_for_every_method() {
        let policy = RetryPolicy::default();
        for idempotent in [true, false] {
            assert!(matches!(
                decide(&policy, &attempt(1, idempotent), &Outcome::NotSent, 0.5),
                Decision::Retry(_)
            ));
        }
    }

    #[test]
    fn overload_and_server_errors_are_retried_only_when_sending_twice_is_safe() {
        let policy = RetryPolicy::default();
        for outcome in [
            answer(429, Some("FREQUENCY_LIMITED")),
            answer(500, Some("SYSTEM_ERROR")),
            answer(502, None),
            answer(503, None),
            answer(504, None),
            answer(400, Some("SYSTEM_ERROR")),
            answer(403, Some("FREQUENCY_LIMITED")),
            Outcome::Unknown,
        ] {
            assert!(
                matches!(
                    decide(&policy, &attempt(1, true), &outcome, 0.5),
                    Decision::Retry(_)
                ),
                "{outcome:?}"
            );
            assert_eq!(
                decide(&policy, &attempt(1, false), &outcome, 0.5),
                Decision::Stop(Stop::NotIdempotent),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn other_answers_and_final_outcomes_are_not_retried() {
        let policy = RetryPolicy::default();
        for outcome in [
            answer(400, Some("PARAM_ERROR")),
            answer(401, Some("SIGN_ERROR")),
            answer(404, Some("NOT_FOUND")),
            answer(501, None),
            Outcome::Final,
        ] {
            assert_eq!(
                decide(&policy, &attempt(1, true), &outcome, 0.5),
                Decision::Stop(Stop::Final),
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn attempts_are_bounded() {
        let policy = RetryPolicy::default();
        assert!(matches!(
            decide(&policy, &attempt(2, true), &Outcome::NotSent, 0.5),
            Decision::Retry(_)
        ));
        assert_eq!(
            decide(&policy, &attempt(3, true), &Outcome::NotSent, 0.5),
            Decision::Stop(Stop::AttemptsExhausted)
        );
        assert_eq!(
            decide(
                &RetryPolicy::none(),
                &attempt(1, true),
                &Outcome::NotSent,
                0.5
            ),
            Decision::Stop(Stop::AttemptsExhausted)
        );
    }

    #[test]
    fn backoff_is_full_jitter_doubling_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(backoff(&policy, 1, 0.0), Duration::ZERO);
        assert_eq!(backoff(&policy, 1, 1.0), Duration::from_millis(100));
        assert_eq!(backoff(&policy, 2, 1.0), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 3, 0.5), Duration::from_millis(200));
        assert_eq!(backoff(&policy, 6, 1.0), Duration::from_secs(2));
        assert_eq!(backoff(&policy, u32::MAX, 1.0), Duration::from_secs(2));
        assert_eq!(
            decide(&policy, &attempt(2, true), &Outcome::NotSent, 0.25),
            Decision::Retry(Duration::from_millis(50))
        );
    }

    #[test]
    fn retry_after_is_waited_out_exactly_within_the_policy() {
        let policy = RetryPolicy::default();
        let limited = |seconds| Outcome::Answer {
            status: StatusCode::TOO_MANY_REQUESTS,
            code: Some("FREQUENCY_LIMITED".into()),
            retry_after: Some(Duration::from_secs(seconds)),
        };
        assert_eq!(
            decide(&policy, &attempt(1, true), &limited(1), 0.9),
            Decision::Retry(Duration::from_secs(1))
        );
        assert_eq!(
            decide(&policy, &attempt(1, true), &limited(60), 0.9),
            Decision::Stop(Stop::RetryAfterTooLong)
        );
    }

    #[test]
    fn a_wait_past_the_total_timeout_is_not_started() {
        let policy = RetryPolicy::default();
        let late = Attempt {
            number: 1,
            idempotent: true,
            remaining: Duration::from_millis(50),
        };
        assert_eq!(
            decide(&policy, &late, &Outcome::NotSent, 1.0),
            Decision::Stop(Stop::DeadlineTooClose)
        );
        assert!(matches!(
            decide(&policy, &late, &Outcome::NotSent, 0.1),
            Decision::Retry(_)
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let value = |s: &str| HeaderValue::from_str(s).unwrap();
        assert_eq!(
            parse_retry_after(&value("1"), now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            parse_retry_after(&value(" 120 "), now),
            Some(Duration::from_secs(120))
        );
        // 1445412480 is Wed, 21 Oct 2015 07:28:00 GMT.
        assert_eq!(
            parse_retry_after(&value("Wed, 21 Oct 2015 07:28:05 GMT"), now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after(&value("Wed, 21 Oct 2015 07:27:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after(&value("soon"), now), None);
        assert_eq!(parse_retry_after(&value("-1"), now), None);
        assert_eq!(
            parse_retry_after(&value("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn the_budget_allows_the_ratio_of_recent_requests_or_the_floor() {
        let start = Instant::now();
        let budget = Budget::new(
            RetryBudget {
                ratio: 0.1,
                min_per_second: 1,
            },
            start,
        );
        // A quiet client: the floor, 1 per second over the 10 s window.
        let granted = (0..100).filter(|_| budget.withdraw(start)).count();
        assert_eq!(granted, 10);
        // A busy one: 10% of the requests of the window.
        let busy = Budget::new(RetryBudget::default(), start);
        for _ in 0..2000 {
            busy.deposit(start);
        }
        let granted = (0..1000).filter(|_| busy.withdraw(start)).count();
        assert_eq!(granted, 200);
        // Ten seconds later the old requests and retries have left the window.
        let later = start + Duration::from_secs(10);
        let granted = (0..1000).filter(|_| busy.withdraw(later)).count();
        assert_eq!(granted, 50, "only the floor of 5 per second is left");
        // Partly: requests of seconds 0..5 stay in the window at second 9.
        let partial = Budget::new(
            RetryBudget {
                ratio: 0.5,
                min_per_second: 0,
            },
            start,
        );
        for second in 0..5 {
            for _ in 0..10 {
                partial.deposit(start + Duration::from_secs(second));
            }
        }
        let at_nine = start + Duration::from_secs(9);
        assert_eq!((0..100).filter(|_| partial.withdraw(at_nine)).count(), 25);
        let at_twelve = start + Duration::from_secs(12);
        // Seconds 0..=2 left; 20 requests (seconds 3, 4) remain; 25 retries left too,
        // except those at second 9 (all of them) still count: 25 > 10, nothing granted.
        assert_eq!((0..100).filter(|_| partial.withdraw(at_twelve)).count(), 0);
    }
}
