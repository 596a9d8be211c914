//! The HTTP exchange itself, behind a small trait of the crate's own ([`HttpSend`]), so a
//! user can put the client on another HTTP stack or wrap the default one (metrics, a test
//! double). The default is a pooled hyper-util client ([`HyperSender`]).
//!
//! Whatever sends, it gets a request that is already signed, and what it hands back is
//! still verified: the trait sits between signing and verification, so neither can be
//! skipped by it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::PROXY_AUTHORIZATION;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;

use super::proxy::{Connector, ProxyRules};
use super::stream::BodyStream;
use crate::error::{BoxError, TransportErrorKind};

/// A boxed, sendable future, as [`HttpSend::send`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Sends one signed request and reads the whole answer: the HTTP stack under a
/// [`Wechatpay`](crate::Wechatpay) client.
///
/// The client keeps everything around the exchange: it signs the request before
/// `send` sees it (the `Authorization` header is already set, and the URI names the host
/// chosen by failover), and it verifies the answer `send` returns, enforces the total
/// timeout and the maximum response size, retries and fails over. An implementation only
/// moves bytes, and cannot skip signing or verification: an answer it makes up fails
/// verification like a forged one.
///
/// Report failures with [`SendError`]: [`SendError::connect`] when the request certainly
/// never reached the server (this is what allows failover and a retry of a POST),
/// [`SendError::io`] otherwise.
///
/// Install one with [`WechatpayBuilder::http_sender`](crate::WechatpayBuilder::http_sender),
/// or wrap the default with
/// [`WechatpayBuilder::wrap_http_sender`](crate::WechatpayBuilder::wrap_http_sender), here to
/// count requests per status:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use bytes::Bytes;
/// use wechatpay::transport::{BoxFuture, HttpSend, SendError};
///
/// #[derive(Debug)]
/// struct Metrics { inner: Arc<dyn HttpSend>, ok: Arc<AtomicU64>, failed: Arc<AtomicU64> }
///
/// impl HttpSend for Metrics {
///     fn send(&self, request: http::Request<Bytes>) -> BoxFuture<'_, Result<http::Response<Bytes>, SendError>> {
///         Box::pin(async move {
///             let answer = self.inner.send(request).await;
///             let counter = match &answer {
///                 Ok(response) if response.status().is_success() => &self.ok,
///                 _ => &self.failed,
///             };
///             counter.fetch_add(1, Ordering::Relaxed);
///             answer
///         })
///     }
/// }
///
/// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
/// let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
/// let (ok2, failed2) = (Arc::clone(&ok), Arc::clone(&failed));
/// let wxpay = sandbox.client_builder()?
///     // The default hyper stack goes inside; the client calls the metrics layer.
///     .wrap_http_sender(move |inner| Metrics { inner, ok: ok2, failed: failed2 })
///     .build()?;
/// wxpay.chain("v3/certificates").get().await?;
/// assert_eq!(ok.load(Ordering::Relaxed), 1);
/// assert_eq!(failed.load(Ordering::Relaxed), 0);
/// # Ok(()) }
/// ```
pub trait HttpSend: fmt::Debug + Send + Sync + 'static {
    /// Sends `request` (signed, absolute URI) and reads the whole answer.
    ///
    /// # Errors
    ///
    /// A [`SendError`] saying whether the request can have reached the server.
    fn send(&self, request: Request<Bytes>) -> BoxFuture<'_, Result<Response<Bytes>, SendError>>;

    /// Sends `request` and hands the answer back as soon as its head has arrived, its body
    /// still arriving: for file downloads (bills, receipts), which are streamed to their
    /// destination and never held whole. The client applies its download limits (size, idle
    /// timeout) to the body, not the maximum response size or the total timeout.
    ///
    /// The default reads the whole answer with [`send`](HttpSend::send), so a sender that
    /// only implements `send` still downloads, within its own limits; the default stack
    /// streams.
    ///
    /// # Errors
    ///
    /// As [`send`](HttpSend::send), for the exchange up to the answer's head.
    fn send_streaming(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<'_, Result<Response<BodyStream>, SendError>> {
        Box::pin(async move {
            let response = self.send(request).await?;
            Ok(response.map(BodyStream::from))
        })
    }
}

impl<T: HttpSend + ?Sized> HttpSend for Arc<T> {
    fn send(&self, request: Request<Bytes>) -> BoxFuture<'_, Result<Response<Bytes>, SendError>> {
        (**self).send(request)
    }

    fn send_streaming(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<'_, Result<Response<BodyStream>, SendError>> {
        (**self).send_streaming(request)
    }
}

/// Why an [`HttpSend`] could not complete an exchange. The client turns it into
/// [`Error::Transport`](crate::Error::Transport) with the same
/// [`TransportErrorKind`] and this error's source.
pub struct SendError {
    kind: TransportErrorKind,
    source: Option<BoxError>,
}

impl SendError {
    /// The connection could not be made (refused, connect timeout, DNS): the request was
    /// not sent, so it may go to the backup host or be retried, whatever its method.
    pub fn connect(source: impl Into<BoxError>) -> SendError {
        SendError {
            kind: TransportErrorKind::Connect,
            source: Some(source.into()),
        }
    }

    /// The TLS handshake failed: the request was not sent.
    pub fn tls(source: impl Into<BoxError>) -> SendError {
        SendError {
            kind: TransportErrorKind::Tls,
            source: Some(source.into()),
        }
    }

    /// The exchange failed after the connection was made: the server may have acted on
    /// the request.
    pub fn io(source: impl Into<BoxError>) -> SendError {
        SendError {
            kind: TransportErrorKind::Io,
            source: Some(source.into()),
        }
    }

    pub(crate) fn of_kind(kind: TransportErrorKind, source: Option<BoxError>) -> SendError {
        SendError { kind, source }
    }

    /// Which stage failed.
    pub fn kind(&self) -> &TransportErrorKind {
        &self.kind
    }

    pub(crate) fn into_parts(self) -> (TransportErrorKind, Option<BoxError>) {
        (self.kind, self.source)
    }
}

impl fmt::Debug for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            TransportErrorKind::Connect => f.write_str("the connection could not be made"),
            TransportErrorKind::Tls => f.write_str("the TLS handshake failed"),
            TransportErrorKind::BodyTooLarge { limit } => {
                write!(f, "the answer exceeds the {limit}-byte limit")
            }
            _ => f.write_str("the exchange failed after the connection was made"),
        }
    }
}

impl std::error::Error for SendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A pooled hyper-util client over rustls through the proxy connector.
pub(crate) type PooledClient = Client<HttpsConnector<Connector>, Full<Bytes>>;

/// The default [`HttpSend`]: a pooled hyper-util client over rustls, through the
/// configured proxy, that stops reading an answer at the maximum response size.
pub(crate) struct HyperSender {
    pub(crate) client: PooledClient,
    /// The pool that presents the merchant certificate, for requests marked
    /// [`MutualTls`](super::MutualTls) (APIv2).
    pub(crate) mutual_tls: Option<PooledClient>,
    pub(crate) max_response_size: usize,
    pub(crate) proxy: Option<Arc<ProxyRules>>,
}

impl fmt::Debug for HyperSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperSender")
            .field("max_response_size", &self.max_response_size)
            .field("mutual_tls", &self.mutual_tls.is_some())
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

impl HttpSend for HyperSender {
    fn send(&self, request: Request<Bytes>) -> BoxFuture<'_, Result<Response<Bytes>, SendError>> {
        Box::pin(self.exchange(request))
    }

    fn send_streaming(
        &self,
        request: Request<Bytes>,
    ) -> BoxFuture<'_, Result<Response<BodyStream>, SendError>> {
        Box::pin(async move {
            let response = self.head(request).await?;
            Ok(response.map(BodyStream::new))
        })
    }
}

impl HyperSender {
    /// Sends the request and waits for the answer's head.
    async fn head(
        &self,
        mut request: Request<Bytes>,
    ) -> Result<Response<hyper::body::Incoming>, SendError> {
        // Plain http through a proxy goes in absolute form on the proxy connection, so the
        // proxy's credentials ride on the request itself (https tunnels carry them on CONNECT).
        if let Some(auth) = self
            .proxy
            .as_deref()
            .and_then(|proxy| proxy.forward_auth(request.uri()))
        {
            request.headers_mut().insert(PROXY_AUTHORIZATION, auth);
        }
        let client = if super::mtls::wants_mutual_tls(&request) {
            // The request pipeline refuses such a request without a certificate configured;
            // sending it without one would only be refused by the platform's TLS.
            self.mutual_tls.as_ref().ok_or_else(|| {
                SendError::tls(
                    "the request needs mutual TLS and no merchant certificate is configured",
                )
            })?
        } else {
            &self.client
        };
        client
            .request(request.map(Full::new))
            .await
            .map_err(classify)
    }

    async fn exchange(&self, request: Request<Bytes>) -> Result<Response<Bytes>, SendError> {
        let response = self.head(request).await?;
        let (parts, mut body) = response.into_parts();
        let limit = self.max_response_size;
        let too_large = || SendError::of_kind(TransportErrorKind::BodyTooLarge { limit }, None);
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
            let frame = frame.map_err(SendError::io)?;
            if let Ok(data) = frame.into_data() {
                if buf.len() + data.len() > limit {
                    return Err(too_large());
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Response::from_parts(parts, Bytes::from(buf)))
    }
}

/// Sorts a hyper-util error into connect / TLS / in-flight I/O, keeping it as the source.
fn classify(error: hyper_util::client::legacy::Error) -> SendError {
    if error.is_connect() {
        if has_source::<rustls::Error>(&error) {
            SendError::tls(error)
        } else {
            SendError::connect(error)
        }
    } else {
        SendError::io(error)
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
