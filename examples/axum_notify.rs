//! Receives payment notifications in axum and fulfils each paid order exactly once, even
//! when the platform delivers a notification again, to another instance, or while the
//! first delivery is still being handled.
//!
//! ```text
//! cargo run --example axum_notify --features axum,redis
//! PORT=8081 REDIS_URL=redis://127.0.0.1:6379/ cargo run --example axum_notify --features axum,redis
//! ```
//!
//! Serves `POST /notify` on 127.0.0.1:$PORT (default 8080) and prints
//! `fulfilled <out_trade_no>` on stdout for each fulfilment. Instances that share a Redis
//! (`REDIS_URL`) fulfil each notification once between them; without `REDIS_URL` the
//! ids are kept in memory. Without `WECHATPAY_*` credentials it trusts the sandbox's test
//! keys, so `wechatpay::sandbox::notification(…)?.send("http://127.0.0.1:8080/notify")`
//! delivers to it.

use std::env;
use std::error::Error;

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use tokio::net::TcpListener;
use wechatpay::axum::Notification;
use wechatpay::notify::{self, ExactlyOnce, MemoryDedup, Outcome, RedisDedup};
use wechatpay::Wechatpay;

#[path = "support/credentials.rs"]
mod credentials;

#[derive(Clone)]
struct AppState {
    wxpay: Wechatpay,
    once: ExactlyOnce,
}

// The extractor verifies with the Wechatpay client in the state.
impl FromRef<AppState> for Wechatpay {
    fn from_ref(state: &AppState) -> Wechatpay {
        state.wxpay.clone()
    }
}

impl FromRef<AppState> for ExactlyOnce {
    fn from_ref(state: &AppState) -> ExactlyOnce {
        state.once.clone()
    }
}

/// `POST /notify`. A notification that fails verification never gets here (the
/// extractor answers 401 `{"code":"FAIL",…}`); a verified one is fulfilled once per
/// notification id: 204 when fulfilled or already fulfilled, 503 while another delivery
/// is working on it, 500 if `fulfil` fails (the platform delivers it again).
async fn notify(
    State(once): State<ExactlyOnce>,
    Notification(notification): Notification,
) -> Outcome<wechatpay::Error> {
    once.run(notification, |n| async move { fulfil(&n) }).await
}

#[derive(Deserialize)]
struct Transaction {
    out_trade_no: String,
    trade_state: String,
}

/// The side effect that must happen once: here a line on stdout; in a shop, shipping the
/// order.
fn fulfil(notification: &notify::Notification) -> Result<(), wechatpay::Error> {
    if notification.event_type == "TRANSACTION.SUCCESS" {
        let payment: Transaction = notification.resource_as()?;
        if payment.trade_state == "SUCCESS" {
            println!("fulfilled {}", payment.out_trade_no);
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let wxpay = credentials::client_from_env()?;
    let once = match env::var("REDIS_URL") {
        Ok(url) => ExactlyOnce::new(RedisDedup::connect(&url).await?),
        Err(_) => ExactlyOnce::new(MemoryDedup::new()),
    };
    let app = Router::new()
        .route("/notify", post(notify))
        .with_state(AppState { wxpay, once });

    let port: u16 = env::var("PORT").map_or(Ok(8080), |port| port.parse())?;
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on http://{}/notify", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
