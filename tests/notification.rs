//! Callback notifications: a handler server on 127.0.0.1 receives notifications the sandbox
//! makes and POSTs, and one built independently from OpenSSL-signed fixtures
//! (`tests/fixtures/notification/make.py`) is checked with a fixed clock.

mod common;

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use wechatpay::sandbox::{self, Fault, NotificationBuilder};
use wechatpay::{
    notify, Error, Notification, PrivateKey, PublicKey, VerificationFailure, Wechatpay,
};

type Received = mpsc::UnboundedReceiver<Result<Notification, Error>>;
/// Whether a verification failure is the one expected.
type Expect = fn(&VerificationFailure) -> bool;

/// A merchant's notify_url: a hyper server on 127.0.0.1 that hands each notification to
/// `wxpay.notification` and answers as the platform expects. Returns its URL and what it
/// received.
async fn handler(wxpay: Wechatpay) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/wxpay/notify", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (wxpay, tx) = (wxpay.clone(), tx.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let (wxpay, tx) = (wxpay.clone(), tx.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let result = wxpay.notification(&parts.headers, &body);
                        let answer = match &result {
                            Ok(notification) => notification.ack(),
                            Err(e) if e.is_verification() => {
                                notify::nack_with_status(StatusCode::UNAUTHORIZED, "签名错误")
                            }
                            Err(e) => notify::nack(&e.to_string()),
                        };
                        let _ = tx.send(result);
                        Ok::<_, Infallible>(answer.map(|b| Full::new(Bytes::from(b))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, rx)
}

async fn next(received: &mut Received) -> Result<Notification, Error> {
    tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("the handler got the notification")
        .expect("the handler is running")
}

fn transaction() -> Value {
    json!({
        "transaction_id": "1217752501201407033233368018",
        "out_trade_no": "1217752501201407033233368018",
        "trade_state": "SUCCESS",
        "amount": { "total": 100, "payer_total": 100, "currency": "CNY", "payer_currency": "CNY" },
        "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
    })
}

#[tokio::test]
async fn a_sandbox_notification_is_posted_verified_decrypted_and_acknowledged() {
    let (url, mut received) = handler(common::offline()).await;
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    let answer = incoming.send(&url).await.unwrap();
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    assert!(answer.body().is_empty());

    let notification = next(&mut received).await.unwrap();
    assert!(notification.id.starts_with("EV-"));
    assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
    assert_eq!(notification.resource_type, "encrypt-resource");
    assert_eq!(notification.summary, "支付成功");
    assert_eq!(notification.original_type, "transaction");
    assert!(notification.create_time.ends_with("+08:00"));
    assert_eq!(notification.resource, transaction());
}

fn failure(error: &Error) -> &VerificationFailure {
    match error {
        Error::Verification {
            failure,
            response: None,
        } => failure,
        other => panic!("expected a notification verification error, got {other:?}"),
    }
}

#[tokio::test]
async fn tampered_stale_probe_and_wrong_serial_notifications_are_refused() {
    let (url, mut received) = handler(common::offline()).await;
    let cases: Vec<(Fault, Expect)> = vec![
        (Fault::TamperBody, |f| {
            *f == VerificationFailure::BadSignature
        }),
        (Fault::TamperSignature, |f| {
            *f == VerificationFailure::BadSignature
        }),
        (Fault::SkewClock(301), |f| {
            matches!(f, VerificationFailure::ClockSkew { tolerance: 300, .. })
        }),
        (Fault::SkewClock(-3600), |f| {
            matches!(f, VerificationFailure::ClockSkew { .. })
        }),
        (Fault::ProbeSignature, |f| *f == VerificationFailure::Probe),
        (
            Fault::WrongSerial("1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C".into()),
            |f| {
                matches!(f, VerificationFailure::UnknownSerial { serial, configured }
                    if serial == "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
                        && configured == &[sandbox::PLATFORM_SERIAL.to_owned()])
            },
        ),
        (Fault::Unsigned, |f| {
            matches!(f, VerificationFailure::MissingHeader { .. })
        }),
    ];
    for (fault, expected) in cases {
        let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", transaction())
            .fault(fault.clone())
            .build()
            .unwrap();
        let answer = incoming.send(&url).await.unwrap();
        assert_eq!(answer.status(), StatusCode::UNAUTHORIZED, "{fault:?}");
        let body: Value = serde_json::from_slice(answer.body()).unwrap();
        assert_eq!(body["code"], "FAIL");
        let error = next(&mut received).await.unwrap_err();
        assert!(expected(failure(&error)), "{fault:?}: {error:?}");
    }
}

#[tokio::test]
async fn each_missing_header_is_named() {
    let wxpay = common::offline();
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", transaction())
            .fault(Fault::DropHeader(name.into()))
            .build()
            .unwrap();
        let error = wxpay
            .notification(&incoming.headers, &incoming.body)
            .unwrap_err();
        assert_eq!(
            failure(&error),
            &VerificationFailure::MissingHeader { name }
        );
    }
}

#[test]
fn a_probe_with_a_stale_time_and_unknown_serial_is_reported_as_a_probe() {
    let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", transaction())
        .fault(Fault::ProbeSignature)
        .fault(Fault::SkewClock(10_000))
        .fault(Fault::WrongSerial("ABCD".into()))
        .build()
        .unwrap();
    let error = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::Probe);
}

// --- the independent fixture ----------------------------------------------------------

fn fixture_headers() -> HeaderMap {
    let map: serde_json::Map<String, Value> =
        serde_json::from_str(&common::fixture("notification/headers.json")).unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in map {
        headers.insert(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
        );
    }
    headers
}

fn fixture_body() -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/notification/body.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// The sandbox credentials with the clock at the fixture's signing time plus `offset`.
fn at_fixture_time(offset: i64) -> Wechatpay {
    let signed_at = fixture_headers()["Wechatpay-Timestamp"]
        .to_str()
        .unwrap()
        .parse::<u64>()
        .unwrap();
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(signed_at.saturating_add_signed(offset));
    Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .platform_key(
            sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .apiv3_key(sandbox::APIV3_KEY)
        .clock(move || now)
        .build()
        .unwrap()
}

#[test]
fn the_openssl_signed_fixture_verifies_and_decrypts_at_its_time() {
    for offset in [0, 299, -299] {
        let notification = at_fixture_time(offset)
            .notification(&fixture_headers(), &fixture_body())
            .unwrap();
        assert_eq!(notification.id, "EV-2018022511223320873");
        assert_eq!(notification.create_time, "2015-05-20T13:29:35+08:00");
        assert_eq!(notification.event_type, "TRANSACTION.SUCCESS");
        assert_eq!(notification.summary, "支付成功");
        let expected: Value =
            serde_json::from_str(&common::fixture("notification/resource.json")).unwrap();
        assert_eq!(notification.resource, expected);
    }
}

#[test]
fn the_fixture_is_stale_by_the_real_clock_and_outside_the_window() {
    for wxpay in [
        common::offline(),
        at_fixture_time(301),
        at_fixture_time(-301),
    ] {
        let error = wxpay
            .notification(&fixture_headers(), &fixture_body())
            .unwrap_err();
        assert!(
            matches!(failure(&error), VerificationFailure::ClockSkew { .. }),
            "{error:?}"
        );
    }
}

#[test]
fn the_fixture_altered_in_one_byte_is_a_bad_signature() {
    let body = fixture_body();
    let at = body
        .windows(4)
        .position(|w| w == b"\xe6\x94\xaf\xe4")
        .expect("the summary 支付成功");
    let mut altered = body.clone();
    altered[at + 2] ^= 1;
    let error = at_fixture_time(0)
        .notification(&fixture_headers(), &altered)
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);

    let mut headers = fixture_headers();
    headers.insert("Wechatpay-Nonce", HeaderValue::from_static("another nonce"));
    let error = at_fixture_time(0)
        .notification(&headers, &body)
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
}

// --- keys and decryption ------------------------------------------------------------

#[test]
fn public_key_signed_notifications_need_the_public_key() {
    let incoming = NotificationBuilder::new("REFUND.SUCCESS", json!({"refund_status": "SUCCESS"}))
        .signed_with_public_key()
        .build()
        .unwrap();
    assert_eq!(incoming.headers["Wechatpay-Serial"], sandbox::PUBLIC_KEY_ID);
    let error = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap_err();
    assert!(matches!(
        failure(&error),
        VerificationFailure::UnknownSerial { .. }
    ));

    let wxpay = Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .platform_key(
            sandbox::PUBLIC_KEY_ID,
            PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM).unwrap(),
        )
        .apiv3_key(sandbox::APIV3_KEY)
        .build()
        .unwrap();
    let notification = wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    assert_eq!(notification.summary, "退款成功");
    assert_eq!(notification.original_type, "refund");
}

#[test]
fn without_the_apiv3_key_a_verified_notification_is_a_config_error() {
    let wxpay = Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .platform_key(
            sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .build()
        .unwrap();
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    let error = wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains(".apiv3_key("), "{error}");
}

#[test]
fn a_wrong_apiv3_key_is_a_crypto_error() {
    let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", transaction())
        .apiv3_key("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap();
    let error = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
}

/// Headers of a correct platform signature over any body (signed here, not by the sandbox).
fn signed(body: &[u8]) -> HeaderMap {
    let timestamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let nonce = "Q0dBRjJGMEQ1NjA0NEE3QUIxQzg0RDY0";
    let key = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM).unwrap();
    let signature = key
        .sign(&wechatpay::verify::message(&timestamp, nonce, body))
        .unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Wechatpay-Timestamp", timestamp.as_str()),
        ("Wechatpay-Nonce", nonce),
        ("Wechatpay-Signature", signature.as_str()),
        ("Wechatpay-Serial", sandbox::PLATFORM_SERIAL),
    ] {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    headers
}

#[test]
fn a_signed_body_that_is_not_the_envelope_is_a_decode_error_naming_what_is_missing() {
    let body = br#"{"id":"EV-1","create_time":"2015-05-20T13:29:35+08:00","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource"}"#;
    let error = common::offline()
        .notification(&signed(body), body)
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let source = std::error::Error::source(&error).unwrap().to_string();
    assert!(source.contains("resource"), "{source}");
}

/// A notification envelope `EV-1` whose resource has this algorithm and ciphertext.
fn envelope(algorithm: &str, ciphertext: &str) -> String {
    json!({
        "id": "EV-1", "create_time": "2015-05-20T13:29:35+08:00", "event_type": "TRANSACTION.SUCCESS",
        "resource_type": "encrypt-resource", "summary": "支付成功",
        "resource": { "algorithm": algorithm, "ciphertext": ciphertext, "nonce": "0123456789ab",
                      "associated_data": "transaction", "original_type": "transaction" },
    })
    .to_string()
}

#[test]
fn another_algorithm_is_named() {
    let body = envelope("AEAD_SM4_GCM", "");
    let error = common::offline()
        .notification(&signed(body.as_bytes()), body.as_bytes())
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("AEAD_SM4_GCM"), "{error}");
}

#[test]
fn a_resource_that_is_not_json_is_a_decode_error() {
    let ciphertext = wechatpay::Apiv3Key::new(sandbox::APIV3_KEY)
        .unwrap()
        .encrypt("transaction", "0123456789ab", b"not json")
        .unwrap();
    let body = envelope("AEAD_AES_256_GCM", &ciphertext);
    let error = common::offline()
        .notification(&signed(body.as_bytes()), body.as_bytes())
        .unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("EV-1"), "{error}");
}

#[test]
fn a_resource_of_another_shape_is_a_decode_error_from_resource_as() {
    let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", "plain text")
        .build()
        .unwrap();
    let notification = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    assert_eq!(notification.resource, "plain text");
    let error = notification.resource_as::<Transaction>().unwrap_err();
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
}

#[derive(Debug, Deserialize)]
struct Transaction {
    out_trade_no: String,
    trade_state: String,
    amount: Amount,
}

#[derive(Debug, Deserialize)]
struct Amount {
    total: u64,
}

#[test]
fn the_resource_reads_as_a_typed_value() {
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    let notification = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    let paid: Transaction = notification.resource_as().unwrap();
    assert_eq!(paid.out_trade_no, "1217752501201407033233368018");
    assert_eq!(paid.trade_state, "SUCCESS");
    assert_eq!(paid.amount.total, 100);
}

#[test]
fn debug_shows_resource_field_names_not_values() {
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    let notification = common::offline()
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    let debug = format!("{notification:?}");
    assert!(
        debug.contains("out_trade_no") && debug.contains("TRANSACTION.SUCCESS"),
        "{debug}"
    );
    assert!(!debug.contains("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"), "{debug}");
}

#[test]
fn the_sandbox_builder_sets_the_details() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let incoming = NotificationBuilder::new("TRANSACTION.SUCCESS", transaction())
        .id("EV-fixed")
        .summary("custom")
        .at(at)
        .nonce("fixednonce")
        .build()
        .unwrap();
    assert_eq!(incoming.headers["Wechatpay-Timestamp"], "1700000000");
    assert_eq!(incoming.headers["Wechatpay-Nonce"], "fixednonce");
    let envelope: Value = serde_json::from_slice(&incoming.body).unwrap();
    assert_eq!(envelope["id"], "EV-fixed");
    assert_eq!(envelope["create_time"], "2023-11-15T06:13:20+08:00");
    assert_eq!(envelope["resource"]["algorithm"], "AEAD_AES_256_GCM");
    assert_eq!(envelope["resource"]["associated_data"], "transaction");
    assert_eq!(envelope["resource"]["nonce"].as_str().unwrap().len(), 12);

    let wxpay = Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .platform_key(
            sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .apiv3_key(sandbox::APIV3_KEY)
        .clock(move || at)
        .build()
        .unwrap();
    let notification = wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    assert_eq!(notification.summary, "custom");
}

// --- answers ----------------------------------------------------------------------------

#[test]
fn ack_and_nack_are_the_answers_the_platform_expects() {
    let ack = notify::ack();
    assert_eq!(ack.status(), StatusCode::NO_CONTENT);
    assert!(ack.body().is_empty());

    let nack = notify::nack("数据库不可用");
    assert_eq!(nack.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(nack.headers()["content-type"], "application/json");
    let body: Value = serde_json::from_slice(nack.body()).unwrap();
    assert_eq!(body, json!({"code": "FAIL", "message": "数据库不可用"}));

    assert_eq!(
        notify::nack_with_status(StatusCode::OK, "x").status(),
        StatusCode::INTERNAL_SERVER_ERROR,
        "a nack can never read as success"
    );
    assert_eq!(
        notify::nack_with_status(StatusCode::BAD_REQUEST, "x").status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_sandbox_posts_to_loopback_http_only() {
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    for url in [
        "http://example.com/notify",
        "https://127.0.0.1/notify",
        "http://10.0.0.1/notify",
        "not a url",
    ] {
        let error = incoming.send(url).await.unwrap_err();
        assert!(matches!(error, Error::Request { .. }), "{url}: {error:?}");
    }
}

#[tokio::test]
async fn an_unreachable_handler_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    drop(listener);
    let incoming = sandbox::notification("TRANSACTION.SUCCESS", transaction()).unwrap();
    let error = incoming.send(&url).await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
}

#[test]
fn extreme_times_are_errors_never_panics() {
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64);
    let error = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .at(far)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("RFC 3339"), "{error}");

    for faults in [
        vec![Fault::SkewClock(i64::MAX)],
        vec![
            Fault::SkewClock(i64::MAX / 2 + 1),
            Fault::SkewClock(i64::MAX / 2 + 1),
        ],
        vec![
            Fault::SkewClock(i64::MIN / 2 - 1),
            Fault::SkewClock(i64::MIN / 2 - 1),
        ],
    ] {
        let mut builder = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}));
        for fault in &faults {
            builder = builder.fault(fault.clone());
        }
        let error = builder.build().unwrap_err();
        assert!(
            error.to_string().contains("SkewClock"),
            "{faults:?}: {error}"
        );
    }

    // A skew that fits is still applied (and fails verification as stale), even one that
    // takes the time to the far past.
    let ancient = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .fault(Fault::SkewClock(i64::MIN))
        .build()
        .unwrap();
    let error = common::offline()
        .notification(&ancient.headers, &ancient.body)
        .unwrap_err();
    assert!(error.is_verification(), "{error}");
    let stale = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .fault(Fault::SkewClock(-400))
        .fault(Fault::SkewClock(-400))
        .build()
        .unwrap();
    let error = common::offline()
        .notification(&stale.headers, &stale.body)
        .unwrap_err();
    assert!(matches!(
        error.verification_failure(),
        Some(wechatpay::VerificationFailure::ClockSkew { .. })
    ));
}

#[tokio::test]
async fn the_sandbox_saturates_skews_that_overflow_instead_of_panicking() {
    let sandbox = wechatpay::sandbox::Sandbox::start().await.unwrap();
    sandbox.fault(Fault::SkewClock(i64::MAX));
    sandbox.fault(Fault::SkewClock(i64::MAX));
    let error = sandbox
        .client()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap_err();
    match error.verification_failure() {
        Some(wechatpay::VerificationFailure::ClockSkew { remote, .. }) => {
            assert_eq!(*remote, i64::MAX)
        }
        other => panic!("expected a clock skew, got {other:?}"),
    }
    // The server is still up.
    sandbox.clear_faults();
    sandbox
        .client()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap();
}
