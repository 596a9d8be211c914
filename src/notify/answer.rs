//! The answers to the platform as values, so a handler can return them: [`Ack`] and
//! [`Nack`]. Each converts to a plain `http::Response`, and with the `axum` / `actix-web`
//! features is an answer of that framework as it is.

use std::fmt;

use http::StatusCode;

/// The answer that tells the platform a notification was handled: HTTP 204 with no body
/// (see [`ack`](super::ack)).
///
/// ```
/// use wechatpay::notify::Ack;
///
/// let answer = Ack.into_response();
/// assert_eq!(answer.status(), 204);
/// assert!(answer.body().is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ack;

impl Ack {
    /// The answer as an `http::Response`.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        super::ack()
    }
}

impl From<Ack> for http::Response<Vec<u8>> {
    fn from(ack: Ack) -> Self {
        ack.into_response()
    }
}

/// The answer that tells the platform a notification was not handled: a 4xx/5xx status
/// with `{"code":"FAIL","message":"…"}` (see [`nack_with_status`](super::nack_with_status)).
/// The platform delivers the notification again later.
///
/// The message is sent to the platform: keep internals (error chains, hosts) out of it
/// and log them instead.
///
/// ```
/// use http::StatusCode;
/// use wechatpay::notify::Nack;
///
/// let answer = Nack::new("inventory unavailable").into_response();
/// assert_eq!(answer.status(), 500);
/// assert_eq!(answer.body(), br#"{"code":"FAIL","message":"inventory unavailable"}"#);
///
/// // A status that would tell the platform "handled" is replaced by 500.
/// assert_eq!(Nack::with_status(StatusCode::OK, "no").status(), 500);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    status: StatusCode,
    message: String,
}

impl Nack {
    /// A 500 answer carrying `message`.
    pub fn new(message: impl Into<String>) -> Nack {
        Nack::with_status(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    /// An answer with a chosen 4xx/5xx status; any other status becomes 500, since it
    /// would tell the platform the notification was handled.
    pub fn with_status(status: StatusCode, message: impl Into<String>) -> Nack {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        };
        Nack {
            status,
            message: message.into(),
        }
    }

    /// The HTTP status (always 4xx or 5xx).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message sent to the platform.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The answer as an `http::Response`.
    pub fn into_response(self) -> http::Response<Vec<u8>> {
        super::nack_with_status(self.status, &self.message)
    }
}

impl fmt::Display for Nack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "notification not handled ({}): {}",
            self.status, self.message
        )
    }
}

impl std::error::Error for Nack {}

impl From<Nack> for http::Response<Vec<u8>> {
    fn from(nack: Nack) -> Self {
        nack.into_response()
    }
}
