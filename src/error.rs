//! The crate's one error type.
//!
//! Every failure a call can meet is a variant of [`Error`]. Each variant's message names
//! the thing to fix: the missing placeholder and its template, the serial that was not
//! found and the ones that are configured, the local and remote clock and the skew.
//! No variant ever carries key material.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};

use crate::response::Response;

/// A boxed error source, kept (never stringified) so `Error::source()` can walk it.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong, from configuration to verification.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a `_` arm.
/// Each variant's `Display` says what went wrong at its own layer; the underlying cause, if
/// any, is [`source()`](std::error::Error::source), so printing the chain shows each cause
/// once. The helpers [`Error::status`], [`Error::api_code`], [`Error::is_timeout`],
/// [`Error::is_verification`] and [`Error::request_id`] answer the common questions
/// without a `match`.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client lacks a setting, or a setting is invalid: raised by
    /// [`WechatpayBuilder::build`](crate::WechatpayBuilder::build) for what every call needs,
    /// and by a call that needs a setting the client was built without (the APIv3 key to
    /// open a notification, a platform key to encrypt with). The message names the setting.
    /// The blocking facade also reports here being called where it must not block.
    Config {
        /// What is wrong and how to fix it.
        message: String,
    },
    /// A key or certificate could not be loaded: the file is missing, or its PEM/DER is not
    /// what was expected. The message names what was expected and what was found.
    Key {
        /// What was expected, what was found, and where.
        message: String,
        /// The underlying I/O or parse error, if any.
        source: Option<BoxError>,
    },
    /// A URI template is malformed, or a placeholder has no usable value.
    Template {
        /// The template text as given.
        template: String,
        /// What is wrong with it.
        kind: TemplateErrorKind,
    },
    /// The request could not be formed: a bad or refused header, a nonce or timestamp
    /// that cannot be signed, a body that would not serialize, a `params` value that is not
    /// a JSON object.
    Request {
        /// What is wrong.
        message: String,
        /// The underlying error, if any.
        source: Option<BoxError>,
    },
    /// The request did not complete on the network: connect, TLS, timeout, I/O, or a response
    /// larger than the configured limit. The platform may or may not have seen the request,
    /// except for [`TransportErrorKind::Connect`] and [`TransportErrorKind::Tls`], where it
    /// did not.
    Transport {
        /// Which stage failed.
        kind: TransportErrorKind,
        /// The host and port the exchange was with, e.g. `api.mch.weixin.qq.com:443`.
        host: Option<String>,
        /// The underlying hyper/IO error, if any.
        source: Option<BoxError>,
    },
    /// The platform answered with a non-2xx status (see [`ApiError`]).
    Api(Box<ApiError>),
    /// An answer (or a callback notification) failed signature verification. Treat its
    /// content as untrusted; the platform may still have acted on the request.
    Verification {
        /// The check that failed.
        failure: VerificationFailure,
        /// The response that failed, with status, headers (including `Request-ID`) and raw
        /// body. `None` for notifications, whose headers and body the caller already holds.
        response: Option<Box<Response>>,
    },
    /// A body could not be decoded: JSON that does not match the requested type, a
    /// notification `resource` that does not decrypt, base64 that is not base64.
    Decode {
        /// What could not be decoded.
        message: String,
        /// The underlying error, if any.
        source: Option<BoxError>,
    },
    /// A cryptographic operation failed (RSA-OAEP encryption or decryption, AES-GCM).
    Crypto {
        /// What failed.
        message: String,
    },
    /// A file download (a bill, a receipt) failed after its answer began: the digest does
    /// not match the announced one, the body was truncated, its gzip is damaged, it is over
    /// the download limit, it stalled, or writing it failed. The
    /// [`DownloadErrorKind`](crate::download::DownloadErrorKind) says which; a digest mismatch
    /// also counts as a verification failure ([`Error::is_verification`]). Nothing is left
    /// at the target path of a failed download.
    Download(Box<crate::download::DownloadError>),
}

/// A non-2xx answer of the platform: its status, the `{code, message, detail}` of its JSON
/// body, its `Request-ID`, and the whole response.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
/// match sandbox.client().chain("v3/no/such/endpoint").get().skip_check().await {
///     Err(wechatpay::Error::Api(api)) => {
///         assert_eq!(api.status, 404);
///         assert_eq!(api.code.as_deref(), Some("NOT_FOUND"));
///         assert!(api.request_id.is_some());
///     }
///     other => panic!("expected a 404, got {other:?}"),
/// }
/// # Ok(()) }
/// ```
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The platform's error code, e.g. `PARAM_ERROR`, `SIGN_ERROR`, `NOT_FOUND`; `None` when
    /// the body carried none.
    pub code: Option<String>,
    /// The platform's human-readable message (for a body that is not JSON, its first
    /// 200 bytes).
    pub message: String,
    /// The optional `detail` object of the error body; for an APIv2 refusal, every field
    /// of the answer but `sign`.
    pub detail: Option<serde_json::Value>,
    /// The `Request-ID` header, which WeChat Pay support asks for.
    pub request_id: Option<String>,
    /// For a 404 on a path that is no endpoint of the catalog, the catalog's closest
    /// templates to it, best first (e.g. `POST v3/payscore/serviceorder/{out_order_no}/sync`);
    /// empty otherwise (a 404 about a resource, such as an unknown order, on a known
    /// endpoint) or without the `catalog` feature.
    pub suggestions: Vec<String>,
    /// The whole response (status, headers, raw body).
    pub response: Response,
    /// For an APIv2 call the platform refused in its answer (HTTP 200 with `return_code`
    /// or `result_code` `FAIL`): which layer said so, `return_msg`, `err_code`,
    /// `err_code_des`. [`code`](Self::code) is then `err_code` (or `return_code`) and
    /// [`message`](Self::message) `err_code_des` (or `return_msg`).
    #[cfg(feature = "apiv2")]
    pub apiv2: Option<Box<crate::v2::Apiv2Failure>>,
}

impl fmt::Debug for ApiError {
    /// Bounded like every `Debug` of the crate: the message to 200 characters, the detail
    /// and body to their length and a prefix.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let detail = self.detail.as_ref().map(|d| d.to_string());
        let mut out = f.debug_struct("ApiError");
        out.field("status", &self.status)
            .field("code", &self.code)
            .field("message", &crate::redact::Text(&self.message))
            .field("detail", &detail.as_deref().map(crate::redact::Text))
            .field("request_id", &self.request_id)
            .field("suggestions", &self.suggestions)
            .field("response", &self.response);
        #[cfg(feature = "apiv2")]
        out.field("apiv2", &self.apiv2);
        out.finish()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "apiv2")]
        if let Some(failure) = &self.apiv2 {
            write!(f, "the platform refused the call: {failure}")?;
            if let Some(id) = &self.request_id {
                write!(f, " (Request-ID {id})")?;
            }
            return Ok(());
        }
        write!(f, "the platform answered {}", self.status)?;
        if let Some(code) = &self.code {
            write!(f, " {code}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        // The sandbox's own message already names them; the platform's does not.
        if self
            .suggestions
            .first()
            .is_some_and(|first| !self.message.contains(first.as_str()))
        {
            write!(f, "; closest: {}", self.suggestions.join(", "))?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (Request-ID {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// What is wrong with a URI template or its values (see [`Error::Template`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// The template text is not valid RFC 6570.
    Syntax {
        /// Byte offset of the problem in the template.
        position: usize,
        /// What was expected there.
        message: String,
    },
    /// A placeholder that builds the path has no entry in the params map.
    MissingVariable {
        /// The placeholder's name.
        name: String,
    },
    /// A placeholder's value cannot be used where it stands (e.g. an empty path segment,
    /// a `..` segment, a prefix modifier on a list).
    InvalidValue {
        /// The placeholder's name.
        name: String,
        /// Why the value is refused.
        reason: String,
    },
}

/// Which stage of the transport failed (see [`Error::Transport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportErrorKind {
    /// The TCP connection (or DNS) failed; the request was not sent.
    Connect,
    /// The TLS handshake failed; the request was not sent.
    Tls,
    /// The whole exchange (send and read the body) did not finish in time.
    Timeout {
        /// The limit that was exceeded.
        after: Duration,
    },
    /// One attempt did not finish within
    /// [`RetryPolicy::attempt_timeout`](crate::RetryPolicy::attempt_timeout), with time left
    /// in the total timeout; the platform may have seen the request.
    AttemptTimeout {
        /// The limit of one attempt.
        after: Duration,
    },
    /// The response body is larger than the configured maximum.
    BodyTooLarge {
        /// The configured maximum, in bytes.
        limit: usize,
    },
    /// Any other I/O or protocol failure while the request or response was in flight.
    Io,
}

/// The verification check that failed (see [`Error::Verification`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerificationFailure {
    /// A required `Wechatpay-*` header is absent.
    MissingHeader {
        /// The header's name, e.g. `Wechatpay-Signature`.
        name: &'static str,
    },
    /// A `Wechatpay-*` header is present but malformed (e.g. a timestamp that is not a number).
    MalformedHeader {
        /// The header's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The signed timestamp is too far from the local clock (replay protection).
    ClockSkew {
        /// Local Unix time, seconds.
        local: i64,
        /// The `Wechatpay-Timestamp` value, seconds.
        remote: i64,
        /// The maximum accepted skew, seconds.
        tolerance: u64,
    },
    /// `Wechatpay-Serial` names no configured platform key.
    UnknownSerial {
        /// The serial the platform sent.
        serial: String,
        /// The ids configured in the trust store.
        configured: Vec<String>,
    },
    /// The signature is a `WECHATPAY/SIGNTEST/` probe: the platform is testing that the
    /// merchant really verifies signatures. Rejecting it is correct.
    Probe,
    /// The signature is not valid base64 or does not verify over the message.
    BadSignature,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config { message } => write!(f, "configuration: {message}"),
            Error::Key { message, .. } => write!(f, "key: {message}"),
            Error::Template { template, kind } => match kind {
                TemplateErrorKind::Syntax { position, message } => write!(
                    f,
                    "URI template `{template}` is invalid at byte {position}: {message}"
                ),
                TemplateErrorKind::MissingVariable { name } => write!(
                    f,
                    "URI template `{template}`: placeholder `{name}` has no value; \
                     give it with .param(\"{name}\", value)"
                ),
                TemplateErrorKind::InvalidValue { name, reason } => write!(
                    f,
                    "URI template `{template}`: the value of `{name}` cannot be used: {reason}"
                ),
            },
            Error::Request { message, .. } => write!(f, "request: {message}"),
            Error::Transport { kind, host, source } => {
                let host = host.as_deref().unwrap_or("the platform");
                match kind {
                    TransportErrorKind::Connect => {
                        write!(f, "could not connect to {host}")?;
                        if let Some(reason) = source
                            .as_deref()
                            .and_then(|e| connect_reason(e as &(dyn std::error::Error + 'static)))
                        {
                            write!(f, " ({reason})")?;
                        }
                        Ok(())
                    }
                    TransportErrorKind::Tls => write!(f, "the TLS handshake with {host} failed"),
                    TransportErrorKind::Timeout { after } => write!(
                        f,
                        "no complete answer from {host} within {after:?} (the total timeout)"
                    ),
                    TransportErrorKind::AttemptTimeout { after } => write!(
                        f,
                        "no complete answer from {host} within {after:?} (the limit of one attempt)"
                    ),
                    TransportErrorKind::BodyTooLarge { limit } => write!(
                        f,
                        "the answer from {host} exceeds the {limit}-byte limit \
                         (raise it with WechatpayBuilder::max_response_size)"
                    ),
                    TransportErrorKind::Io => {
                        write!(f, "the exchange with {host} failed mid-way")
                    }
                }
            }
            Error::Api(api) => fmt::Display::fmt(api, f),
            Error::Verification { failure, response } => {
                write!(f, "signature verification failed: {failure}")?;
                if let Some(id) = response.as_ref().and_then(|r| r.request_id()) {
                    write!(f, " (Request-ID {id})")?;
                }
                Ok(())
            }
            Error::Decode { message, .. } => write!(f, "decode: {message}"),
            Error::Crypto { message } => write!(f, "crypto: {message}"),
            Error::Download(download) => fmt::Display::fmt(download, f),
        }
    }
}

/// Why a connection could not be made, in a few words, from the I/O error in `source`'s
/// chain (the OS text itself stays in the chain).
fn connect_reason(source: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut current = Some(source);
    // Bounded: error chains are short, and this cannot loop on a cyclic one.
    for _ in 0..16 {
        let error = current?;
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            let reason = match io.kind() {
                ConnectionRefused => Some("refused"),
                TimedOut => Some("timed out"),
                ConnectionReset | ConnectionAborted => Some("reset"),
                AddrNotAvailable | NotFound => Some("address not available"),
                _ => None,
            };
            if reason.is_some() {
                return reason;
            }
            current = match io.get_ref() {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => error.source(),
            };
            continue;
        }
        if error.to_string().starts_with("dns error") {
            return Some("DNS lookup failed");
        }
        current = error.source();
    }
    None
}

impl fmt::Display for VerificationFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerificationFailure::MissingHeader { name } => {
                write!(f, "the `{name}` header is missing")
            }
            VerificationFailure::MalformedHeader { name, reason } => {
                write!(f, "the `{name}` header is malformed: {reason}")
            }
            VerificationFailure::ClockSkew {
                local,
                remote,
                tolerance,
            } => write!(
                f,
                "signed at {remote} but the local clock says {local} (skew {}s, more than the {tolerance}s allowed); \
                 check the local clock or a replayed message",
                local.abs_diff(*remote)
            ),
            VerificationFailure::UnknownSerial { serial, configured } => write!(
                f,
                "`Wechatpay-Serial: {serial}` names no configured platform key (configured: {}); \
                 add it with WechatpayBuilder::platform_key or download the platform certificates",
                if configured.is_empty() {
                    "none".to_owned()
                } else {
                    configured.join(", ")
                }
            ),
            VerificationFailure::Probe => f.write_str(
                "the signature is a WECHATPAY/SIGNTEST/ probe (the platform checks that answers are verified; \
                 rejecting it is correct)",
            ),
            VerificationFailure::BadSignature => {
                f.write_str("the signature does not match the message and the platform key")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Key { source, .. }
            | Error::Request { source, .. }
            | Error::Transport { source, .. }
            | Error::Decode { source, .. } => source
                .as_deref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            // The download error's own Display is this one's: its cause comes next.
            Error::Download(download) => std::error::Error::source(download.as_ref()),
            _ => None,
        }
    }
}

impl Error {
    /// The HTTP status of the answer behind this error, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Api(api) => Some(api.status),
            Error::Verification {
                response: Some(r), ..
            } => Some(r.status()),
            _ => None,
        }
    }

    /// The platform's non-2xx answer, for an [`Error::Api`].
    pub fn api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The platform's refusal of an APIv2 call in its answer (`return_code` or
    /// `result_code` `FAIL`), for an [`Error::Api`] that is one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use serde_json::json;
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::V2ResultFail { err_code: "AUTH_CODE_INVALID".into(), err_code_des: "付款码无效".into() });
    /// let error = sandbox.client().chain("v2/pay/micropay").post(json!({
    ///     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "body": "image",
    ///     "out_trade_no": "1415757673", "total_fee": 1, "spbill_create_ip": "14.17.22.52",
    ///     "auth_code": "120061098828009406",
    /// })).await.unwrap_err();
    /// assert_eq!(error.api_code(), Some("AUTH_CODE_INVALID"));
    /// let failure = error.apiv2_failure().expect("an APIv2 refusal");
    /// assert_eq!(failure.err_code_des.as_deref(), Some("付款码无效"));
    /// assert_eq!(failure.layer, wechatpay::v2::FailureLayer::Result);
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "apiv2")]
    pub fn apiv2_failure(&self) -> Option<&crate::v2::Apiv2Failure> {
        self.api().and_then(|api| api.apiv2.as_deref())
    }

    /// The platform's error `code` (e.g. `PARAM_ERROR`) for an [`Error::Api`] that has one.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let error = sandbox.client().chain("v3/no/such/thing").get().skip_check().await.unwrap_err();
    /// assert_eq!(error.api_code(), Some("NOT_FOUND"));
    /// assert_eq!(error.status(), Some(http::StatusCode::NOT_FOUND));
    /// assert!(error.request_id().is_some());
    /// assert!(!error.is_timeout() && !error.is_verification());
    /// # Ok(()) }
    /// ```
    pub fn api_code(&self) -> Option<&str> {
        self.api().and_then(|api| api.code.as_deref())
    }

    /// The `Request-ID` of the answer behind this error, for a support ticket.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Api(api) => api.request_id.as_deref(),
            Error::Verification {
                response: Some(r), ..
            } => r.request_id(),
            _ => None,
        }
    }

    /// The answer behind this error ([`Error::Api`], or [`Error::Verification`] of an
    /// answer), with its status, headers and raw body.
    pub fn response(&self) -> Option<&Response> {
        match self {
            Error::Api(api) => Some(&api.response),
            Error::Verification {
                response: Some(response),
                ..
            } => Some(response),
            _ => None,
        }
    }

    /// The headers of the answer behind this error, if there was one.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.response().map(Response::headers)
    }

    /// Whether the total timeout, or the limit of the last attempt, expired (or a
    /// download stalled past its idle timeout).
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Transport {
                kind: TransportErrorKind::Timeout { .. } | TransportErrorKind::AttemptTimeout { .. },
                ..
            } => true,
            Error::Download(download) => matches!(
                download.kind(),
                crate::download::DownloadErrorKind::Stalled { .. }
            ),
            _ => false,
        }
    }

    /// Whether the request never reached the platform (connect or TLS failure): safe to retry
    /// as is, even for non-idempotent calls.
    pub fn is_connect(&self) -> bool {
        matches!(
            self,
            Error::Transport {
                kind: TransportErrorKind::Connect | TransportErrorKind::Tls,
                ..
            }
        )
    }

    /// Whether an answer or notification failed signature verification, or a downloaded
    /// file failed its digest check (its content is untrusted either way).
    pub fn is_verification(&self) -> bool {
        match self {
            Error::Verification { .. } => true,
            Error::Download(download) => download.is_digest_mismatch(),
            _ => false,
        }
    }

    /// The failed download, for an [`Error::Download`].
    pub fn download(&self) -> Option<&crate::download::DownloadError> {
        match self {
            Error::Download(download) => Some(download),
            _ => None,
        }
    }

    /// The failed verification check, for an [`Error::Verification`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::{sandbox::{Fault, Sandbox}, VerificationFailure};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::ProbeSignature);
    /// let error = sandbox.client().chain("v3/certificates").get().await.unwrap_err();
    /// assert_eq!(error.verification_failure(), Some(&VerificationFailure::Probe));
    /// # Ok(()) }
    /// ```
    pub fn verification_failure(&self) -> Option<&VerificationFailure> {
        match self {
            Error::Verification { failure, .. } => Some(failure),
            _ => None,
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
        }
    }

    pub(crate) fn key(message: impl Into<String>) -> Self {
        Error::Key {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn request(message: impl Into<String>) -> Self {
        Error::Request {
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn request_with(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Request {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub(crate) fn decode(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Decode {
            message: message.into(),
            source,
        }
    }

    pub(crate) fn crypto(message: impl Into<String>) -> Self {
        Error::Crypto {
            message: message.into(),
        }
    }

    pub(crate) fn transport(
        kind: TransportErrorKind,
        host: Option<String>,
        source: Option<BoxError>,
    ) -> Self {
        Error::Transport { kind, host, source }
    }

    /// Prefixes the message of a key, request, decode or crypto error with `context`
    /// (which file, which field, which certificate); other errors are returned as they are.
    pub(crate) fn context(self, context: impl std::fmt::Display) -> Self {
        match self {
            Error::Key { message, source } => Error::Key {
                message: format!("{context}: {message}"),
                source,
            },
            Error::Request { message, source } => Error::Request {
                message: format!("{context}: {message}"),
                source,
            },
            Error::Decode { message, source } => Error::Decode {
                message: format!("{context}: {message}"),
                source,
            },
            Error::Crypto { message } => Error::Crypto {
                message: format!("{context}: {message}"),
            },
            other => other,
        }
    }

    pub(crate) fn template(template: &str, kind: TemplateErrorKind) -> Self {
        Error::Template {
            template: template.to_owned(),
            kind,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_stays_small() {
        // Api is boxed; the rest is a few words. Results of every call carry this type.
        assert!(
            std::mem::size_of::<Error>() <= 80,
            "{}",
            std::mem::size_of::<Error>()
        );
    }
}
