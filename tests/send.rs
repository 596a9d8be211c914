//! Sending to the sandbox over real loopback HTTP: the seed endpoints in all three styles,
//! API errors, the platform's own authorization checks, and public-key mode.

mod common;

use common::*;
use serde_json::{json, Value};
use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::{chain, Error, PublicKey};

#[tokio::test]
async fn the_seed_endpoints_answer_in_all_three_styles() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    for seed in seeds() {
        let mut by_segments = wxpay.seg(seed.segments[0]);
        for s in &seed.segments[1..] {
            by_segments = by_segments.seg(s);
        }
        let by_macro = match seed.name {
            "serviceorder_sync" => chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync),
            "partner_serviceorder_sync" => {
                chain!(wxpay.v3.payscore.partner.serviceorder._out_order_no_.sync)
            }
            "payafter_orders_sync" => chain!(wxpay.v3.payscore.payafterOrders._out_order_no_.sync),
            _ => chain!(
                wxpay
                    .v3
                    .payscore
                    .acquiringbank
                    .serviceorder
                    ._out_order_no_
                    .sync
            ),
        };
        for chain in [wxpay.chain(seed.template), by_segments, by_macro] {
            let response = chain
                .post(&seed.body)
                .param("out_order_no", OUT_ORDER_NO)
                .await
                .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
            assert_eq!(response.status(), seed.status, "{}", seed.name);
            assert!(response.request_id().is_some());
            let body: Value = response.json().unwrap();
            if seed.status == 204 {
                assert!(response.bytes().is_empty());
                assert_eq!(body, Value::Null);
            } else {
                assert_eq!(body["out_order_no"], OUT_ORDER_NO, "{}", seed.name);
                assert_eq!(body["mchid"], wechatpay::sandbox::MERCHANT_ID);
                assert!(body["order_id"].is_string());
            }
        }
    }
    // 4 seeds x 3 styles reached the platform, each signed correctly.
    assert_eq!(sandbox.requests().len(), 12);
}

#[tokio::test]
async fn the_serviceorder_answer_has_the_documented_shape() {
    let sandbox = Sandbox::start().await.unwrap();
    let seed = &seeds()[0];
    let body: Value = sandbox
        .client()
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap()
        .json()
        .unwrap();
    for field in [
        "out_order_no",
        "service_id",
        "appid",
        "mchid",
        "service_introduction",
        "state",
        "openid",
        "order_id",
        "post_payments",
        "risk_fund",
        "collection",
        "time_range",
    ] {
        assert!(body.get(field).is_some(), "missing {field}: {body}");
    }
    assert_eq!(
        body["collection"]["details"][0]["paid_time"],
        "20091225091210"
    );
}

#[tokio::test]
async fn non_2xx_answers_become_api_errors_with_code_message_and_request_id() {
    let sandbox = Sandbox::start().await.unwrap();
    // Not strict: these requests are meant to reach the sandbox and be refused there.
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .strict(false)
        .build()
        .unwrap();

    let error = wxpay.chain("v3/no/such/endpoint").get().await.unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(error.api_code(), Some("NOT_FOUND"));
    assert!(error.request_id().is_some());
    assert!(error.to_string().contains("NOT_FOUND"), "{error}");

    // A required field missing from the body: 400 PARAM_ERROR with a detail.
    let error = wxpay
        .chain("v3/payscore/serviceorder/{out_order_no}/sync")
        .post(json!({"appid": "wxd678efh567hg6787", "service_id": "500001", "type": "Order_Paid"}))
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap_err();
    match &error {
        Error::Api(api) => {
            assert_eq!(api.status, 400);
            assert_eq!(api.code.as_deref(), Some("PARAM_ERROR"));
            assert!(api.message.contains("detail"), "{}", api.message);
            assert_eq!(api.detail.as_ref().unwrap()["field"], "detail");
            assert!(api.request_id.is_some());
        }
        other => panic!("expected an API error, got {other:?}"),
    }

    sandbox.fault(Fault::Respond {
        status: http::StatusCode::INTERNAL_SERVER_ERROR,
        body: r#"{"code":"SYSTEM_ERROR","message":"系统错误"}"#.into(),
    });
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(
        error.status(),
        Some(http::StatusCode::INTERNAL_SERVER_ERROR)
    );
    assert_eq!(error.api_code(), Some("SYSTEM_ERROR"));

    // A non-JSON error body still gives a message.
    sandbox.clear_faults();
    sandbox.fault(Fault::Respond {
        status: http::StatusCode::BAD_GATEWAY,
        body: "<html>bad gateway</html>".into(),
    });
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(error.api_code(), None); // the body carried no code
    assert!(error.to_string().contains("bad gateway"), "{error}");
}

#[tokio::test]
async fn the_sandbox_refuses_bad_signatures_like_the_platform() {
    let sandbox = Sandbox::start().await.unwrap();

    // Signed with a key that is not the merchant's.
    let impostor = sandbox
        .client_builder()
        .unwrap()
        .private_key(
            wechatpay::PrivateKey::from_pem(wechatpay::sandbox::PLATFORM_PRIVATE_KEY_PEM).unwrap(),
        )
        .build()
        .unwrap();
    let error = impostor.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::UNAUTHORIZED));
    assert_eq!(error.api_code(), Some("SIGN_ERROR"));

    // A stale timestamp (ten minutes old).
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let error = sandbox
        .client()
        .chain("v3/certificates")
        .get()
        .timestamp(now - 600)
        .await
        .unwrap_err();
    assert_eq!(error.api_code(), Some("SIGN_ERROR"));
    match &error {
        Error::Api(api) => {
            let reason = api.detail.as_ref().unwrap()["reason"].as_str().unwrap();
            assert!(reason.contains("timestamp"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // The wrong merchant certificate serial.
    let wrong_serial = sandbox
        .client_builder()
        .unwrap()
        .serial("ABCDEF")
        .build()
        .unwrap();
    let error = wrong_serial
        .chain("v3/certificates")
        .get()
        .await
        .unwrap_err();
    assert_eq!(error.api_code(), Some("SIGN_ERROR"));

    // None of these reached a route.
    assert!(sandbox.requests().is_empty());
}

#[tokio::test]
async fn hostile_placeholder_values_arrive_intact_in_their_segment() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    for value in ["a/b", "x?y=1#z", "%2F", "a b", "订单号-1", "../x"] {
        let body: Value = wxpay
            .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
            .post(json!({"appid": "wxd678efh567hg6787"}))
            .param("out_order_no", value)
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(body["out_order_no"], value);
    }
}

#[tokio::test]
async fn public_key_mode_gets_answers_signed_by_the_public_key() {
    let sandbox = Sandbox::start().await.unwrap();
    // Only the public key is trusted: answers signed by the certificate key would fail.
    let wxpay = trusting_only(
        &sandbox,
        wechatpay::sandbox::PUBLIC_KEY_ID,
        PublicKey::from_pem(wechatpay::sandbox::PUBLIC_KEY_PEM).unwrap(),
    );
    let response = wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(
        response.headers()["wechatpay-serial"],
        wechatpay::sandbox::PUBLIC_KEY_ID
    );
    let sent = &sandbox.requests()[0];
    assert_eq!(
        sent.headers["wechatpay-serial"],
        wechatpay::sandbox::PUBLIC_KEY_ID
    );
}

#[tokio::test]
async fn unsigned_downloads_pass_but_signed_ones_are_still_checked() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let bill = wxpay
        .chain("v3/billdownload/file")
        .get()
        .query(
            "token",
            "6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNpUdZ7vwV4Y3RaYc-cv6ZOuZx",
        )
        .await
        .unwrap();
    assert!(bill.headers().get("wechatpay-signature").is_none());
    assert!(bill.text().unwrap().contains("1234323JKHDFE1243252"));

    // The same exemption never covers other paths.
    sandbox.fault(Fault::Unsigned);
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_verification(), "{error:?}");
}

#[tokio::test]
async fn debug_prints_follow_one_redaction_policy() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    // A long answer: Debug shows its length and a short prefix, never the whole body.
    let answer = wxpay.chain("v3/certificates").get().await.unwrap();
    let body = std::str::from_utf8(answer.bytes()).unwrap().to_owned();
    let shown = format!("{answer:?}");
    assert!(shown.contains(&format!("{} bytes", body.len())), "{shown}");
    assert!(!shown.contains(&body[60..]), "{shown}");

    // An API error carries its response; its Debug is bounded the same way.
    sandbox.fault(Fault::Respond {
        status: http::StatusCode::BAD_REQUEST,
        body: format!(
            r#"{{"code":"PARAM_ERROR","message":"{}"}}"#,
            "x".repeat(500)
        ),
    });
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    let shown = format!("{error:?}");
    assert!(!shown.contains(&"x".repeat(250)), "{shown}");
    // The signature headers of the answer are not printed either.
    let signature = error.headers().unwrap()["wechatpay-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(!shown.contains(&signature));

    // What was sent: the recorded request hides its Authorization.
    let recorded = &sandbox.requests()[0];
    let authorization = recorded.headers["authorization"].to_str().unwrap();
    let shown = format!("{recorded:?}");
    assert!(!shown.contains(&authorization[40..]), "{shown}");

    // A request builder shows which placeholders it has, not their values.
    let builder = wxpay
        .chain("v3/pay/transactions/id/{transaction_id}")
        .get()
        .param("transaction_id", "4200000001-secret-ish");
    let shown = format!("{builder:?}");
    assert!(
        shown.contains("transaction_id") && !shown.contains("secret-ish"),
        "{shown}"
    );
}
