//! Receiving notifications in actix-web: the `wechatpay::actix::Notification` extractor
//! rejects forged, stale and probe notifications before the handler runs, and
//! `ExactlyOnce` handles each notification once on one server (in memory) and across two
//! servers sharing a Redis. Real servers on 127.0.0.1, each in its own actix system
//! thread; Redis from `REDIS_URL`.

#[path = "common/notify.rs"]
mod support;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use support::{
    assert_fail_body, check_burst, check_expired_lease, check_failure_then_retry, deliver, payment,
    rejected, Shop, SHORT_LEASE,
};
use wechatpay::actix::Notification;
use wechatpay::notify::{
    Ack, ExactlyOnce, MemoryDedup, Nack, NotificationLimit, Outcome, RedisDedup,
};

/// Exactly once through the store.
async fn once_handler(
    once: web::Data<ExactlyOnce>,
    shop: web::Data<Shop>,
    Notification(notification): Notification,
) -> Outcome<String> {
    let shop = shop.into_inner();
    once.run(notification, |n| async move { shop.fulfil(n).await })
        .await
}

/// No store: the plain extractor with `Result<Ack, Nack>`.
async fn plain_handler(
    shop: web::Data<Shop>,
    Notification(notification): Notification,
) -> Result<Ack, Nack> {
    shop.fulfil(notification)
        .await
        .map(|()| Ack)
        .map_err(|_| Nack::new("could not fulfil"))
}

/// Where the server keeps its ids (made inside the server's own runtime).
#[derive(Clone)]
enum Store {
    Memory(Arc<MemoryDedup>),
    Redis { url: String, prefix: String },
}

#[derive(Clone, Default)]
struct Options {
    limit: Option<NotificationLimit>,
    /// Leave out `web::Data<Wechatpay>` (a misconfigured server).
    without_client: bool,
}

/// A running actix-web server with `/notify` (exactly once) and `/plain`; stopped on drop.
struct Server {
    base: String,
    handle: ServerHandle,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stops the system thread; nobody waits for it.
        drop(self.handle.stop(false));
    }
}

fn serve(store: Store, lease: Duration, shop: Arc<Shop>, options: Options) -> Server {
    let (ready, started) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let once = match store {
                Store::Memory(memory) => ExactlyOnce::from_arc(memory),
                Store::Redis { url, prefix } => {
                    ExactlyOnce::new(RedisDedup::connect(&url).await.unwrap().prefix(prefix))
                }
            };
            let once = web::Data::new(once.lease(lease));
            let wxpay = web::Data::new(wechatpay::sandbox::offline_client().unwrap());
            let shop = web::Data::from(shop);
            let server = HttpServer::new(move || {
                let mut app = App::new()
                    .app_data(once.clone())
                    .app_data(shop.clone())
                    .route("/notify", web::post().to(once_handler))
                    .route("/plain", web::post().to(plain_handler));
                if !options.without_client {
                    app = app.app_data(wxpay.clone());
                }
                if let Some(limit) = options.limit {
                    app = app.app_data(limit);
                }
                app
            })
            .workers(2)
            .bind(("127.0.0.1", 0))
            .unwrap();
            let addr = server.addrs()[0];
            let server = server.run();
            ready.send((addr, server.handle())).unwrap();
            server.await
        })
    });
    let (addr, handle) = started.recv().expect("the server starts");
    Server {
        base: format!("http://{addr}"),
        handle,
    }
}

fn memory() -> Store {
    Store::Memory(Arc::new(MemoryDedup::new()))
}

#[tokio::test]
async fn memory_one_server_fulfils_a_burst_once() {
    let shop = Shop::working(200);
    let server = serve(memory(), SHORT_LEASE * 10, shop.clone(), Options::default());
    check_burst(std::slice::from_ref(&server.base), &shop).await;
}

#[tokio::test]
async fn memory_one_server_retries_after_a_handler_failure() {
    let shop = Shop::new();
    let server = serve(memory(), SHORT_LEASE, shop.clone(), Options::default());
    check_failure_then_retry(std::slice::from_ref(&server.base), &shop).await;
}

#[tokio::test]
async fn memory_one_server_passes_an_expired_lease() {
    let shop = Shop::new();
    let server = serve(memory(), SHORT_LEASE, shop.clone(), Options::default());
    check_expired_lease(std::slice::from_ref(&server.base), &shop).await;
}

#[tokio::test]
async fn redis_two_servers_fulfil_a_burst_once_and_retry_after_a_failure() {
    let test = "redis_two_servers_fulfil_a_burst_once_and_retry_after_a_failure";
    let Some(url) = support::redis_url(test).await else {
        return;
    };
    let store = Store::Redis {
        url,
        prefix: support::unique_prefix("actix"),
    };
    let shop = Shop::working(200);
    let a = serve(
        store.clone(),
        SHORT_LEASE * 10,
        shop.clone(),
        Options::default(),
    );
    let b = serve(
        store.clone(),
        SHORT_LEASE * 10,
        shop.clone(),
        Options::default(),
    );
    let bases = [a.base.clone(), b.base.clone()];
    check_burst(&bases, &shop).await;

    let shop = Shop::new();
    let a = serve(store.clone(), SHORT_LEASE, shop.clone(), Options::default());
    let b = serve(store, SHORT_LEASE, shop.clone(), Options::default());
    check_failure_then_retry(&[a.base.clone(), b.base.clone()], &shop).await;
}

#[tokio::test]
async fn forged_stale_and_probe_notifications_never_reach_the_handler() {
    let shop = Shop::new();
    let server = serve(memory(), SHORT_LEASE, shop.clone(), Options::default());
    for path in ["/notify", "/plain"] {
        for (what, notification, status) in rejected() {
            let (got, body) = deliver(&notification, &format!("{}{path}", server.base)).await;
            assert_eq!(got.as_u16(), status, "{what} on {path}");
            assert_fail_body(&body);
        }
    }
    assert_eq!(
        shop.calls(),
        0,
        "no rejected notification reached the handler"
    );
    let good = deliver(&payment("GOOD-1"), &format!("{}/plain", server.base)).await;
    assert_eq!(good.0, 204);
    assert_eq!(shop.calls(), 1);
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_cut_off() {
    let shop = Shop::new();
    let server = serve(memory(), SHORT_LEASE, shop.clone(), Options::default());
    let url = format!("{}/plain", server.base);
    let limit = wechatpay::notify::DEFAULT_NOTIFICATION_LIMIT;
    assert_eq!(
        support::deliver_chunked(&payment("CHUNKED-1"), &url, 4 * limit).await,
        413
    );
    assert_eq!(
        support::deliver_chunked(&payment("CHUNKED-2"), &url, 0).await,
        204
    );
    assert_eq!(shop.calls(), 1);
}

#[tokio::test]
async fn a_notification_limit_in_the_app_data_lowers_the_size_limit() {
    let shop = Shop::new();
    let options = Options {
        limit: Some(NotificationLimit(100)),
        ..Options::default()
    };
    let server = serve(memory(), SHORT_LEASE, shop.clone(), options);
    let (status, body) = deliver(&payment("SMALL-1"), &format!("{}/plain", server.base)).await;
    assert_eq!(status.as_u16(), 413);
    assert_fail_body(&body);
    assert_eq!(shop.calls(), 0);
}

#[tokio::test]
async fn a_server_without_the_client_answers_500_without_running_the_handler() {
    let shop = Shop::new();
    let options = Options {
        without_client: true,
        ..Options::default()
    };
    let server = serve(memory(), SHORT_LEASE, shop.clone(), options);
    let (status, body) = deliver(&payment("NOCLIENT-1"), &format!("{}/plain", server.base)).await;
    assert_eq!(status.as_u16(), 500);
    assert_fail_body(&body);
    assert_eq!(shop.calls(), 0);
}

#[tokio::test]
async fn a_plain_handler_answers_ack_and_nack() {
    let shop = Shop::new();
    let server = serve(memory(), SHORT_LEASE, shop.clone(), Options::default());
    let url = format!("{}/plain", server.base);
    shop.fail_next.store(1, Ordering::SeqCst);
    let (status, body) = deliver(&payment("PLAIN-1"), &url).await;
    assert_eq!(status.as_u16(), 500);
    assert_eq!(body, br#"{"code":"FAIL","message":"could not fulfil"}"#);
    let (status, body) = deliver(&payment("PLAIN-1"), &url).await;
    assert_eq!(status.as_u16(), 204);
    assert!(body.is_empty());
}
