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
use wechatpay::sandbox::{self, Fault, NotificationBuilder, SignedNotification};

/// The lease the tests use where a lease must expire.
pub const SHORT_LEASE: Duration = Duration::from_millis(300);

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
        panic!(
            "the handler was entered {} times, expected {n}",
            self.calls()
        );
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
            let cause = std::error::Error::source(&error)
                .map(|source| format!(": {source}"))
                .unwrap_or_default();
            skip(
                test,
                &format!("no Redis reachable at REDIS_URL: {error}{cause}"),
            );
            None
        }
    }
}

/// A number no other test run uses: the process id and the time in nanoseconds.
pub fn unique_number() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}{nanos}", std::process::id())
}

/// A key prefix no other test run shares.
pub fn unique_prefix(test: &str) -> String {
    format!("wechatpay-test:{test}:{}:", unique_number())
}

/// 50 deliveries of one notification at once, spread over `bases`: one fulfilment, every
/// answer 204 or 503, and the next delivery is acknowledged without running the handler.
pub async fn check_burst(bases: &[String], shop: &Shop) {
    let urls: Vec<String> = bases.iter().map(|b| format!("{b}/notify")).collect();
    let incoming = payment("BURST-1");
    let answers = deliver_concurrently(&incoming, &urls, 50).await;
    let acked = assert_acked_or_retryable(&answers);
    assert!(acked >= 1, "one delivery was handled");
    assert_eq!(shop.fulfilled(), 1, "the side effect happened once");
    assert_eq!(shop.calls(), 1, "the handler ran once");
    for url in &urls {
        assert_eq!(deliver(&incoming, url).await.0, 204);
    }
    assert_eq!(shop.calls(), 1);
}

/// A failed handler answers 500 and releases the id: the next delivery (to the other
/// server, if two) runs it again; after that, deliveries are acknowledged.
pub async fn check_failure_then_retry(bases: &[String], shop: &Shop) {
    shop.fail_next.store(1, Ordering::SeqCst);
    let incoming = payment("FAIL-1");
    let first = deliver(&incoming, &format!("{}/notify", bases[0])).await;
    assert_eq!(first.0, 500);
    assert_fail_body(&first.1);
    let second = deliver(&incoming, &format!("{}/notify", bases[bases.len() - 1])).await;
    assert_eq!(second.0, 204);
    assert_eq!((shop.calls(), shop.fulfilled()), (2, 1));
    assert_eq!(
        deliver(&incoming, &format!("{}/notify", bases[0])).await.0,
        204
    );
    assert_eq!(shop.calls(), 2);
}

/// A hung handler holds the id only until its lease expires.
pub async fn check_expired_lease(bases: &[String], shop: &Arc<Shop>) {
    shop.hang_next.store(1, Ordering::SeqCst);
    let incoming = payment("HUNG-1");
    let hung_url = format!("{}/notify", bases[0]);
    let other_url = format!("{}/notify", bases[bases.len() - 1]);
    let hung = {
        let incoming = incoming.clone();
        tokio::spawn(async move { incoming.send(&hung_url).await })
    };
    shop.wait_for_calls(1).await;
    let early = deliver(&incoming, &other_url).await;
    assert_eq!(early.0, 503, "the lease still holds");
    assert_fail_body(&early.1);
    tokio::time::sleep(SHORT_LEASE + Duration::from_millis(50)).await;
    assert_eq!(
        deliver(&incoming, &other_url).await.0,
        204,
        "the lease expired"
    );
    assert_eq!((shop.calls(), shop.fulfilled()), (2, 1));
    hung.abort();
}

/// Notifications that must never reach the handler, and the status each gets.
pub fn rejected() -> Vec<(&'static str, wechatpay::sandbox::SignedNotification, u16)> {
    let resource = json!({ "out_trade_no": "FORGED-1", "trade_state": "SUCCESS" });
    let with = |fault: Fault| {
        NotificationBuilder::new("TRANSACTION.SUCCESS", resource.clone())
            .fault(fault)
            .build()
            .unwrap()
    };
    let mut oversized = payment("BIG-1");
    oversized
        .body
        .resize(wechatpay::notify::DEFAULT_NOTIFICATION_LIMIT + 1, b' ');
    vec![
        ("tampered body", with(Fault::TamperBody), 401),
        ("tampered signature", with(Fault::TamperSignature), 401),
        (
            "stale (signed 10 minutes ago)",
            with(Fault::SkewClock(-600)),
            401,
        ),
        ("probe signature", with(Fault::ProbeSignature), 401),
        ("unsigned", with(Fault::Unsigned), 401),
        (
            "unknown serial",
            with(Fault::WrongSerial(
                "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C".into(),
            )),
            401,
        ),
        (
            "no timestamp",
            with(Fault::DropHeader("Wechatpay-Timestamp".into())),
            401,
        ),
        (
            "wrong APIv3 key",
            NotificationBuilder::new("TRANSACTION.SUCCESS", resource.clone())
                .apiv3_key("another-32-byte-apiv3-key-000000")
                .build()
                .unwrap(),
            500,
        ),
        ("over the size limit", oversized, 413),
    ]
}

/// POSTs `notification` with `Transfer-Encoding: chunked` (no `Content-Length`, so the
/// server only learns the size by reading) and padded to `size` bytes; returns the
/// answer's status. `url` is `http://127.0.0.1:PORT/path`.
pub async fn deliver_chunked(notification: &SignedNotification, url: &str, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').expect("a path"));
    let mut stream = tokio::net::TcpStream::connect(authority).await.unwrap();
    let mut head = format!("POST {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in &notification.headers {
        head.push_str(&format!("{name}: {}\r\n", value.to_str().unwrap()));
    }
    head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    let mut body = notification.body.clone();
    body.resize(size.max(body.len()), b' ');
    // The server may answer and close before it has read everything: ignore write errors.
    let _ = stream.write_all(head.as_bytes()).await;
    for chunk in body.chunks(8 * 1024) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let status_line = String::from_utf8_lossy(&answer);
    status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {status_line:?}"))
}
