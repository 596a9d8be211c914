//! Receiving notifications in [actix-web](https://docs.rs/actix-web) 4 (feature
//! `actix-web`).
//!
//! [`Notification`] is a `FromRequest` extractor: it reads the raw body (at most
//! [`DEFAULT_NOTIFICATION_LIMIT`](crate::notify::DEFAULT_NOTIFICATION_LIMIT) bytes, or a
//! [`NotificationLimit`] in the app data), verifies and decrypts it with the
//! [`Wechatpay`] client registered as `web::Data<Wechatpay>`, and rejects anything else
//! with the answer the platform expects ([`Rejection`], a `ResponseError`: a 4xx/5xx with
//! `{"code":"FAIL","message":…}`), so a request that fails verification never reaches
//! the handler.
//!
//! [`Ack`], [`Nack`] and [`Outcome`] implement `Responder`. For exactly-once handling,
//! register an [`ExactlyOnce`](crate::notify::ExactlyOnce) as `web::Data` too and return
//! what its `run` returns:
//!
//! ```
//! use actix_web::{web, App};
//! use wechatpay::actix::Notification;
//! use wechatpay::notify::{ExactlyOnce, MemoryDedup, Outcome};
//!
//! async fn notify(
//!     once: web::Data<ExactlyOnce>,
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
//! let wxpay = web::Data::new(wechatpay::sandbox::offline_client()?);
//! let once = web::Data::new(ExactlyOnce::new(MemoryDedup::new()));
//! // In HttpServer::new(move || …):
//! let app = App::new()
//!     .app_data(wxpay.clone())
//!     .app_data(once.clone())
//!     .route("/notify", web::post().to(notify));
//! # Ok(()) }
//! ```
//!
//! Without deduplication, a handler takes `Notification` and returns `Result<Ack, Nack>`.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use ::actix_web::body::BoxBody;
use ::actix_web::dev::Payload;
use ::actix_web::http::StatusCode as ActixStatus;
use ::actix_web::{web, FromRequest, HttpRequest, HttpResponse, Responder, ResponseError};
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::client::Wechatpay;
use crate::notify::{self, Ack, Nack, NotificationLimit, Outcome, Rejection};

/// A verified and decrypted notification, extracted from a request (see the
/// [module docs](self)). Dereferences to [`notify::Notification`].
///
/// ```
/// use wechatpay::actix::Notification;
/// use wechatpay::notify::{Ack, Nack};
///
/// async fn notify(Notification(notification): Notification) -> Result<Ack, Nack> {
///     match notification.event_type.as_str() {
///         "TRANSACTION.SUCCESS" => Ok(Ack),
///         _ => Err(Nack::new("unexpected event")),
///     }
/// }
/// # let _ = actix_web::App::new().route("/notify", actix_web::web::post().to(notify));
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

impl FromRequest for Notification {
    type Error = Rejection;
    type Future = Pin<Box<dyn Future<Output = Result<Notification, Rejection>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let wxpay = request
            .app_data::<web::Data<Wechatpay>>()
            .map(|data| data.get_ref().clone());
        let limit = request
            .app_data::<NotificationLimit>()
            .copied()
            .unwrap_or_default()
            .0;
        let headers = http_headers(request);
        let payload = web::Payload::from_request(request, payload);
        Box::pin(async move {
            let wxpay = wxpay.ok_or_else(|| {
                Rejection::missing_client(
                    "register one with App::new().app_data(web::Data::new(wxpay))",
                )
            })?;
            if let Some(rejection) = notify::declared_too_large(&headers, limit) {
                return Err(rejection);
            }
            let payload = payload.await.map_err(|e| Rejection::unreadable(&e))?;
            let body = match payload.to_bytes_limited(limit).await {
                Ok(Ok(body)) => body,
                Ok(Err(error)) => return Err(Rejection::unreadable(&error)),
                Err(_) => return Err(Rejection::too_large(limit)),
            };
            notify::receive(&wxpay, &headers, &body).map(Notification)
        })
    }
}

/// actix-web 4 has its own `http` 0.2 header types: copy them into `http` 1 ones. A
/// header that does not convert (never, for the bytes actix accepted) is left out, and
/// verification then names it as missing.
fn http_headers(request: &HttpRequest) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            headers.append(name, value);
        }
    }
    headers
}

fn into_actix(response: http::Response<Vec<u8>>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status =
        ActixStatus::from_u16(parts.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut answer = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        answer.append_header((name.as_str(), value.as_bytes()));
    }
    answer.body(body)
}

impl Responder for Ack {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        into_actix(self.into_response())
    }
}

impl Responder for Nack {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        into_actix(self.into_response())
    }
}

impl<E> Responder for Outcome<E> {
    type Body = BoxBody;

    fn respond_to(self, _request: &HttpRequest) -> HttpResponse {
        into_actix(self.into_response())
    }
}

/// Makes a rejected notification answer the platform as it expects.
impl ResponseError for Rejection {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_actix(notify::nack_with_status(self.status(), self.message()))
    }
}

/// Lets a handler return `Result<Ack, Nack>`.
impl ResponseError for Nack {
    fn status_code(&self) -> ActixStatus {
        ActixStatus::from_u16(self.status().as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        into_actix(self.clone().into_response())
    }
}
