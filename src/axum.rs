//! Receiving notifications in [axum](https://docs.rs/axum) 0.8 (feature `axum`).
//!
//! [`Notification`] is an extractor: it reads the raw body (at most
//! [`DEFAULT_NOTIFICATION_LIMIT`](crate::notify::DEFAULT_NOTIFICATION_LIMIT) bytes, or a
//! [`NotificationLimit`] added as an `Extension`), verifies and decrypts it with the
//! [`Wechatpay`] client taken from the router state (`Wechatpay: FromRef<S>`), and rejects
//! anything else with the answer the platform expects ([`Rejection`]: a 4xx/5xx with
//! `{"code":"FAIL","message":…}`), so a request that fails verification never reaches
//! the handler. It must be the handler's last argument (it consumes the body).
//!
//! [`Ack`], [`Nack`], [`Rejection`] and [`Outcome`] implement `IntoResponse`. For
//! exactly-once handling, keep an [`ExactlyOnce`](crate::notify::ExactlyOnce) in the state
//! too and return what its `run` returns:
//!
//! ```
//! use axum::extract::{FromRef, State};
//! use axum::{routing::post, Router};
//! use wechatpay::axum::Notification;
//! use wechatpay::notify::{ExactlyOnce, MemoryDedup, Outcome};
//! use wechatpay::Wechatpay;
//!
//! #[derive(Clone)]
//! struct AppState { wxpay: Wechatpay, once: ExactlyOnce }
//! impl FromRef<AppState> for Wechatpay {
//!     fn from_ref(state: &AppState) -> Wechatpay { state.wxpay.clone() }
//! }
//! impl FromRef<AppState> for ExactlyOnce {
//!     fn from_ref(state: &AppState) -> ExactlyOnce { state.once.clone() }
//! }
//!
//! async fn notify(
//!     State(once): State<ExactlyOnce>,
//!     Notification(notification): Notification,
//! ) -> Outcome<std::io::Error> {
//!     once.run(notification, |n| async move {
//!         println!("paid: {}", n.resource["out_trade_no"]);
//!         Ok(())
//!     })
//!     .await
//! }
//!
//! # fn main() -> Result<(), wechatpay::Error> {
//! let state = AppState {
//!     wxpay: wechatpay::sandbox::offline_client()?,
//!     once: ExactlyOnce::new(MemoryDedup::new()),
//! };
//! let app: Router = Router::new().route("/notify", post(notify)).with_state(state);
//! # Ok(()) }
//! ```
//!
//! Without deduplication, a handler takes `Notification` and returns `Result<Ack, Nack>`.

use std::ops::Deref;

use ::axum::body::Body;
use ::axum::extract::{FromRef, FromRequest, Request};
use ::axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::client::Wechatpay;
use crate::notify::{self, Ack, Nack, NotificationLimit, Outcome, Rejection};

/// A verified and decrypted notification, extracted from a request (see the
/// [module docs](self)). Dereferences to [`notify::Notification`].
///
/// ```
/// use wechatpay::axum::Notification;
/// use wechatpay::notify::{Ack, Nack};
///
/// async fn notify(Notification(notification): Notification) -> Result<Ack, Nack> {
///     match notification.event_type.as_str() {
///         "TRANSACTION.SUCCESS" => Ok(Ack),
///         _ => Err(Nack::new("unexpected event")),
///     }
/// }
/// # let _: axum::Router<wechatpay::Wechatpay> =
/// #     axum::Router::new().route("/notify", axum::routing::post(notify));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Notification(pub notify::Notification);

impl Notification {
    /// The notification.
    pub fn into_inner(self) -> notify::Notification {
        self.0
    }
}

impl Deref for Notification {
    type Target = notify::Notification;

    fn deref(&self) -> &notify::Notification {
        &self.0
    }
}

impl<S> FromRequest<S> for Notification
where
    Wechatpay: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let wxpay = Wechatpay::from_ref(state);
        let limit = request
            .extensions()
            .get::<NotificationLimit>()
            .copied()
            .unwrap_or_default()
            .0;
        if let Some(rejection) = notify::declared_too_large(request.headers(), limit) {
            return Err(rejection);
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, limit).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                return Err(Rejection::too_large(limit))
            }
            Err(error) => return Err(Rejection::unreadable(&error)),
        };
        notify::receive(&wxpay, &parts.headers, &body).map(Notification)
    }
}

fn into_axum(response: http::Response<Vec<u8>>) -> Response {
    response.map(Body::from)
}

impl IntoResponse for Ack {
    fn into_response(self) -> Response {
        into_axum(Ack::into_response(self))
    }
}

impl IntoResponse for Nack {
    fn into_response(self) -> Response {
        into_axum(Nack::into_response(self))
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        into_axum(Rejection::into_response(self))
    }
}

impl<E> IntoResponse for Outcome<E> {
    fn into_response(self) -> Response {
        into_axum(Outcome::into_response(self))
    }
}
