//! APIv2: interop with wechatpay-axios-plugin and OpenSSL (vectors in tests/fixtures/v2/,
//! made by its make.py), the wire XML, hostile XML, answers, notifications, mutual TLS.
#![cfg(feature = "apiv2")]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::snapshot_settings;
use serde::Serialize;
use serde_json::{json, Value};
use wechatpay::v2::{
    self, answer, endpoint, notify, paysign, sign, sign_request, Apiv2Key, Fields,
    MerchantIdentity, SignType,
};
use wechatpay::{Certificate, Error, VerificationFailure};

const KEY: &str = "exposed_your_key_here_have_risks";
const MERCHANT: &str = "1900000001";

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/v2")
        .join(name)
}

fn read_json(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture(name)).expect("fixture present"))
        .expect("fixture is JSON")
}

fn key() -> Apiv2Key {
    Apiv2Key::new(KEY).unwrap()
}

// ---------------------------------------------------------------------------------------
// Interop: signs and wire XML equal wechatpay-axios-plugin's.

#[test]
fn signs_and_wire_xml_equal_wechatpay_axios_plugin() {
    let vectors = read_json("sign_vectors.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let key = Apiv2Key::new(case["key"].as_str().unwrap()).unwrap();
        let sign_type = SignType::from_field(case["sign_type"].as_str()).unwrap();

        // The crate turns the nested body into the same wire fields axios was given.
        let fields = Fields::from_serialize(&case["input"]).unwrap();
        let wire: Vec<(String, String)> = case["wire_fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| {
                (
                    pair[0].as_str().unwrap().to_owned(),
                    pair[1].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let ours: Vec<(String, String)> = fields
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(ours, wire, "{name}: wire fields");

        let expected = case["sign"].as_str().unwrap();
        assert_eq!(
            sign::sign(&fields, &key, sign_type),
            expected,
            "{name}: sign"
        );

        let mut signed = fields.clone();
        signed.insert("sign", expected);
        let xml = signed.to_xml().unwrap();
        if name == "cdata_end_md5" {
            // axios leaves `]]>` inside one CDATA section, which no parser reads back; the
            // crate splits the section, and the value survives the round trip.
            assert!(v2::xml::decode(case["xml"].as_str().unwrap().as_bytes()).is_err());
            assert_eq!(v2::xml::decode(xml.as_bytes()).unwrap()["attach"], "x]]>y");
        } else {
            assert_eq!(xml, case["xml"].as_str().unwrap(), "{name}: wire XML");
        }

        // And the signed message verifies, both from the fields and from the XML.
        assert_eq!(sign::verify(&signed, &key).unwrap(), sign_type, "{name}");
        let decoded = v2::xml::decode(xml.as_bytes()).unwrap();
        assert_eq!(
            sign::verify_map(&decoded, &key).unwrap(),
            sign_type,
            "{name}"
        );
    }
}

#[test]
fn struct_bodies_keep_their_field_order_on_the_wire() {
    #[derive(Serialize)]
    struct Micropay<'a> {
        mch_id: &'a str,
        appid: &'a str,
        total_fee: u32,
        attach: Option<&'a str>,
        detail: Detail,
    }
    #[derive(Serialize)]
    struct Detail {
        receipt_id: &'static str,
        cost_price: u64,
    }
    let fields = Fields::from_serialize(&Micropay {
        mch_id: MERCHANT,
        appid: "wx2421b1c4370ec43b",
        total_fee: 1,
        attach: None,
        detail: Detail {
            receipt_id: "wx123",
            cost_price: 608800,
        },
    })
    .unwrap();
    let names: Vec<&str> = fields.iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["mch_id", "appid", "total_fee", "detail"]);
    // A nested struct keeps its own order inside the JSON text.
    assert_eq!(
        fields.get("detail"),
        Some(r#"{"receipt_id":"wx123","cost_price":608800}"#)
    );

    for bad in [json!("<xml/>"), json!([1, 2]), json!(null), json!(5)] {
        let error = Fields::from_serialize(&bad).unwrap_err();
        assert!(matches!(error, Error::Request { .. }), "{bad}: {error}");
        assert!(error.to_string().contains("map or struct"), "{error}");
    }
    let error = Fields::from_serialize(&json!({ "bad name": "x" }))
        .unwrap()
        .to_xml()
        .unwrap_err();
    assert!(error.to_string().contains("`bad name`"), "{error}");
}

#[test]
fn notifications_signed_by_axios_are_accepted_and_tampering_is_not() {
    for (file, sign_type) in [
        ("notify_payment_md5.xml", SignType::Md5),
        ("notify_payment_hmac.xml", SignType::HmacSha256),
    ] {
        let body = std::fs::read(fixture(file)).unwrap();
        let paid = notify::payment_notification(&body, &key()).unwrap();
        assert_eq!(paid.sign_type(), sign_type, "{file}");
        assert_eq!(paid.get("out_trade_no"), Some("1409811653"));
        assert_eq!(paid.get("attach"), Some("支付测试 & <备注>"));
        assert!(paid.result().is_ok());
        assert!(!format!("{paid:?}").contains("1409811653"));

        let text = String::from_utf8(body).unwrap();
        let tampered = text.replace("<total_fee>1</total_fee>", "<total_fee>100</total_fee>");
        assert_ne!(tampered, text);
        let error = notify::payment_notification(tampered.as_bytes(), &key()).unwrap_err();
        assert_eq!(
            error.verification_failure(),
            Some(&VerificationFailure::BadSignature)
        );
        let other = Apiv2Key::new("another_key_0123456789abcdefghij").unwrap();
        assert!(notify::payment_notification(text.as_bytes(), &other)
            .unwrap_err()
            .is_verification());
        let unsigned = text
            .split("<sign>")
            .next()
            .map(|head| format!("{head}</xml>"))
            .unwrap();
        assert!(notify::payment_notification(unsigned.as_bytes(), &key())
            .unwrap_err()
            .is_verification());
    }
    let fail = b"<xml><return_code>FAIL</return_code><return_msg>bad</return_msg></xml>";
    let error = notify::payment_notification(fail, &key()).unwrap_err();
    assert!(error.to_string().contains("`FAIL` (bad)"), "{error}");
}

#[test]
fn pay_sign_equals_axios_so_axios_accepts_it() {
    let vectors = read_json("paysign_vectors.json");
    let inputs = &vectors["inputs"];
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    let timestamp: u64 = text(&inputs["timestamp"]).parse().unwrap();
    for sign_type in [SignType::Md5, SignType::HmacSha256] {
        let expected = &vectors["signed"][sign_type.as_str()];
        let jsapi = paysign::jsapi_at(
            &key(),
            &text(&inputs["appId"]),
            &text(&inputs["prepay_id"]),
            sign_type,
            timestamp,
            &text(&inputs["nonce"]),
        );
        assert_eq!(serde_json::to_value(&jsapi).unwrap(), expected["jsapi"]);
        assert!(jsapi.verify(&key()));

        let app = paysign::app_at(
            &key(),
            &text(&inputs["appId"]),
            &text(&inputs["partnerid"]),
            &text(&inputs["prepay_id"]),
            sign_type,
            timestamp,
            &text(&inputs["nonce"]),
        );
        assert_eq!(serde_json::to_value(&app).unwrap(), expected["app"]);
        assert!(app.verify(&key(), sign_type));
        let mut forged = app.clone();
        forged.prepayid.push('0');
        assert!(!forged.verify(&key(), sign_type));
    }
    let fresh = paysign::jsapi(&key(), "wx", "prepay", SignType::Md5).unwrap();
    assert_eq!(fresh.nonce_str.len(), 32);
    assert!(fresh.verify(&key()));
}

#[test]
fn refund_req_info_made_by_openssl_opens() {
    let body = std::fs::read(fixture("notify_refund.xml")).unwrap();
    let refund = notify::refund_notification(&body, &key()).unwrap();
    let plain = std::fs::read(fixture("refund_req_info.plain.xml")).unwrap();
    assert_eq!(refund.info(), &v2::xml::decode(&plain).unwrap());
    assert_eq!(refund.info_field("refund_status"), Some("SUCCESS"));
    assert_eq!(
        refund.info_field("refund_recv_accout"),
        Some("支付用户零钱")
    );
    assert_eq!(refund.fields()["mch_id"], MERCHANT);
    assert!(!refund.fields().contains_key("req_info"));

    let req_info = v2::xml::decode(&body).unwrap()["req_info"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(notify::open_req_info(&req_info, &key()).unwrap(), plain);
    // Encryption is deterministic (ECB), so the crate seals to OpenSSL's very bytes.
    assert_eq!(
        notify::encrypt_req_info(std::str::from_utf8(&plain).unwrap(), &key()),
        req_info
    );
    let other = Apiv2Key::new("another_key_0123456789abcdefghij").unwrap();
    assert!(notify::refund_notification(&body, &other).is_err());
}

#[test]
fn acks_are_the_documented_xml() {
    let ack = notify::ack();
    assert_eq!(
        std::str::from_utf8(ack.body()).unwrap(),
        "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
    );
    let nack = notify::nack("签名失败 <bad>");
    let read = v2::xml::decode(nack.body()).unwrap();
    assert_eq!(read["return_code"], "FAIL");
    assert_eq!(read["return_msg"], "签名失败 <bad>");
}

// ---------------------------------------------------------------------------------------
// The wire: snapshots of whole request bodies.

fn micropay_body() -> Value {
    json!({
        "appid": "wx2421b1c4370ec43b",
        "attach": "订单额外描述",
        "auth_code": "120061098828009406",
        "body": "付款码支付测试",
        "device_info": "1000",
        "goods_tag": "",
        "mch_id": MERCHANT,
        "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        "out_trade_no": "1415757673",
        "spbill_create_ip": "14.17.22.52",
        "total_fee": 1,
        "detail": { "cost_price": 608800, "goods_detail": [{ "goods_id": "1001", "price": 1, "quantity": 1 }] },
        "scene_info": { "store_info": { "id": "SZTX001", "name": "腾讯大厦<南山>" } },
    })
}

/// A client with the sandbox's credentials at the production URL, signing APIv2 with the
/// key of the fixtures, presenting the sandbox merchant's certificate: nothing is sent.
fn v2_client() -> wechatpay::Wechatpay {
    wechatpay::sandbox::offline_client_builder()
        .unwrap()
        .apiv2_key(KEY)
        .merchant_identity(wechatpay::sandbox::merchant_identity().unwrap())
        .build()
        .unwrap()
}

/// The head of a built request as text: method, URI, the headers that say what it is.
fn head(request: &http::Request<Vec<u8>>) -> String {
    let mut out = format!("{} {}\n", request.method(), request.uri());
    for name in ["accept", "content-type"] {
        if let Some(value) = request.headers().get(name) {
            out.push_str(&format!("{name}: {}\n", value.to_str().unwrap()));
        }
    }
    out
}

#[test]
fn micropay_wire_xml_snapshot() {
    // Through the chain, as a caller writes it.
    let request = v2_client()
        .chain("v2/pay/micropay")
        .post(micropay_body())
        .build()
        .unwrap();
    assert_eq!(
        head(&request),
        "POST https://api.mch.weixin.qq.com/pay/micropay\n\
         accept: text/xml, text/plain, application/x-gzip\n\
         content-type: text/xml; charset=utf-8\n"
    );
    assert!(request
        .extensions()
        .get::<wechatpay::transport::MutualTls>()
        .is_none());
    let xml = String::from_utf8(request.body().clone()).unwrap();
    snapshot_settings().bind(|| insta::assert_snapshot!("micropay", xml));
    // The leaf encoder gives the same bytes.
    let body = Fields::from_serialize(&micropay_body()).unwrap();
    let signed = sign_request(&endpoint("v2/pay/micropay"), body, &key(), Some(MERCHANT)).unwrap();
    assert_eq!(signed.to_xml().unwrap(), xml);
    assert_eq!(
        sign::verify_map(&v2::xml::decode(xml.as_bytes()).unwrap(), &key()).unwrap(),
        SignType::Md5
    );
}

#[test]
fn refund_wire_xml_snapshot() {
    let refund = endpoint("v2/secapi/pay/refund");
    assert!(refund.mutual_tls);
    let body = json!({
        "appid": "wx2421b1c4370ec43b",
        "mch_id": MERCHANT,
        "nonce_str": "6cefdb308e1e2e8aabd48cf79e546a02",
        "notify_url": "https://weixin.qq.com/notify/?a=1&b=2",
        "out_refund_no": "1415701182",
        "out_trade_no": "1415757673",
        "refund_desc": "商品已售完",
        "refund_fee": 1,
        "sign_type": "HMAC-SHA256",
        "total_fee": 1,
    });
    let request = v2_client()
        .chain("v2/secapi/pay/refund")
        .post(&body)
        .build()
        .unwrap();
    assert_eq!(
        request.uri(),
        "https://api.mch.weixin.qq.com/secapi/pay/refund"
    );
    // Marked for the connections that present the merchant certificate.
    let mark = request
        .extensions()
        .get::<wechatpay::transport::MutualTls>()
        .expect("a mutual-TLS endpoint");
    assert!(mark.identity().certificate().subject().contains(MERCHANT));
    let xml = String::from_utf8(request.body().clone()).unwrap();
    snapshot_settings().bind(|| insta::assert_snapshot!("secapi_pay_refund", xml));
    let signed = sign_request(
        &refund,
        Fields::from_serialize(&body).unwrap(),
        &key(),
        Some(MERCHANT),
    )
    .unwrap();
    assert_eq!(signed.to_xml().unwrap(), xml);
    assert_eq!(
        sign::verify_map(&v2::xml::decode(xml.as_bytes()).unwrap(), &key()).unwrap(),
        SignType::HmacSha256
    );
}

#[test]
fn get_endpoint_query_snapshot() {
    let entrust = endpoint("v2/papay/entrustweb");
    assert_eq!(entrust.method, v2::Method::Get);
    let request = v2_client()
        .chain("v2/papay/entrustweb")
        .get()
        .query("appid", "wxcbda96de0b165486")
        .query("contract_code", "100000")
        .query("contract_display_account", "微信代扣")
        .query("mch_id", MERCHANT)
        .query("notify_url", "https://weixin.qq.com")
        .query("plan_id", 12535)
        .query("request_serial", 1000)
        .query("timestamp", "1414488825")
        .query("version", "1.0")
        .build()
        .unwrap();
    assert_eq!(request.method(), "GET");
    assert!(request.body().is_empty());
    assert_eq!(request.uri().path(), "/papay/entrustweb");
    let query = request.uri().query().unwrap().to_owned();
    assert!(
        !query.contains("nonce_str"),
        "papay/entrustweb is nonceless"
    );
    snapshot_settings().bind(|| insta::assert_snapshot!("papay_entrustweb_query", query));
    let leaf = Fields::from_serialize(&json!({
        "appid": "wxcbda96de0b165486",
        "contract_code": "100000",
        "contract_display_account": "微信代扣",
        "mch_id": MERCHANT,
        "notify_url": "https://weixin.qq.com",
        "plan_id": 12535,
        "request_serial": 1000,
        "timestamp": "1414488825",
        "version": "1.0",
    }))
    .unwrap();
    let signed = sign_request(&entrust, leaf, &key(), Some(MERCHANT)).unwrap();
    assert_eq!(signed.to_query(), query);
}

// ---------------------------------------------------------------------------------------
// Hostile and broken XML: clear decode errors, fast.

/// Decodes `input` and returns the error message and how long it took (best of 3, so a
/// busy machine does not fail the test).
fn decode_error(input: &[u8]) -> (String, Duration) {
    let mut best = Duration::MAX;
    let mut message = String::new();
    for _ in 0..3 {
        let start = Instant::now();
        let result = v2::xml::decode(input);
        best = best.min(start.elapsed());
        let error = result.expect_err("hostile input must not decode");
        assert!(matches!(error, Error::Decode { .. }), "{error:?}");
        message = error.to_string();
    }
    (message, best)
}

#[test]
fn xxe_billion_laughs_truncation_and_html_fail_fast_and_clearly() {
    let billion_laughs = {
        let mut doc =
            String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
        for i in 1..10 {
            let prev = if i == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", i - 1)
            };
            doc.push_str(&format!(
                " <!ENTITY lol{i} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
        }
        doc.push_str("]>\n<xml><a>&lol9;</a></xml>");
        doc
    };
    // The same attack without a DTD of its own: the references alone, a megabyte of them.
    let undeclared = format!("<xml><a>{}</a></xml>", "&lol9;".repeat(170_000));
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    let wide = format!("<xml>{}</xml>", "<a>1</a>".repeat(20_000));
    let huge = format!("<xml><a>{}</a></xml>", "x".repeat(5 * 1024 * 1024));
    let mut truncated = std::fs::read(fixture("notify_payment_md5.xml")).unwrap();
    truncated.truncate(truncated.len() / 2);

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "XXE (external entity)",
            b"<?xml version=\"1.0\"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><xml><a>&xxe;</a></xml>".to_vec(),
            "DTD",
        ),
        (
            "XXE (external DTD)",
            b"<?xml version=\"1.0\"?><!DOCTYPE xml SYSTEM \"http://127.0.0.1:9/evil.dtd\"><xml><a>1</a></xml>".to_vec(),
            "DTD",
        ),
        (
            "parameter entity",
            b"<!DOCTYPE xml [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/p\"> %p;]><xml/>".to_vec(),
            "DTD",
        ),
        ("billion laughs", billion_laughs.into_bytes(), "DTD"),
        ("undeclared entities", undeclared.into_bytes(), "predefine"),
        ("truncated notification", truncated, "truncated"),
        (
            "HTML error page",
            b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>".to_vec(),
            "HTML page",
        ),
        (
            "HTML without a doctype",
            b"<html><head><meta charset=\"utf-8\"></head><body>Service Unavailable</body></html>".to_vec(),
            "HTML page",
        ),
        ("JSON", br#"{"code":"SYSTEM_ERROR"}"#.to_vec(), "not XML"),
        ("empty", Vec::new(), "empty"),
        ("deep nesting", deep.into_bytes(), "deeper"),
        ("too many elements", wide.into_bytes(), "more than"),
        ("too large", huge.into_bytes(), "limit"),
        ("two roots", b"<xml><a>1</a></xml><xml/>".to_vec(), "second root"),
        ("mismatched tags", b"<xml><a>1</b></xml>".to_vec(), "well-formed"),
        ("processing instruction", b"<?php echo 1; ?><xml/>".to_vec(), "processing instruction"),
        ("not UTF-8", b"<xml><a>\xff\xfe</a></xml>".to_vec(), "UTF-8"),
    ];
    for (name, input, expected) in cases {
        let (message, took) = decode_error(&input);
        assert!(
            message.contains(expected),
            "{name}: expected `{expected}` in `{message}`"
        );
        assert!(
            took < Duration::from_millis(250),
            "{name}: took {took:?} on {} bytes",
            input.len()
        );
        eprintln!("{name}: {} bytes, {took:?}: {message}", input.len());
    }
}

// ---------------------------------------------------------------------------------------
// Answers: each outcome its own result.

fn signed_answer(fields: &[(&str, &str)], sign_type: SignType) -> String {
    let mut fields: Fields = fields.iter().copied().collect();
    let value = sign::sign(&fields, &key(), sign_type);
    fields.insert("sign", value);
    fields.to_xml().unwrap()
}

#[test]
fn answers_are_classified_layer_by_layer() {
    let micropay = endpoint("pay/micropay");
    let ok = signed_answer(
        &[
            ("return_code", "SUCCESS"),
            ("result_code", "SUCCESS"),
            ("transaction_id", "42"),
        ],
        SignType::HmacSha256,
    );
    let read = answer::read_answer(&micropay, ok.as_bytes(), &key())
        .unwrap()
        .unwrap();
    assert_eq!(read.verified_with, Some(SignType::HmacSha256));
    assert_eq!(read.fields["transaction_id"], "42");

    // return_code FAIL: unsigned, reported as the platform's refusal.
    let refused = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[签名错误]]></return_msg></xml>";
    let failure = answer::read_answer(&micropay, refused.as_bytes(), &key())
        .unwrap()
        .unwrap_err();
    assert_eq!(failure.layer, v2::FailureLayer::Return);
    assert_eq!((failure.code(), failure.message()), ("FAIL", "签名错误"));
    assert_eq!(failure.to_string(), "APIv2 return_code FAIL: 签名错误");

    // result_code FAIL with err_code: signed, verified, then reported.
    let declined = signed_answer(
        &[
            ("return_code", "SUCCESS"),
            ("result_code", "FAIL"),
            ("err_code", "USERPAYING"),
            ("err_code_des", "需要用户输入支付密码"),
        ],
        SignType::Md5,
    );
    let failure = answer::read_answer(&micropay, declined.as_bytes(), &key())
        .unwrap()
        .unwrap_err();
    assert_eq!(failure.layer, v2::FailureLayer::Result);
    assert_eq!(failure.code(), "USERPAYING");
    assert!(
        !format!("{failure:?}").contains(&declined[declined.find("<sign>").unwrap() + 6..][..32])
    );

    // A forged decline does not pass for the platform's.
    let forged = declined.replace("USERPAYING", "SYSTEMERROR");
    assert_eq!(
        answer::read_answer(&micropay, forged.as_bytes(), &key())
            .unwrap_err()
            .verification_failure(),
        Some(&VerificationFailure::BadSignature)
    );

    // A bad sign on a success.
    let tampered = ok.replace("<transaction_id>42", "<transaction_id>43");
    assert!(answer::read_answer(&micropay, tampered.as_bytes(), &key())
        .unwrap_err()
        .is_verification());

    // The documented unsigned answers are read without a sign.
    let redpack = b"<xml><return_code>SUCCESS</return_code><result_code>SUCCESS</result_code><send_listid>1</send_listid></xml>";
    let read = answer::read_answer(&endpoint("mmpaymkttransfers/sendredpack"), redpack, &key())
        .unwrap()
        .unwrap();
    assert_eq!(read.verified_with, None);
    assert!(answer::read_answer(&micropay, redpack, &key())
        .unwrap_err()
        .is_verification());

    // An HTML page in place of the answer is a decode error.
    let html = b"<html><body>502 Bad Gateway</body></html>";
    assert!(matches!(
        answer::read_answer(&micropay, html, &key()).unwrap_err(),
        Error::Decode { .. }
    ));

    // The JSON endpoint.
    let token = endpoint("appauth/getaccesstoken");
    let good = br#"{"retcode":0,"retmsg":"ok","access_token":"t","expires_in":7200}"#;
    assert_eq!(
        answer::read_answer(&token, good, &key())
            .unwrap()
            .unwrap()
            .fields["access_token"],
        "t"
    );
    let bad = br#"{"retcode":268447844,"retmsg":"invalid code"}"#;
    let failure = answer::read_answer(&token, bad, &key())
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (failure.code(), failure.message()),
        ("268447844", "invalid code")
    );
}

#[test]
fn downloads_are_bytes_unless_an_xml_error() {
    let bill = "\u{feff}交易时间,公众账号ID,商户号\r\n`2014-11-10 16:33:45,`wx2421b1c4370ec43b,`10000100\r\n";
    assert_eq!(
        answer::read_download(bill.as_bytes()).unwrap().unwrap(),
        bill.as_bytes()
    );
    let gzip = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0];
    assert_eq!(answer::read_download(&gzip).unwrap().unwrap(), gzip);
    let error = b"<xml><return_code>FAIL</return_code><return_msg>invalid bill_date</return_msg><error_code>20001</error_code></xml>";
    let failure = answer::read_download(error).unwrap().unwrap_err();
    assert_eq!(
        (failure.code(), failure.message()),
        ("20001", "invalid bill_date")
    );
    assert!(answer::read_download(b"<html>gateway</html>").is_err());
}

#[test]
fn secrets_never_print() {
    let key = key();
    assert_eq!(format!("{key:?}"), "Apiv2Key(..)");
    let mut fields: Fields = [("mch_id", MERCHANT), ("enc_true_name", "张三")]
        .into_iter()
        .collect();
    fields.insert("sign", sign::sign(&fields, &key, SignType::Md5));
    let debug = format!("{fields:?}");
    assert!(
        !debug.contains("张三") && !debug.contains(fields.get("sign").unwrap()),
        "{debug}"
    );
    let params = paysign::jsapi(&key, "wx", "prepay", SignType::Md5).unwrap();
    assert!(!format!("{params:?}").contains(&params.pay_sign));
    let error = Apiv2Key::new("exposed_your_key_here_have_risk").unwrap_err();
    assert!(!error.to_string().contains("exposed"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Mutual TLS: the merchant certificate from PEM and PKCS#12, presented in a handshake.

/// The PKCS#12 files and a stranger's certificate (tests/fixtures/v2/tls), and the test CA,
/// server and merchant TLS certificates the sandbox serves with (src/sandbox/keys).
fn tls(name: &str) -> PathBuf {
    let published = match name {
        "ca.pem" => Some("tls_ca.pem"),
        "server_cert.pem" => Some("tls_server_cert.pem"),
        "server_key.pem" => Some("tls_server_key.pem"),
        "merchant_cert.pem" => Some("merchant_tls_cert.pem"),
        "merchant_key.pem" => Some("merchant_key.pem"),
        _ => None,
    };
    match published {
        Some(file) => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("src/sandbox/keys")
            .join(file),
        None => fixture("tls").join(name),
    }
}

fn pem_identity() -> MerchantIdentity {
    MerchantIdentity::from_pem_files(tls("merchant_cert.pem"), tls("merchant_key.pem")).unwrap()
}

#[test]
fn the_merchant_identity_loads_from_pem() {
    let pem = pem_identity();
    assert!(pem.certificate().subject().contains(MERCHANT));
    assert_eq!(
        pem.serial(),
        wechatpay::sandbox::merchant_identity().unwrap().serial()
    );
    let mismatched =
        MerchantIdentity::from_pem_files(tls("merchant_cert.pem"), tls("server_key.pem"))
            .unwrap_err();
    assert!(
        mismatched.to_string().contains("does not belong"),
        "{mismatched}"
    );
    let swapped =
        MerchantIdentity::from_pem_files(tls("merchant_key.pem"), tls("merchant_cert.pem"))
            .unwrap_err();
    assert!(matches!(swapped, Error::Key { .. }), "{swapped}");
}

#[cfg(feature = "pkcs12")]
#[test]
fn the_merchant_identity_loads_from_pem_and_both_pkcs12_flavours() {
    let pem = pem_identity();
    let legacy = MerchantIdentity::from_pkcs12_file(tls("merchant_legacy.p12"), MERCHANT).unwrap();
    let modern = MerchantIdentity::from_pkcs12_file(tls("merchant_modern.p12"), MERCHANT).unwrap();
    assert_eq!(legacy.serial(), pem.serial());
    assert_eq!(modern.serial(), pem.serial());
    assert_eq!(legacy.chain(), pem.chain());
    assert!(pem.certificate().subject().contains(MERCHANT));
    // The mutual-TLS key is the merchant's API key, the one that signs APIv3 requests.
    let sandbox_key = wechatpay::sandbox::offline_client().unwrap();
    assert_eq!(
        pem.certificate().public_key().spki_der(),
        sandbox_key.private_key().public_key().spki_der()
    );

    let debug = format!("{legacy:?}");
    assert!(
        debug.contains(pem.serial()) && !debug.contains("PRIVATE"),
        "{debug}"
    );

    let wrong =
        MerchantIdentity::from_pkcs12_file(tls("merchant_legacy.p12"), "1900000002").unwrap_err();
    assert!(wrong.to_string().contains("password is wrong"), "{wrong}");
    assert!(wrong.to_string().contains("merchant_legacy.p12"), "{wrong}");

    let not_p12 = MerchantIdentity::from_pkcs12(b"not a p12 file", MERCHANT).unwrap_err();
    assert!(matches!(not_p12, Error::Key { .. }), "{not_p12}");
}

/// A TLS server on 127.0.0.1 that requires a client certificate from the test CA and
/// answers each connection with the client certificate's length. Serves `connections`
/// connections, then stops.
fn mtls_server(connections: usize) -> (u16, std::thread::JoinHandle<Vec<Result<usize, String>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = rustls_pki_types::CertificateDer::from(
        Certificate::from_pem_file(tls("ca.pem"))
            .unwrap()
            .der()
            .to_vec(),
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    use rustls_pki_types::pem::PemObject;
    let chain = rustls_pki_types::CertificateDer::pem_file_iter(tls("server_cert.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_file(tls("server_key.pem")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut outcomes = Vec::new();
        for _ in 0..connections {
            let (socket, _) = listener.accept().unwrap();
            socket
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            socket
                .set_write_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let connection = rustls::ServerConnection::new(config.clone()).unwrap();
            let mut stream = rustls::StreamOwned::new(connection, socket);
            let mut request = [0u8; 5];
            let outcome = stream
                .read_exact(&mut request)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    let length = stream
                        .conn
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map_or(0, |c| c.len());
                    stream
                        .write_all(format!("{length:05}").as_bytes())
                        .map_err(|e| e.to_string())?;
                    stream.flush().map_err(|e| e.to_string())?;
                    Ok(length)
                });
            outcomes.push(outcome);
        }
        outcomes
    });
    (port, handle)
}

fn exchange(port: u16, config: rustls::ClientConfig) -> Result<String, String> {
    let socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let connection =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| e.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    stream.write_all(b"hello").map_err(|e| e.to_string())?;
    let mut answer = [0u8; 5];
    stream.read_exact(&mut answer).map_err(|e| e.to_string())?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn the_client_config_presents_the_merchant_certificate() {
    let ca = Certificate::from_pem_file(tls("ca.pem")).unwrap();
    // From the platform's kind of file when it can be read, else from the PEM files.
    #[cfg(feature = "pkcs12")]
    let identity =
        MerchantIdentity::from_pkcs12_file(tls("merchant_legacy.p12"), MERCHANT).unwrap();
    #[cfg(not(feature = "pkcs12"))]
    let identity = pem_identity();
    let stranger =
        MerchantIdentity::from_pem_files(tls("stranger_cert.pem"), tls("stranger_key.pem"))
            .unwrap();
    let (port, server) = mtls_server(4);

    // 1. With the merchant certificate: the handshake succeeds and the server sees it.
    let answer = exchange(
        port,
        identity.client_config(std::slice::from_ref(&ca)).unwrap(),
    )
    .unwrap();
    assert_eq!(answer, format!("{:05}", identity.chain()[0].len()));

    // 2. Without any client certificate: the server refuses the handshake.
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls_pki_types::CertificateDer::from(ca.der().to_vec()))
        .unwrap();
    let anonymous = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    assert!(exchange(port, anonymous).is_err());

    // 3. With a certificate from another CA: refused too.
    assert!(exchange(
        port,
        stranger.client_config(std::slice::from_ref(&ca)).unwrap()
    )
    .is_err());

    // 4. Without the test CA, the client does not trust the server (webpki roots only).
    assert!(exchange(port, identity.client_config(&[]).unwrap()).is_err());

    let outcomes = server.join().unwrap();
    assert!(outcomes[0].is_ok(), "{outcomes:?}");
    assert!(outcomes[1..].iter().all(Result::is_err), "{outcomes:?}");
}

#[test]
fn endpoint_table_matches_the_catalog_when_present() {
    // The catalog lives beside the repository; when it is there, every endpoint's mutual-TLS
    // flag must equal its `x-api-cert-required`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/wechatpay-openapi/docs/v2");
    if !root.is_dir() {
        eprintln!("catalog not present at {}; skipped", root.display());
        return;
    }
    let mut seen = 0;
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                let name = path.strip_prefix(&root).unwrap().with_extension("");
                let name = name.to_string_lossy().replace('\\', "/");
                let text = std::fs::read_to_string(&path).unwrap();
                let info = endpoint(&name);
                assert!(info.known, "{name} is missing from the table");
                assert_eq!(
                    info.mutual_tls,
                    text.contains("x-api-cert-required: true"),
                    "{name}"
                );
                assert_eq!(
                    info.method == v2::Method::Get,
                    text.starts_with("get:"),
                    "{name}"
                );
                seen += 1;
            }
        }
    }
    assert_eq!(seen, v2::endpoints::ENDPOINTS.len());
}
