//! The HTTP transport: how a signed request reaches the platform and its answer comes back.
//!
//! By default, one pooled hyper-util client per [`Wechatpay`](crate::Wechatpay) over
//! hyper-rustls, with the ring provider passed explicitly (so a crate elsewhere in the build
//! enabling aws-lc-rs cannot make rustls pick a provider at random) and the Mozilla roots from
//! webpki-roots, plus any configured roots; HTTP/1.1 and HTTP/2 negotiated by ALPN; proxies
//! from the environment or the builder ([`Proxy`]). Plain `http://` is accepted by the
//! builder for loopback addresses only. Another HTTP stack, or middleware around the default
//! one, plugs in through [`HttpSend`].
//!
//! Around the exchange, whatever stack sends it: the cap on requests in flight, the time
//! limit of each attempt, the maximum response size, and failover between the primary and
//! the backup host, with a small circuit breaker per host ([`Failover`]).

mod failover;
mod hosts;
mod http;
mod mtls;
mod proxy;
mod stream;
mod tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ::http::{HeaderMap, Request, StatusCode};
use bytes::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::error::{Error, TransportErrorKind};

pub use self::failover::{Failover, FailoverStatus, HostState, HostStatus};
pub use self::http::{BoxFuture, HttpSend, SendError};
#[cfg(feature = "apiv2")]
pub use self::mtls::MutualTls;
pub use self::proxy::Proxy;
pub use self::stream::BodyStream;

pub(crate) use self::failover::Hosts;
pub(crate) use self::hosts::{
    host_port_of, is_loopback, BaseUrl, Origin, BACKUP_BASE_URL, PRODUCTION_BASE_URL,
};
pub(crate) use self::mtls::ClientAuth;
pub(crate) use self::stream::StreamedResponse;
pub(crate) use self::tls::TlsSettings;

use self::failover::{Reach, Transition};
use self::http::HyperSender;
use self::proxy::{Connector, Resolver};

/// Time limits of one request, as plain data.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::Timeouts;
///
/// let timeouts = Timeouts { connect: Duration::from_secs(2), ..Timeouts::default() };
/// assert_eq!(timeouts.total, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Limit on establishing the TCP connection (default 5 s). TLS is covered by `total`.
    pub connect: Duration,
    /// Limit on the whole exchange: connect, send, and read the entire body (default 30 s).
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            total: Duration::from_secs(30),
        }
    }
}

/// The default cap on requests in flight per client (see
/// [`WechatpayBuilder::max_in_flight`](crate::WechatpayBuilder::max_in_flight)).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;

/// The default maximum response body: 8 MiB (bills larger than that are downloaded with
/// a raised limit; every JSON answer is far smaller).
pub const DEFAULT_MAX_RESPONSE_SIZE: usize = 8 << 20;

/// A response before verification: status, headers and the whole body.
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    /// `host:port` of the host that answered (the backup's, after a failover).
    pub(crate) host: String,
}

/// Until when an attempt may run, and the limit its timeout error names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limit {
    pub(crate) at: Instant,
    pub(crate) after: Duration,
    /// The limit is that of one attempt, not the total timeout.
    pub(crate) per_attempt: bool,
}

impl Limit {
    /// The total timeout, `after` from now.
    pub(crate) fn from_now(after: Duration) -> Limit {
        Limit {
            at: Instant::now() + after,
            after,
            per_attempt: false,
        }
    }

    pub(crate) fn expired(&self) -> TransportErrorKind {
        if self.per_attempt {
            TransportErrorKind::AttemptTimeout { after: self.after }
        } else {
            TransportErrorKind::Timeout { after: self.after }
        }
    }
}

/// What the default HTTP stack is built from.
pub(crate) struct HttpSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) max_response_size: usize,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) resolve: HashMap<String, Vec<SocketAddr>>,
    pub(crate) tls: TlsSettings,
    /// The merchant certificate for the mutual-TLS pool (APIv2), if configured.
    pub(crate) mutual_tls: Option<ClientAuth>,
}

/// The default [`HttpSend`]: hyper-util's pooled client over rustls and the proxy connector.
pub(crate) fn default_sender(settings: HttpSettings) -> Result<Arc<dyn HttpSend>, Error> {
    let mut http = HttpConnector::new_with_resolver(Resolver::new(settings.resolve));
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(settings.connect_timeout));
    let proxy = settings
        .proxy
        .map(|proxy| proxy.rules())
        .filter(|rules| !rules.is_empty());
    let connector = Connector::new(http, proxy.clone());
    let mutual_tls = match &settings.mutual_tls {
        Some(auth) => Some(pooled(
            settings.tls.config_presenting(Some(auth))?,
            connector.clone(),
        )),
        None => None,
    };
    let client = pooled(settings.tls.client_config()?, connector);
    Ok(Arc::new(HyperSender {
        client,
        mutual_tls,
        max_response_size: settings.max_response_size,
        proxy,
    }))
}

/// A pooled hyper-util client over rustls with `tls`, HTTP/1.1 and HTTP/2 by ALPN.
fn pooled(tls: rustls::ClientConfig, connector: Connector) -> self::http::PooledClient {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(connector);
    // The timer lets the pool reap idle connections in the background, not only when
    // the next request happens to look at them.
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

pub(crate) struct Transport {
    sender: Arc<dyn HttpSend>,
    timeouts: Timeouts,
    max_response_size: usize,
    /// Bounds requests in flight, hence sockets: HTTP/1 needs one per concurrent request,
    /// and 10,000 requests issued at once would otherwise exhaust file descriptors.
    in_flight: tokio::sync::Semaphore,
    /// The primary and backup hosts with their breakers, when a backup is configured.
    hosts: Option<Hosts>,
}

impl Transport {
    pub(crate) fn new(
        sender: Arc<dyn HttpSend>,
        timeouts: Timeouts,
        max_response_size: usize,
        max_in_flight: usize,
    ) -> Transport {
        Transport {
            sender,
            timeouts,
            max_response_size,
            in_flight: tokio::sync::Semaphore::new(max_in_flight.max(1)),
            hosts: None,
        }
    }

    /// The default HTTP stack with no proxy and the bundled roots, one request at a time:
    /// for the sandbox's own deliveries to loopback URLs.
    pub(crate) fn direct(timeouts: Timeouts, max_response_size: usize) -> Result<Transport, Error> {
        let sender = default_sender(HttpSettings {
            connect_timeout: timeouts.connect,
            max_response_size,
            proxy: None,
            resolve: HashMap::new(),
            tls: TlsSettings::default(),
            mutual_tls: None,
        })?;
        Ok(Transport::new(sender, timeouts, max_response_size, 1))
    }

    /// Sends requests to `primary` to `backup` when `primary` cannot be connected to, and
    /// keeps sending them there for a while (see [`Failover`]).
    pub(crate) fn with_failover(
        mut self,
        primary: Origin,
        backup: Origin,
        policy: Failover,
    ) -> Transport {
        self.hosts = Some(Hosts::new(primary, backup, policy));
        self
    }

    /// Waits for a slot among the requests in flight. Taken before signing, so a request
    /// that waits is signed (and timestamped) only when it can go.
    pub(crate) async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // The semaphore is never closed, so this only fails if that changes.
        self.in_flight.acquire().await.ok()
    }

    pub(crate) fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// The largest answer body accepted (of answers read whole).
    pub(crate) fn max_response_size(&self) -> usize {
        self.max_response_size
    }

    pub(crate) fn failover_status(&self) -> Option<FailoverStatus> {
        self.hosts
            .as_ref()
            .map(|hosts| hosts.status(Instant::now()))
    }

    /// Sends one signed request and reads the whole answer, within `limit`. A request to
    /// the primary host goes to the host its breaker says, and once to the other host if
    /// that one cannot be connected to: the request never reached the first host, so the
    /// same signed request may go to the second.
    pub(crate) async fn send(
        &self,
        request: Request<Bytes>,
        limit: Limit,
    ) -> Result<RawResponse, Error> {
        self.route(request, |request| self.attempt(request, limit))
            .await
    }

    /// Sends one signed request and returns once the answer's head has arrived (within
    /// `limit`), its body still streaming: for file downloads, whose body neither the
    /// maximum response size nor `limit` covers. Fails over like [`send`](Self::send).
    pub(crate) async fn send_streaming(
        &self,
        request: Request<Bytes>,
        limit: Limit,
    ) -> Result<StreamedResponse, Error> {
        self.route(request, |request| self.attempt_streaming(request, limit))
            .await
    }

    /// Sends `request` by `attempt` to the host the breaker chooses, and to the other one
    /// if that one cannot be connected to.
    async fn route<T, F, Fut>(&self, request: Request<Bytes>, attempt: F) -> Result<T, Error>
    where
        F: Fn(Request<Bytes>) -> Fut,
        Fut: std::future::Future<Output = Result<T, Error>>,
    {
        let Some(hosts) = self
            .hosts
            .as_ref()
            .filter(|h| h.primary().serves(request.uri()))
        else {
            return attempt(request).await;
        };
        let mut plan = hosts.plan(Instant::now());
        let [first, second] = plan.order;
        let fallback = hosts.origin(second).retarget(&request)?;
        let request = if first == 0 {
            request
        } else {
            hosts.origin(first).retarget(&request)?
        };
        let result = attempt(request).await;
        note(
            hosts,
            first,
            plan.report(first, reach(&result), Instant::now()),
        );
        match result {
            Err(e) if e.is_connect() => {
                tracing::warn!(
                    from = %hosts.origin(first),
                    to = %hosts.origin(second),
                    error = %e,
                    "wechatpay: failing over to {}",
                    hosts.origin(second)
                );
                let result = attempt(fallback).await;
                note(
                    hosts,
                    second,
                    plan.report(second, reach(&result), Instant::now()),
                );
                result
            }
            other => other,
        }
    }

    /// One streamed exchange with one host: the head within `limit`, the body as it comes.
    async fn attempt_streaming(
        &self,
        request: Request<Bytes>,
        limit: Limit,
    ) -> Result<StreamedResponse, Error> {
        let host = host_port_of(request.uri());
        let answer =
            match tokio::time::timeout_at(limit.at, self.sender.send_streaming(request)).await {
                Ok(answer) => answer,
                Err(_) => return Err(Error::transport(limit.expired(), Some(host), None)),
            };
        match answer {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                Ok(StreamedResponse {
                    status: parts.status,
                    headers: parts.headers,
                    body,
                    host,
                })
            }
            Err(e) => {
                let (kind, source) = e.into_parts();
                Err(Error::transport(kind, Some(host), source))
            }
        }
    }

    /// One exchange with one host, until `limit`.
    async fn attempt(&self, request: Request<Bytes>, limit: Limit) -> Result<RawResponse, Error> {
        let host = host_port_of(request.uri());
        let answer = match tokio::time::timeout_at(limit.at, self.sender.send(request)).await {
            Ok(answer) => answer,
            Err(_) => return Err(Error::transport(limit.expired(), Some(host), None)),
        };
        let (parts, body) = match answer {
            Ok(response) => response.into_parts(),
            Err(e) => {
                let (kind, source) = e.into_parts();
                return Err(Error::transport(kind, Some(host), source));
            }
        };
        // The default stack stops reading at the limit; another one is held to it here.
        if body.len() > self.max_response_size {
            return Err(Error::transport(
                TransportErrorKind::BodyTooLarge {
                    limit: self.max_response_size,
                },
                Some(host),
                None,
            ));
        }
        Ok(RawResponse {
            status: parts.status,
            headers: parts.headers,
            body,
            host,
        })
    }
}

/// What an exchange showed about its host's reachability.
fn reach<T>(result: &Result<T, Error>) -> Reach {
    match result {
        Ok(_) => Reach::Connected,
        Err(e) if e.is_connect() => Reach::Refused,
        Err(_) => Reach::Unknown,
    }
}

/// The events of a host going down or coming back.
fn note(hosts: &Hosts, index: usize, transition: Transition) {
    let origin = hosts.origin(index);
    match transition {
        Transition::Down => tracing::warn!(
            host = %origin,
            "wechatpay: {origin} cannot be connected to; requests go to the other host first until a probe succeeds"
        ),
        Transition::StillDown => tracing::warn!(
            host = %origin,
            "wechatpay: the probe of {origin} could not connect; it stays down for another cool-down"
        ),
        Transition::Up => {
            tracing::info!(host = %origin, "wechatpay: {origin} answers again; requests go back to it")
        }
        Transition::None => {}
    }
}
