//! The core payment lifecycle, offline: place a Native order, have the sandbox pay it and
//! POST the `TRANSACTION.SUCCESS` notification to a local handler that verifies and acks
//! it, query the order, refund part of it, and receive the `REFUND.SUCCESS` notification.
//!
//! Run: `cargo run --example payment_lifecycle`

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay::notify::{self, Notification};
use wechatpay::sandbox::Sandbox;
use wechatpay::Wechatpay;

const OUT_TRADE_NO: &str = "1217752501201407033233368018";
const OUT_REFUND_NO: &str = "1217752501201407033233368019";

/// The merchant's `notify_url`: verifies each notification with the client (signature,
/// time window, serial; then decrypts it), hands it on, and acks it; anything that fails
/// verification is refused and never handed on.
async fn serve_notify_url(
    wxpay: Wechatpay,
) -> std::io::Result<(SocketAddr, mpsc::Receiver<Notification>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (handed_on, received) = mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (wxpay, handed_on) = (wxpay.clone(), handed_on.clone());
            tokio::spawn(async move {
                let handler = service_fn(move |request: Request<Incoming>| {
                    let (wxpay, handed_on) = (wxpay.clone(), handed_on.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        // The raw bytes, exactly as signed (and at most 1 MiB of them).
                        let answer = match Limited::new(body, 1 << 20).collect().await {
                            Err(_) => {
                                notify::nack_with_status(StatusCode::PAYLOAD_TOO_LARGE, "too large")
                            }
                            Ok(body) => {
                                match wxpay.notification(&parts.headers, &body.to_bytes()) {
                                    Ok(notification) => {
                                        let ack = notification.ack();
                                        let _ = handed_on.send(notification).await;
                                        ack
                                    }
                                    Err(e) if e.is_verification() => notify::nack_with_status(
                                        StatusCode::UNAUTHORIZED,
                                        "verification failed",
                                    ),
                                    Err(_) => notify::nack("try again"),
                                }
                            }
                        };
                        Ok::<_, Infallible>(answer.map(|body| Full::new(Bytes::from(body))))
                    }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), handler)
                    .await;
            });
        }
    });
    Ok((addr, received))
}

/// Runs the lifecycle and returns what happened, one line per step.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start().await?;
    let wxpay = sandbox.client();
    let (addr, mut received) = serve_notify_url(wxpay.clone()).await?;
    let notify_url = format!("http://{addr}/notify");
    let mut log = Vec::new();

    // 1. The order.
    let placed: Value = wxpay
        .chain("v3/pay/transactions/native")
        .post(json!({
            "appid": "wxd678efh567hg6787",
            "mchid": sandbox.merchant_id(),
            "description": "Image形象店-深圳腾大-QQ公仔",
            "out_trade_no": OUT_TRADE_NO,
            "notify_url": notify_url,
            "amount": { "total": 100, "currency": "CNY" },
        }))
        .await?
        .json()?;
    log.push(format!("ordered: code_url {}", placed["code_url"]));

    // 2. The payer pays; the platform notifies.
    let handler_said: Response<Vec<u8>> = sandbox.pay(OUT_TRADE_NO).await?;
    let paid = received.recv().await.ok_or("no payment notification")?;
    log.push(format!(
        "notified: {} {} (handler answered {})",
        paid.event_type,
        paid.resource["trade_state"],
        handler_said.status()
    ));

    // 3. The order, queried.
    let order: Value = wxpay
        .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
        .get()
        .params(json!({ "out_trade_no": OUT_TRADE_NO, "mchid": sandbox.merchant_id() }))
        .await?
        .json()?;
    log.push(format!(
        "queried: {} {} {}",
        order["out_trade_no"], order["trade_state"], order["transaction_id"]
    ));

    // 4. A partial refund, then its notification.
    let refund: Value = wxpay
        .chain("v3/refund/domestic/refunds")
        .post(json!({
            "transaction_id": order["transaction_id"],
            "out_refund_no": OUT_REFUND_NO,
            "reason": "商品已售完",
            "notify_url": notify_url,
            "amount": { "refund": 40, "total": 100, "currency": "CNY" },
        }))
        .await?
        .json()?;
    log.push(format!(
        "refund requested: {} {}",
        refund["out_refund_no"], refund["status"]
    ));
    sandbox.complete_refund(OUT_REFUND_NO).await?;
    let refunded = received.recv().await.ok_or("no refund notification")?;
    log.push(format!(
        "notified: {} {} {}",
        refunded.event_type, refunded.resource["out_refund_no"], refunded.resource["refund_status"]
    ));
    let refund: Value = wxpay
        .chain("v3/refund/domestic/refunds/{out_refund_no}")
        .get()
        .param("out_refund_no", OUT_REFUND_NO)
        .await?
        .json()?;
    log.push(format!(
        "refund queried: {} {}",
        refund["status"], refund["amount"]["refund"]
    ));
    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in run().await? {
        println!("{line}");
    }
    Ok(())
}
