//! APIv2 end to end, offline: a payment-code payment (`v2/pay/micropay`), a refund over
//! mutual TLS (`v2/secapi/pay/refund`: the merchant certificate is presented in the TLS
//! handshake), the refund notification with its encrypted `req_info` received by a local
//! `notify_url` handler, and a refund query. The sandbox serves TLS with a test CA its
//! client trusts.
//!
//! Run: `cargo run --example apiv2`

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay::sandbox::Sandbox;
use wechatpay::v2::{notify, RefundNotification};
use wechatpay::Wechatpay;

const OUT_TRADE_NO: &str = "1415757673";
const OUT_REFUND_NO: &str = "1415701182";

/// The merchant's `notify_url` for refunds: opens each notification with the client's
/// APIv2 key, hands it on and acks it with the documented XML; anything that does not open
/// is answered with a nack, and the platform sends it again later.
async fn serve_notify_url(
    wxpay: Wechatpay,
) -> std::io::Result<(SocketAddr, mpsc::Receiver<RefundNotification>)> {
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
                        let answer =
                            match Limited::new(request.into_body(), 1 << 20).collect().await {
                                Err(_) => notify::nack("too large"),
                                Ok(body) => match wxpay.v2_refund_notification(&body.to_bytes()) {
                                    Ok(refund) => {
                                        let _ = handed_on.send(refund).await;
                                        notify::ack()
                                    }
                                    Err(_) => notify::nack("cannot open req_info"),
                                },
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

/// Runs the APIv2 payment and refund and returns what happened, one line per step.
pub async fn run() -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let sandbox = Sandbox::start_tls().await?;
    // The sandbox's client: APIv2 key, merchant certificate for mutual TLS, the test CA.
    let wxpay = sandbox.client();
    let (addr, mut received) = serve_notify_url(wxpay.clone()).await?;
    let notify_url = format!("http://{addr}/notify");
    let mut log = Vec::new();

    // 1. The cashier scans the customer's payment code.
    let paid: Value = wxpay
        .chain("v2/pay/micropay")
        .post(json!({
            "appid": "wx2421b1c4370ec43b",
            "mch_id": "1900000001",
            "body": "image形象店-深圳腾大-QQ公仔",
            "out_trade_no": OUT_TRADE_NO,
            "total_fee": 888,
            "spbill_create_ip": "14.17.22.52",
            "auth_code": "120061098828009406",
        }))
        .await?
        .json()?;
    log.push(format!(
        "paid: {} {}",
        paid["out_trade_no"], paid["transaction_id"]
    ));

    // 2. A refund: a mutual-TLS endpoint, so the client presents the merchant certificate.
    let refund: Value = wxpay
        .chain("v2/secapi/pay/refund")
        .post(json!({
            "appid": "wx2421b1c4370ec43b",
            "mch_id": "1900000001",
            "out_trade_no": OUT_TRADE_NO,
            "out_refund_no": OUT_REFUND_NO,
            "total_fee": 888,
            "refund_fee": 888,
            "notify_url": notify_url,
        }))
        .await?
        .json()?;
    log.push(format!(
        "refund requested: {} {}",
        refund["out_refund_no"], refund["refund_id"]
    ));

    // 3. The platform completes it and notifies the notify_url, req_info encrypted.
    let handler_answer = sandbox.complete_refund_v2(OUT_REFUND_NO).await?;
    let notification = received.recv().await.ok_or("no notification arrived")?;
    log.push(format!(
        "notified: refund {} {} (handler answered {})",
        notification.info()["out_refund_no"],
        notification.info()["refund_status"],
        handler_answer.status(),
    ));

    // 4. ECB authenticates nothing: confirm with a query before acting on the money.
    let queried: Value = wxpay
        .chain("v2/pay/refundquery")
        .post(json!({
            "appid": "wx2421b1c4370ec43b",
            "mch_id": "1900000001",
            "out_refund_no": OUT_REFUND_NO,
        }))
        .await?
        .json()?;
    log.push(format!("refund queried: {}", queried["refund_status_0"]));
    Ok(log)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    for line in run().await? {
        println!("{line}");
    }
    Ok(())
}
