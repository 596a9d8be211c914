//! The sandbox's HTTP server: authorization check, routing, answer signing, faults.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use super::files::{self, Body, Routed};
use super::routes::{self, Answer};
use super::{Countdown, Fault, RecordedRequest, State, RECORD_LIMIT};
use crate::crypto::random_nonce;
use crate::error::{Error, TransportErrorKind};
use crate::sign::Authorization;
use crate::verify::{DEFAULT_TOLERANCE, NONCE, PROBE_PREFIX, SERIAL, SIGNATURE, TIMESTAMP};

/// Largest request body the sandbox reads (the platform's own limits are smaller).
const MAX_REQUEST_BODY: usize = 4 << 20;

/// Commands from the [`super::Sandbox`] handle to its server task.
pub(crate) enum Control {
    /// Close the listener and every connection, answer `closed`, listen again after
    /// `duration`.
    Refuse {
        duration: Duration,
        closed: oneshot::Sender<()>,
    },
}

/// What the connection a request came on says about its sender: whether a TLS client
/// presented a certificate the test CA issued (mutual TLS).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Peer {
    #[cfg_attr(not(feature = "apiv2"), allow(dead_code))]
    pub(crate) client_certificate: bool,
}

/// How long a TLS client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `127.0.0.1:port` and serves until the returned task is aborted, over TLS when an
/// acceptor is given.
pub(crate) async fn serve(
    port: u16,
    state: Arc<State>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<
    (
        SocketAddr,
        mpsc::UnboundedSender<Control>,
        tokio::task::JoinHandle<()>,
    ),
    Error,
> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .map_err(|e| {
            Error::config(format!(
                "the sandbox cannot listen on 127.0.0.1:{port} ({e}); pick another port, or 0 for any free one"
            ))
        })?;
    let addr = listener.local_addr().map_err(|e| {
        Error::transport(
            TransportErrorKind::Io,
            Some(format!("127.0.0.1:{port}")),
            Some(Box::new(e)),
        )
    })?;
    let (control, mut commands) = mpsc::unbounded_channel();
    let server = tokio::spawn(async move {
        let mut listener = listener;
        loop {
            // Connection tasks live in this set, so aborting the server aborts them too.
            let mut connections = JoinSet::new();
            let (duration, closed) = loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let _ = stream.set_nodelay(true);
                        state.connections.fetch_add(1, Ordering::Relaxed);
                        let state = Arc::clone(&state);
                        let tls = tls.clone();
                        connections.spawn(async move {
                            let Some(acceptor) = tls else {
                                return serve_connection(state, TokioIo::new(stream), Peer::default()).await;
                            };
                            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
                            // A refused handshake (a certificate from another CA) ends here.
                            let Ok(Ok(stream)) = handshake.await else { return };
                            let peer = Peer {
                                client_certificate: stream
                                    .get_ref()
                                    .1
                                    .peer_certificates()
                                    .is_some_and(|chain| !chain.is_empty()),
                            };
                            serve_connection(state, TokioIo::new(stream), peer).await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                    command = commands.recv() => match command {
                        Some(Control::Refuse { duration, closed }) => break (duration, closed),
                        None => return,
                    },
                }
            };
            drop(listener);
            connections.shutdown().await;
            let _ = closed.send(());
            tokio::time::sleep(duration).await;
            listener = match rebind(addr).await {
                Some(listener) => listener,
                None => return,
            };
        }
    });
    Ok((addr, control, server))
}

/// Serves HTTP/1.1 or HTTP/2 on one connection.
async fn serve_connection<I>(state: Arc<State>, io: I, peer: Peer)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = service_fn(move |req| handle(Arc::clone(&state), peer, req));
    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection(io, service)
        .await;
}

/// Listens on `addr` again after a refusal. Bounded: if another process took the port
/// meanwhile, the sandbox stops serving.
async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..100 {
        if let Ok(listener) = TcpListener::bind(addr).await {
            return Some(listener);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// The service's way to drop a connection without answering ([`Fault::ResetConnection`]).
#[derive(Debug)]
struct CutOff;

impl std::fmt::Display for CutOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the sandbox cut the connection off (Fault::ResetConnection)")
    }
}

impl std::error::Error for CutOff {}

async fn handle(
    state: Arc<State>,
    peer: Peer,
    request: Request<Incoming>,
) -> Result<Response<Body>, CutOff> {
    state.received.fetch_add(1, Ordering::Relaxed);
    let _active = Active::enter(&state);
    let (parts, body) = request.into_parts();
    let faults = state.faults();
    for fault in &faults {
        if let Fault::Delay(delay) = fault {
            tokio::time::sleep(*delay).await;
        }
    }
    // The platform signs with the public-key-id key when the request names it.
    let use_pubkey = parts
        .headers
        .get(&SERIAL)
        .is_some_and(|v| v.as_bytes() == state.pubkey_id.as_bytes());

    let limit = files::request_limit(&parts.headers, MAX_REQUEST_BODY);
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let answer = Answer::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PARAM_ERROR",
                "请求体过大 (request body too large)",
            );
            return Ok(sign_answer(&state, answer, &[], use_pubkey).map(Body::from));
        }
    };
    // An upload is signed over its `meta` part, as on the platform.
    let signed = match files::signed_body(&parts.headers, &body) {
        Ok(signed) => signed,
        Err(answer) => return Ok(sign_answer(&state, answer, &faults, use_pubkey).map(Body::from)),
    };
    let target = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .to_owned();

    // APIv2 requests carry their signature in the body, checked by their own route.
    let apiv2 = is_apiv2(&target);
    let authorized = if apiv2 {
        Ok(())
    } else {
        check_authorization(&state, &parts, &target, signed)
    };
    let answer = match authorized {
        Err(reason) => Answer::json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "code": "SIGN_ERROR",
                "message": "签名错误 (signature verification failed)",
                "detail": { "reason": reason },
            }),
        ),
        Ok(()) => {
            record(&state, &parts, &target, &body);
            let countdown = state.count_down();
            if let Some(Countdown::Reset) = countdown {
                return Err(CutOff);
            }
            let path = target.split('?').next().unwrap_or_default();
            let path = path.trim_start_matches('/');
            let failure = match countdown {
                Some(Countdown::Fail(status)) => Some(failure(status)),
                _ => None,
            };
            match failure.or_else(|| {
                faults.iter().find_map(|f| match f {
                    Fault::Respond { status, body } => Some(Answer {
                        status: *status,
                        body: body.clone().into_bytes(),
                        content_type: Some("application/json"),
                        signed: true,
                    }),
                    Fault::RespondOn {
                        path: only,
                        status,
                        body,
                    } if only.trim_start_matches('/') == path => Some(Answer {
                        status: *status,
                        body: body.clone().into_bytes(),
                        content_type: Some("application/json"),
                        signed: true,
                    }),
                    _ => None,
                })
            }) {
                Some(answer) => answer,
                None => match files::answer(&state, &parts.method, &parts.headers, &target, &body)
                    .await
                {
                    Some(Routed::Answer(answer)) => answer,
                    Some(Routed::File(file)) => return Ok(file),
                    None => route(&state, &parts.method, &target, &body, peer, &faults),
                },
            }
        }
    };
    Ok(sign_answer(&state, answer, &faults, use_pubkey).map(Body::from))
}

/// Whether `target` names an APIv2 endpoint (signed in its body, not by `Authorization`).
fn is_apiv2(target: &str) -> bool {
    #[cfg(feature = "apiv2")]
    {
        super::v2::handles(target)
    }
    #[cfg(not(feature = "apiv2"))]
    {
        let _ = target;
        false
    }
}

/// The answer of the endpoint `target` names.
fn route(
    state: &State,
    method: &http::Method,
    target: &str,
    body: &[u8],
    peer: Peer,
    faults: &[Fault],
) -> Answer {
    #[cfg(feature = "apiv2")]
    if super::v2::handles(target) {
        return super::v2::answer(state, method, target, body, peer, faults);
    }
    let _ = (peer, faults);
    routes::answer(state, method, target, body)
}

/// The platform's error answer for a status of [`Fault::FailTimes`].
fn failure(status: StatusCode) -> Answer {
    let (code, message) = match status.as_u16() {
        429 => ("FREQUENCY_LIMITED", "频率超限 (too many requests)"),
        500..=599 => ("SYSTEM_ERROR", "系统错误 (system error, try again)"),
        _ => ("INVALID_REQUEST", "请求失败 (request failed)"),
    };
    Answer::error(status, code, message)
}

/// Counts a request as being handled until dropped, keeping the peak.
struct Active<'a>(&'a State);

impl<'a> Active<'a> {
    fn enter(state: &'a State) -> Active<'a> {
        let now = state.active.fetch_add(1, Ordering::Relaxed) + 1;
        state.peak_active.fetch_max(now, Ordering::Relaxed);
        Active(state)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The platform's checks on `Authorization`, with the reason a merchant can act on.
fn check_authorization(
    state: &State,
    parts: &http::request::Parts,
    target: &str,
    body: &[u8],
) -> Result<(), String> {
    let header = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .ok_or("the Authorization header is missing")?
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?;
    let auth = Authorization::parse(header).map_err(|e| e.to_string())?;
    if auth.mchid != state.merchant_id {
        return Err(format!(
            "mchid `{}` is not this sandbox's merchant `{}`",
            auth.mchid, state.merchant_id
        ));
    }
    if !auth.serial_no.eq_ignore_ascii_case(&state.merchant_serial) {
        return Err(format!(
            "serial_no `{}` is not the merchant certificate `{}`",
            auth.serial_no, state.merchant_serial
        ));
    }
    let now = state.clock.unix_seconds();
    let signed_at = i64::try_from(auth.timestamp).unwrap_or(i64::MAX);
    if now.abs_diff(signed_at) > DEFAULT_TOLERANCE.as_secs() {
        return Err(format!(
            "timestamp {} is {}s away from the platform clock {now}; requests expire after {}s",
            auth.timestamp,
            now.abs_diff(signed_at),
            DEFAULT_TOLERANCE.as_secs()
        ));
    }
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &auth.signature)
            .map_err(|_| "the signature is not base64")?;
    let message = crate::sign::message(
        parts.method.as_str(),
        target,
        auth.timestamp,
        &auth.nonce_str,
        body,
    );
    if state
        .keys
        .merchant
        .public_key()
        .verify(&message, &signature)
    {
        Ok(())
    } else {
        Err(format!(
            "the signature does not verify with the merchant key over `{} {target}` and the body",
            parts.method
        ))
    }
}

fn record(state: &State, parts: &http::request::Parts, target: &str, body: &[u8]) {
    let mut recorded = state.recorded.lock().unwrap_or_else(|e| e.into_inner());
    if recorded.len() >= RECORD_LIMIT {
        recorded.pop_front();
    }
    recorded.push_back(RecordedRequest {
        method: parts.method.clone(),
        target: target.to_owned(),
        headers: parts.headers.clone(),
        body: body.to_vec(),
    });
}

/// Signs an answer as the platform does, then applies the faults.
fn sign_answer(
    state: &State,
    answer: Answer,
    faults: &[Fault],
    use_pubkey: bool,
) -> Response<Full<Bytes>> {
    let Answer {
        status,
        mut body,
        content_type,
        signed,
    } = answer;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Some(content_type) = content_type {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    if let Ok(id) = random_nonce(32).map(|n| n.to_ascii_uppercase()) {
        if let Ok(value) = HeaderValue::from_str(&id) {
            headers.insert("Request-ID", value);
        }
    }
    let unsigned = !signed || faults.contains(&Fault::Unsigned);
    if !unsigned {
        let (key, serial) = if use_pubkey {
            (&state.keys.public_key, state.pubkey_id.as_str())
        } else {
            (&state.keys.platform, state.platform_serial.as_str())
        };
        let now = state.clock.unix_seconds();
        for (name, value) in signature_headers(state, key, serial, now, &mut body, faults) {
            headers.insert(name, value);
        }
    }
    for fault in faults {
        match fault {
            Fault::DropHeader(name) => {
                headers.remove(name.as_str());
            }
            Fault::RetryAfter(value) if !status.is_success() => {
                if let Ok(value) = HeaderValue::from_str(value) {
                    headers.insert(http::header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
    }
    *response.body_mut() = Full::new(Bytes::from(body));
    response
}

/// A signature the sandbox may hand out again (see [`super::Sandbox::reuse_signatures`]).
pub(crate) struct CachedSignature {
    now: i64,
    serial: String,
    body: Vec<u8>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// [`sign_platform`] with a fresh nonce, or, when signature reuse is on and nothing is
/// being faked, the headers of the last answer if it had the same second, key and body.
fn signature_headers(
    state: &State,
    key: &crate::crypto::PrivateKey,
    serial: &str,
    now: i64,
    body: &mut [u8],
    faults: &[Fault],
) -> Vec<(HeaderName, HeaderValue)> {
    let reuse = faults.is_empty() && state.reuse_signatures.load(Ordering::Relaxed);
    if reuse {
        let cache = state
            .signature_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(hit) = cache
            .as_ref()
            .filter(|c| c.now == now && c.serial == serial && c.body == *body)
        {
            return hit.headers.clone();
        }
    }
    let nonce = random_nonce(32).unwrap_or_default();
    let headers = sign_platform(key, serial, now, nonce, body, faults);
    if reuse {
        *state
            .signature_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(CachedSignature {
            now,
            serial: serial.to_owned(),
            body: body.to_vec(),
            headers: headers.clone(),
        });
    }
    headers
}

/// The total of the `SkewClock` faults in seconds, `None` if it does not fit an `i64`.
pub(crate) fn skew(faults: &[Fault]) -> Option<i64> {
    faults.iter().try_fold(0i64, |total, fault| match fault {
        Fault::SkewClock(s) => total.checked_add(*s),
        _ => Some(total),
    })
}

/// The platform's signature headers for `body` (answers and notifications alike), with
/// the signing faults applied: `SkewClock` moves `now` (saturating at the ends of `i64`:
/// the sandbox never panics on a fault), `TamperBody` alters `body` (or the nonce of an
/// empty one) after signing, `TamperSignature`, `ProbeSignature` and `WrongSerial` alter
/// the headers. `Unsigned` and `DropHeader` are the caller's.
pub(crate) fn sign_platform(
    key: &crate::crypto::PrivateKey,
    serial: &str,
    now: i64,
    mut nonce: String,
    body: &mut [u8],
    faults: &[Fault],
) -> Vec<(HeaderName, HeaderValue)> {
    let skew = skew(faults).unwrap_or_else(|| {
        // Only an overflowing sum of skews gets here; its sign says which end to saturate.
        let positive = faults
            .iter()
            .any(|f| matches!(f, Fault::SkewClock(s) if *s > 0));
        if positive {
            i64::MAX
        } else {
            i64::MIN
        }
    });
    let timestamp = now.saturating_add(skew).to_string();
    let mut message = crate::verify::message(&timestamp, &nonce, body);
    if faults.contains(&Fault::TamperSignature) {
        message.push(b'!');
    }
    let mut signature = key.sign(&message).unwrap_or_default();
    if faults.contains(&Fault::TamperBody) {
        match body.first_mut() {
            Some(first) => *first ^= 0x01,
            // Nothing to alter in an empty body: alter the signed nonce instead.
            // Char-safe: a caller's nonce may be empty or start with a multibyte char.
            None => {
                let rest = nonce.chars().skip(1).collect::<String>();
                let first = if nonce.starts_with('A') { 'B' } else { 'A' };
                nonce = format!("{first}{rest}");
            }
        }
    }
    if faults.contains(&Fault::ProbeSignature) {
        signature = format!("{PROBE_PREFIX}{signature}");
    }
    let serial = faults
        .iter()
        .find_map(|f| match f {
            Fault::WrongSerial(s) => Some(s.as_str()),
            _ => None,
        })
        .unwrap_or(serial);
    [
        (&TIMESTAMP, timestamp.as_str()),
        (&NONCE, nonce.as_str()),
        (&SIGNATURE, signature.as_str()),
        (&SERIAL, serial),
    ]
    .into_iter()
    .filter_map(|(name, value)| HeaderValue::from_str(value).ok().map(|v| (name.clone(), v)))
    .collect()
}
