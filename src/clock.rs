//! The one clock.
//!
//! Everything in a client that reads the time reads it from one [`Clock`], set once with
//! [`WechatpayBuilder::clock`](crate::WechatpayBuilder::clock): the `timestamp` of request
//! signatures, the 300 s window of answer and notification verification, pay-sign
//! parameters, and the expiry of platform certificates. A test or a replay fixes it once
//! instead of patching five places.
//!
//! Throughout the crate, a method whose name ends in `_at` takes the time to act at, as a
//! [`SystemTime`]: [`Verifier::verify_at`](crate::Verifier::verify_at),
//! [`NotificationBuilder::at`](crate::sandbox::NotificationBuilder::at). Fixing the
//! signature inputs themselves (a Unix timestamp and a nonce) is what
//! [`RequestBuilder::timestamp`](crate::RequestBuilder::timestamp) and
//! [`RequestBuilder::nonce`](crate::RequestBuilder::nonce) do, per request.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use wechatpay::Clock;
//!
//! let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
//! let clock = Clock::fixed(then);
//! assert_eq!(clock.now(), then);
//! assert_eq!(clock.unix_seconds(), 1_554_208_460);
//!
//! // Any closure will do, e.g. a clock running ten minutes ahead.
//! let ahead = Clock::from(|| SystemTime::now() + Duration::from_secs(600));
//! assert!(ahead.now() > SystemTime::now());
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

/// A source of the current time, cheap to clone (an `Arc` inside). The default is the
/// system clock.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> SystemTime + Send + Sync>);

impl Clock {
    /// The system clock ([`SystemTime::now`]).
    pub fn system() -> Clock {
        Clock(Arc::new(SystemTime::now))
    }

    /// A clock stopped at `at`, for snapshots and replays.
    pub fn fixed(at: SystemTime) -> Clock {
        Clock(Arc::new(move || at))
    }

    /// The current time by this clock.
    pub fn now(&self) -> SystemTime {
        (self.0)()
    }

    /// The current time as Unix seconds (negative before 1970, saturating at the ends of
    /// `i64`).
    pub fn unix_seconds(&self) -> i64 {
        unix_seconds(self.now())
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl<F> From<F> for Clock
where
    F: Fn() -> SystemTime + Send + Sync + 'static,
{
    fn from(now: F) -> Clock {
        Clock(Arc::new(now))
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Clock").field(&self.unix_seconds()).finish()
    }
}

/// Unix seconds of a time: negative before the epoch, saturating at the ends of `i64`.
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn unix_seconds_saturate_and_round_trip() {
        assert_eq!(unix_seconds(SystemTime::UNIX_EPOCH), 0);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(unix_seconds(t), 1_700_000_000);
        let before = SystemTime::UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!(unix_seconds(before), -5);
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::MAX / 2);
        assert_eq!(unix_seconds(far), i64::MAX);
    }

    #[test]
    fn a_fixed_clock_does_not_move() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
        let clock = Clock::fixed(at);
        assert_eq!(clock.now(), at);
        assert_eq!(format!("{clock:?}"), "Clock(1554208460)");
    }
}
