//! A local HTTP proxy for tests: CONNECT tunnels for `https://`, absolute-form forwarding
//! for plain `http://`, an optional basic-auth check, and a record of what went through.
//! It never reaches beyond loopback: it connects to loopback destinations only, or to the
//! one upstream address it was started with, whatever host a request names.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http::header::{HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION};
use http::{Method, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::error::{Error, TransportErrorKind};
use crate::transport::is_loopback;

/// The largest answer the proxy forwards for plain-http requests.
const MAX_FORWARDED: usize = 16 << 20;

/// One request the [`TestProxy`] received. Credentials are never recorded, only whether
/// they matched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxiedRequest {
    /// `CONNECT` for a tunnel, else the method of a forwarded plain-http request.
    pub method: Method,
    /// `host:port` of a tunnel, or the absolute URI of a forwarded request.
    pub target: String,
    /// Whether the request was let through: the right credentials, or none needed.
    pub authorized: bool,
    /// For a tunnel: whether the client's first bytes through it were a TLS handshake
    /// record (so the proxy saw ciphertext only).
    pub tls: bool,
}

struct ProxyState {
    /// Where every tunnel and forwarded request goes; `None` to go where the request
    /// names, if that is a loopback address.
    upstream: Option<SocketAddr>,
    /// The expected `Proxy-Authorization` value.
    credentials: Mutex<Option<HeaderValue>>,
    seen: Mutex<Vec<ProxiedRequest>>,
}

/// A local HTTP proxy on `127.0.0.1` for testing clients behind an egress proxy.
/// Dropping it stops it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// use wechatpay::{sandbox::{Sandbox, TestProxy}, Proxy};
///
/// let sandbox = Sandbox::start().await?;
/// let proxy = TestProxy::start().await?;
/// proxy.require_basic_auth("merchant", "s3cret");
/// let wxpay = sandbox.client_builder()?
///     .proxy(Proxy::all(proxy.url())?.basic_auth("merchant", "s3cret"))
///     .build()?;
/// wxpay.chain("v3/certificates").get().await?;
/// let seen = proxy.requests();
/// assert_eq!(seen[0].method, "GET"); // plain http: forwarded in absolute form
/// assert_eq!(seen[0].target, format!("{}v3/certificates", sandbox.base_url()));
/// assert!(seen[0].authorized);
/// # Ok(()) }
/// ```
pub struct TestProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
    server: tokio::task::JoinHandle<()>,
}

impl TestProxy {
    /// Starts a proxy that connects to loopback destinations only (others get 502).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if no loopback port can be bound.
    pub async fn start() -> Result<TestProxy, Error> {
        TestProxy::serve(None).await
    }

    /// Starts a proxy that sends every tunnel and forwarded request to `upstream`,
    /// whatever host it names (recorded as named): a client can then be tested against
    /// `https://api.mch.weixin.qq.com/` with no connection leaving the machine.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if no loopback port can be bound.
    pub async fn start_to(upstream: SocketAddr) -> Result<TestProxy, Error> {
        TestProxy::serve(Some(upstream)).await
    }

    async fn serve(upstream: Option<SocketAddr>) -> Result<TestProxy, Error> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| {
                Error::config(format!("the test proxy cannot listen on 127.0.0.1 ({e})"))
            })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::transport(TransportErrorKind::Io, None, Some(Box::new(e))))?;
        let state = Arc::new(ProxyState {
            upstream,
            credentials: Mutex::new(None),
            seen: Mutex::new(Vec::new()),
        });
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            // Connections and tunnels live in this set, so aborting the server ends them.
            let mut tasks = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let state = Arc::clone(&shared);
                        tasks.spawn(async move {
                            let service = service_fn(move |req| handle(Arc::clone(&state), req));
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .with_upgrades()
                                .await;
                        });
                    }
                    Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                }
            }
        });
        Ok(TestProxy {
            addr,
            state,
            server,
        })
    }

    /// From now on, requires `Proxy-Authorization: Basic` with these credentials
    /// (407 otherwise).
    pub fn require_basic_auth(&self, user: &str, password: &str) {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let expected = HeaderValue::from_str(&format!("Basic {token}")).ok();
        *self
            .state
            .credentials
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = expected;
    }

    /// `http://127.0.0.1:<port>`, for [`Proxy::all`](crate::Proxy::all) or `HTTPS_PROXY`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What went through (or was refused), oldest first.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.state
            .seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl fmt::Debug for TestProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProxy")
            .field("url", &self.url())
            .field("upstream", &self.state.upstream)
            .finish_non_exhaustive()
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}

/// Where a request for `host:port` goes: the fixed upstream, or the named loopback address.
fn destination(state: &ProxyState, host: &str, port: u16) -> Option<SocketAddr> {
    if let Some(upstream) = state.upstream {
        return Some(upstream);
    }
    if !is_loopback(host) {
        return None;
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ip = if host.eq_ignore_ascii_case("localhost") {
        Ipv4Addr::LOCALHOST.into()
    } else {
        host.parse().ok()?
    };
    Some(SocketAddr::new(ip, port))
}

fn record(state: &ProxyState, request: ProxiedRequest) -> usize {
    let mut seen = state.seen.lock().unwrap_or_else(|e| e.into_inner());
    seen.push(request);
    seen.len() - 1
}

async fn handle(
    state: Arc<ProxyState>,
    mut request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let expected = state
        .credentials
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let authorized = expected
        .as_ref()
        .is_none_or(|expected| request.headers().get(PROXY_AUTHORIZATION) == Some(expected));
    let connect = request.method() == Method::CONNECT;
    let target = if connect {
        request
            .uri()
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default()
    } else {
        request.uri().to_string()
    };
    let index = record(
        &state,
        ProxiedRequest {
            method: request.method().clone(),
            target,
            authorized,
            tls: false,
        },
    );
    if !authorized {
        let mut answer = plain(
            StatusCode::PROXY_AUTHENTICATION_REQUIRED,
            "proxy authorization required",
        );
        answer.headers_mut().insert(
            PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"wechatpay-test\""),
        );
        return Ok(answer);
    }
    let uri: &Uri = request.uri();
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") || connect {
            443
        } else {
            80
        });
    let Some(upstream) = uri.host().and_then(|host| destination(&state, host, port)) else {
        return Ok(plain(
            StatusCode::BAD_GATEWAY,
            "the test proxy reaches loopback addresses only",
        ));
    };
    if connect {
        let upgrade = hyper::upgrade::on(&mut request);
        tokio::spawn(async move {
            let Ok(upgraded) = upgrade.await else { return };
            let Ok(mut server) = TcpStream::connect(upstream).await else {
                return;
            };
            let mut client = TokioIo::new(upgraded);
            // The first bytes say whether the client speaks TLS through the tunnel.
            let mut first = vec![0u8; 4096];
            let Ok(n) = client.read(&mut first).await else {
                return;
            };
            if n > 0 {
                if let Some(seen) = state
                    .seen
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .get_mut(index)
                {
                    seen.tls = first[0] == 0x16; // a TLS handshake record
                }
                if server.write_all(&first[..n]).await.is_err() {
                    return;
                }
            }
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        });
        return Ok(Response::new(Full::new(Bytes::new())));
    }
    Ok(forward(upstream, request)
        .await
        .unwrap_or_else(|_| plain(StatusCode::BAD_GATEWAY, "the upstream did not answer")))
}

/// Sends a plain-http request on to `upstream` in origin form and returns its answer.
async fn forward(
    upstream: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Box<dyn std::error::Error + Send + Sync>> {
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(PROXY_AUTHORIZATION);
    parts.uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned())
        .parse()?;
    let body = body.collect().await?.to_bytes();
    let stream = TcpStream::connect(upstream).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let answer = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await?;
    let (parts, body) = answer.into_parts();
    let body = Limited::new(body, MAX_FORWARDED)
        .collect()
        .await?
        .to_bytes();
    Ok(Response::from_parts(parts, Full::new(body)))
}
