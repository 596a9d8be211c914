//! Exactly-once handling without a web framework: the `Dedup` contract for the in-memory
//! store (and the Redis one with `--features redis` and `REDIS_URL`), and `ExactlyOnce`
//! over concurrent deliveries, handler failures, hung handlers and store failures.

#[path = "common/notify.rs"]
mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{payment, Shop};
use wechatpay::notify::{
    Claim, Completion, Dedup, DedupError, DedupFuture, ExactlyOnce, Lease, MemoryDedup, Outcome,
};
use wechatpay::Wechatpay;

const LEASE: Duration = Duration::from_millis(300);

fn client() -> Wechatpay {
    wechatpay::sandbox::offline_client().expect("the sandbox keys parse")
}

fn acquired(claim: Claim) -> Lease {
    match claim {
        Claim::Acquired(lease) => lease,
        other => panic!("expected the id to be acquired, got {other:?}"),
    }
}

/// The contract every store keeps (see the `Dedup` docs). `store` keeps done records for
/// `done_ttl`, which must be short (a few hundred ms).
async fn check_contract(store: &dyn Dedup, done_ttl: Duration) {
    // One lease at a time; release only by its holder.
    let first = acquired(store.claim("A", LEASE).await.unwrap());
    assert_eq!(store.claim("A", LEASE).await.unwrap(), Claim::InProgress);
    let stranger = Lease::random().unwrap();
    assert!(!store.release("A", &stranger).await.unwrap());
    assert_eq!(store.claim("A", LEASE).await.unwrap(), Claim::InProgress);
    assert!(store.release("A", &first).await.unwrap());
    let second = acquired(store.claim("A", LEASE).await.unwrap());
    assert_ne!(first, second);

    // Done is final: no release undoes it, every claim sees it.
    assert_eq!(
        store.mark_done("A", &second).await.unwrap(),
        Completion::Recorded
    );
    assert_eq!(store.claim("A", LEASE).await.unwrap(), Claim::Done);
    assert!(!store.release("A", &second).await.unwrap());
    assert_eq!(store.claim("A", LEASE).await.unwrap(), Claim::Done);

    // An expired lease lets the next claim through; the old holder can no longer release
    // it, and completing under it is reported as lost but still records the id done.
    let hung = acquired(store.claim("B", LEASE).await.unwrap());
    tokio::time::sleep(LEASE + Duration::from_millis(50)).await;
    let next = acquired(store.claim("B", LEASE).await.unwrap());
    assert!(!store.release("B", &hung).await.unwrap());
    assert_eq!(store.claim("B", LEASE).await.unwrap(), Claim::InProgress);
    assert_eq!(
        store.mark_done("B", &hung).await.unwrap(),
        Completion::LeaseLost
    );
    assert_eq!(store.claim("B", LEASE).await.unwrap(), Claim::Done);
    assert_eq!(
        store.mark_done("B", &next).await.unwrap(),
        Completion::AlreadyDone
    );

    // Done records expire after the done TTL.
    let lease = acquired(store.claim("C", LEASE).await.unwrap());
    store.mark_done("C", &lease).await.unwrap();
    tokio::time::sleep(done_ttl + Duration::from_millis(50)).await;
    acquired(store.claim("C", LEASE).await.unwrap());

    // Of 50 simultaneous claims, exactly one wins.
    let claims = (0..50).map(|_| store.claim("D", LEASE));
    let mut won = 0;
    for claim in claims.collect::<Vec<_>>() {
        if let Claim::Acquired(_) = claim.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn memory_store_keeps_the_contract() {
    let done_ttl = Duration::from_millis(200);
    check_contract(&MemoryDedup::new().done_ttl(done_ttl), done_ttl).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn redis_store_keeps_the_contract() {
    use wechatpay::notify::RedisDedup;
    let Some(url) = support::redis_url("redis_store_keeps_the_contract").await else {
        return;
    };
    let done_ttl = Duration::from_millis(200);
    let store = RedisDedup::connect(&url)
        .await
        .unwrap()
        .prefix(support::unique_prefix("contract"))
        .done_ttl(done_ttl);
    // The connection (whose URL may carry a password) is not shown.
    let shown = format!("{store:?}");
    assert!(
        !shown.contains("redis://") && !shown.contains("127.0.0.1"),
        "{shown}"
    );
    check_contract(&store, done_ttl).await;
}

/// The same notification delivered 50 times at once, each delivery verified and run
/// through one `ExactlyOnce`: the side effect happens once, every answer is 204 or 503.
async fn burst_is_fulfilled_once(once: ExactlyOnce) {
    let wxpay = client();
    let shop = Shop::working(100);
    let incoming = payment("BURST-1");
    let mut runs = Vec::new();
    for _ in 0..50 {
        let (wxpay, shop, once, incoming) =
            (wxpay.clone(), shop.clone(), once.clone(), incoming.clone());
        runs.push(tokio::spawn(async move {
            let notification = wxpay
                .notification(&incoming.headers, &incoming.body)
                .unwrap();
            once.run(notification, |n| async move { shop.fulfil(n).await })
                .await
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for run in runs {
        statuses.push(run.await.unwrap().as_u16());
    }
    assert_eq!(shop.fulfilled(), 1);
    assert_eq!(shop.calls(), 1);
    assert!(
        statuses.iter().all(|s| *s == 204 || *s == 503),
        "{statuses:?}"
    );
    assert!(statuses.contains(&204));
}

#[tokio::test]
async fn concurrent_deliveries_run_the_handler_once() {
    burst_is_fulfilled_once(ExactlyOnce::new(MemoryDedup::new())).await;
}

#[cfg(feature = "redis")]
#[tokio::test]
async fn concurrent_deliveries_through_two_redis_stores_run_the_handler_once() {
    use wechatpay::notify::RedisDedup;
    let test = "concurrent_deliveries_through_two_redis_stores_run_the_handler_once";
    let Some(url) = support::redis_url(test).await else {
        return;
    };
    // Two connections (as two instances would have), alternating.
    let prefix = support::unique_prefix("burst");
    let a = RedisDedup::connect(&url).await.unwrap().prefix(&prefix);
    let b = RedisDedup::connect(&url).await.unwrap().prefix(&prefix);
    let stores: Vec<Arc<dyn Dedup>> = vec![Arc::new(a), Arc::new(b)];
    let wxpay = client();
    let shop = Shop::working(100);
    let incoming = payment("BURST-2");
    let mut runs = Vec::new();
    for i in 0..50 {
        let once = ExactlyOnce::from_arc(stores[i % 2].clone());
        let (wxpay, shop, incoming) = (wxpay.clone(), shop.clone(), incoming.clone());
        runs.push(tokio::spawn(async move {
            let notification = wxpay
                .notification(&incoming.headers, &incoming.body)
                .unwrap();
            once.run(notification, |n| async move { shop.fulfil(n).await })
                .await
                .status()
                .as_u16()
        }));
    }
    for run in runs {
        let status = run.await.unwrap();
        assert!(status == 204 || status == 503, "{status}");
    }
    assert_eq!(shop.fulfilled(), 1);
}

#[tokio::test]
async fn a_failed_handler_runs_again_on_the_next_delivery() {
    let wxpay = client();
    let once = ExactlyOnce::new(MemoryDedup::new());
    let shop = Shop::new();
    shop.fail_next.store(1, std::sync::atomic::Ordering::SeqCst);
    let incoming = payment("FAIL-1");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let notification = wxpay
            .notification(&incoming.headers, &incoming.body)
            .unwrap();
        let shop = shop.clone();
        let outcome = once
            .run(notification, |n| async move { shop.fulfil(n).await })
            .await;
        if let Outcome::Failed(error) = &outcome {
            assert!(error.starts_with("injected failure"), "{error}");
        }
        statuses.push(outcome.into_response().status().as_u16());
    }
    assert_eq!(statuses, [500, 204, 204]);
    assert_eq!((shop.calls(), shop.fulfilled()), (2, 1));
}

#[tokio::test]
async fn an_expired_lease_lets_the_next_delivery_through() {
    let wxpay = client();
    let once = ExactlyOnce::new(MemoryDedup::new()).lease(LEASE);
    let shop = Shop::new();
    shop.hang_next.store(1, std::sync::atomic::Ordering::SeqCst);
    let incoming = payment("HUNG-1");
    let run = |shop: Arc<Shop>| {
        let (once, wxpay, incoming) = (once.clone(), wxpay.clone(), incoming.clone());
        async move {
            let notification = wxpay
                .notification(&incoming.headers, &incoming.body)
                .unwrap();
            once.run(notification, |n| async move { shop.fulfil(n).await })
                .await
                .status()
                .as_u16()
        }
    };
    let hung = tokio::spawn(run(shop.clone()));
    shop.wait_for_calls(1).await;
    assert_eq!(run(shop.clone()).await, 503, "the lease still holds");
    tokio::time::sleep(LEASE + Duration::from_millis(50)).await;
    assert_eq!(run(shop.clone()).await, 204, "the lease expired");
    assert_eq!((shop.calls(), shop.fulfilled()), (2, 1));
    assert_eq!(run(shop.clone()).await, 204);
    assert_eq!(shop.calls(), 2);
    hung.abort();
}

/// A store that is down.
struct Unreachable;

impl Dedup for Unreachable {
    fn claim<'a>(&'a self, _: &'a str, _: Duration) -> DedupFuture<'a, Claim> {
        Box::pin(async { Err(DedupError::new("connection refused")) })
    }
    fn mark_done<'a>(&'a self, _: &'a str, _: &'a Lease) -> DedupFuture<'a, Completion> {
        Box::pin(async { Err(DedupError::new("connection refused")) })
    }
    fn release<'a>(&'a self, _: &'a str, _: &'a Lease) -> DedupFuture<'a, bool> {
        Box::pin(async { Err(DedupError::new("connection refused")) })
    }
}

#[tokio::test]
async fn an_unreachable_store_answers_retryably_without_running_the_handler() {
    let wxpay = client();
    let incoming = payment("DOWN-1");
    let notification = wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    let shop = Shop::new();
    let outcome = ExactlyOnce::new(Unreachable)
        .run(notification, |n| async { shop.fulfil(n).await })
        .await;
    assert!(matches!(outcome, Outcome::StoreFailed(_)), "{outcome:?}");
    let answer = outcome.into_response();
    assert_eq!(answer.status(), 503);
    support::assert_fail_body(answer.body());
    assert_eq!(shop.calls(), 0);
}

/// Claims work, recording does not (the store went down mid-way).
struct FailsToRecord(MemoryDedup);

impl Dedup for FailsToRecord {
    fn claim<'a>(&'a self, id: &'a str, lease: Duration) -> DedupFuture<'a, Claim> {
        self.0.claim(id, lease)
    }
    fn mark_done<'a>(&'a self, _: &'a str, _: &'a Lease) -> DedupFuture<'a, Completion> {
        Box::pin(async { Err(DedupError::new("connection reset")) })
    }
    fn release<'a>(&'a self, id: &'a str, lease: &'a Lease) -> DedupFuture<'a, bool> {
        self.0.release(id, lease)
    }
}

#[tokio::test]
async fn a_handled_notification_is_acknowledged_even_if_it_cannot_be_recorded() {
    let wxpay = client();
    let incoming = payment("UNRECORDED-1");
    let notification = wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    let shop = Shop::new();
    let outcome = ExactlyOnce::new(FailsToRecord(MemoryDedup::new()))
        .run(notification, |n| async { shop.fulfil(n).await })
        .await;
    assert!(matches!(outcome, Outcome::Handled), "{outcome:?}");
    assert_eq!(outcome.status(), 204);
}

#[test]
fn outcome_answers() {
    let cases: [(Outcome<String>, u16); 5] = [
        (Outcome::Handled, 204),
        (Outcome::AlreadyHandled, 204),
        (Outcome::InProgress, 503),
        (Outcome::Failed("db down".into()), 500),
        (Outcome::StoreFailed(DedupError::new("down")), 503),
    ];
    for (outcome, status) in cases {
        assert_eq!(outcome.is_acknowledged(), status == 204);
        let answer = outcome.into_response();
        assert_eq!(answer.status().as_u16(), status);
        if status != 204 {
            support::assert_fail_body(answer.body());
            // The handler's error stays in the log, not on the wire.
            assert!(!String::from_utf8_lossy(answer.body()).contains("db down"));
        }
    }
}
