//! Receiving notifications in axum: the `wechatpay::axum::Notification` extractor rejects
//! forged, stale and probe notifications before the handler runs, and `ExactlyOnce`
//! handles each notification once across two servers sharing a Redis (and on one server
//! with the in-memory store). Real servers on 127.0.0.1; Redis from `REDIS_URL`.

#[path = "common/notify.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRef, State};
use axum::routing::post;
use axum::{Extension, Router};
use support::{
    assert_fail_body, check_burst, check_expired_lease, check_failure_then_retry, deliver, payment,
    rejected, Shop, SHORT_LEASE,
};
use tokio::net::TcpListener;
use wechatpay::axum::Notification;
use wechatpay::notify::{
    Ack, Dedup, ExactlyOnce, MemoryDedup, Nack, NotificationLimit, Outcome, RedisDedup,
};
use wechatpay::Wechatpay;

#[derive(Clone)]
struct AppState {
    wxpay: Wechatpay,
    once: ExactlyOnce,
    shop: Arc<Shop>,
}

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

impl FromRef<AppState> for Arc<Shop> {
    fn from_ref(state: &AppState) -> Arc<Shop> {
        state.shop.clone()
    }
}

/// Exactly once through the store.
async fn once_handler(
    State(once): State<ExactlyOnce>,
    State(shop): State<Arc<Shop>>,
    Notification(notification): Notification,
) -> Outcome<String> {
    once.run(notification, |n| async move { shop.fulfil(n).await })
        .await
}

/// No store: the plain extractor with `Result<Ack, Nack>`.
async fn plain_handler(
    State(shop): State<Arc<Shop>>,
    Notification(notification): Notification,
) -> Result<Ack, Nack> {
    shop.fulfil(notification)
        .await
        .map(|()| Ack)
        .map_err(|_| Nack::new("could not fulfil"))
}

/// A server with `/notify` (exactly once) and `/plain`; returns its base URL.
async fn serve(store: impl Dedup + 'static, lease: Duration, shop: Arc<Shop>) -> String {
    serve_with(store, lease, shop, None).await
}

async fn serve_with(
    store: impl Dedup + 'static,
    lease: Duration,
    shop: Arc<Shop>,
    limit: Option<NotificationLimit>,
) -> String {
    let state = AppState {
        wxpay: wechatpay::sandbox::offline_client().unwrap(),
        once: ExactlyOnce::new(store).lease(lease),
        shop,
    };
    let mut app = Router::new()
        .route("/notify", post(once_handler))
        .route("/plain", post(plain_handler))
        .with_state(state);
    if let Some(limit) = limit {
        app = app.layer(Extension(limit));
    }
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

async fn redis_store(url: &str, prefix: &str) -> RedisDedup {
    RedisDedup::connect(url).await.unwrap().prefix(prefix)
}

#[tokio::test]
async fn redis_two_servers_fulfil_a_burst_once() {
    let Some(url) = support::redis_url("redis_two_servers_fulfil_a_burst_once").await else {
        return;
    };
    let prefix = support::unique_prefix("axum-burst");
    let shop = Shop::working(200);
    let a = serve(
        redis_store(&url, &prefix).await,
        SHORT_LEASE * 10,
        shop.clone(),
    )
    .await;
    let b = serve(
        redis_store(&url, &prefix).await,
        SHORT_LEASE * 10,
        shop.clone(),
    )
    .await;
    assert_ne!(a, b);
    check_burst(&[a, b], &shop).await;
}

#[tokio::test]
async fn redis_two_servers_retry_after_a_handler_failure() {
    let Some(url) = support::redis_url("redis_two_servers_retry_after_a_handler_failure").await
    else {
        return;
    };
    let prefix = support::unique_prefix("axum-fail");
    let shop = Shop::new();
    let a = serve(redis_store(&url, &prefix).await, SHORT_LEASE, shop.clone()).await;
    let b = serve(redis_store(&url, &prefix).await, SHORT_LEASE, shop.clone()).await;
    check_failure_then_retry(&[a, b], &shop).await;
}

#[tokio::test]
async fn redis_two_servers_pass_an_expired_lease() {
    let Some(url) = support::redis_url("redis_two_servers_pass_an_expired_lease").await else {
        return;
    };
    let prefix = support::unique_prefix("axum-hung");
    let shop = Shop::new();
    let a = serve(redis_store(&url, &prefix).await, SHORT_LEASE, shop.clone()).await;
    let b = serve(redis_store(&url, &prefix).await, SHORT_LEASE, shop.clone()).await;
    check_expired_lease(&[a, b], &shop).await;
}

#[tokio::test]
async fn memory_one_server_fulfils_a_burst_once() {
    let shop = Shop::working(200);
    let base = serve(MemoryDedup::new(), SHORT_LEASE * 10, shop.clone()).await;
    check_burst(&[base], &shop).await;
}

#[tokio::test]
async fn memory_one_server_retries_after_a_handler_failure() {
    let shop = Shop::new();
    let base = serve(MemoryDedup::new(), SHORT_LEASE, shop.clone()).await;
    check_failure_then_retry(&[base], &shop).await;
}

#[tokio::test]
async fn memory_one_server_passes_an_expired_lease() {
    let shop = Shop::new();
    let base = serve(MemoryDedup::new(), SHORT_LEASE, shop.clone()).await;
    check_expired_lease(&[base], &shop).await;
}

#[tokio::test]
async fn forged_stale_and_probe_notifications_never_reach_the_handler() {
    let shop = Shop::new();
    let base = serve(MemoryDedup::new(), SHORT_LEASE, shop.clone()).await;
    for path in ["/notify", "/plain"] {
        for (what, notification, status) in rejected() {
            let (got, body) = deliver(&notification, &format!("{base}{path}")).await;
            assert_eq!(got.as_u16(), status, "{what} on {path}");
            assert_fail_body(&body);
        }
    }
    assert_eq!(
        shop.calls(),
        0,
        "no rejected notification reached the handler"
    );
    // The same server accepts a genuine one.
    assert_eq!(
        deliver(&payment("GOOD-1"), &format!("{base}/plain"))
            .await
            .0,
        204
    );
    assert_eq!(shop.calls(), 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off() {
    let shop = Shop::new();
    let base = serve(MemoryDedup::new(), SHORT_LEASE, shop.clone()).await;
    let url = format!("{base}/plain");
    let limit = wechatpay::notify::DEFAULT_NOTIFICATION_LIMIT;
    assert_eq!(
        support::deliver_chunked(&payment("CHUNKED-1"), &url, 4 * limit).await,
        413
    );
    // An unpadded chunked notification is read whole and verified.
    assert_eq!(
        support::deliver_chunked(&payment("CHUNKED-2"), &url, 0).await,
        204
    );
    assert_eq!(shop.calls(), 1);
}

#[tokio::test]
async fn a_notification_limit_extension_lowers_the_size_limit() {
    let shop = Shop::new();
    let base = serve_with(
        MemoryDedup::new(),
        SHORT_LEASE,
        shop.clone(),
        Some(NotificationLimit(100)),
    )
    .await;
    let (status, body) = deliver(&payment("SMALL-1"), &format!("{base}/plain")).await;
    assert_eq!(status.as_u16(), 413);
    assert_fail_body(&body);
    assert_eq!(shop.calls(), 0);
}

#[tokio::test]
async fn a_plain_handler_answers_ack_and_nack() {
    let shop = Shop::new();
    let base = serve(MemoryDedup::new(), SHORT_LEASE, shop.clone()).await;
    shop.fail_next.store(1, Ordering::SeqCst);
    let (status, body) = deliver(&payment("PLAIN-1"), &format!("{base}/plain")).await;
    assert_eq!(status.as_u16(), 500);
    assert_eq!(body, br#"{"code":"FAIL","message":"could not fulfil"}"#);
    let (status, body) = deliver(&payment("PLAIN-1"), &format!("{base}/plain")).await;
    assert_eq!(status.as_u16(), 204);
    assert!(body.is_empty());
}
