//! # wechatpay
//!
//! A WeChat Pay client (APIv3, and APIv2 through the same chains) that calls any of the
//! platform's ~1,150 endpoints without per-endpoint code, in the style of the PHP and JS "chain" SDKs: name the endpoint, give
//! placeholder values and an untyped JSON body, and the client expands the URI template,
//! signs the request (`WECHATPAY2-SHA256-RSA2048`), sends it, verifies the platform's
//! signature on the answer and hands it back.
//!
//! Everything below runs against the embedded [`sandbox`], a real HTTP platform double
//! on `127.0.0.1` that answers every endpoint of the built-in [`catalog`], so no
//! credentials or internet are needed.
//!
//! ## Three ways to name an endpoint
//!
//! All three build byte-identical requests.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! use serde_json::json;
//! use wechatpay::{chain, sandbox::Sandbox};
//!
//! let sandbox = Sandbox::start().await?;
//! let wxpay = sandbox.client();
//! let body = json!({
//!     "appid": "wxd678efh567hg6787",
//!     "service_id": "500001",
//!     "type": "Order_Paid",
//!     "detail": { "paid_time": "20091225091210" },
//! });
//!
//! // 1. A URI template, as PHP's $instance->chain('v3/payscore/serviceorder/{out_order_no}/sync').
//! let answer = wxpay
//!     .chain("v3/payscore/serviceorder/{out_order_no}/sync")
//!     .post(&body)
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .send()
//!     .await?;
//!
//! // 2. Segment calls, the programmatic form of the JS property chain.
//! let same = wxpay.seg("v3").seg("payscore").seg("serviceorder").seg("_out_order_no_").seg("sync")
//!     .post(&body)
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .await?; // a RequestBuilder is IntoFuture: `.await` sends it
//!
//! // 3. The macro, which reads like wxpay.v3.payscore.serviceorder._out_order_no_.sync in JS.
//! let also = chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync)
//!     .post(&body)
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .await?;
//!
//! let order: serde_json::Value = answer.json()?;
//! assert_eq!(order["out_order_no"], "1234323JKHDFE1243252");
//! assert_eq!(same.json::<serde_json::Value>()?["order_id"], order["order_id"]);
//! assert_eq!(also.status(), 200);
//! # Ok(()) }
//! ```
//!
//! Segment names are normalized like the JS/PHP chains: `payafterOrders` becomes
//! `payafter-orders`, `_out_order_no_` becomes the placeholder `{out_order_no}`.
//! Template strings are used literally, so `secapi/mch/addInstitutionsub` stays reachable.
//! Templates are full [RFC 6570](UriTemplate) (`{?offset,limit}` and friends), and a
//! placeholder without a value is an error naming it, never an empty segment.
//!
//! ## What you get back
//!
//! A 2xx answer is a [`Response`] whose signature has been checked against the configured
//! platform keys (timestamp within 300 s, known serial, RSA-SHA256 over the raw bytes).
//! The sandbox's client is also strict: it checks every request against the built-in
//! endpoint catalog before signing ([`RequestBuilder::check`]), so the unknown path below
//! is sent with `.skip_check()` to see what the platform answers.
//! A non-2xx answer is [`Error::Api`] with the platform's `code` and `message`. A signature
//! failure is [`Error::Verification`], which says which check failed and keeps the
//! response, since the platform may have acted on the request.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! # let sandbox = wechatpay::sandbox::Sandbox::start().await?;
//! # let wxpay = sandbox.client();
//! match wxpay.chain("v3/no/such/endpoint").get().skip_check().await {
//!     Err(wechatpay::Error::Api(api)) => {
//!         assert_eq!(api.status, 404);
//!         assert_eq!(api.code.as_deref(), Some("NOT_FOUND"));
//!     }
//!     other => panic!("expected a 404, got {other:?}"),
//! }
//! # Ok(()) }
//! ```
//!
//! ## Configuring a real client
//!
//! ```no_run
//! use wechatpay::{PrivateKey, PublicKey, Wechatpay};
//!
//! let wxpay = Wechatpay::builder()
//!     .mchid("1900000001")
//!     .serial("5157F09EFDC096DE15EBE81A47057A7232F1B8E1")
//!     .private_key(PrivateKey::from_pem_file("apiclient_key.pem")?)
//!     .platform_key("PUB_KEY_ID_0119000000012026112200000000000001", PublicKey::from_pem_file("pub_key.pem")?)
//!     .build()?;
//! # Ok::<(), wechatpay::Error>(())
//! ```
//!
//! ## Trust and crypto
//!
//! - **Sensitive fields**: [`RequestBuilder::encrypt_fields`] encrypts string fields of
//!   the JSON body, named by JSON Pointer, for the platform (RSA-OAEP, SHA-1) and sends
//!   `Wechatpay-Serial` naming the key used; [`Wechatpay::encrypt`] and
//!   [`Wechatpay::decrypt`] do single values, [`Wechatpay::encryption_key`] says which key.
//! - **Platform certificates**: [`Wechatpay::download_certificates`] fetches, decrypts
//!   (APIv3 key) and verifies them; [`WechatpayBuilder::auto_refresh_certificates`] keeps
//!   the trust store current in the background ([`certificates`]).
//! - **Callback notifications**: [`Wechatpay::notification`] verifies and decrypts what
//!   the platform POSTs to `notify_url`; [`notify::ack`] and [`notify::nack`] are the
//!   answers; [`sandbox::notification`] makes test notifications ([`notify`]).
//! - **Pay-sign**: [`Wechatpay::jsapi_pay_params`] and [`Wechatpay::app_pay_params`] sign
//!   what a page, mini-program or app passes to WeChat ([`paysign`]).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! use serde_json::json;
//!
//! let sandbox = wechatpay::sandbox::Sandbox::start().await?;
//! let wxpay = sandbox.client();
//!
//! // What the platform would POST to notify_url, checked and opened.
//! let incoming = wechatpay::sandbox::notification("TRANSACTION.SUCCESS", json!({
//!     "out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS",
//! }))?;
//! let paid = wxpay.notification(&incoming.headers, &incoming.body)?;
//! assert_eq!(paid.resource["trade_state"], "SUCCESS");
//!
//! // The parameters the mini-program passes to wx.requestPayment.
//! let params = wxpay.jsapi_pay_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
//! assert!(params.verify(wxpay.private_key().public_key()));
//!
//! // The platform certificates, downloaded and verified (not yet trusted).
//! let certificates = wxpay.download_certificates().await?;
//! assert_eq!(certificates[0].serial(), wechatpay::sandbox::PLATFORM_SERIAL);
//! # Ok(()) }
//! ```
//!
//! ## Files both ways
//!
//! Uploads are a verb on any chain: [`Chain::upload`] (and [`Chain::upload_from_path`],
//! [`Chain::upload_from_reader`]) sends the endpoint's `multipart/form-data` form, signed over
//! its `meta` JSON, after checking the platform's limits ([`multipart`]). Bills and receipts
//! come in two steps with [`Wechatpay::download`]: a verified link, then the file streamed,
//! gunzipped and checked against its digest, to any `AsyncWrite` or to a path that appears only
//! once the digest matches ([`download`]); [`bill`] reads them.
//!
//! ## APIv2
//!
//! A chain whose first segment is `v2` is an APIv2 call: the same verbs, the body's fields
//! sent as signed XML (MD5 or HMAC-SHA256 with [`WechatpayBuilder::apiv2_key`]), the
//! answer's `return_code`, `sign` and `result_code` checked, and [`Response::json`] reading
//! its fields. The endpoints that need the merchant certificate present it over mutual TLS
//! ([`WechatpayBuilder::merchant_identity`]). See [`v2`] and `examples/apiv2.rs`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! let sandbox = wechatpay::sandbox::Sandbox::start().await?;
//! let wxpay = sandbox.client();
//!
//! let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
//! let media: serde_json::Value = wxpay.chain("v3/merchant/media/upload").upload("a.png", png).await?.json()?;
//! assert!(media["media_id"].is_string());
//!
//! let mut bill = Vec::new();
//! let done = wxpay.download().tradebill("2026-11-29").gzip().to_writer(&mut bill).await?;
//! assert_eq!(done.bytes, bill.len() as u64); // SHA-1 checked over the gunzipped bytes
//!
//! // APIv2: the sandbox's client has its APIv2 key.
//! let paid: serde_json::Value = wechatpay::chain!(wxpay.v2.pay.micropay)
//!     .post(serde_json::json!({
//!         "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "body": "image",
//!         "out_trade_no": "1415757673", "total_fee": 1, "spbill_create_ip": "14.17.22.52",
//!         "auth_code": "120061098828009406",
//!     }))
//!     .await?
//!     .json()?;
//! assert_eq!(paid["result_code"], "SUCCESS");
//! # Ok(()) }
//! ```
//!
//! ## Without async
//!
//! [`blocking::Wechatpay`] has the same chains and verbs and returns results directly,
//! like the PHP SDK's synchronous calls.
//!
//! ## In production
//!
//! - **Retries** ([`retry`]): GET and HEAD after transient failures (connect failures, 429,
//!   500/502/503/504, `FREQUENCY_LIMITED`, `SYSTEM_ERROR`), other methods only when the
//!   request never left or with [`RequestBuilder::idempotent`]; 3 attempts, full-jitter
//!   backoff, `Retry-After` honoured, each attempt signed afresh, all within the total
//!   timeout, under a per-client [`RetryBudget`]. Set with [`WechatpayBuilder::retry`] and
//!   [`RequestBuilder::retry`].
//! - **Failover** ([`Failover`]): a request that cannot connect to the primary host goes to the
//!   backup in the same call; a circuit breaker per host keeps traffic there and probes the
//!   primary after a cool-down; [`Wechatpay::failover_status`] shows the state.
//! - **Proxies** ([`Proxy`]): `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` by default, or an explicit
//!   proxy with basic auth; HTTPS goes through a CONNECT tunnel and TLS ends at the client.
//! - **TLS roots**: the bundled web PKI roots, plus [`WechatpayBuilder::add_root_certificate_pem`],
//!   the operating system's (feature `native-roots`), or a whole
//!   [`WechatpayBuilder::tls_config`].
//! - **Tracing**: one `wechatpay.request` span per request (method, template, host, attempt,
//!   status, Request-ID, latency; never a key, signature, body or placeholder value) and
//!   events for retries, failovers, verification failures and certificate refreshes.
//! - **Your own HTTP stack or middleware**: [`transport::HttpSend`], below signing and above
//!   verification, so neither can be skipped.
//!
//! ## Limits, performance and features
//!
//! Everything has a bound: [`Timeouts`] (5 s to connect, 30 s for the whole exchange
//! including the body), a maximum response size ([`DEFAULT_MAX_RESPONSE_SIZE`]), and a cap
//! on requests in flight per client ([`DEFAULT_MAX_IN_FLIGHT`]), all set on the
//! [`WechatpayBuilder`]. Connections are pooled. RSA signatures (hundreds of microseconds
//! each) run on a small pool of one thread per core, never on the async executor's threads,
//! so I/O and timers are not held up behind them. Apart from that one signature and one
//! verification, a request costs about 2% more CPU (`BENCHMARKS.md` in the repository has the
//! figures).
//!
//! Cargo features: `catalog` (default) builds in the endpoint catalog ([`catalog`]: look-ups,
//! typo suggestions, pre-signing checks, and the sandbox's answers to every endpoint);
//! `apiv2` (default) the APIv2 protocol ([`v2`]); `pkcs12` opens the platform's
//! `apiclient_cert.p12` for APIv2's mutual TLS (opt-in: PEM files need nothing more);
//! `aws-lc-rs` signs with aws-lc-rs instead of ring (about twice as fast on current x86;
//! identical signatures, see [`crypto::signing_backend`]); `native-roots` lets a client trust
//! the operating system's root certificates too; `zlib-rs` decodes gzip bills with zlib-rs.
//! The `wxpay` command line is a package of its own (`src/bin/wxpay`), so depending on this
//! crate never builds a command-line parser.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![warn(clippy::missing_errors_doc)]

#[cfg(feature = "actix-web")]
pub mod actix;
#[cfg(feature = "axum")]
pub mod axum;
pub mod bill;
pub mod blocking;
pub mod catalog;
pub mod certificates;
mod chain;
mod client;
pub mod clock;
pub mod crypto;
pub mod download;
mod error;
pub mod multipart;
pub mod notify;
pub mod paysign;
mod redact;
mod request;
mod response;
pub mod retry;
pub mod sandbox;
pub mod sign;
mod template;
pub mod transport;
#[cfg(feature = "apiv2")]
pub mod v2;
pub mod verify;

pub use chain::{normalize_segment, Chain};
pub use client::{Wechatpay, WechatpayBuilder, BACKUP_BASE_URL, DEFAULT_BASE_URL};
pub use clock::Clock;
pub use crypto::{Apiv3Key, Certificate, PrivateKey, PublicKey};
pub use error::{
    ApiError, BoxError, Error, TemplateErrorKind, TransportErrorKind, VerificationFailure,
};
pub use request::RequestBuilder;
pub use response::Response;
pub use retry::{RetryBudget, RetryPolicy};
pub use template::UriTemplate;
pub use transport::{
    Failover, FailoverStatus, HostState, HostStatus, Proxy, Timeouts, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_RESPONSE_SIZE,
};
pub use verify::Verifier;

// Earlier paths of types that live in a module, kept so existing code compiles; the
// documented path is the module's (`certificates::PlatformCertificate`, ...).
#[doc(hidden)]
pub use certificates::PlatformCertificate;
#[doc(hidden)]
pub use notify::Notification;
#[doc(hidden)]
pub use paysign::{AppPayParams, JsapiPayParams};

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
