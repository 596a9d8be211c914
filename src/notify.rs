//! Callback notifications (支付通知, 退款通知, …): verify, decrypt, answer.
//!
//! The platform POSTs a JSON envelope to the merchant's `notify_url`, signed like an API
//! answer (`Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial` over
//! `TIMESTAMP\nNONCE\nBODY\n`), whose `resource` is encrypted with AEAD_AES_256_GCM under the
//! APIv3 key. [`Wechatpay::notification`] takes the raw headers and body from any web
//! framework (`http::HeaderMap` and bytes), verifies them exactly like an answer (headers,
//! probe, 300 s window, serial, signature), decrypts `resource` and returns a
//! [`Notification`]. Answer the platform with [`ack`] (204, no body) or [`nack`] (500 with
//! `{"code":"FAIL","message":…}`): it retries until it gets a 2xx.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! use serde_json::json;
//! use wechatpay::{notify, sandbox};
//!
//! let wxpay = sandbox::offline_client()?;
//! // What the platform would POST (the sandbox signs and encrypts it like the platform).
//! let incoming = sandbox::notification("TRANSACTION.SUCCESS", json!({
//!     "out_trade_no": "1217752501201407033233368018", "trade_state": "SUCCESS",
//! }))?;
//!
//! // In a handler: raw headers and body in, an http::Response out.
//! let answer = match wxpay.notification(&incoming.headers, &incoming.body) {
//!     Ok(notification) => {
//!         assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
//!         assert_eq!(notification.resource["trade_state"], "SUCCESS");
//!         notification.ack()
//!     }
//!     Err(error) => notify::nack(&error.to_string()),
//! };
//! assert_eq!(answer.status(), 204);
//! # Ok(()) }
//! ```
//!
//! Exactly-once handling across redeliveries and instances: [`ExactlyOnce`] over a [`Dedup`]
//! store ([`MemoryDedup`], or `RedisDedup` with the `redis` feature). Extractors for web
//! frameworks: `wechatpay::axum` and `wechatpay::actix` (features `axum`, `actix-web`).

mod answer;
mod dedup;
mod memory;
mod receive;
#[cfg(feature = "redis")]
mod redis;

pub use answer::{Ack, Nack};
pub use dedup::{
    Claim, Completion, Dedup, DedupError, DedupFuture, ExactlyOnce, Lease, Outcome,
    DEFAULT_DONE_TTL, DEFAULT_LEASE,
};
pub use memory::MemoryDedup;
#[cfg(any(feature = "axum", feature = "actix-web"))]
pub(crate) use receive::declared_too_large;
pub use receive::{receive, NotificationLimit, Rejection, DEFAULT_NOTIFICATION_LIMIT};
#[cfg(feature = "redis")]
pub use redis::{RedisDedup, DEFAULT_REDIS_PREFIX};

use std::fmt;

use http::header::{HeaderValue, CONTENT_TYPE};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use crate::client::Wechatpay;
use crate::crypto::Sealed;
use crate::error::Error;

/// A verified and decrypted callback notification.
///
/// `Debug` lists the resource's field names, not their values (a payer's details are
/// sent encrypted for a reason).
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client()?;
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Transaction { out_trade_no: String, amount: Amount }
/// #[derive(Deserialize)]
/// struct Amount { total: u64 }
///
/// let incoming = wechatpay::sandbox::notification("TRANSACTION.SUCCESS", serde_json::json!({
///     "out_trade_no": "1217752501201407033233368018", "amount": { "total": 100 },
/// }))?;
/// let notification = wxpay.notification(&incoming.headers, &incoming.body)?;
/// let transaction: Transaction = notification.resource_as()?;
/// assert_eq!((transaction.out_trade_no.as_str(), transaction.amount.total),
///            ("1217752501201407033233368018", 100));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct Notification {
    /// The notification id, e.g. `EV-2018022511223320873` (the same on every retry:
    /// use it to handle each notification once).
    pub id: String,
    /// When the platform created it, `YYYY-MM-DDTHH:MM:SS+08:00`.
    pub create_time: String,
    /// What happened: `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `REFUND.ABNORMAL`, …
    pub event_type: String,
    /// The resource's type, `encrypt-resource`.
    pub resource_type: String,
    /// The platform's summary, e.g. `支付成功`.
    pub summary: String,
    /// The resource's original type, e.g. `transaction`, `refund`.
    pub original_type: String,
    /// The decrypted resource (the payment, the refund, …) as JSON.
    pub resource: Value,
}

impl Notification {
    /// The decrypted resource as a typed value.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the resource does not match `T`.
    pub fn resource_as<T: DeserializeOwned>(&self) -> Result<T, Error> {
        T::deserialize(&self.resource).map_err(|e| {
            Error::decode(
                format!(
                    "the {} resource of notification {} does not match the requested type",
                    self.event_type, self.id
                ),
                Some(Box::new(e)),
            )
        })
    }

    /// The answer that tells the platform the notification was handled: 204, no body
    /// (see [`ack`]).
    pub fn ack(&self) -> http::Response<Vec<u8>> {
        ack()
    }
}

impl fmt::Debug for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = match &self.resource {
            Value::Object(map) => map.keys().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        f.debug_struct("Notification")
            .field("id", &self.id)
            .field("create_time", &self.create_time)
            .field("event_type", &self.event_type)
            .field("summary", &self.summary)
            .field("original_type", &self.original_type)
            .field("resource_fields", &fields)
            .finish_non_exhaustive()
    }
}

/// The answer to a notification that was handled: HTTP 204 with no body, as the APIv3
/// documentation asks (200 would do as well). A plain `http` response, so any framework
/// can convert it.
///
/// ```
/// let answer = wechatpay::notify::ack();
/// assert_eq!(answer.status(), 204);
/// assert!(answer.body().is_empty());
/// ```
pub fn ack() -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The answer to a notification that was not handled: HTTP 500 with
/// `{"code":"FAIL","message":"…"}`. The platform sends it again later (15 s, 15 s, 30 s,
/// 3 min, … up to 24 hours).
///
/// ```
/// let answer = wechatpay::notify::nack("database unavailable");
/// assert_eq!(answer.status(), 500);
/// assert_eq!(answer.body(), br#"{"code":"FAIL","message":"database unavailable"}"#);
/// ```
pub fn nack(message: &str) -> http::Response<Vec<u8>> {
    nack_with_status(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// [`nack`] with another 4xx/5xx status, e.g. 401 for a notification that failed
/// verification. A status that is not 4xx/5xx becomes 500, since anything else would
/// tell the platform the notification was handled.
///
/// ```
/// use http::StatusCode;
///
/// let answer = wechatpay::notify::nack_with_status(StatusCode::UNAUTHORIZED, "bad signature");
/// assert_eq!(answer.status(), 401);
/// assert_eq!(answer.headers()["content-type"], "application/json");
/// ```
pub fn nack_with_status(status: StatusCode, message: &str) -> http::Response<Vec<u8>> {
    let status = if status.is_client_error() || status.is_server_error() {
        status
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let body = serde_json::json!({ "code": "FAIL", "message": message });
    let mut response = http::Response::new(serde_json::to_vec(&body).unwrap_or_default());
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The documented envelope.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    create_time: String,
    event_type: String,
    resource_type: String,
    #[serde(default)]
    summary: String,
    resource: Resource,
}

#[derive(Deserialize)]
struct Resource {
    #[serde(flatten)]
    sealed: Sealed,
    #[serde(default)]
    original_type: String,
}

impl Wechatpay {
    /// Verifies and decrypts a callback notification from its raw headers and body.
    ///
    /// Verification is the one answers get, by the same trust store and clock: the four
    /// `Wechatpay-*` headers, not a `WECHATPAY/SIGNTEST/` probe, within 300 s, a trusted
    /// serial, RSA-SHA256 over `TIMESTAMP\nNONCE\nBODY\n`. Then `resource` is decrypted
    /// with the APIv3 key and parsed as JSON. Pass the body exactly as received (not
    /// re-serialized JSON), or the signature will not hold.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use wechatpay::{sandbox::{self, Fault}, VerificationFailure};
    ///
    /// let forged = sandbox::NotificationBuilder::new("TRANSACTION.SUCCESS", serde_json::json!({}))
    ///     .fault(Fault::TamperBody)
    ///     .build()?;
    /// let error = wxpay.notification(&forged.headers, &forged.body).unwrap_err();
    /// assert_eq!(error.verification_failure(), Some(&VerificationFailure::BadSignature));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Verification`] (with `response: None`) naming the failed check;
    /// [`Error::Config`] if no APIv3 key is configured; [`Error::Decode`] for a body that is
    /// not the envelope (naming what is missing), an algorithm other than
    /// AEAD_AES_256_GCM, or a resource that is not JSON; [`Error::Crypto`] if the resource
    /// does not decrypt (wrong APIv3 key).
    pub fn notification(&self, headers: &HeaderMap, body: &[u8]) -> Result<Notification, Error> {
        self.start_refresher();
        self.verifier().verify(headers, body).map_err(|failure| {
            tracing::warn!(%failure, "wechatpay: a notification failed verification");
            Error::Verification {
                failure,
                response: None,
            }
        })?;
        let key = self.apiv3_key("a notification")?;
        let envelope: Envelope = serde_json::from_slice(body).map_err(|e| {
            Error::decode(
                "the body is not a WeChat Pay notification \
                 {id, create_time, event_type, resource_type, summary, resource}",
                Some(Box::new(e)),
            )
        })?;
        let what = format!("the resource of notification {}", envelope.id);
        let plaintext = envelope.resource.sealed.open(key, &what)?;
        let resource = serde_json::from_slice(&plaintext)
            .map_err(|e| Error::decode(format!("{what} is not JSON"), Some(Box::new(e))))?;
        Ok(Notification {
            id: envelope.id,
            create_time: envelope.create_time,
            event_type: envelope.event_type,
            resource_type: envelope.resource_type,
            summary: envelope.summary,
            original_type: envelope.resource.original_type,
            resource,
        })
    }
}
