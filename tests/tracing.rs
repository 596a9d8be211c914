//! What a `tracing` subscriber sees: one span per request with its fields, events for
//! retries, failovers, verification failures and certificate refreshes, and never a secret.
//! The subscriber is written here (no tracing-subscriber dependency): it keeps every span
//! field, every recorded value and every event as text.

mod common;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::StatusCode;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use wechatpay::sandbox::{self, Fault, Sandbox};
use wechatpay::{PublicKey, RetryPolicy};

/// A span's name and its fields, recorded values merged in.
type SpanFields = (String, HashMap<String, String>);

#[derive(Default)]
struct Captured {
    next: AtomicU64,
    /// Span name and fields by id, with recorded values merged in.
    spans: Mutex<HashMap<u64, SpanFields>>,
    /// Every span, record and event as a line of text.
    text: Mutex<String>,
}

#[derive(Clone, Default)]
struct Capture(Arc<Captured>);

struct Fields<'a>(&'a mut Vec<(String, String)>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().to_owned(), value.to_owned()));
    }
}

impl Capture {
    fn log(&self, line: String) {
        let mut text = self.0.text.lock().unwrap();
        text.push_str(&line);
        text.push('\n');
    }

    fn text(&self) -> String {
        self.0.text.lock().unwrap().clone()
    }

    /// The fields of every span named `name`, in creation order.
    fn spans(&self, name: &str) -> Vec<HashMap<String, String>> {
        let spans = self.0.spans.lock().unwrap();
        let mut found: Vec<_> = spans
            .iter()
            .filter(|(_, (n, _))| n == name)
            .map(|(id, (_, fields))| (*id, fields.clone()))
            .collect();
        found.sort_by_key(|(id, _)| *id);
        found.into_iter().map(|(_, fields)| fields).collect()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.0.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = Vec::new();
        span.record(&mut Fields(&mut fields));
        let mut line = format!("span {}", span.metadata().name());
        for (name, value) in &fields {
            let _ = write!(line, " {name}={value}");
        }
        self.log(line);
        self.0.spans.lock().unwrap().insert(
            id,
            (
                span.metadata().name().to_owned(),
                fields.into_iter().collect(),
            ),
        );
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut fields = Vec::new();
        values.record(&mut Fields(&mut fields));
        let mut line = format!("record {}", span.into_u64());
        for (name, value) in &fields {
            let _ = write!(line, " {name}={value}");
        }
        self.log(line);
        if let Some((_, known)) = self.0.spans.lock().unwrap().get_mut(&span.into_u64()) {
            known.extend(fields);
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Vec::new();
        event.record(&mut Fields(&mut fields));
        let mut line = format!(
            "event {} {}",
            event.metadata().level(),
            event.metadata().target()
        );
        for (name, value) in &fields {
            let _ = write!(line, " {name}={value}");
        }
        self.log(line);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

const ORDER: &str = "PERSONAL-ORDER-4242"; // a placeholder value: personal data
const BODY_SECRET: &str = "BODY-SECRET-7f3a";

#[tokio::test]
async fn a_subscriber_sees_the_span_fields_and_events_and_no_secret() {
    let capture = Capture::default();
    let _guard = tracing::subscriber::set_default(capture.clone());

    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .retry_sleep(|_| async {})
        .build()
        .unwrap();

    // A request retried once (503, then 200), named by a template with a placeholder.
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let mut body = seeds()[2].body.clone();
    body["attach"] = BODY_SECRET.into();
    let answer = wxpay
        .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
        .post(&body)
        .param("out_order_no", ORDER)
        .idempotent()
        .await
        .unwrap();
    let request_id = answer.request_id().unwrap().to_owned();

    let spans = capture.spans("wechatpay.request");
    assert_eq!(spans.len(), 1, "{}", capture.text());
    let span = &spans[0];
    let field = |name: &str| span.get(name).map(String::as_str);
    assert_eq!(field("method"), Some("POST"));
    assert_eq!(
        field("template"),
        Some("v3/payscore/payafter-orders/{out_order_no}/sync")
    );
    let host = sandbox.base_url()[7..].trim_end_matches('/').to_owned();
    assert_eq!(field("host"), Some(host.as_str()));
    assert_eq!(field("attempt"), Some("2"));
    assert_eq!(field("status"), Some("200"));
    assert_eq!(field("request_id"), Some(request_id.as_str()));
    assert!(field("latency_ms").is_some_and(|ms| ms.parse::<u64>().is_ok()));
    let text = capture.text();
    assert!(text.contains("retrying"), "{text}");

    // A verification failure.
    sandbox.fault(Fault::TamperBody);
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_verification());
    sandbox.clear_faults();
    assert!(
        capture.text().contains("failed signature verification"),
        "{}",
        capture.text()
    );

    // A failover.
    let refusing = Sandbox::start().await.unwrap();
    refusing.refuse_connections(Duration::from_secs(30)).await;
    let failing_over = refusing
        .client_builder()
        .unwrap()
        .backup_base_url(sandbox.base_url())
        .build()
        .unwrap();
    failing_over.chain("v3/certificates").get().await.unwrap();
    let text = capture.text();
    assert!(text.contains("failing over"), "{text}");
    assert!(text.contains("cannot be connected to"), "{text}");

    // A certificate refresh: a client in public-key mode learns the certificate.
    let refreshing = wechatpay::Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(sandbox.merchant_key().unwrap())
        .platform_key(
            sandbox::PUBLIC_KEY_ID,
            PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM).unwrap(),
        )
        .apiv3_key(sandbox::APIV3_KEY)
        .auto_refresh_certificates(Duration::from_secs(3600))
        .retry(RetryPolicy::none())
        .base_url(sandbox.base_url())
        .build()
        .unwrap();
    refreshing.chain("v3/certificates").get().await.unwrap();
    for _ in 0..100 {
        if refreshing.verifier().ids().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = capture.text();
    assert!(
        text.contains(&format!(
            "trusting platform certificate {}",
            sandbox::PLATFORM_SERIAL
        )),
        "{text}"
    );

    // No secret anywhere: not the merchant key, the APIv3 key, a signature, the
    // Authorization value, a placeholder value or a body.
    let key_base64: String = sandbox::MERCHANT_PRIVATE_KEY_PEM
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let mut secrets = vec![
        sandbox::APIV3_KEY.to_owned(),
        "WECHATPAY2-SHA256-RSA2048".to_owned(),
        ORDER.to_owned(),
        BODY_SECRET.to_owned(),
    ];
    for chunk in key_base64.as_bytes().chunks(32) {
        secrets.push(String::from_utf8(chunk.to_vec()).unwrap());
    }
    for recorded in sandbox.requests() {
        let header = recorded.headers["authorization"].to_str().unwrap();
        let auth = wechatpay::sign::Authorization::parse(header).unwrap();
        secrets.push(auth.signature);
        secrets.push(auth.nonce_str);
    }
    secrets.push(
        answer.headers()["wechatpay-signature"]
            .to_str()
            .unwrap()
            .to_owned(),
    );
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "`{secret}` leaked into:\n{text}"
        );
    }
    assert!(text.lines().count() > 10, "{text}");
}
