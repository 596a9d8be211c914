//! Callback notifications made like the platform makes them, to test handlers.

use std::fmt;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, Request, Uri};
use serde::Serialize;
use serde_json::Value;

use super::{Fault, APIV3_KEY, PLATFORM_SERIAL, PUBLIC_KEY_ID};
use crate::clock::unix_seconds;
use crate::crypto::{random_nonce, rfc3339_china, Apiv3Key, AEAD_AES_256_GCM};
use crate::error::Error;
use crate::transport::{is_loopback, Limit, Timeouts, Transport};

/// How long [`SignedNotification::send`] waits for the handler's whole answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest handler answer [`SignedNotification::send`] reads.
const MAX_ANSWER: usize = 1 << 20;

/// A correctly signed and encrypted notification, as the platform would POST it, signed
/// by the sandbox platform certificate key ([`PLATFORM_SERIAL`]) and encrypted with
/// [`APIV3_KEY`]. For more control (public-key signing, faults, fixed time), use
/// [`NotificationBuilder`]. Needs no running sandbox.
///
/// ```
/// use serde_json::json;
///
/// let incoming = wechatpay::sandbox::notification("REFUND.SUCCESS", json!({
///     "out_refund_no": "1217752501201407033233368018", "refund_status": "SUCCESS",
/// }))?;
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// let notification = wxpay.notification(&incoming.headers, &incoming.body)?;
/// assert_eq!(notification.original_type, "refund");
/// assert_eq!(notification.resource["refund_status"], "SUCCESS");
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Request`] if `resource` does not serialize to JSON.
pub fn notification(
    event_type: &str,
    resource: impl Serialize,
) -> Result<SignedNotification, Error> {
    NotificationBuilder::new(event_type, resource).build()
}

/// Makes a notification with chosen details, or a faulty one to test rejections.
///
/// The defaults follow the documentation: a fresh `id`, `resource_type`
/// `encrypt-resource`, `original_type` and `associated_data` from the event type
/// (`TRANSACTION.*` → `transaction`, `REFUND.*` → `refund`), a summary, a random 12-character
/// AES-GCM nonce, signed now by the platform certificate key.
///
/// Of the [`Fault`]s, `TamperBody`, `TamperSignature`, `SkewClock`, `ProbeSignature`,
/// `DropHeader`, `WrongSerial` and `Unsigned` apply; the others (delays, answers) are
/// server behaviours and are ignored here.
///
/// ```
/// use std::time::Duration;
/// use wechatpay::{sandbox::{Fault, NotificationBuilder}, VerificationFailure};
///
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// let stale = NotificationBuilder::new("TRANSACTION.SUCCESS", serde_json::json!({}))
///     .fault(Fault::SkewClock(-600))
///     .build()?;
/// let error = wxpay.notification(&stale.headers, &stale.body).unwrap_err();
/// assert!(matches!(error.verification_failure(), Some(VerificationFailure::ClockSkew { .. })));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a NotificationBuilder does nothing until .build()"]
pub struct NotificationBuilder {
    event_type: String,
    resource: Result<Value, String>,
    id: Option<String>,
    summary: Option<String>,
    resource_type: String,
    original_type: Option<String>,
    associated_data: Option<String>,
    at: Option<SystemTime>,
    nonce: Option<String>,
    public_key: bool,
    apiv3_key: String,
    faults: Vec<Fault>,
}

impl NotificationBuilder {
    /// A notification of `event_type` (e.g. `TRANSACTION.SUCCESS`) carrying `resource`.
    pub fn new(event_type: &str, resource: impl Serialize) -> NotificationBuilder {
        NotificationBuilder {
            event_type: event_type.to_owned(),
            resource: serde_json::to_value(resource).map_err(|e| e.to_string()),
            id: None,
            summary: None,
            resource_type: "encrypt-resource".to_owned(),
            original_type: None,
            associated_data: None,
            at: None,
            nonce: None,
            public_key: false,
            apiv3_key: APIV3_KEY.to_owned(),
            faults: Vec::new(),
        }
    }

    /// The notification id (default: `EV-` and 20 random characters).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The summary (default: `支付成功` for `TRANSACTION.SUCCESS`, `退款成功` for
    /// `REFUND.SUCCESS`, else the event type).
    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = Some(summary.into());
        self
    }

    /// The `resource_type` (default `encrypt-resource`).
    pub fn resource_type(mut self, resource_type: impl Into<String>) -> Self {
        self.resource_type = resource_type.into();
        self
    }

    /// The resource's `original_type` (default from the event type).
    pub fn original_type(mut self, original_type: impl Into<String>) -> Self {
        self.original_type = Some(original_type.into());
        self
    }

    /// The AES-GCM `associated_data` (default from the event type).
    pub fn associated_data(mut self, associated_data: impl Into<String>) -> Self {
        self.associated_data = Some(associated_data.into());
        self
    }

    /// Signs at this time (`Wechatpay-Timestamp`, `create_time`) instead of now, e.g. to
    /// match a client with a fixed [`clock`](crate::WechatpayBuilder::clock). A time that
    /// cannot be written as the platform writes times (years 1970 to 9999) is reported by
    /// [`build`](Self::build).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.at = Some(time);
        self
    }

    /// The `Wechatpay-Nonce` (default: 32 random characters).
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Signs with the WeChat Pay public-key-id key under [`PUBLIC_KEY_ID`] instead of the
    /// platform certificate key.
    pub fn signed_with_public_key(mut self) -> Self {
        self.public_key = true;
        self
    }

    /// Encrypts with another APIv3 key (to test a handler configured with the wrong one).
    pub fn apiv3_key(mut self, key: impl Into<String>) -> Self {
        self.apiv3_key = key.into();
        self
    }

    /// Adds a misbehaviour (see the type's docs for those that apply).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.faults.push(fault);
        self
    }

    /// Encrypts, wraps and signs.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] if the resource does not serialize, or the time (with any
    /// `SkewClock` faults) cannot be represented; [`Error::Config`] for an APIv3 key that is
    /// not 32 bytes.
    pub fn build(self) -> Result<SignedNotification, Error> {
        let resource = self.resource.map_err(|reason| {
            Error::request(format!(
                "the notification resource cannot be serialized as JSON: {reason}"
            ))
        })?;
        let kind = match self.event_type.split('.').next().unwrap_or_default() {
            "REFUND" => "refund".to_owned(),
            "TRANSACTION" | "" => "transaction".to_owned(),
            other => other.to_ascii_lowercase(),
        };
        let key = Apiv3Key::new(&self.apiv3_key)?;
        let aead_nonce = random_nonce(12)?;
        let associated_data = self.associated_data.unwrap_or_else(|| kind.clone());
        let plaintext = serde_json::to_vec(&resource).map_err(|e| Error::Request {
            message: "the notification resource cannot be serialized as JSON".into(),
            source: Some(Box::new(e)),
        })?;
        let ciphertext = key.encrypt(&associated_data, &aead_nonce, &plaintext)?;
        let at = self.at.unwrap_or_else(SystemTime::now);
        let summary = self
            .summary
            .unwrap_or_else(|| match self.event_type.as_str() {
                "TRANSACTION.SUCCESS" => "支付成功".to_owned(),
                "REFUND.SUCCESS" => "退款成功".to_owned(),
                "REFUND.ABNORMAL" => "退款异常".to_owned(),
                "REFUND.CLOSED" => "退款关闭".to_owned(),
                other => other.to_owned(),
            });
        let id = match self.id {
            Some(id) => id,
            None => format!("EV-{}", random_nonce(20)?),
        };
        let create_time = rfc3339_china(at).ok_or_else(|| {
            Error::request(
                "the notification time cannot be written as an RFC 3339 create_time \
                 (years 1970 to 9999): choose another time with .at(…)",
            )
        })?;
        // Checked, not saturated: a notification must say the time it claims.
        let signed_at = super::server::skew(&self.faults)
            .and_then(|skew| unix_seconds(at).checked_add(skew))
            .ok_or_else(|| {
                Error::request(
                    "the notification time moved by the SkewClock faults does not fit in \
                     Unix seconds (a signed 64-bit number)",
                )
            })?;
        let envelope = Envelope {
            id: &id,
            create_time,
            resource_type: &self.resource_type,
            event_type: &self.event_type,
            summary: &summary,
            resource: SealedResource {
                original_type: self.original_type.unwrap_or(kind),
                algorithm: AEAD_AES_256_GCM,
                ciphertext,
                associated_data,
                nonce: aead_nonce,
            },
        };
        let mut body = serde_json::to_vec(&envelope).map_err(|e| Error::Request {
            message: "the notification cannot be serialized".into(),
            source: Some(Box::new(e)),
        })?;

        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(USER_AGENT, HeaderValue::from_static("Mozilla/4.0"));
        if !self.faults.contains(&Fault::Unsigned) {
            let keys = super::test_keys()?;
            let (signer, serial) = if self.public_key {
                (&keys.public_key, PUBLIC_KEY_ID)
            } else {
                (&keys.platform, PLATFORM_SERIAL)
            };
            let nonce = match self.nonce {
                Some(nonce) => nonce,
                None => random_nonce(32)?,
            };
            // The skew is applied once, here; the faults passed on only tamper.
            let tampering: Vec<Fault> = self
                .faults
                .iter()
                .filter(|f| !matches!(f, Fault::SkewClock(_)))
                .cloned()
                .collect();
            let signed = super::server::sign_platform(
                signer, serial, signed_at, nonce, &mut body, &tampering,
            );
            for (name, value) in signed {
                headers.insert(name, value);
            }
            headers.insert(
                "Wechatpay-Signature-Type",
                HeaderValue::from_static("WECHATPAY2-SHA256-RSA2048"),
            );
        }
        for fault in &self.faults {
            if let Fault::DropHeader(name) = fault {
                headers.remove(name.as_str());
            }
        }
        Ok(SignedNotification { headers, body })
    }
}

#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    create_time: String,
    resource_type: &'a str,
    event_type: &'a str,
    summary: &'a str,
    resource: SealedResource,
}

#[derive(Serialize)]
struct SealedResource {
    original_type: String,
    algorithm: &'static str,
    ciphertext: String,
    associated_data: String,
    nonce: String,
}

/// A notification ready to deliver: the headers and the exact body bytes the platform
/// would POST. Its `Debug` hides the signature and shows a prefix of the body.
#[derive(Clone)]
pub struct SignedNotification {
    /// `Content-Type`, `Wechatpay-Timestamp`, `-Nonce`, `-Signature`, `-Serial`,
    /// `-Signature-Type`.
    pub headers: HeaderMap,
    /// The JSON envelope, exactly as signed.
    pub body: Vec<u8>,
}

impl fmt::Debug for SignedNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedNotification")
            .field("headers", &crate::redact::Headers(&self.headers))
            .field("body", &crate::redact::Body(&self.body))
            .finish()
    }
}

impl SignedNotification {
    /// POSTs the notification to a handler at a plain `http://` loopback URL (e.g. a test
    /// server on `127.0.0.1`), as the platform would, and returns the handler's answer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// # let url = format!("http://{}/notify", listener.local_addr().unwrap());
    /// # tokio::spawn(async move {
    /// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// #     let (mut stream, _) = listener.accept().await.unwrap();
    /// #     let mut buf = vec![0; 65536];
    /// #     let _ = stream.read(&mut buf).await;
    /// #     let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    /// # });
    /// let incoming = wechatpay::sandbox::notification("TRANSACTION.SUCCESS", serde_json::json!({}))?;
    /// let answer = incoming.send(&url).await?; // url: your handler, e.g. http://127.0.0.1:8080/notify
    /// assert_eq!(answer.status(), 204);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for a URL that is not `http://` on a loopback host;
    /// [`Error::Transport`] if the handler cannot be reached or does not answer within
    /// 10 seconds.
    pub async fn send(&self, url: &str) -> Result<http::Response<Vec<u8>>, Error> {
        let uri: Uri = url.parse().map_err(|e| Error::Request {
            message: format!("`{url}` is not a URL"),
            source: Some(Box::new(e)),
        })?;
        if uri.scheme_str() != Some("http") || !uri.host().is_some_and(is_loopback) {
            return Err(Error::request(format!(
                "the sandbox delivers notifications to plain http:// loopback URLs only, not `{url}`"
            )));
        }
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .body(Bytes::from(self.body.clone()))
            .map_err(|e| Error::Request {
                message: format!("cannot build a request to `{url}`"),
                source: Some(Box::new(e)),
            })?;
        *request.headers_mut() = self.headers.clone();
        // The client's own transport: its timeout, size limit and error kinds.
        let timeouts = Timeouts {
            connect: SEND_TIMEOUT,
            total: SEND_TIMEOUT,
        };
        let answer = Transport::direct(timeouts, MAX_ANSWER)?
            .send(request, Limit::from_now(timeouts.total))
            .await?;
        let mut response = http::Response::new(answer.body.to_vec());
        *response.status_mut() = answer.status;
        *response.headers_mut() = answer.headers;
        Ok(response)
    }
}
