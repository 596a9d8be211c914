//! Callback notifications: a merchant's `notify_url` handler (a plain hyper server on
//! 127.0.0.1) verifies and decrypts what the platform POSTs, and answers 204 or a FAIL.
//! The sandbox plays the platform: it makes correctly signed and encrypted notifications,
//! and a forged one.
//!
//! ```text
//! cargo run --example notification
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http::StatusCode;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use wechatpay::sandbox::{self, Fault, NotificationBuilder};
use wechatpay::{notify, Error, Wechatpay};

/// The handler: raw headers and body in, an `http::Response` out. Any framework works the
/// same way (axum: `HeaderMap` + `Bytes` extractors).
fn handle(wxpay: &Wechatpay, headers: &http::HeaderMap, body: &[u8]) -> http::Response<Vec<u8>> {
    match wxpay.notification(headers, body) {
        Ok(notification) => {
            println!(
                "handler: {} {} ({}) {}",
                notification.id,
                notification.event_type,
                notification.summary,
                notification.resource["out_trade_no"]
            );
            // Record it (idempotently, by notification.id), then acknowledge.
            notification.ack()
        }
        Err(error) if error.is_verification() => {
            println!("handler: refused: {error}");
            notify::nack_with_status(StatusCode::UNAUTHORIZED, "signature verification failed")
        }
        Err(error) => {
            println!("handler: failed: {error}");
            notify::nack("could not process the notification")
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let wxpay = sandbox::offline_client()?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| Error::Config {
            message: format!("cannot bind: {e}"),
        })?;
    let url = format!(
        "http://{}/wxpay/notify",
        listener.local_addr().map_err(|e| Error::Config {
            message: e.to_string(),
        })?
    );
    let server = wxpay.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let wxpay = server.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let wxpay = wxpay.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let answer = handle(&wxpay, &parts.headers, &body);
                        Ok::<_, Infallible>(answer.map(|b| Full::new(Bytes::from(b))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    println!("notify_url: {url}");

    let paid = sandbox::notification(
        "TRANSACTION.SUCCESS",
        json!({
            "out_trade_no": "1217752501201407033233368018",
            "transaction_id": "4200000000000000000000000001",
            "trade_state": "SUCCESS",
            "amount": { "total": 100, "currency": "CNY" },
        }),
    )?;
    println!("platform: got {}", paid.send(&url).await?.status());

    let forged = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({"out_trade_no": "x"}))
        .fault(Fault::TamperBody)
        .build()?;
    println!("platform: got {}", forged.send(&url).await?.status());
    Ok(())
}
