//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use wechatpay::Wechatpay;

/// The signature inputs every snapshot fixes (the example values of the APIv3 docs).
pub const TIMESTAMP: u64 = 1554208460;
pub const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";
pub const OUT_ORDER_NO: &str = "1234323JKHDFE1243252";

/// Snapshots live in the top-level `snapshots/` directory.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(true);
    settings
}

/// The sandbox credentials at the production base URL (nothing is sent).
pub fn offline() -> Wechatpay {
    wechatpay::sandbox::offline_client().expect("the sandbox keys parse")
}

/// A client for `sandbox` that trusts exactly one platform key, `key` under `id` (the
/// sandbox's own client trusts its certificate key).
pub fn trusting_only(
    sandbox: &wechatpay::sandbox::Sandbox,
    id: &str,
    key: wechatpay::PublicKey,
) -> Wechatpay {
    Wechatpay::builder()
        .mchid(sandbox.merchant_id())
        .serial(sandbox.merchant_serial())
        .private_key(sandbox.merchant_key().expect("the sandbox keys parse"))
        .platform_key(id, key)
        .base_url(sandbox.base_url())
        .build()
        .expect("a complete configuration")
}

/// One seed endpoint: its template, the JS/PHP chain segments, and the seed's example body.
pub struct Seed {
    pub name: &'static str,
    pub template: &'static str,
    pub segments: &'static [&'static str],
    pub body: Value,
    /// What the sandbox answers: 200 with a body, or 204.
    pub status: u16,
}

pub fn seeds() -> Vec<Seed> {
    vec![
        Seed {
            name: "serviceorder_sync",
            template: "v3/payscore/serviceorder/{out_order_no}/sync",
            segments: &["v3", "payscore", "serviceorder", "_out_order_no_", "sync"],
            body: json!({
                "appid": "wxd678efh567hg6787",
                "service_id": "500001",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091210" },
            }),
            status: 200,
        },
        Seed {
            name: "partner_serviceorder_sync",
            template: "v3/payscore/partner/serviceorder/{out_order_no}/sync",
            segments: &[
                "v3",
                "payscore",
                "partner",
                "serviceorder",
                "_out_order_no_",
                "sync",
            ],
            body: json!({
                "service_id": "2002000000000558128851361561536",
                "sub_mchid": "1900000109",
                "type": "Order_Paid",
                "detail": { "seq": 1, "paid_time": "20091225091210", "paid_amount": 1 },
            }),
            status: 204,
        },
        Seed {
            name: "payafter_orders_sync",
            template: "v3/payscore/payafter-orders/{out_order_no}/sync",
            segments: &["v3", "payscore", "payafterOrders", "_out_order_no_", "sync"],
            body: json!({
                "appid": "wxd678efh567hg6787",
                "service_id": "500001",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091010" },
            }),
            status: 200,
        },
        Seed {
            name: "acquiringbank_serviceorder_sync",
            template: "v3/payscore/acquiringbank/serviceorder/{out_order_no}/sync",
            segments: &[
                "v3",
                "payscore",
                "acquiringbank",
                "serviceorder",
                "_out_order_no_",
                "sync",
            ],
            body: json!({
                "service_id": "2002000000000558128851361561536",
                "sub_mchid": "1900000109",
                "channel_id": "1230000109",
                "type": "Order_Paid",
                "detail": { "paid_time": "20091225091210" },
            }),
            status: 204,
        },
    ]
}

/// The request as text: request line, headers in order, blank line, body. The
/// User-Agent's platform part is generalized so the snapshot holds on every OS.
pub fn render(request: &http::Request<Vec<u8>>) -> String {
    let mut out = format!("{} {}\n", request.method(), request.uri());
    for (name, value) in request.headers() {
        let mut value = value.to_str().expect("ASCII header").to_owned();
        if name == http::header::USER_AGENT {
            let expected = format!(
                "wechatpay-rust/{} ({}/{})",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH
            );
            assert_eq!(value, expected, "the default User-Agent");
            value = "wechatpay-rust/<version> (<os>/<arch>)".into();
        }
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push('\n');
    out.push_str(std::str::from_utf8(request.body()).expect("UTF-8 body"));
    out
}

/// The message the request's signature must cover, rebuilt from the request itself.
pub fn signed_message(request: &http::Request<Vec<u8>>, timestamp: u64, nonce: &str) -> Vec<u8> {
    wechatpay::sign::message(
        request.method().as_str(),
        request
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/"),
        timestamp,
        nonce,
        request.body(),
    )
}

/// The parsed Authorization header.
pub fn authorization(request: &http::Request<Vec<u8>>) -> wechatpay::sign::Authorization {
    let header = request.headers()["authorization"].to_str().expect("ASCII");
    wechatpay::sign::Authorization::parse(header).expect("a well-formed Authorization")
}

pub fn fixture(path: &str) -> String {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}
