//! What the framework extractors share: the body size limit, and the classification of a
//! notification that cannot be accepted into the answer the platform expects.

use std::fmt;

use http::{HeaderMap, StatusCode};

use super::{Nack, Notification};
use crate::client::Wechatpay;
use crate::error::Error;

/// The largest notification body the extractors read, unless a [`NotificationLimit`] says
/// otherwise: 64 KiB. Real notifications are a few KiB; the body is read before its
/// signature can be checked, so the limit bounds what an unauthenticated sender can make
/// the server buffer.
pub const DEFAULT_NOTIFICATION_LIMIT: usize = 64 * 1024;

/// Overrides [`DEFAULT_NOTIFICATION_LIMIT`] for the framework extractors: add it to the
/// axum request extensions (`.layer(axum::Extension(NotificationLimit(…)))`) or to the
/// actix-web app data (`.app_data(NotificationLimit(…))`). A larger body is rejected with
/// 413 before it is verified.
///
/// ```
/// use wechatpay::notify::{NotificationLimit, DEFAULT_NOTIFICATION_LIMIT};
///
/// assert_eq!(NotificationLimit::default().0, DEFAULT_NOTIFICATION_LIMIT);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotificationLimit(pub usize);

impl Default for NotificationLimit {
    fn default() -> Self {
        NotificationLimit(DEFAULT_NOTIFICATION_LIMIT)
    }
}

/// Why a request was not accepted as a notification, and the answer the platform gets:
/// a 4xx/5xx with `{"code":"FAIL","message":…}`. The framework extractors return it
/// before the handler runs, so a request that fails verification never reaches it.
///
/// | cause | status |
/// |---|---|
/// | body over the limit | 413 |
/// | body unreadable (connection broke) | 400 |
/// | any verification failure (forged, tampered, stale, probe, unknown serial, unsigned) | 401 |
/// | verified, but not a notification envelope | 400 |
/// | no APIv3 key configured, or the resource does not decrypt (wrong APIv3 key) | 500 |
///
/// The message on the wire is short and fixed per cause; the full [`Error`] (which check
/// failed, with times and serials) is in [`Rejection::error`] and logged at `warn`.
///
/// ```
/// use wechatpay::notify::Rejection;
/// use wechatpay::sandbox::{Fault, NotificationBuilder};
///
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// let forged = NotificationBuilder::new("TRANSACTION.SUCCESS", serde_json::json!({}))
///     .fault(Fault::TamperBody)
///     .build()?;
/// let error = wxpay.notification(&forged.headers, &forged.body).unwrap_err();
/// let rejection = Rejection::from_error(error);
/// assert_eq!(rejection.status(), 401);
/// assert_eq!(rejection.into_response().body(),
///            br#"{"code":"FAIL","message":"signature verification failed"}"#);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    message: &'static str,
    // Boxed: the Err side of every extraction stays small.
    error: Option<Box<Error>>,
}

impl Rejection {
    /// Classifies an error of [`Wechatpay::notification`] (see the table above).
    pub fn from_error(error: Error) -> Rejection {
        let (status, message) = if error.is_verification() {
            (StatusCode::UNAUTHORIZED, "signature verification failed")
        } else {
            match &error {
                Error::Decode { .. } => (
                    StatusCode::BAD_REQUEST,
                    "the body is not a WeChat Pay notification",
                ),
                Error::Config { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the merchant's notification handler is misconfigured",
                ),
                Error::Crypto { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the resource could not be decrypted",
                ),
                _ => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the notification could not be processed",
                ),
            }
        };
        Rejection {
            status,
            message,
            error: Some(Box::new(error)),
        }
    }

    /// A body larger than `limit` bytes (413).
    pub fn too_large(limit: usize) -> Rejection {
        log::warn!("rejected a notification: the body exceeds the {limit}-byte limit");
        Rejection {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: "the body is too large",
            error: None,
        }
    }

    /// A body that could not be read (400), e.g. the connection broke.
    pub fn unreadable(reason: &dyn fmt::Display) -> Rejection {
        log::warn!("rejected a notification: the body could not be read: {reason}");
        Rejection {
            status: StatusCode::BAD_REQUEST,
            message: "the body could not be read",
            error: None,
        }
    }

    /// The server was set up without the client the extractor needs (500); `what` says
    /// what to register.
    #[cfg(feature = "actix-web")]
    pub(crate) fn missing_client(what: &str) -> Rejection {
        log::error!("cannot verify a notification: no Wechatpay client is registered; {what}");
        Rejection {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "the merchant's notification handler is misconfigured",
            error: None,
        }
    }

    /// The HTTP status of the answer (4xx or 5xx).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to the platform.
    pub fn message(&self) -> &str {
        self.message
    }

    /// The verification or decoding error behind the rejection, if there was one.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_deref()
    }

    /// The answer as a [`Nack`].
    pub fn into_nack(self) -> Nack {
        Nack::with_status(self.status, self.message)
    }

    /// The answer as an `http::Response`.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        self.into_nack().into_response()
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "notification rejected with {}: {}",
            self.status, self.message
        )
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A rejection when `Content-Length` already announces more than `limit` bytes, so the
/// body need not be read at all.
#[cfg(any(feature = "axum", feature = "actix-web"))]
pub(crate) fn declared_too_large(headers: &HeaderMap, limit: usize) -> Option<Rejection> {
    let declared = headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    (declared > limit as u64).then(|| Rejection::too_large(limit))
}

/// [`Wechatpay::notification`], with a failure logged (at `warn`) and classified into the
/// answer the platform expects: what the framework extractors do once they have the body,
/// for any other framework.
///
/// ```
/// use wechatpay::notify::{self, Ack};
///
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// let incoming = wechatpay::sandbox::notification("TRANSACTION.SUCCESS", serde_json::json!({}))?;
/// let answer = match notify::receive(&wxpay, &incoming.headers, &incoming.body) {
///     Ok(notification) => Ack.into_response(), // handle it first
///     Err(rejection) => rejection.into_response(),
/// };
/// assert_eq!(answer.status(), 204);
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// A [`Rejection`] for every error of [`Wechatpay::notification`].
pub fn receive(
    wxpay: &Wechatpay,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Notification, Rejection> {
    wxpay.notification(headers, body).map_err(|error| {
        log::warn!("rejected a notification: {error}");
        Rejection::from_error(error)
    })
}
