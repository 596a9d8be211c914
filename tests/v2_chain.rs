//! APIv2 through the chain, against the sandbox: the wire, the answers and each of the
//! platform's refusals, mutual TLS, retries, bills, notifications and pay-sign.
#![cfg(feature = "apiv2")]

mod common;

#[allow(dead_code)]
#[path = "../examples/apiv2.rs"]
mod example;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};
use wechatpay::sandbox::{self, Fault, Sandbox};
use wechatpay::transport::{BoxFuture, HttpSend, MutualTls, SendError};
use wechatpay::v2::{self, Apiv2Key, FailureLayer, SignType};
use wechatpay::{chain, Error, RetryPolicy, VerificationFailure};

fn micropay(out_trade_no: &str, total_fee: u64) -> Value {
    json!({
        "appid": "wx2421b1c4370ec43b",
        "mch_id": sandbox::MERCHANT_ID,
        "device_info": "013467007045764",
        "body": "付款码支付测试",
        "out_trade_no": out_trade_no,
        "total_fee": total_fee,
        "spbill_create_ip": "14.17.22.52",
        "auth_code": "120061098828009406",
    })
}

fn refund(out_trade_no: &str, out_refund_no: &str, fee: u64, notify_url: &str) -> Value {
    json!({
        "appid": "wx2421b1c4370ec43b",
        "mch_id": sandbox::MERCHANT_ID,
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "total_fee": fee,
        "refund_fee": fee,
        "notify_url": notify_url,
    })
}

fn sandbox_key() -> Apiv2Key {
    Apiv2Key::new(sandbox::APIV2_KEY).unwrap()
}

// ---------------------------------------------------------------------------------------
// The example program of the README.

#[tokio::test]
async fn the_example_pays_refunds_over_mutual_tls_and_reads_the_notification() {
    let log = example::run().await.unwrap();
    assert_eq!(log.len(), 4, "{log:#?}");
    assert!(log[0].starts_with("paid: \"1415757673\" "), "{}", log[0]);
    assert!(
        log[1].starts_with("refund requested: \"1415701182\" "),
        "{}",
        log[1]
    );
    assert_eq!(
        log[2],
        "notified: refund \"1415701182\" \"SUCCESS\" (handler answered 200 OK)"
    );
    assert_eq!(log[3], "refund queried: \"SUCCESS\"");
}

#[test]
fn the_readme_shows_the_example_as_it_is() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/apiv2.rs");
    let section = readme
        .split("## APIv2")
        .nth(1)
        .expect("the README has an APIv2 section");
    let code = section
        .split("```rust\n")
        .nth(1)
        .and_then(|block| block.split("```").next())
        .expect("a code block");
    for line in code.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            example.contains(line.trim()),
            "README line not in examples/apiv2.rs: {line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The wire.

#[test]
fn three_chain_styles_build_the_same_v2_request() {
    let wxpay = common::offline();
    let body = micropay("1415757673", 1);
    let build = |builder: wechatpay::RequestBuilder| {
        builder
            .nonce("5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
            .build()
            .unwrap()
    };
    let a = build(wxpay.chain("v2/pay/micropay").post(&body));
    let b = build(wxpay.seg("v2").seg("pay").seg("micropay").post(&body));
    let c = build(chain!(wxpay.v2.pay.micropay).post(&body));
    assert_eq!(a.body(), b.body());
    assert_eq!(a.body(), c.body());
    assert_eq!(a.uri(), "https://api.mch.weixin.qq.com/pay/micropay");
    assert_eq!(a.method(), "POST");
    assert_eq!(a.headers()["content-type"], "text/xml; charset=utf-8");
    assert!(!a.headers().contains_key("authorization"));
    assert!(!a.headers().contains_key("wechatpay-serial"));

    // The body is the fields as given, nonce_str added, signed with the APIv2 key.
    let fields = v2::xml::decode(a.body()).unwrap();
    assert_eq!(fields["nonce_str"], "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
    assert_eq!(
        v2::sign::verify_map(&fields, &sandbox_key()).unwrap(),
        SignType::Md5
    );
    // A nonce_str from the CSPRNG when none is fixed; a fresh one each time.
    let fresh = wxpay.chain("v2/pay/micropay").post(&body).build().unwrap();
    let fresh = v2::xml::decode(fresh.body()).unwrap();
    assert_eq!(fresh["nonce_str"].as_str().map(str::len), Some(32));
    assert_ne!(fresh["nonce_str"], fields["nonce_str"]);
}

#[test]
fn the_merchant_id_sign_type_and_settings_are_checked_before_anything_is_sent() {
    let wxpay = common::offline();
    let mut body = micropay("1415757673", 1);
    body["mch_id"] = json!("1230000109");
    let error = wxpay
        .chain("v2/pay/micropay")
        .post(&body)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("1230000109"), "{error}");

    let mut body = micropay("1415757673", 1);
    body["sign_type"] = json!("SHA1");
    let error = wxpay
        .chain("v2/pay/micropay")
        .post(&body)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("SHA1"), "{error}");

    let mut body = micropay("1415757673", 1);
    body["sign_type"] = json!("HMAC-SHA256");
    let request = wxpay.chain("v2/pay/micropay").post(&body).build().unwrap();
    let fields = v2::xml::decode(request.body()).unwrap();
    assert_eq!(
        v2::sign::verify_map(&fields, &sandbox_key()).unwrap(),
        SignType::HmacSha256
    );

    // A client without the APIv2 key, or a mutual-TLS call without the certificate, is a
    // configuration error naming the setting.
    let v3_only = wechatpay::Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(wechatpay::PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap())
        .apiv3_key(sandbox::APIV3_KEY)
        .build()
        .unwrap();
    let error = v3_only
        .chain("v2/pay/micropay")
        .post(micropay("1", 1))
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert!(error.to_string().contains(".apiv2_key("), "{error}");

    let error = wxpay
        .chain("v2/secapi/pay/refund")
        .post(refund("1", "2", 1, ""))
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error}");
    assert!(error.to_string().contains(".merchant_identity("), "{error}");

    // A nonceless endpoint refuses a fixed nonce rather than ignore it.
    let error = wxpay
        .chain("v2/pay/queryexchagerate")
        .post(json!({ "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID, "fee_type": "USD", "date": "20261130" }))
        .nonce("x")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("no nonce_str"), "{error}");
}

#[test]
fn secrets_never_print() {
    let builder = sandbox::offline_client_builder()
        .unwrap()
        .merchant_identity(sandbox::merchant_identity().unwrap());
    let debug = format!("{builder:?}");
    assert!(!debug.contains(sandbox::APIV2_KEY), "{debug}");
    let wxpay = builder.build().unwrap();
    let debug = format!("{wxpay:?}");
    assert!(!debug.contains(sandbox::APIV2_KEY), "{debug}");
    assert!(debug.contains("key: Some(\"..\")"), "{debug}");
    let request = wxpay
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 1));
    assert!(!format!("{request:?}").contains(sandbox::APIV2_KEY));
}

// ---------------------------------------------------------------------------------------
// Answers from the sandbox.

#[tokio::test]
async fn micropay_answers_are_verified_and_read_as_json() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let answer = wxpay
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 88))
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(answer
        .text()
        .unwrap()
        .starts_with("<xml><return_code>SUCCESS</return_code>"));
    let paid: Value = answer.json().unwrap();
    assert_eq!(paid["result_code"], "SUCCESS");
    assert_eq!(paid["out_trade_no"], "1415757673");
    assert_eq!(paid["total_fee"], "88");
    assert!(paid["transaction_id"].as_str().unwrap().starts_with("4200"));

    // The sandbox saw the wire form: `v2/` dropped, the fields as XML, signed.
    let seen = sandbox.requests();
    assert_eq!(seen[0].target, "/pay/micropay");
    let fields = v2::xml::decode(&seen[0].body).unwrap();
    assert!(v2::sign::verify_map(&fields, &sandbox_key()).is_ok());

    // The order is known now, and answers by either id.
    let transaction_id = paid["transaction_id"].as_str().unwrap();
    let queried: Value = wxpay
        .chain("v2/pay/orderquery")
        .post(json!({ "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID, "transaction_id": transaction_id }))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(queried["trade_state"], "SUCCESS");
    assert_eq!(queried["out_trade_no"], "1415757673");
}

#[tokio::test]
async fn each_misbehaviour_gives_its_own_error() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let call = || {
        wxpay
            .chain("v2/pay/micropay")
            .post(micropay("1415757673", 1))
            .send()
    };

    // A wrong sign on the answer.
    sandbox.fault(Fault::V2BadSign);
    let error = call().await.unwrap_err();
    assert_eq!(
        error.verification_failure(),
        Some(&VerificationFailure::BadSignature)
    );
    assert!(error.response().unwrap().text().unwrap().contains("<sign>"));
    sandbox.clear_faults();

    // An answer changed after signing, and one without a sign.
    sandbox.fault(Fault::TamperBody);
    assert!(call().await.unwrap_err().is_verification());
    sandbox.clear_faults();
    sandbox.fault(Fault::Unsigned);
    assert!(call().await.unwrap_err().is_verification());
    sandbox.clear_faults();

    // return_code FAIL: the call was refused; unsigned, so nothing to verify.
    sandbox.fault(Fault::V2ReturnFail("签名错误".into()));
    let error = call().await.unwrap_err();
    let failure = error.apiv2_failure().expect("an APIv2 refusal");
    assert_eq!(failure.layer, FailureLayer::Return);
    assert_eq!(failure.return_msg.as_deref(), Some("签名错误"));
    assert_eq!(error.status(), Some(http::StatusCode::OK));
    assert_eq!(error.api_code(), Some("FAIL"));
    sandbox.clear_faults();

    // result_code FAIL with err_code: signed, verified, then reported.
    sandbox.fault(Fault::V2ResultFail {
        err_code: "USERPAYING".into(),
        err_code_des: "需要用户输入支付密码".into(),
    });
    let error = call().await.unwrap_err();
    let failure = error.apiv2_failure().expect("an APIv2 refusal");
    assert_eq!(failure.layer, FailureLayer::Result);
    assert_eq!(failure.err_code.as_deref(), Some("USERPAYING"));
    assert_eq!(
        failure.err_code_des.as_deref(),
        Some("需要用户输入支付密码")
    );
    assert_eq!(error.api_code(), Some("USERPAYING"));
    assert_eq!(
        error.to_string(),
        "the platform refused the call: APIv2 result_code FAIL, err_code USERPAYING: 需要用户输入支付密码 (Request-ID "
            .to_owned()
            + error.request_id().unwrap()
            + ")"
    );
    let detail = &error.api().unwrap().detail.as_ref().unwrap();
    assert_eq!(detail["err_code"], "USERPAYING");
    assert!(detail.get("sign").is_none());
    sandbox.clear_faults();

    // The sandbox's own checks: another APIv2 key is refused like the platform does.
    let other = sandbox
        .client_builder()
        .unwrap()
        .apiv2_key("another_key_0123456789abcdefghij")
        .build()
        .unwrap();
    let error = other
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 1))
        .await
        .unwrap_err();
    let failure = error.apiv2_failure().unwrap();
    assert!(
        failure
            .return_msg
            .as_deref()
            .unwrap()
            .starts_with("签名错误"),
        "{failure}"
    );

    // A business refusal from state: a payment code that is not one.
    let mut body = micropay("1415757674", 1);
    body["auth_code"] = json!("99");
    let error = wxpay
        .chain("v2/pay/micropay")
        .post(&body)
        .await
        .unwrap_err();
    assert_eq!(error.api_code(), Some("AUTH_CODE_INVALID"));
}

#[tokio::test]
async fn hostile_xml_answers_are_decode_errors_within_milliseconds() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]><xml><return_code>&lol9;</return_code></xml>",
        (1..10)
            .map(|i| format!("<!ENTITY lol{i} \"{}\">", format!("&lol{};", i - 1).repeat(10)))
            .collect::<String>()
            .replace("&lol0;", "&lol;")
    );
    let xxe = "<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><return_code>&xxe;</return_code></xml>";
    for body in [
        laughs.as_str(),
        xxe,
        "<xml><return_code>SUCC",
        "<html><body>502</body></html>",
    ] {
        sandbox.clear_faults();
        sandbox.fault(Fault::Respond {
            status: http::StatusCode::OK,
            body: body.to_owned(),
        });
        let started = Instant::now();
        let error = wxpay
            .chain("v2/pay/micropay")
            .post(micropay("1415757673", 1))
            .await
            .unwrap_err();
        let elapsed = started.elapsed();
        assert!(matches!(error, Error::Decode { .. }), "{body}: {error:?}");
        assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    }
}

#[tokio::test]
async fn retries_sign_each_attempt_with_a_fresh_nonce_str() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .retry_sleep(|_| async {})
        .build()
        .unwrap();
    sandbox.fault(Fault::FailTimes {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let answer = wxpay
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 1))
        .nonce("FIXEDFORTHEFIRSTATTEMPTONLY")
        .idempotent() // out_trade_no makes a micropay safe to send twice
        .await
        .unwrap();
    assert_eq!(answer.json::<Value>().unwrap()["result_code"], "SUCCESS");
    let seen = sandbox.requests();
    assert_eq!(seen.len(), 2);
    let first = v2::xml::decode(&seen[0].body).unwrap();
    let second = v2::xml::decode(&seen[1].body).unwrap();
    assert_eq!(first["nonce_str"], "FIXEDFORTHEFIRSTATTEMPTONLY");
    assert_ne!(first["nonce_str"], second["nonce_str"]);
    assert_ne!(first["sign"], second["sign"]);
    assert!(v2::sign::verify_map(&second, &sandbox_key()).is_ok());

    // Without .idempotent(), a POST that reached the platform is not sent again.
    sandbox.fault(Fault::FailTimes {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let error = wxpay
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 1))
        .retry(RetryPolicy::default())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(sandbox.requests().len(), 3);
}

// ---------------------------------------------------------------------------------------
// Mutual TLS.

/// A layer that drops the mutual-TLS mark, so the default stack sends the very same signed
/// request over its ordinary connections, without the certificate.
#[derive(Debug)]
struct WithoutCertificate(Arc<dyn HttpSend>);

impl HttpSend for WithoutCertificate {
    fn send(
        &self,
        mut request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, SendError>> {
        request.extensions_mut().remove::<MutualTls>();
        self.0.send(request)
    }
}

#[tokio::test]
async fn a_refund_over_mutual_tls_succeeds_and_is_refused_without_the_certificate() {
    let sandbox = Sandbox::start_tls().await.unwrap();
    let wxpay = sandbox.client();
    wxpay
        .chain("v2/pay/micropay")
        .post(micropay("1415757673", 100))
        .await
        .unwrap();

    // With the certificate: the sandbox's TLS saw it, and the refund is made.
    let refunded: Value = wxpay
        .chain("v2/secapi/pay/refund")
        .post(refund("1415757673", "1415701182", 100, ""))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(refunded["out_refund_no"], "1415701182");
    assert!(refunded["refund_id"].as_str().unwrap().starts_with("5000"));

    // The same call without it: the platform's TLS front answers 400.
    let anonymous = sandbox
        .client_builder()
        .unwrap()
        .wrap_http_sender(WithoutCertificate)
        .build()
        .unwrap();
    let error = anonymous
        .chain("v2/secapi/pay/refund")
        .post(refund("1415757673", "1415701183", 1, ""))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::BAD_REQUEST));
    assert_eq!(
        error.api().unwrap().message,
        "400 No required SSL certificate was sent",
        "{error}"
    );

    // A certificate that the sandbox's CA did not issue fails the handshake itself.
    let stranger = v2::MerchantIdentity::from_pem_files(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/v2/tls/stranger_cert.pem"
        ),
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/v2/tls/stranger_key.pem"
        ),
    )
    .unwrap();
    let impostor = sandbox
        .client_builder()
        .unwrap()
        .merchant_identity(stranger)
        .retry(RetryPolicy::none())
        .build()
        .unwrap();
    let error = impostor
        .chain("v2/secapi/pay/refund")
        .post(refund("1415757673", "1415701184", 1, ""))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");

    // Calls that need no certificate go over the ordinary connections, also over TLS.
    anonymous
        .chain("v2/pay/orderquery")
        .post(json!({ "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID, "out_trade_no": "1415757673" }))
        .await
        .unwrap();

    // A mutual-TLS call to a plain-http base URL cannot present anything: refused early.
    let plain = Sandbox::start().await.unwrap();
    let error = plain
        .client_builder()
        .unwrap()
        .merchant_identity(sandbox::merchant_identity().unwrap())
        .build()
        .unwrap()
        .chain("v2/secapi/pay/refund")
        .post(refund("1415757673", "1415701185", 1, ""))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("https://"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Bills, pages, JSON answers.

#[tokio::test]
async fn bills_are_bytes_gunzipped_and_an_xml_error_in_their_place_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let bill = |date: &str, tar_type: Option<&str>| {
        let mut body = json!({ "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID, "bill_date": date, "bill_type": "ALL" });
        if let Some(tar) = tar_type {
            body["tar_type"] = json!(tar);
        }
        wxpay.chain("v2/pay/downloadbill").post(body).send()
    };
    let plain = bill("20261130", None).await.unwrap();
    assert!(plain.text().unwrap().starts_with("交易时间,公众账号ID"));
    let gzip = bill("20261130", Some("GZIP")).await.unwrap();
    assert_eq!(gzip.bytes(), plain.bytes());

    let error = bill("29991231", None).await.unwrap_err();
    assert_eq!(
        error.apiv2_failure().unwrap().return_msg.as_deref(),
        Some("No Bill Exist")
    );
}

#[tokio::test]
async fn get_endpoints_send_the_fields_in_the_query() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let page = wxpay
        .chain("v2/papay/entrustweb")
        .get()
        .query("appid", "wxcbda96de0b165486")
        .query("mch_id", sandbox::MERCHANT_ID)
        .query("plan_id", 12535)
        .query("contract_code", "100000")
        .query("request_serial", 1000)
        .query("contract_display_account", "微信代扣")
        .query("notify_url", "https://weixin.qq.com")
        .query("version", "1.0")
        .query("timestamp", 1414488825)
        .await
        .unwrap();
    assert!(
        page.text().unwrap().contains("accepted"),
        "{:?}",
        page.text()
    );
    let seen = &sandbox.requests()[0];
    assert!(seen
        .target
        .starts_with("/papay/entrustweb?appid=wxcbda96de0b165486&"));
    assert!(seen.target.contains("&sign="));
    assert!(
        !seen.target.contains("nonce_str"),
        "nonceless: {}",
        seen.target
    );
}

// ---------------------------------------------------------------------------------------
// Notifications and pay-sign on the client.

#[test]
fn notifications_and_pay_sign_use_the_clients_key_and_clock() {
    use std::time::SystemTime;
    let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
    let wxpay = sandbox::offline_client_builder()
        .unwrap()
        .clock(wechatpay::Clock::fixed(then))
        .build()
        .unwrap();
    let body = sandbox::v2::payment_notification(json!({
        "appid": "wx2421b1c4370ec43b", "mch_id": sandbox::MERCHANT_ID, "sign_type": "HMAC-SHA256",
        "out_trade_no": "1415757673", "total_fee": 1, "result_code": "SUCCESS",
    }))
    .unwrap();
    let paid = wxpay.v2_notification(body.as_bytes()).unwrap();
    assert_eq!(paid.sign_type(), SignType::HmacSha256);
    assert_eq!(paid.get("out_trade_no"), Some("1415757673"));
    let forged = body.replace("1415757673", "1415757674");
    assert!(wxpay
        .v2_notification(forged.as_bytes())
        .unwrap_err()
        .is_verification());

    let refund = sandbox::v2::refund_notification(
        json!({ "out_refund_no": "1415701182", "refund_status": "SUCCESS" }),
    )
    .unwrap();
    let opened = wxpay.v2_refund_notification(refund.as_bytes()).unwrap();
    assert_eq!(opened.info_field("refund_status"), Some("SUCCESS"));

    let jsapi = wxpay
        .jsapi_pay_params_v2("wxd678efh567hg6787", "wx2014", SignType::Md5)
        .unwrap();
    assert_eq!(jsapi.time_stamp, "1554208460");
    assert!(jsapi.verify(&sandbox_key()));
    let app = wxpay
        .app_pay_params_v2("wxd678efh567hg6787", "wx2014", SignType::HmacSha256)
        .unwrap();
    assert_eq!(app.timestamp, "1554208460");
    assert!(app.verify(&sandbox_key(), SignType::HmacSha256));
}

#[cfg(feature = "pkcs12")]
#[tokio::test]
async fn the_platforms_p12_file_presents_the_same_certificate() {
    let p12 = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/v2/tls/merchant_legacy.p12"
    );
    let sandbox = Sandbox::start_tls().await.unwrap();
    // The password defaults to the merchant id, as on the platform.
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .merchant_p12(p12)
        .build()
        .unwrap();
    assert_eq!(
        wxpay.merchant_identity().unwrap().serial(),
        sandbox::merchant_identity().unwrap().serial()
    );
    wxpay
        .chain("v2/pay/micropay")
        .post(micropay("P12", 1))
        .await
        .unwrap();
    wxpay
        .chain("v2/secapi/pay/refund")
        .post(refund("P12", "P12-R", 1, ""))
        .await
        .unwrap();
    let error = sandbox
        .client_builder()
        .unwrap()
        .merchant_p12_with_password(p12, "not the password")
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("merchant_p12"), "{error}");
    assert!(error.to_string().contains("password is wrong"), "{error}");
}
