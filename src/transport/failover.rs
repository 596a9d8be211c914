//! Failover that comes back: a small circuit breaker per host.
//!
//! A host that refuses or times out connecting [`Failover::trip_after`] times in a row is
//! *down*: requests go to the other host first. After [`Failover::cool_down`] the host is
//! *probing*: one request at a time goes to it, and the first that connects brings it back
//! *up*; one that cannot connect puts it down for another cool-down. The breakers track
//! reachability only: any answer, whatever its status, means the host is up; an answer that
//! never came (the exchange broke after the connection was made, or time ran out) says
//! nothing either way.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::hosts::Origin;

/// When the backup host takes over and when the primary gets its traffic back, as plain
/// data. The default: the first connect failure moves traffic to the other host, and a
/// probe tries the failed host again after 30 s.
///
/// Set it with [`WechatpayBuilder::failover`](crate::WechatpayBuilder::failover); the
/// hosts are [`base_url`](crate::WechatpayBuilder::base_url) and
/// [`backup_base_url`](crate::WechatpayBuilder::backup_base_url).
///
/// ```
/// use std::time::Duration;
/// use wechatpay::Failover;
///
/// let failover = Failover { cool_down: Duration::from_secs(10), ..Failover::default() };
/// assert_eq!(failover.trip_after, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failover {
    /// Connect failures in a row that put a host down. Default 1: a refused connection
    /// or a connect timeout is a strong signal, and each one costs a request up to the
    /// connect timeout.
    pub trip_after: u32,
    /// How long a host stays down before one request probes it. Default 30 s.
    pub cool_down: Duration,
}

impl Default for Failover {
    fn default() -> Self {
        Failover {
            trip_after: 1,
            cool_down: Duration::from_secs(30),
        }
    }
}

/// Whether requests go to a host, as [`Wechatpay::failover_status`](crate::Wechatpay::failover_status)
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostState {
    /// Requests go to the host.
    Up,
    /// The host could not be connected to; requests go to the other host first. After
    /// `retry_in` (zero once the cool-down is over) the next request probes it.
    Down {
        /// Time left in the cool-down.
        retry_in: Duration,
    },
    /// One request is probing the host after its cool-down; the others go elsewhere.
    Probing,
}

/// One host of the failover pair and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HostStatus {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// Whether requests go to it.
    pub state: HostState,
    /// Connect failures in a row.
    pub consecutive_failures: u32,
}

/// The primary and backup hosts of a client and their states (see
/// [`Wechatpay::failover_status`](crate::Wechatpay::failover_status)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FailoverStatus {
    /// The host of the base URL.
    pub primary: HostStatus,
    /// The backup host.
    pub backup: HostStatus,
}

impl FailoverStatus {
    /// The origin the next request goes to first: the primary unless it is down (or being
    /// probed) and the backup is not.
    pub fn active(&self) -> &str {
        let usable = |host: &HostStatus| host.state == HostState::Up;
        if usable(&self.primary) || !usable(&self.backup) {
            &self.primary.origin
        } else {
            &self.backup.origin
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant, failures: u32 },
    HalfOpen { probing: bool, failures: u32 },
}

/// One host's breaker.
struct Breaker {
    state: Mutex<State>,
}

/// Whether a request may go to a host now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    Yes,
    /// Yes, as the one probe of a host coming back.
    Probe,
    No,
}

/// What an exchange with a host showed about its reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// It answered.
    Connected,
    /// It refused or timed out connecting (or the TLS handshake failed).
    Refused,
    /// Nothing either way.
    Unknown,
}

impl Breaker {
    fn new() -> Breaker {
        Breaker {
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock still holds a whole state: every write is one assignment.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admit(&self, now: Instant) -> Admission {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Admission::Yes,
            State::Open { until, .. } if now < until => Admission::No,
            State::Open { failures, .. }
            | State::HalfOpen {
                probing: false,
                failures,
            } => {
                *state = State::HalfOpen {
                    probing: true,
                    failures,
                };
                Admission::Probe
            }
            State::HalfOpen { probing: true, .. } => Admission::No,
        }
    }

    fn report(&self, reach: Reach, probe: bool, policy: &Failover, now: Instant) -> Transition {
        let mut state = self.lock();
        let before = *state;
        let failures = match before {
            State::Closed { failures }
            | State::Open { failures, .. }
            | State::HalfOpen { failures, .. } => failures,
        };
        *state = match (reach, before) {
            (Reach::Connected, _) => State::Closed { failures: 0 },
            (Reach::Refused, State::Closed { .. }) if failures + 1 < policy.trip_after.max(1) => {
                State::Closed {
                    failures: failures + 1,
                }
            }
            // Tripped, or refused while coming back: down for a cool-down. A request that
            // failed while the host was already down changes nothing.
            (Reach::Refused, State::Closed { .. } | State::HalfOpen { .. }) => State::Open {
                until: now + policy.cool_down,
                failures: failures.saturating_add(1),
            },
            (Reach::Refused, other) => other,
            // An inconclusive probe frees the slot for the next request.
            (Reach::Unknown, State::HalfOpen { failures, .. }) if probe => State::HalfOpen {
                probing: false,
                failures,
            },
            (Reach::Unknown, other) => other,
        };
        match (before, *state) {
            (State::Closed { .. }, State::Open { .. }) => Transition::Down,
            (State::HalfOpen { .. }, State::Open { .. }) => Transition::StillDown,
            (State::HalfOpen { .. } | State::Open { .. }, State::Closed { .. }) => Transition::Up,
            _ => Transition::None,
        }
    }

    fn status(&self, origin: &Origin, now: Instant) -> HostStatus {
        let state = *self.lock();
        let (state, consecutive_failures) = match state {
            State::Closed { failures } => (HostState::Up, failures),
            State::Open { until, failures } => (
                HostState::Down {
                    retry_in: until.saturating_duration_since(now),
                },
                failures,
            ),
            State::HalfOpen {
                probing: true,
                failures,
            } => (HostState::Probing, failures),
            State::HalfOpen {
                probing: false,
                failures,
            } => (
                HostState::Down {
                    retry_in: Duration::ZERO,
                },
                failures,
            ),
        };
        HostStatus {
            origin: origin.to_string(),
            state,
            consecutive_failures,
        }
    }
}

/// How a report changed a host, for the events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    None,
    Down,
    StillDown,
    Up,
}

/// The primary and backup hosts with their breakers.
pub(crate) struct Hosts {
    origins: [Origin; 2],
    breakers: [Breaker; 2],
    policy: Failover,
}

/// Where one request goes: `order[0]` first, `order[1]` if `order[0]` cannot be
/// connected to. Dropping it unreported frees a probe slot it holds.
pub(crate) struct Plan<'a> {
    hosts: &'a Hosts,
    pub(crate) order: [usize; 2],
    /// Which hosts of `order` this request probes.
    probes: [bool; 2],
    reported: [bool; 2],
}

impl Hosts {
    pub(crate) fn new(primary: Origin, backup: Origin, policy: Failover) -> Hosts {
        Hosts {
            origins: [primary, backup],
            breakers: [Breaker::new(), Breaker::new()],
            policy,
        }
    }

    pub(crate) fn origin(&self, index: usize) -> &Origin {
        &self.origins[index]
    }

    pub(crate) fn primary(&self) -> &Origin {
        &self.origins[0]
    }

    /// The order to try the hosts in: the first one that admits the request (the primary
    /// before the backup), the other one as the fallback. When neither admits it (both
    /// down), the primary goes first anyway: a request is never refused for want of a host.
    pub(crate) fn plan(&self, now: Instant) -> Plan<'_> {
        let mut plan = Plan {
            hosts: self,
            order: [0, 1],
            probes: [false, false],
            reported: [false, false],
        };
        for first in [0, 1] {
            match self.breakers[first].admit(now) {
                Admission::No => continue,
                admission => {
                    plan.order = [first, 1 - first];
                    plan.probes[first] = admission == Admission::Probe;
                    return plan;
                }
            }
        }
        plan
    }

    pub(crate) fn status(&self, now: Instant) -> FailoverStatus {
        FailoverStatus {
            primary: self.breakers[0].status(&self.origins[0], now),
            backup: self.breakers[1].status(&self.origins[1], now),
        }
    }
}

impl Plan<'_> {
    /// Records what an exchange with host `index` showed.
    pub(crate) fn report(&mut self, index: usize, reach: Reach, now: Instant) -> Transition {
        self.reported[index] = true;
        self.hosts.breakers[index].report(reach, self.probes[index], &self.hosts.policy, now)
    }
}

impl Drop for Plan<'_> {
    fn drop(&mut self) {
        for index in [0, 1] {
            if self.probes[index] && !self.reported[index] {
                // Cancelled mid-probe (the caller dropped the request): let another probe.
                let now = Instant::now();
                self.hosts.breakers[index].report(Reach::Unknown, true, &self.hosts.policy, now);
            }
        }
    }
}

impl fmt::Debug for Hosts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hosts")
            .field("origins", &self.origins)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::hosts::BaseUrl;

    fn hosts(trip_after: u32) -> Hosts {
        let origin = |url| BaseUrl::parse(url).unwrap().origin;
        Hosts::new(
            origin("https://api.mch.weixin.qq.com/"),
            origin("https://api2.mch.weixin.qq.com/"),
            Failover {
                trip_after,
                cool_down: Duration::from_secs(30),
            },
        )
    }

    #[test]
    fn a_refused_primary_sends_traffic_to_the_backup_until_a_probe_succeeds() {
        let hosts = hosts(1);
        let t0 = Instant::now();
        let mut plan = hosts.plan(t0);
        assert_eq!(plan.order, [0, 1]);
        assert_eq!(plan.report(0, Reach::Refused, t0), Transition::Down);
        assert_eq!(plan.report(1, Reach::Connected, t0), Transition::None);
        drop(plan);
        let status = hosts.status(t0);
        assert_eq!(
            status.primary.state,
            HostState::Down {
                retry_in: Duration::from_secs(30)
            }
        );
        assert_eq!(status.active(), "https://api2.mch.weixin.qq.com");

        // During the cool-down: the backup first.
        assert_eq!(hosts.plan(t0 + Duration::from_secs(29)).order, [1, 0]);
        // After it: exactly one probe of the primary; the others keep to the backup.
        let later = t0 + Duration::from_secs(31);
        let mut probe = hosts.plan(later);
        assert_eq!(probe.order, [0, 1]);
        assert_eq!(hosts.plan(later).order, [1, 0]);
        assert_eq!(hosts.status(later).primary.state, HostState::Probing);
        assert_eq!(probe.report(0, Reach::Connected, later), Transition::Up);
        drop(probe);
        assert_eq!(hosts.plan(later).order, [0, 1]);
        assert_eq!(
            hosts.status(later).active(),
            "https://api.mch.weixin.qq.com"
        );
    }

    #[test]
    fn a_failed_probe_starts_another_cool_down_and_a_dropped_one_frees_the_slot() {
        let hosts = hosts(1);
        let t0 = Instant::now();
        hosts.plan(t0).report(0, Reach::Refused, t0);
        let t1 = t0 + Duration::from_secs(31);
        let mut probe = hosts.plan(t1);
        assert_eq!(probe.report(0, Reach::Refused, t1), Transition::StillDown);
        drop(probe);
        assert_eq!(hosts.plan(t1 + Duration::from_secs(29)).order, [1, 0]);
        let t2 = t1 + Duration::from_secs(31);
        drop(hosts.plan(t2)); // a probe cancelled before it reported
        let again = hosts.plan(t2);
        assert_eq!(again.order, [0, 1], "the next request probes");
    }

    #[test]
    fn a_threshold_counts_consecutive_failures_only() {
        let hosts = hosts(3);
        let t0 = Instant::now();
        for _ in 0..2 {
            hosts.plan(t0).report(0, Reach::Refused, t0);
        }
        assert_eq!(hosts.status(t0).primary.consecutive_failures, 2);
        hosts.plan(t0).report(0, Reach::Connected, t0);
        assert_eq!(hosts.status(t0).primary.consecutive_failures, 0);
        for _ in 0..2 {
            hosts.plan(t0).report(0, Reach::Refused, t0);
        }
        assert_eq!(hosts.plan(t0).order, [0, 1]);
        hosts.plan(t0).report(0, Reach::Refused, t0);
        assert_eq!(hosts.plan(t0).order, [1, 0]);
    }

    #[test]
    fn with_both_hosts_down_the_primary_goes_first() {
        let hosts = hosts(1);
        let t0 = Instant::now();
        let mut plan = hosts.plan(t0);
        plan.report(0, Reach::Refused, t0);
        plan.report(1, Reach::Refused, t0);
        drop(plan);
        assert_eq!(hosts.plan(t0).order, [0, 1]);
        assert_eq!(hosts.status(t0).active(), "https://api.mch.weixin.qq.com");
    }
}
