//! Pay-sign parameter sets, checked against OpenSSL both ways: the fixtures'
//! signatures were made by `openssl dgst -sha256 -sign` over messages built independently
//! (tests/fixtures/paysign/make.py) and ours must equal them byte for byte; and
//! `openssl dgst -sha256 -verify` accepts signatures made here at test time.

mod common;

use std::io::Write;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use wechatpay::paysign::{self, AppPayParams, JsapiPayParams};
use wechatpay::{sandbox, PrivateKey};

const APPID: &str = "wxd678efh567hg6787";
const PREPAY_ID: &str = "wx201410272009395522657a690389285100";
const TIMESTAMP: u64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

fn expected(name: &str) -> Value {
    serde_json::from_str(&common::fixture(&format!("paysign/{name}.json"))).unwrap()
}

#[test]
fn jsapi_params_equal_the_openssl_fixture_byte_for_byte() {
    let params = common::offline()
        .jsapi_pay_params_with(APPID, PREPAY_ID, TIMESTAMP, NONCE)
        .unwrap();
    assert_eq!(params.message(), common::fixture("paysign/jsapi.msg"));
    assert_eq!(serde_json::to_value(&params).unwrap(), expected("jsapi"));
    let parsed: JsapiPayParams = serde_json::from_value(expected("jsapi")).unwrap();
    assert_eq!(parsed, params);
}

#[test]
fn app_params_equal_the_openssl_fixture_byte_for_byte() {
    let params = common::offline()
        .app_pay_params_with(APPID, PREPAY_ID, TIMESTAMP, NONCE)
        .unwrap();
    assert_eq!(params.message(), common::fixture("paysign/app.msg"));
    assert_eq!(serde_json::to_value(&params).unwrap(), expected("app"));
    let parsed: AppPayParams = serde_json::from_value(expected("app")).unwrap();
    assert_eq!(parsed, params);
}

#[test]
fn the_field_names_are_the_client_sdks_own() {
    let jsapi = serde_json::to_value(
        common::offline()
            .jsapi_pay_params(APPID, PREPAY_ID)
            .unwrap(),
    )
    .unwrap();
    let mut names: Vec<&str> = jsapi
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "appId",
            "nonceStr",
            "package",
            "paySign",
            "signType",
            "timeStamp"
        ]
    );
    assert_eq!(jsapi["signType"], "RSA");

    let app =
        serde_json::to_value(common::offline().app_pay_params(APPID, PREPAY_ID).unwrap()).unwrap();
    let mut names: Vec<&str> = app
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "appid",
            "noncestr",
            "package",
            "partnerid",
            "prepayid",
            "sign",
            "timestamp"
        ]
    );
    assert_eq!(app["package"], "Sign=WXPay");
    assert_eq!(app["partnerid"], sandbox::MERCHANT_ID);
}

#[test]
fn fresh_params_use_the_clock_and_a_random_nonce() {
    let wxpay = common::offline();
    let a = wxpay.jsapi_pay_params(APPID, PREPAY_ID).unwrap();
    let b = wxpay.jsapi_pay_params(APPID, PREPAY_ID).unwrap();
    assert_ne!(a.nonce_str, b.nonce_str);
    assert_eq!(a.nonce_str.len(), 32);
    assert!(a.nonce_str.bytes().all(|c| c.is_ascii_alphanumeric()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(a.time_stamp.parse::<u64>().unwrap().abs_diff(now) <= 5);
    assert!(a.verify(wxpay.private_key().public_key()));
    let app = wxpay.app_pay_params(APPID, PREPAY_ID).unwrap();
    assert!(app.verify(wxpay.private_key().public_key()));
}

/// `openssl dgst -sha256 -verify` with the merchant public key, run at test time.
fn openssl_verifies(message: &str, signature_b64: &str) -> bool {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let sig_path = std::env::temp_dir().join(format!(
        "wechatpay-paysign-{}-{}.sig",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    ));
    let signature =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature_b64).unwrap();
    std::fs::write(&sig_path, signature).unwrap();
    let mut child = Command::new("openssl")
        .args([
            "dgst",
            "-sha256",
            "-verify",
            &format!(
                "{}/tests/fixtures/keys/merchant_pub_spki.pem",
                env!("CARGO_MANIFEST_DIR")
            ),
            "-signature",
        ])
        .arg(&sig_path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl binary is needed by this test (apt-get install openssl)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(message.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&sig_path);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified OK")
}

#[test]
fn openssl_verifies_our_signatures() {
    let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let jsapi = paysign::jsapi(
        &key,
        APPID,
        "wx2811251537338848a7ba7e2d9f8a8b0000",
        1_700_000_000,
        "x7Yq",
    )
    .unwrap();
    assert!(openssl_verifies(&jsapi.message(), &jsapi.pay_sign));
    let app = paysign::app(
        &key,
        APPID,
        "1900000109",
        "wx2811251537338848a7ba7e2d9f8a8b0000",
        1_700_000_000,
        "x7Yq",
    )
    .unwrap();
    assert!(openssl_verifies(&app.message(), &app.sign));
    // And refuses an altered one, so the check above means something.
    let mut altered = app.clone();
    altered.prepayid.push('0');
    assert!(!openssl_verifies(&altered.message(), &app.sign));
}

#[test]
fn verify_refuses_altered_params() {
    let wxpay = common::offline();
    let key = wxpay.private_key().public_key();
    let mut params = wxpay
        .jsapi_pay_params_with(APPID, PREPAY_ID, TIMESTAMP, NONCE)
        .unwrap();
    assert!(params.verify(key));
    params.time_stamp = "1554208461".into();
    assert!(!params.verify(key));
    params.pay_sign = "not base64!".into();
    assert!(!params.verify(key));
}
