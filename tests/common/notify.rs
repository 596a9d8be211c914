//! Helpers for the notification-receiving tests (`notify_*`): a handler whose side
//! effect is counted, concurrent deliveries, answer checks, and the Redis the tests share.
#![allow(dead_code)]

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use serde_json::{json, Value};
use wechatpay::notify::Notification;
use wechatpay::sandbox::{self, SignedNotification};

/// A stand-in for the merchant's business logic: counts how often the handler is entered
/// and how often its side effect (fulfilment) happens, and can be told to fail or hang.
#[derive(Debug, Default)]
pub struct Shop {
    /// Handler entries (every run, failed or not).
    pub calls: AtomicUsize,
    /// Side effects: completed fulfilments.
    pub fulfilled: AtomicUsize,
    /// The next this-many runs fail.
    pub fail_next: AtomicUsize,
    /// The next this-many runs never finish.
    pub hang_next: AtomicUsize,
    /// How long each run works before fulfilling, in milliseconds.
    pub work_ms: AtomicUsize,
}

impl Shop {
    pub fn new() -> Arc<Shop> {
        Arc::new(Shop::default())
    }

    /// Handler work that takes `ms` milliseconds.
    pub fn working(ms: usize) -> Arc<Shop> {
        let shop = Shop::default();
        shop.work_ms.store(ms, Ordering::SeqCst);
        Arc::new(shop)
    }

    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub fn fulfilled(&self) -> usize {
        self.fulfilled.load(Ordering::SeqCst)
    }

    /// The handler: what a merchant's fulfilment would be, instrumented.
    pub async fn fulfil(&self, notification: Notification) -> Result<(), String> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if take_one(&self.hang_next) {
            std::future::pending::<()>().await;
        }
        if take_one(&self.fail_next) {
            return Err(format!("injected failure on {}", notification.id));
        }
        let work = self.work_ms.load(Ordering::SeqCst) as u64;
        if work > 0 {
            tokio::time::sleep(Duration::from_millis(work)).await;
        }
        self.fulfilled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Waits (at most 5 s) until the handler has been entered `n` times.
    pub async fn wait_for_calls(&self, n: usize) {
        for _ in 0..500 {
            if self.calls() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the handler was entered {} times, expected {n}", self.calls());
    }
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

/// A payment notification with a fresh id, signed now by the sandbox platform key.
pub fn payment(out_trade_no: &str) -> SignedNotification {
    sandbox::notification(
        "TRANSACTION.SUCCESS",
        json!({
            "out_trade_no": out_trade_no,
            "transaction_id": "4200000000000000000000000001",
            "trade_state": "SUCCESS",
            "amount": { "total": 100, "currency": "CNY" },
        }),
    )
    .expect("the sandbox makes notifications")
}

/// Delivers `notification` `count` times at once, spread round-robin over `urls`, and
/// returns every answer's status and body.
pub async fn deliver_concurrently(
    notification: &SignedNotification,
    urls: &[String],
    count: usize,
) -> Vec<(StatusCode, Vec<u8>)> {
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let notification = notification.clone();
        let url = urls[i % urls.len()].clone();
        tasks.push(tokio::spawn(async move {
            let answer = notification.send(&url).await.expect("the server answers");
            (answer.status(), answer.into_body())
        }));
    }
    let mut answers = Vec::with_capacity(count);
    for task in tasks {
        answers.push(task.await.expect("the delivery task completes"));
    }
    answers
}

/// One delivery; its status and body.
pub async fn deliver(notification: &SignedNotification, url: &str) -> (StatusCode, Vec<u8>) {
    let answer = notification.send(url).await.expect("the server answers");
    (answer.status(), answer.into_body())
}

/// The body is the platform's expected failure answer, `{"code":"FAIL","message":…}`.
pub fn assert_fail_body(body: &[u8]) {
    let parsed: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(body)));
    assert_eq!(parsed["code"], "FAIL", "{parsed}");
    assert!(
        parsed["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{parsed}"
    );
}

/// Every answer is a 204 or a retryable FAIL (503 while another delivery works on it);
/// returns how many were 204.
pub fn assert_acked_or_retryable(answers: &[(StatusCode, Vec<u8>)]) -> usize {
    let mut acked = 0;
    for (status, body) in answers {
        match status.as_u16() {
            204 => acked += 1,
            503 => assert_fail_body(body),
            other => panic!(
                "answer {other} is neither 204 nor a retryable 503: {}",
                String::from_utf8_lossy(body)
            ),
        }
    }
    acked
}

/// Says why a test did not run, on the real stderr (the test harness captures `eprintln!`
/// of passing tests, which would make a skip look like a pass).
pub fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// The Redis URL the tests share (`REDIS_URL`), once a server answers there; `None` (the
/// caller skips) without one. With `CI` set, an unreachable Redis fails the test instead,
/// since `.ci/run` exports `REDIS_URL` only after its server answered.
#[cfg(feature = "redis")]
pub async fn redis_url(test: &str) -> Option<String> {
    let Ok(url) = std::env::var("REDIS_URL") else {
        skip(
            test,
            "REDIS_URL is not set (start redis-server and set REDIS_URL=redis://127.0.0.1:PORT/)",
        );
        return None;
    };
    match wechatpay::notify::RedisDedup::connect(&url).await {
        Ok(_) => Some(url),
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("REDIS_URL is set but Redis cannot be used: {error:?}")
        }
        Err(error) => {
            skip(test, &format!("no Redis reachable at REDIS_URL: {error}"));
            None
        }
    }
}

/// A key prefix no other test run shares.
pub fn unique_prefix(test: &str) -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("wechatpay-test:{test}:{}:{nanos}:", std::process::id())
}
