//! The HTTP transport: one pooled hyper-util client per [`Wechatpay`](crate::Wechatpay).
//!
//! HTTPS goes through hyper-rustls with the ring provider passed explicitly (so a crate
//! elsewhere in the build enabling aws-lc-rs cannot make rustls pick a provider at random)
//! and the Mozilla roots from webpki-roots. HTTP/1.1 and HTTP/2 are negotiated by ALPN.
//! Plain `http://` is accepted by the builder for loopback addresses only.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::error::{BoxError, Error, TransportErrorKind};

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
            .map_err(|e| Error::Config {
                message: format!("cannot set up TLS: {e}"),
            })?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(https);
        Ok(Transport {
            client,
            timeouts,
            max_response_size,
            in_flight: tokio::sync::Semaphore::new(max_in_flight.max(1)),
        })
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

    /// Sends one request and reads the whole body, all within the total timeout.
    pub(crate) async fn send(&self, request: Request<Bytes>) -> Result<RawResponse, Error> {
        let total = self.timeouts.total;
        match tokio::time::timeout(total, self.exchange(request)).await {
            Ok(result) => result,
            Err(_) => Err(Error::Transport {
                kind: TransportErrorKind::Timeout { after: total },
                source: None,
            }),
        }
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<RawResponse, Error> {
        let request = request.map(Full::new);
        let response = self.client.request(request).await.map_err(classify)?;
        let (parts, mut body) = response.into_parts();
        let limit = self.max_response_size;
        let too_large = || Error::Transport {
            kind: TransportErrorKind::BodyTooLarge { limit },
            source: None,
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
            let frame = frame.map_err(|e| Error::Transport {
                kind: TransportErrorKind::Io,
                source: Some(Box::new(e)),
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
fn classify(error: hyper_util::client::legacy::Error) -> Error {
    let kind = if error.is_connect() {
        if has_source::<rustls::Error>(&error) {
            TransportErrorKind::Tls
        } else {
            TransportErrorKind::Connect
        }
    } else {
        TransportErrorKind::Io
    };
    Error::Transport {
        kind,
        source: Some(Box::new(error) as BoxError),
    }
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

/// The origin and base path of the API, e.g. `https://api.mch.weixin.qq.com` + `/`, or
/// `https://apihk.mch.weixin.qq.com` + `/hk/`... whatever path the base URL has is kept,
/// and signed, as part of every target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BaseUrl {
    /// `scheme://authority`, no trailing slash.
    pub(crate) origin: String,
    /// Starts and ends with `/`.
    pub(crate) path: String,
}

impl BaseUrl {
    pub(crate) fn parse(url: &str) -> Result<BaseUrl, Error> {
        let bad = |why: &str| Error::config(format!("base URL `{url}` {why}"));
        let uri: Uri = url
            .parse()
            .map_err(|_| bad("is not a URL (expected e.g. https://api.mch.weixin.qq.com/)"))?;
        let scheme = uri
            .scheme_str()
            .ok_or_else(|| bad("has no scheme (expected https://…)"))?;
        let authority = uri.authority().ok_or_else(|| bad("has no host"))?;
        match scheme {
            "https" => {}
            "http" if is_loopback(authority.host()) => {}
            "http" => {
                return Err(bad(
                    "uses plain http:// to a non-loopback host; WeChat Pay requires https://",
                ))
            }
            other => return Err(bad(&format!("has scheme `{other}`; expected https"))),
        }
        if uri.query().is_some() {
            return Err(bad("has a query; give only scheme, host and base path"));
        }
        let mut path = uri.path().to_owned();
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(BaseUrl {
            origin: format!("{scheme}://{authority}"),
            path,
        })
    }
}

impl std::fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}{}", self.origin, self.path)
    }
}

/// `localhost` or a loopback IP address (brackets of an IPv6 literal allowed).
pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_keep_their_path_and_refuse_plain_http_off_loopback() {
        let base = BaseUrl::parse("https://api.mch.weixin.qq.com").unwrap();
        assert_eq!(base.origin, "https://api.mch.weixin.qq.com");
        assert_eq!(base.path, "/");
        let hk = BaseUrl::parse("https://apihk.mch.weixin.qq.com/hk").unwrap();
        assert_eq!(hk.path, "/hk/");
        assert!(BaseUrl::parse("http://127.0.0.1:8080/").is_ok());
        assert!(BaseUrl::parse("http://[::1]:8080/").is_ok());
        assert!(BaseUrl::parse("http://localhost/").is_ok());
        assert!(BaseUrl::parse("http://api.mch.weixin.qq.com/").is_err());
        assert!(BaseUrl::parse("ftp://x/").is_err());
        assert!(BaseUrl::parse("not a url").is_err());
        assert!(BaseUrl::parse("https://x/?a=b").is_err());
    }
}
