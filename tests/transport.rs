//! The transport: timeouts, response size limits, connect failures and failover,
//! connection pooling under concurrency, and the blocking facade.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::{Error, Timeouts, TransportErrorKind};

fn short(total_ms: u64) -> Timeouts {
    Timeouts {
        connect: Duration::from_millis(500),
        total: Duration::from_millis(total_ms),
    }
}

/// A TCP server on 127.0.0.1 that reads the request and then runs `answer` on the socket.
async fn raw_server<F, Fut>(answer: F) -> String
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        // Bounded: a test makes at most a few connections.
        for _ in 0..8 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            answer(stream).await;
        }
    });
    format!("http://{addr}/")
}

/// A client with the sandbox merchant's credentials for a raw test server at `url` (the
/// APIv3 key stands in for platform keys: these servers never get to sign anything).
fn raw_client(url: String) -> wechatpay::WechatpayBuilder {
    wechatpay::Wechatpay::builder()
        .mchid(wechatpay::sandbox::MERCHANT_ID)
        .serial(wechatpay::sandbox::MERCHANT_SERIAL)
        .private_key(
            wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap(),
        )
        .apiv3_key(wechatpay::sandbox::APIV3_KEY)
        .base_url(url)
}

#[tokio::test]
async fn a_slow_answer_fails_within_the_total_timeout() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Delay(Duration::from_secs(5)));
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .timeouts(short(300))
        .build()
        .unwrap();
    let start = Instant::now();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    assert!(error.to_string().contains("300ms"), "{error}");
}

#[tokio::test]
async fn a_server_that_never_answers_fails_within_the_total_timeout() {
    let url = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        drop(stream);
    })
    .await;
    let wxpay = raw_client(url).timeouts(short(400)).build().unwrap();
    let start = Instant::now();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_body_that_stops_midway_is_covered_by_the_total_timeout() {
    let url = raw_server(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{\"partial\":")
            .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    })
    .await;
    let wxpay = raw_client(url).timeouts(short(400)).build().unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
}

#[tokio::test]
async fn an_oversized_body_is_refused_by_declared_length() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Respond {
        status: http::StatusCode::OK,
        body: "x".repeat(2 << 20),
    });
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .max_response_size(1 << 20)
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::BodyTooLarge { limit: 1_048_576 },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused_while_streaming() {
    let url = raw_server(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "y".repeat(64 * 1024));
        // 64 chunks of 64 KiB = 4 MiB, bounded.
        for _ in 0..64 {
            if stream.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n").await;
    })
    .await;
    let wxpay = raw_client(url)
        .max_response_size(256 * 1024)
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::BodyTooLarge { .. },
                ..
            }
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    // Bind, learn the port, close: nothing listens there now.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .base_url(format!("http://127.0.0.1:{port}/"))
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert!(
        std::error::Error::source(&error).is_some(),
        "the hyper error is kept"
    );

    // With a backup host configured, the same signed request goes there instead.
    let with_backup = sandbox
        .client_builder()
        .unwrap()
        .base_url(format!("http://127.0.0.1:{port}/"))
        .backup_base_url(sandbox.base_url())
        .build()
        .unwrap();
    let response = with_backup.chain("v3/certificates").get().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_succeed_over_pooled_connections() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let seed = &seeds()[2];
    let wave = |wave: usize| {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200 {
            let wxpay = wxpay.clone();
            let body = seed.body.clone();
            tasks.spawn(async move {
                let order = format!("ORDER-{wave}-{i}");
                let answer: serde_json::Value = wxpay
                    .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
                    .post(body)
                    .param("out_order_no", order.as_str())
                    .await?
                    .json()?;
                assert_eq!(answer["out_order_no"], order);
                Ok::<_, Error>(())
            });
        }
        tasks
    };
    let mut first = wave(0);
    while let Some(result) = first.join_next().await {
        result.unwrap().unwrap();
    }
    let after_first = sandbox.connections_accepted();
    assert!(
        after_first <= 200,
        "{after_first} connections for 200 requests"
    );
    let mut second = wave(1);
    while let Some(result) = second.join_next().await {
        result.unwrap().unwrap();
    }
    // The second wave reuses every idle connection: 400 requests, at most 200 connections.
    let after_second = sandbox.connections_accepted();
    assert!(
        after_second <= 200,
        "{after_second} connections for 400 requests"
    );
    // Sequential requests open none at all.
    for i in 0..50 {
        wxpay
            .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
            .post(&seed.body)
            .param("out_order_no", format!("SEQ-{i}"))
            .await
            .unwrap();
    }
    assert_eq!(sandbox.connections_accepted(), after_second);
}

#[test]
fn the_blocking_client_sends_without_await() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start()).unwrap();
    let wxpay = wechatpay::blocking::Wechatpay::new(sandbox.client()).unwrap();
    for seed in seeds() {
        let response = wxpay
            .chain(seed.template)
            .post(&seed.body)
            .param("out_order_no", OUT_ORDER_NO)
            .send()
            .unwrap();
        assert_eq!(response.status(), seed.status);
    }
    // The sandbox client checks requests against the catalog; this one goes out anyway.
    let refused = wxpay.seg("v3").seg("nowhere").get().build().unwrap_err();
    assert!(refused.to_string().contains("catalog"), "{refused}");
    let error = wxpay
        .seg("v3")
        .seg("nowhere")
        .get()
        .skip_check()
        .send()
        .unwrap_err();
    assert_eq!(error.api_code(), Some("NOT_FOUND"));
    sandbox.fault(Fault::TamperBody);
    let error = wxpay.chain("v3/certificates").get().send().unwrap_err();
    assert!(error.is_verification());
}

#[tokio::test]
async fn the_blocking_client_refuses_to_block_an_async_runtime() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = wechatpay::blocking::Wechatpay::new(sandbox.client()).unwrap();
    let error = wxpay.chain("v3/certificates").get().send().unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains("async"), "{error}");
    drop(wxpay); // dropping its runtime here must not panic
}

/// Issues `n` requests at once and waits for all of them to succeed.
async fn burst(wxpay: &wechatpay::Wechatpay, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        tasks.spawn(wxpay.chain("v3/certificates").get().send());
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_bounds_concurrent_requests() {
    let sandbox = Sandbox::start().await.unwrap();
    // Each answer takes 50 ms, so unbounded requests would all overlap.
    sandbox.fault(Fault::Delay(Duration::from_millis(50)));
    let capped = sandbox
        .client_builder()
        .unwrap()
        .max_in_flight(3)
        .build()
        .unwrap();
    burst(&capped, 24).await;
    assert_eq!(
        sandbox.peak_concurrency(),
        3,
        "never more, and the cap is used"
    );

    // Without the cap (the default is 512), the same burst overlaps fully.
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Delay(Duration::from_millis(50)));
    let open = sandbox.client();
    burst(&open, 24).await;
    assert!(
        sandbox.peak_concurrency() > 3,
        "{}",
        sandbox.peak_concurrency()
    );
}

#[tokio::test]
async fn reused_sandbox_signatures_are_identical_and_still_verified() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let nonce_pair = || async {
        let mut nonces = Vec::new();
        for _ in 0..2 {
            let answer = wxpay.chain("v3/certificates").get().await.unwrap();
            nonces.push(answer.headers()["wechatpay-nonce"].clone());
        }
        nonces
    };
    // Off by default: every answer has its own nonce.
    let fresh = nonce_pair().await;
    assert_ne!(fresh[0], fresh[1]);
    // On: identical bodies in the same second share the signature. The certificate answer
    // encrypts with a random nonce, so use a fixed-body route.
    sandbox.reuse_signatures(true);
    let seed = &seeds()[2];
    let mut signatures = std::collections::HashSet::new();
    for _ in 0..5 {
        let answer = wxpay
            .chain(seed.template)
            .post(&seed.body)
            .param("out_order_no", OUT_ORDER_NO)
            .await
            .unwrap();
        signatures.insert(answer.headers()["wechatpay-signature"].clone());
    }
    // Five answers within at most two seconds: at most two signatures.
    assert!(signatures.len() <= 2, "{}", signatures.len());
    // A fault turns reuse off, and the client still rejects what it must.
    sandbox.fault(Fault::TamperBody);
    let error = wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap_err();
    assert!(error.is_verification());
}

#[tokio::test]
async fn a_failed_tls_handshake_is_a_tls_error() {
    // Answers the ClientHello with plain HTTP, which no TLS client accepts.
    let url = raw_server(|mut stream| async move {
        let _ = stream
            .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
            .await;
    })
    .await
    .replace("http://", "https://");
    let wxpay = raw_client(url).no_backup().build().unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::Tls,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_connect(), "the request never reached a server");
}

/// A port on 127.0.0.1 where nothing listens (bound, learned, closed).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// The error and its sources, each `Display` once, as `{error:#}`-style printers show them.
fn chain_of(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = Some(error);
    while let Some(e) = current {
        lines.push(e.to_string());
        current = e.source();
        assert!(lines.len() < 16, "an error chain this long is a cycle");
    }
    lines
}

#[tokio::test]
async fn a_connect_error_names_the_host_and_port_and_prints_each_cause_once() {
    let port = closed_port();
    let wxpay = raw_client(format!("http://127.0.0.1:{port}/"))
        .no_backup()
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    let lines = chain_of(&error);
    assert_eq!(
        lines[0],
        format!("could not connect to 127.0.0.1:{port} (refused)"),
        "{lines:?}"
    );
    assert!(
        lines.len() >= 3,
        "the cause is kept as the source: {lines:?}"
    );
    // Each layer says only its own part: no line repeats another, or contains the next.
    for (i, line) in lines.iter().enumerate() {
        for later in &lines[i + 1..] {
            assert!(
                line != later && !line.contains(later.as_str()),
                "`{line}` repeats `{later}` in {lines:?}"
            );
        }
    }
    assert!(
        matches!(&error, Error::Transport { host: Some(h), .. } if *h == format!("127.0.0.1:{port}"))
    );
}

#[tokio::test]
async fn a_timeout_names_the_host_and_covers_the_failover_too() {
    // The primary refuses; the backup accepts and never answers. One total timeout holds
    // across both attempts.
    let silent = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(stream);
    })
    .await;
    let wxpay = raw_client(format!("http://127.0.0.1:{}/", closed_port()))
        .backup_base_url(silent.clone())
        .timeouts(short(400))
        .build()
        .unwrap();
    let started = Instant::now();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    let took = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(took < Duration::from_millis(440), "took {took:?}");
    let backup_host = silent
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    assert!(error.to_string().contains(&backup_host), "{error}");
}

#[tokio::test]
async fn the_wire_carries_exactly_the_signed_body_with_its_own_content_length() {
    // Whatever the caller tries, Content-Length is the client's, and the server reads the
    // exact bytes that were signed.
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut bytes = Vec::new();
        let mut buf = [0u8; 4096];
        // Read until the headers and a body as long as Content-Length say are in.
        for _ in 0..64 {
            let Ok(n) = stream.read(&mut buf).await else {
                return;
            };
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
            if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if bytes.len() >= end + 4 + length {
                    break;
                }
            }
        }
        let _ = stream
            .write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
            .await;
        let _ = seen_tx.send(bytes).await;
    });
    let wxpay = raw_client(url).build().unwrap();
    let body = br#"{"mchid":"1900000001"}"#; // 22 bytes

    for (name, value) in [
        ("Content-Length", "5"),
        ("Content-Length", "0"),
        ("Transfer-Encoding", "chunked"),
    ] {
        let refused = wxpay
            .chain("v3/pay/transactions/id/{id}")
            .request(http::Method::POST)
            .body(body.to_vec())
            .param("id", "1")
            .header(name, value)
            .send()
            .await
            .unwrap_err();
        assert!(matches!(refused, Error::Request { .. }), "{refused:?}");
    }

    // The answer is unsigned, so the client refuses it; what matters is what was sent.
    let signed = wxpay
        .chain("v3/pay/transactions/id/{id}")
        .request(http::Method::POST)
        .body(body.to_vec())
        .param("id", "1")
        .timestamp(common::TIMESTAMP)
        .nonce(common::NONCE)
        .build()
        .unwrap();
    let _ = wxpay
        .chain("v3/pay/transactions/id/{id}")
        .request(http::Method::POST)
        .body(body.to_vec())
        .param("id", "1")
        .timestamp(common::TIMESTAMP)
        .nonce(common::NONCE)
        .send()
        .await;
    let wire = seen_rx.recv().await.unwrap();
    let end = wire.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&wire[..end]).to_ascii_lowercase();
    let lengths: Vec<&str> = head
        .lines()
        .filter_map(|l| l.strip_prefix("content-length:"))
        .map(str::trim)
        .collect();
    assert_eq!(lengths, ["22"], "{head}");
    assert!(!head.contains("transfer-encoding"), "{head}");
    assert_eq!(&wire[end + 4..], body);
    // And those bytes are what the signature covers.
    let auth = authorization(&signed);
    let message = signed_message(&signed, auth.timestamp, &auth.nonce_str);
    assert!(message.ends_with(b"\n{\"mchid\":\"1900000001\"}\n"));
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &auth.signature)
            .unwrap();
    let key =
        wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    assert!(key.public_key().verify(&message, &signature));
}
