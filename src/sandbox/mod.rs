//! An embedded WeChat Pay platform double, served over real HTTP on `127.0.0.1`.
//!
//! [`Sandbox::start`] binds `127.0.0.1:0` and serves like the platform does: it checks
//! every request's `Authorization` with the merchant public key (401 `SIGN_ERROR` JSON on
//! a bad signature, a wrong serial or a stale timestamp), answers the documented
//! endpoints with their documented example bodies, answers unknown paths with 404
//! `NOT_FOUND`, and signs every answer with its platform key (the certificate key, or the
//! public-key-id key when the request names it in `Wechatpay-Serial`).
//!
//! It can be told to misbehave ([`Fault`]) so that every rejection path of a client can
//! be tested, and it makes correctly signed and encrypted callback notifications.
//!
//! The keys below are **test keys, published with the crate**: never use them for money.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! use wechatpay::sandbox::{Fault, Sandbox};
//!
//! let sandbox = Sandbox::start().await?;
//! let wxpay = sandbox.client();
//! let ok = wxpay.chain("v3/payscore/partner/serviceorder/{out_order_no}/sync")
//!     .post(serde_json::json!({"service_id": "500001", "sub_mchid": "1900000109",
//!                              "type": "Order_Paid", "detail": {"paid_time": "20091225091210"}}))
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .send().await?;
//! assert_eq!(ok.status(), 204);
//!
//! sandbox.fault(Fault::TamperBody);
//! let err = wxpay.chain("v3/payscore/payafter-orders/{out_order_no}/sync")
//!     .post(serde_json::json!({"appid": "wxd678efh567hg6787", "service_id": "500001",
//!                              "type": "Order_Paid", "detail": {"paid_time": "20091225091010"}}))
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .send().await.unwrap_err();
//! assert!(err.is_verification());
//! # Ok(()) }
//! ```

pub mod bills;
#[cfg(feature = "catalog")]
mod catalog_routes;
mod decode;
mod files;
mod lifecycle;
mod notify;
mod proxy;
mod routes;
mod server;
mod tls;
#[cfg(feature = "apiv2")]
pub mod v2;

pub use files::BillServing;
pub use notify::{notification, NotificationBuilder, SignedNotification};
pub use proxy::{ProxiedRequest, TestProxy};

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{HeaderMap, Method, StatusCode};

use crate::client::{Wechatpay, WechatpayBuilder};
use crate::clock::Clock;
use crate::crypto::{Certificate, PrivateKey, PublicKey};
use crate::error::Error;

/// The sandbox merchant id.
pub const MERCHANT_ID: &str = "1900000001";
/// The serial of the sandbox merchant certificate.
pub const MERCHANT_SERIAL: &str = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1";
/// The sandbox merchant private key (PKCS#8). A published test key.
pub const MERCHANT_PRIVATE_KEY_PEM: &str = include_str!("keys/merchant_key.pem");
/// The sandbox merchant certificate.
pub const MERCHANT_CERTIFICATE_PEM: &str = include_str!("keys/merchant_cert.pem");
/// The serial of the sandbox platform certificate (its DER serial has a sign byte, `00 9F…`).
pub const PLATFORM_SERIAL: &str = "9F3A5C7E1B2D4F6081A3C5E7092B4D6F8091A2B3";
/// The sandbox platform certificate.
pub const PLATFORM_CERTIFICATE_PEM: &str = include_str!("keys/platform_cert.pem");
/// The public key of the sandbox platform certificate (SPKI).
pub const PLATFORM_PUBLIC_KEY_PEM: &str = include_str!("keys/platform_pub.pem");
/// The sandbox platform certificate's private key. A published test key.
pub const PLATFORM_PRIVATE_KEY_PEM: &str = include_str!("keys/platform_key.pem");
/// The id of the sandbox's WeChat Pay public key (public-key mode, 2024+).
pub const PUBLIC_KEY_ID: &str = "PUB_KEY_ID_0119000000012026112200000000000001";
/// The sandbox's WeChat Pay public key (SPKI).
pub const PUBLIC_KEY_PEM: &str = include_str!("keys/pubkey_pub.pem");
/// The private half of [`PUBLIC_KEY_PEM`]. A published test key.
pub const PUBLIC_KEY_PRIVATE_PEM: &str = include_str!("keys/pubkey_key.pem");
/// The sandbox APIv3 key (32 bytes).
pub const APIV3_KEY: &str = "wechatpay-rust-sandbox-APIv3-key";
/// The sandbox APIv2 key (32 characters), which signs its APIv2 answers and notifications.
pub const APIV2_KEY: &str = "wechatpay-rust-sandbox-APIv2-key";
/// The test CA that issued the sandbox's TLS server certificate and its merchant TLS
/// certificate. A client trusts it only when told
/// ([`WechatpayBuilder::add_root_certificate_pem`]; [`Sandbox::start_tls`]'s clients do).
pub const TLS_CA_CERTIFICATE_PEM: &str = include_str!("keys/tls_ca.pem");
/// The sandbox's TLS server certificate, for `127.0.0.1` and `localhost`.
pub const TLS_SERVER_CERTIFICATE_PEM: &str = include_str!("keys/tls_server_cert.pem");
/// The private key of [`TLS_SERVER_CERTIFICATE_PEM`]. A published test key.
pub const TLS_SERVER_PRIVATE_KEY_PEM: &str = include_str!("keys/tls_server_key.pem");
/// The sandbox merchant's API certificate for mutual TLS (`apiclient_cert.pem`), issued by
/// [`TLS_CA_CERTIFICATE_PEM`] for the key [`MERCHANT_PRIVATE_KEY_PEM`], as on the platform,
/// where the one key signs APIv3 requests and authenticates APIv2's mutual TLS.
pub const MERCHANT_TLS_CERTIFICATE_PEM: &str = include_str!("keys/merchant_tls_cert.pem");

/// The sandbox merchant's identity for mutual TLS ([`MERCHANT_TLS_CERTIFICATE_PEM`] and
/// [`MERCHANT_PRIVATE_KEY_PEM`]).
///
/// # Errors
///
/// Only if the embedded PEM failed to load, which the test suite rules out.
#[cfg(feature = "apiv2")]
pub fn merchant_identity() -> Result<crate::v2::MerchantIdentity, Error> {
    crate::v2::MerchantIdentity::from_pem(MERCHANT_TLS_CERTIFICATE_PEM, MERCHANT_PRIVATE_KEY_PEM)
}

/// A client with the sandbox credentials aimed at the production URL: for examples that
/// build and inspect requests without sending them.
///
/// # Errors
///
/// Only if the embedded keys failed to parse, which the test suite rules out.
pub fn offline_client() -> Result<Wechatpay, Error> {
    credentials()?.build()
}

/// The builder behind [`offline_client`], to adjust (a fixed clock, a public key id, ...)
/// before building.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
/// let wxpay = wechatpay::sandbox::offline_client_builder()?.clock(wechatpay::Clock::fixed(then)).build()?;
/// assert_eq!(wxpay.clock().now(), then);
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// Only if the embedded keys failed to parse, which the test suite rules out.
pub fn offline_client_builder() -> Result<WechatpayBuilder, Error> {
    credentials()
}

/// The sandbox's keys, parsed once for the whole process (every sandbox, every
/// sandbox client and every test notification uses them).
pub(crate) struct TestKeys {
    pub(crate) merchant: PrivateKey,
    pub(crate) platform: PrivateKey,
    pub(crate) platform_certificate: Certificate,
    pub(crate) public_key: PrivateKey,
}

pub(crate) fn test_keys() -> Result<&'static TestKeys, Error> {
    static KEYS: std::sync::OnceLock<TestKeys> = std::sync::OnceLock::new();
    if let Some(keys) = KEYS.get() {
        return Ok(keys);
    }
    let parsed = TestKeys {
        merchant: PrivateKey::from_pem(MERCHANT_PRIVATE_KEY_PEM)?,
        platform: PrivateKey::from_pem(PLATFORM_PRIVATE_KEY_PEM)?,
        platform_certificate: Certificate::from_pem(PLATFORM_CERTIFICATE_PEM)?,
        public_key: PrivateKey::from_pem(PUBLIC_KEY_PRIVATE_PEM)?,
    };
    Ok(KEYS.get_or_init(|| parsed))
}

/// The sandbox credentials (merchant, both platform keys, APIv3 key, APIv2 key) on a
/// builder, at the default base URL.
fn credentials() -> Result<WechatpayBuilder, Error> {
    let builder = Wechatpay::builder()
        .mchid(MERCHANT_ID)
        .serial(MERCHANT_SERIAL)
        .private_key(test_keys()?.merchant.clone())
        .platform_key(PLATFORM_SERIAL, test_keys()?.platform.public_key().clone())
        .apiv3_key(APIV3_KEY);
    #[cfg(feature = "apiv2")]
    let builder = builder.apiv2_key(APIV2_KEY);
    Ok(builder)
}

/// A misbehaviour the sandbox can be told to show, to test that clients reject it.
/// Faults stay in force until [`Sandbox::clear_faults`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Sign the answer, then change one byte of its body.
    TamperBody,
    /// Send a signature that does not match (a valid signature of another message).
    TamperSignature,
    /// Sign with a timestamp this many seconds off the real clock.
    SkewClock(i64),
    /// Send a `WECHATPAY/SIGNTEST/…` probe signature, as the platform does to check that
    /// merchants verify.
    ProbeSignature,
    /// Leave this header out of the answer (e.g. `Wechatpay-Signature`).
    DropHeader(String),
    /// Claim this serial in `Wechatpay-Serial` (the signature stays the real key's).
    WrongSerial(String),
    /// Wait this long before answering.
    Delay(Duration),
    /// Answer every request with this status and raw body (signed like any answer).
    Respond {
        /// The status to answer with.
        status: StatusCode,
        /// The raw body.
        body: String,
    },
    /// Answer without any signature headers.
    Unsigned,
    /// Answer requests to this one path (e.g. `v3/certificates`; the query is ignored)
    /// with this status and raw body (signed like any answer); other paths answer as
    /// usual. E.g. a 404 on `v3/certificates`, as for a merchant in public-key mode.
    RespondOn {
        /// The path, without the leading `/` and the query.
        path: String,
        /// The status to answer with.
        status: StatusCode,
        /// The raw body.
        body: String,
    },
    /// Answer the next `times` requests (that pass the authorization check) with `status`
    /// and the platform's error body for it (`FREQUENCY_LIMITED` for 429, `SYSTEM_ERROR`
    /// for 5xx, `INVALID_REQUEST` otherwise), signed, then answer as usual: an outage
    /// that ends, for retries.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::SERVICE_UNAVAILABLE, times: 2 });
    /// sandbox.client().chain("v3/certificates").get().await?; // retried twice, then 200
    /// assert_eq!(sandbox.requests().len(), 3);
    /// # Ok(()) }
    /// ```
    FailTimes {
        /// The status of the failures.
        status: StatusCode,
        /// How many requests still fail.
        times: u32,
    },
    /// Add `Retry-After` with this value (delay-seconds such as `"1"`, or an HTTP-date) to
    /// every non-2xx answer.
    RetryAfter(String),
    /// Read the next `times` requests (recorded like any other), then close their
    /// connection without answering: a request that reached the platform and whose answer
    /// was lost.
    ResetConnection {
        /// How many requests are still cut off.
        times: u32,
    },
    /// APIv2: sign answers with a wrong `sign` (the right algorithm, another key's value).
    V2BadSign,
    /// APIv2: refuse every call at the communication layer, `return_code` `FAIL` with this
    /// `return_msg` (unsigned, as the platform's are), e.g. `签名错误`.
    V2ReturnFail(String),
    /// APIv2: refuse every call at the business layer, `result_code` `FAIL` with this
    /// `err_code` and `err_code_des` (signed, as the platform's are).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// # #[cfg(feature = "apiv2")]
    /// # {
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::V2ResultFail { err_code: "ORDERNOTEXIST".into(), err_code_des: "此交易订单号不存在".into() });
    /// let error = sandbox.client().chain("v2/pay/orderquery")
    ///     .post(serde_json::json!({ "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "out_trade_no": "1415757673" }))
    ///     .await.unwrap_err();
    /// assert_eq!(error.api_code(), Some("ORDERNOTEXIST"));
    /// # }
    /// # Ok(()) }
    /// ```
    V2ResultFail {
        /// The `err_code`, e.g. `SYSTEMERROR`, `ORDERPAID`.
        err_code: String,
        /// The `err_code_des`.
        err_code_des: String,
    },
}

/// What a counting fault does to the request at hand.
pub(crate) enum Countdown {
    Fail(StatusCode),
    Reset,
}

/// A request the sandbox received (after its authorization check). Its `Debug` hides the
/// `Authorization` value and shows the body's length and a prefix.
#[derive(Clone)]
pub struct RecordedRequest {
    /// The method.
    pub method: Method,
    /// The path and query, as signed.
    pub target: String,
    /// The headers.
    pub headers: HeaderMap,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl fmt::Debug for RecordedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("target", &self.target)
            .field("headers", &crate::redact::Headers(&self.headers))
            .field("body", &crate::redact::Body(&self.body))
            .finish()
    }
}

/// Keys and behaviour shared by the server tasks and the [`Sandbox`] handle.
pub(crate) struct State {
    /// The platform's clock (the system clock): what request timestamps are checked
    /// against and answers are signed at.
    pub(crate) clock: Clock,
    pub(crate) merchant_id: String,
    pub(crate) merchant_serial: String,
    pub(crate) keys: &'static TestKeys,
    pub(crate) platform_serial: String,
    pub(crate) pubkey_id: String,
    pub(crate) faults: Mutex<Vec<Fault>>,
    pub(crate) recorded: Mutex<VecDeque<RecordedRequest>>,
    pub(crate) connections: AtomicU64,
    /// Every request received, refused ones included.
    pub(crate) received: AtomicU64,
    /// Requests being handled now, and the most ever at once.
    pub(crate) active: AtomicU64,
    pub(crate) peak_active: AtomicU64,
    pub(crate) reuse_signatures: AtomicBool,
    pub(crate) signature_cache: Mutex<Option<server::CachedSignature>>,
    /// Orders and refunds of the stateful payment lifecycle.
    pub(crate) ledger: lifecycle::Ledger,
    /// Bills served and links issued.
    pub(crate) files: Arc<files::Files>,
    /// Orders and refunds made through APIv2 (`pay/micropay`, `secapi/pay/refund`).
    #[cfg(feature = "apiv2")]
    pub(crate) v2: v2::Ledger,
}

/// How many received requests the sandbox remembers (the oldest are dropped first).
pub const RECORD_LIMIT: usize = 1000;

impl State {
    pub(crate) fn faults(&self) -> Vec<Fault> {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Counts one request down on the first counting fault that has some left.
    pub(crate) fn count_down(&self) -> Option<Countdown> {
        let mut faults = self.faults.lock().unwrap_or_else(|e| e.into_inner());
        faults.iter_mut().find_map(|fault| match fault {
            Fault::FailTimes { status, times } if *times > 0 => {
                *times -= 1;
                Some(Countdown::Fail(*status))
            }
            Fault::ResetConnection { times } if *times > 0 => {
                *times -= 1;
                Some(Countdown::Reset)
            }
            _ => None,
        })
    }
}

/// A running platform double. Dropping it stops the server.
pub struct Sandbox {
    addr: SocketAddr,
    /// Serves `https://` (see [`Sandbox::start_tls`]).
    tls: bool,
    state: Arc<State>,
    client: Wechatpay,
    control: tokio::sync::mpsc::UnboundedSender<server::Control>,
    server: tokio::task::JoinHandle<()>,
}

impl Sandbox {
    /// Starts the sandbox on `127.0.0.1` at a free port. Needs a Tokio runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if no loopback port can be bound.
    pub async fn start() -> Result<Sandbox, Error> {
        Sandbox::start_on(0).await
    }

    /// Starts the sandbox on `127.0.0.1:port` (`0` for any free port).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] naming the port if it cannot be bound (in use, or privileged).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start_on(0).await?; // 0: any free port
    /// assert!(sandbox.base_url().starts_with("http://127.0.0.1:"));
    /// // A port in use is a configuration error naming it.
    /// let taken = sandbox.addr().port();
    /// let error = wechatpay::sandbox::Sandbox::start_on(taken).await.unwrap_err();
    /// assert!(error.to_string().contains(&taken.to_string()));
    /// # Ok(()) }
    /// ```
    pub async fn start_on(port: u16) -> Result<Sandbox, Error> {
        Sandbox::launch(port, false).await
    }

    /// Starts the sandbox over TLS on `127.0.0.1` at a free port: `https://127.0.0.1:<port>/`
    /// with the test server certificate, asking for the client certificate like the
    /// platform. Its [`client`](Self::client) trusts the test CA
    /// ([`TLS_CA_CERTIFICATE_PEM`]) and presents the sandbox merchant's certificate
    /// ([`MERCHANT_TLS_CERTIFICATE_PEM`]) on the APIv2 calls that need mutual TLS; the
    /// sandbox answers those calls `400 No required SSL certificate was sent` without one,
    /// and refuses the handshake of a certificate its CA did not issue.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start_tls().await?;
    /// assert!(sandbox.base_url().starts_with("https://127.0.0.1:"));
    /// sandbox.client().chain("v3/certificates").get().await?; // APIv3 over TLS too
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if no loopback port can be bound.
    pub async fn start_tls() -> Result<Sandbox, Error> {
        Sandbox::launch(0, true).await
    }

    async fn launch(port: u16, tls: bool) -> Result<Sandbox, Error> {
        let state = Arc::new(State {
            clock: Clock::system(),
            merchant_id: MERCHANT_ID.to_owned(),
            merchant_serial: MERCHANT_SERIAL.to_owned(),
            keys: test_keys()?,
            platform_serial: PLATFORM_SERIAL.to_owned(),
            pubkey_id: PUBLIC_KEY_ID.to_owned(),
            faults: Mutex::new(Vec::new()),
            recorded: Mutex::new(VecDeque::new()),
            connections: AtomicU64::new(0),
            received: AtomicU64::new(0),
            active: AtomicU64::new(0),
            peak_active: AtomicU64::new(0),
            reuse_signatures: AtomicBool::new(false),
            signature_cache: Mutex::new(None),
            ledger: lifecycle::Ledger::default(),
            files: Arc::default(),
            #[cfg(feature = "apiv2")]
            v2: v2::Ledger::default(),
        });
        let acceptor = if tls { Some(tls::acceptor()?) } else { None };
        let (addr, control, server) = server::serve(port, Arc::clone(&state), acceptor).await?;
        state
            .files
            .set_origin(base_url(addr, tls).trim_end_matches('/').to_owned());
        let client = client_builder(addr, tls)?.build()?;
        Ok(Sandbox {
            addr,
            tls,
            state,
            client,
            control,
            server,
        })
    }

    /// `http://127.0.0.1:<port>/`, or `https://` for [`start_tls`](Self::start_tls).
    pub fn base_url(&self) -> String {
        base_url(self.addr, self.tls)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A client configured for this sandbox (merchant key, platform certificate key,
    /// APIv3 key, APIv2 key; over TLS, the test CA and the merchant's TLS certificate).
    /// Clones share one connection pool. It is
    /// [`strict`](WechatpayBuilder::strict): every request is checked against the endpoint
    /// catalog before it is signed (`.skip_check()` on a request sends it as it is, to see
    /// the sandbox's own answer to a malformed request).
    pub fn client(&self) -> Wechatpay {
        self.client.clone()
    }

    /// A builder with the sandbox credentials and base URL, to adjust (timeouts, public
    /// key mode, …) before building.
    ///
    /// # Errors
    ///
    /// Only if the embedded keys failed to parse.
    pub fn client_builder(&self) -> Result<WechatpayBuilder, Error> {
        client_builder(self.addr, self.tls)
    }

    /// The merchant id the sandbox accepts.
    pub fn merchant_id(&self) -> &str {
        &self.state.merchant_id
    }

    /// The merchant certificate serial the sandbox accepts.
    pub fn merchant_serial(&self) -> &str {
        &self.state.merchant_serial
    }

    /// The merchant private key the sandbox's clients sign with.
    ///
    /// # Errors
    ///
    /// Only if the embedded key failed to parse.
    pub fn merchant_key(&self) -> Result<PrivateKey, Error> {
        Ok(test_keys()?.merchant.clone())
    }

    /// The platform certificate the sandbox signs with by default.
    pub fn platform_certificate(&self) -> &Certificate {
        &self.state.keys.platform_certificate
    }

    /// The platform public key (certificate key), under [`PLATFORM_SERIAL`].
    pub fn platform_public_key(&self) -> &PublicKey {
        self.state.keys.platform_certificate.public_key()
    }

    /// The WeChat Pay public key, under [`PUBLIC_KEY_ID`].
    pub fn public_key(&self) -> &PublicKey {
        self.state.keys.public_key.public_key()
    }

    /// Turns a misbehaviour on (until [`clear_faults`](Self::clear_faults)).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::{sandbox::{Fault, Sandbox}, VerificationFailure};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::WrongSerial("1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C".into()));
    /// let error = sandbox.client().chain("v3/certificates").get().await.unwrap_err();
    /// assert!(matches!(error.verification_failure(), Some(VerificationFailure::UnknownSerial { .. })));
    /// sandbox.clear_faults();
    /// sandbox.client().chain("v3/certificates").get().await?;
    /// # Ok(()) }
    /// ```
    pub fn fault(&self, fault: Fault) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fault);
    }

    /// Back to correct behaviour.
    pub fn clear_faults(&self) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// For load tests: let identical answers within the same second share one nonce and
    /// signature instead of signing each (off by default). Every answer still carries a
    /// valid platform signature that clients verify in full; what is saved is the
    /// sandbox's own RSA signing, which on a shared machine would otherwise compete with
    /// the client being measured. Faults turn reuse off.
    pub fn reuse_signatures(&self, on: bool) {
        self.state.reuse_signatures.store(on, Ordering::Relaxed);
    }

    /// The most requests the sandbox was handling at the same time (to check a client's
    /// concurrency limit).
    pub fn peak_concurrency(&self) -> u64 {
        self.state.peak_active.load(Ordering::Relaxed)
    }

    /// Every request the sandbox has received, those refused by its authorization check
    /// included (unlike [`requests`](Self::requests), not capped): to measure load.
    pub fn requests_received(&self) -> u64 {
        self.state.received.load(Ordering::Relaxed)
    }

    /// Stops accepting connections for `duration`: closes the listening socket (new
    /// connections are refused) and every open connection, then listens on the same port
    /// again. Returns once the socket is closed. A host that refuses, for failover tests.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use std::time::Duration;
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let wxpay = sandbox.client_builder()?.retry(wechatpay::RetryPolicy::none()).build()?;
    /// sandbox.refuse_connections(Duration::from_millis(300)).await;
    /// assert!(wxpay.chain("v3/certificates").get().await.unwrap_err().is_connect());
    /// tokio::time::sleep(Duration::from_millis(600)).await;
    /// wxpay.chain("v3/certificates").get().await?; // listening again
    /// # Ok(()) }
    /// ```
    pub async fn refuse_connections(&self, duration: Duration) {
        let (closed, done) = tokio::sync::oneshot::channel();
        let command = server::Control::Refuse { duration, closed };
        if self.control.send(command).is_ok() {
            let _ = done.await;
        }
    }

    /// How many TCP connections the sandbox has accepted (to check that clients pool).
    pub fn connections_accepted(&self) -> u64 {
        self.state.connections.load(Ordering::Relaxed)
    }

    /// The requests received so far that passed the authorization check (the last
    /// [`RECORD_LIMIT`]).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// sandbox.client().chain("v3/certificates").get().query("x", 1).await?;
    /// let seen = sandbox.requests();
    /// assert_eq!(seen[0].target, "/v3/certificates?x=1");
    /// assert!(seen[0].headers.contains_key("authorization"));
    /// # Ok(()) }
    /// ```
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .recorded
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

fn base_url(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}/", if tls { "https" } else { "http" })
}

/// The sandbox credentials for the sandbox at `addr`; over TLS, trusting the test CA and
/// presenting the merchant's TLS certificate.
fn client_builder(addr: SocketAddr, tls: bool) -> Result<WechatpayBuilder, Error> {
    let builder = credentials()?
        .base_url(base_url(addr, tls))
        .strict(cfg!(feature = "catalog"));
    if !tls {
        return Ok(builder);
    }
    let builder = builder.add_root_certificate_pem(TLS_CA_CERTIFICATE_PEM);
    #[cfg(feature = "apiv2")]
    let builder = builder.merchant_identity(merchant_identity()?);
    Ok(builder)
}

impl Sandbox {
    /// Marks an order placed through `v3/pay/transactions/{jsapi,native,app,h5}` (or a
    /// partner form) paid, and POSTs a signed, encrypted `TRANSACTION.SUCCESS`
    /// notification to its `notify_url` (a plain `http://` loopback URL, e.g. a test
    /// handler), returning the handler's answer. Queries then show `trade_state: SUCCESS`.
    /// The order stays paid even if the delivery fails, as on the platform (which retries
    /// notifications later).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// # let notify_url = format!("http://{}/notify", listener.local_addr().unwrap());
    /// # tokio::spawn(async move {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let (mut stream, _) = listener.accept().await.unwrap();
    /// #     let mut buf = vec![0; 65536];
    /// #     let _ = stream.read(&mut buf).await;
    /// #     let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    /// # });
    /// use serde_json::json;
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let wxpay = sandbox.client();
    /// wxpay.chain("v3/pay/transactions/native").post(json!({
    ///     "appid": "wxd678efh567hg6787", "mchid": "1900000001", "description": "Image形象店-深圳腾大-QQ公仔",
    ///     "out_trade_no": "1217752501201407033233368018", "notify_url": notify_url,
    ///     "amount": { "total": 100, "currency": "CNY" },
    /// })).await?;
    /// let handler_answer = sandbox.pay("1217752501201407033233368018").await?;
    /// assert_eq!(handler_answer.status(), 204);
    /// let order: serde_json::Value = wxpay
    ///     .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
    ///     .get()
    ///     .params(json!({ "out_trade_no": "1217752501201407033233368018", "mchid": "1900000001" }))
    ///     .await?
    ///     .json()?;
    /// assert_eq!(order["trade_state"], "SUCCESS");
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for an unknown, closed or already paid order, or a `notify_url`
    /// that is not a plain `http://` loopback URL; [`Error::Transport`] if the handler
    /// cannot be reached or does not answer within 10 seconds.
    pub async fn pay(&self, out_trade_no: &str) -> Result<http::Response<Vec<u8>>, Error> {
        let owed = self.state.ledger.pay(
            &self.state.merchant_id,
            self.state.clock.unix_seconds(),
            out_trade_no,
        )?;
        deliver(owed).await
    }

    /// Completes a refund requested through `v3/refund/domestic/refunds` (status
    /// `PROCESSING` until then): marks it `SUCCESS` and POSTs a signed, encrypted
    /// `REFUND.SUCCESS` notification to the refund's `notify_url`, returning the
    /// handler's answer.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for an unknown or already completed refund, or a `notify_url` that
    /// is not a plain `http://` loopback URL; [`Error::Transport`] if the handler cannot
    /// be reached.
    pub async fn complete_refund(
        &self,
        out_refund_no: &str,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let owed = self.state.ledger.complete_refund(
            &self.state.merchant_id,
            self.state.clock.unix_seconds(),
            out_refund_no,
        )?;
        deliver(owed).await
    }
}

/// POSTs an owed notification, signed and encrypted like the platform's.
async fn deliver(owed: lifecycle::Owed) -> Result<http::Response<Vec<u8>>, Error> {
    if owed.notify_url.is_empty() {
        return Err(Error::request(
            "the request carried no notify_url to deliver the notification to",
        ));
    }
    notification(owed.event_type, owed.resource)?
        .send(&owed.notify_url)
        .await
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sandbox")
            .field("base_url", &self.base_url())
            .field("faults", &self.state.faults())
            .finish_non_exhaustive()
    }
}
