//! The HTTP transport: one pooled hyper-util client per [`Wechatpay`](crate::Wechatpay).
//!
//! HTTPS goes through hyper-rustls with the ring provider passed explicitly (so a crate
//! elsewhere in the build enabling aws-lc-rs cannot make rustls pick a provider at random)
//! and the Mozilla roots from webpki-roots. HTTP/1.1 and HTTP/2 are negotiated by ALPN.
//! Plain `http://` is accepted by the builder for loopback addresses only.
//!
//! Failover lives here too: a request to the primary host that cannot connect is sent once
//! more to the backup host ([`hosts`]), inside the same total timeout.

mod hosts;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use tokio::time::Instant;

use crate::error::{BoxError, Error, TransportErrorKind};

pub(crate) use hosts::{host_port_of, is_loopback, BaseUrl, Origin};

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
}

pub(crate) struct Transport {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    timeouts: Timeouts,
    max_response_size: usize,
    /// Bounds requests in flight, hence sockets: HTTP/1 needs one per concurrent request,
    /// and 10,000 requests issued at once would otherwise exhaust file descriptors.
    in_flight: tokio::sync::Semaphore,
    /// The primary host and where its requests go when it cannot be connected to.
    failover: Option<(Origin, Origin)>,
}

impl Transport {
    pub(crate) fn new(
        timeouts: Timeouts,
        max_response_size: usize,
        max_in_flight: usize,
    ) -> Result<Transport, Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeouts.connect));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        // The timer lets the pool reap idle connections in the background, not only when
        // the next request happens to look at them.
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(https);
        Ok(Transport {
            client,
            timeouts,
            max_response_size,
            in_flight: tokio::sync::Semaphore::new(max_in_flight.max(1)),
            failover: None,
        })
    }

    /// Sends requests to `primary` that cannot connect to `backup` instead, once.
    pub(crate) fn with_failover(mut self, primary: Origin, backup: Origin) -> Transport {
        self.failover = Some((primary, backup));
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

    /// Sends one request and reads the whole body, failing over to the backup host if the
    /// primary cannot be connected to, all within the total timeout.
    pub(crate) async fn send(&self, request: Request<Bytes>) -> Result<RawResponse, Error> {
        let deadline = Instant::now() + self.timeouts.total;
        let backup = match &self.failover {
            Some((primary, backup)) if primary.serves(request.uri()) => Some(backup),
            _ => None,
        };
        let Some(backup) = backup else {
            return self.attempt(request, deadline).await;
        };
        let retry = backup.retarget(&request)?;
        match self.attempt(request, deadline).await {
            // The request never reached the primary, so sending it again cannot act twice.
            Err(e) if e.is_connect() => {
                log::warn!("wechatpay: {e}; sending the request to {backup} instead");
                self.attempt(retry, deadline).await
            }
            other => other,
        }
    }

    /// One exchange with one host, until `deadline`.
    async fn attempt(
        &self,
        request: Request<Bytes>,
        deadline: Instant,
    ) -> Result<RawResponse, Error> {
        let host = host_port_of(request.uri());
        match tokio::time::timeout_at(deadline, self.exchange(request, &host)).await {
            Ok(result) => result,
            Err(_) => Err(Error::transport(
                TransportErrorKind::Timeout {
                    after: self.timeouts.total,
                },
                Some(host),
                None,
            )),
        }
    }

    async fn exchange(&self, request: Request<Bytes>, host: &str) -> Result<RawResponse, Error> {
        let request = request.map(Full::new);
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| classify(e, host))?;
        let (parts, mut body) = response.into_parts();
        let limit = self.max_response_size;
        let too_large = || {
            Error::transport(
                TransportErrorKind::BodyTooLarge { limit },
                Some(host.to_owned()),
                None,
            )
        };
        // A declared length over the limit is refused before reading a byte of it.
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let mut buf = Vec::with_capacity(declared.map_or(0, |len| len as usize));
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                Error::transport(
                    TransportErrorKind::Io,
                    Some(host.to_owned()),
                    Some(Box::new(e)),
                )
            })?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(RawResponse {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::from(buf),
        })
    }
}

/// Sorts a hyper-util error into connect / TLS / in-flight I/O, keeping it as the source.
fn classify(error: hyper_util::client::legacy::Error, host: &str) -> Error {
    let kind = if error.is_connect() {
        if has_source::<rustls::Error>(&error) {
            TransportErrorKind::Tls
        } else {
            TransportErrorKind::Connect
        }
    } else {
        TransportErrorKind::Io
    };
    Error::transport(
        kind,
        Some(host.to_owned()),
        Some(Box::new(error) as BoxError),
    )
}

fn has_source<T: std::error::Error + 'static>(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    // Bounded: error chains are short, and this cannot loop on a cyclic one.
    for _ in 0..16 {
        let Some(e) = current else { return false };
        if e.is::<T>() {
            return true;
        }
        // `io::Error::source()` skips the error it wraps, so descend into it explicitly
        // (hyper-rustls nests the rustls error two `io::Error`s deep).
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}
