//! Loading keys and certificates: every accepted form, clear errors for the others,
//! and no key material in any Debug or Display.

mod common;

use common::fixture;
use wechatpay::{sandbox, Certificate, Error, PrivateKey, PublicKey, Wechatpay};

fn key_message(error: Error) -> String {
    match &error {
        Error::Key { message, .. } => message.clone(),
        other => panic!("expected a key error, got {other:?}"),
    }
}

#[test]
fn pkcs8_and_pkcs1_private_keys_are_the_same_key() {
    let pkcs8 = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let pkcs1 = PrivateKey::from_pem(&fixture("keys/merchant_key_pkcs1.pem")).unwrap();
    assert_eq!(pkcs8.public_key(), pkcs1.public_key());
    assert_eq!(pkcs8.bits(), 2048);
    // PKCS#1 v1.5 is deterministic: both forms sign identically.
    assert_eq!(pkcs8.sign(b"m").unwrap(), pkcs1.sign(b"m").unwrap());
}

#[test]
fn public_keys_load_from_spki_pkcs1_and_certificates() {
    let from_private = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)
        .unwrap()
        .public_key()
        .clone();
    let spki = PublicKey::from_pem(&fixture("keys/merchant_pub_spki.pem")).unwrap();
    let pkcs1 = PublicKey::from_pem(&fixture("keys/merchant_pub_pkcs1.pem")).unwrap();
    let cert = PublicKey::from_pem(sandbox::MERCHANT_CERTIFICATE_PEM).unwrap();
    assert_eq!(spki, from_private);
    assert_eq!(pkcs1, from_private);
    assert_eq!(cert, from_private);
    assert_eq!(PublicKey::from_pem(&spki.to_pem()).unwrap(), spki);
}

#[test]
fn certificate_serials_are_uppercase_hex_without_the_sign_byte() {
    let platform = Certificate::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM).unwrap();
    // `openssl x509 -serial` prints 9F3A…; the DER INTEGER is 00 9F 3A … (21 bytes).
    assert_eq!(
        platform.serial(),
        "9F3A5C7E1B2D4F6081A3C5E7092B4D6F8091A2B3"
    );
    let merchant = Certificate::from_pem(sandbox::MERCHANT_CERTIFICATE_PEM).unwrap();
    assert_eq!(merchant.serial(), sandbox::MERCHANT_SERIAL);
    assert!(platform.not_before() < platform.not_after());
    assert!(platform.subject().contains("Tenpay.com"));
    assert_eq!(
        Certificate::from_pem(&platform.to_pem()).unwrap().der(),
        platform.der()
    );
}

#[test]
fn the_wrong_pem_says_what_was_expected_and_what_was_found() {
    let message = key_message(PrivateKey::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM).unwrap_err());
    assert!(
        message.contains("PRIVATE KEY") && message.contains("found `CERTIFICATE`"),
        "{message}"
    );

    let message = key_message(PublicKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap_err());
    assert!(
        message.contains("PUBLIC KEY") && message.contains("found `PRIVATE KEY`"),
        "{message}"
    );

    let message = key_message(Certificate::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap_err());
    assert!(
        message.contains("`CERTIFICATE`") && message.contains("found `PUBLIC KEY`"),
        "{message}"
    );

    let message = key_message(PrivateKey::from_pem("").unwrap_err());
    assert!(message.contains("empty"), "{message}");

    let message = key_message(PrivateKey::from_pem("apiclient_key.pem").unwrap_err());
    assert!(message.contains("no PEM block"), "{message}");
}

#[test]
fn non_rsa_and_short_keys_are_refused() {
    let message = key_message(PrivateKey::from_pem(&fixture("keys/ec_key.pem")).unwrap_err());
    assert!(message.contains("RSA"), "{message}");
    let message = key_message(PublicKey::from_pem(&fixture("keys/ec_pub.pem")).unwrap_err());
    assert!(
        message.contains("RSA") && message.contains("1.2.840.10045.2.1"),
        "{message}"
    );
    let message = key_message(PrivateKey::from_pem(&fixture("keys/rsa1024_key.pem")).unwrap_err());
    assert!(message.contains("2048"), "{message}");
}

#[test]
fn file_errors_name_the_path() {
    let message = key_message(PrivateKey::from_pem_file("/no/such/apiclient_key.pem").unwrap_err());
    assert!(message.contains("/no/such/apiclient_key.pem"), "{message}");
    let wrong = format!(
        "{}/tests/fixtures/keys/ec_pub.pem",
        env!("CARGO_MANIFEST_DIR")
    );
    let message = key_message(PrivateKey::from_pem_file(&wrong).unwrap_err());
    assert!(
        message.contains("ec_pub.pem") && message.contains("found `PUBLIC KEY`"),
        "{message}"
    );
    let key = PublicKey::from_pem_file(format!(
        "{}/tests/fixtures/keys/merchant_pub_pkcs1.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert_eq!(key.bits(), 2048);
}

#[test]
fn no_debug_or_display_shows_key_material() {
    let pem = sandbox::MERCHANT_PRIVATE_KEY_PEM;
    // Any 16-character run of the key's base64 body would betray it.
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let runs: Vec<&str> = (0..body.len() - 16)
        .step_by(16)
        .map(|i| &body[i..i + 16])
        .collect();
    let key = PrivateKey::from_pem(pem).unwrap();
    let client = Wechatpay::builder()
        .mchid("1900000001")
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(key.clone())
        .apiv3_key(sandbox::APIV3_KEY)
        .build()
        .unwrap();
    let builder = Wechatpay::builder()
        .private_key(key.clone())
        .apiv3_key(sandbox::APIV3_KEY);
    let apiv3 = wechatpay::Apiv3Key::new(sandbox::APIV3_KEY).unwrap();
    let texts = [
        format!("{key:?}"),
        format!("{client:?}"),
        format!("{builder:?}"),
        format!("{apiv3:?}"),
        format!("{:?}", client.chain("v3/x").get()),
    ];
    for text in &texts {
        for run in &runs {
            assert!(!text.contains(run), "key material in {text}");
        }
        assert!(!text.contains(sandbox::APIV3_KEY), "APIv3 key in {text}");
        assert!(!text.contains("PRIVATE KEY"), "{text}");
    }
    assert!(texts[0].contains("public_sha256"), "{}", texts[0]);
    // A bad APIv3 key's error gives its length, not the key.
    let error = wechatpay::Apiv3Key::new("short-secret").unwrap_err();
    assert!(!error.to_string().contains("short-secret") && error.to_string().contains("12"));
}

#[test]
fn the_builder_names_the_missing_setting() {
    let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let cases: Vec<(wechatpay::WechatpayBuilder, &str)> = vec![
        (Wechatpay::builder(), ".mchid("),
        (Wechatpay::builder().mchid("19x"), "digits"),
        (Wechatpay::builder().mchid("1900000001"), ".serial("),
        (
            Wechatpay::builder().mchid("1900000001").serial("zz"),
            "hexadecimal",
        ),
        (
            Wechatpay::builder().mchid("1900000001").serial("AB"),
            ".private_key(",
        ),
        (
            Wechatpay::builder()
                .mchid("1900000001")
                .serial("AB")
                .private_key(key.clone()),
            "no platform key",
        ),
        (
            Wechatpay::builder()
                .mchid("1900000001")
                .serial("AB")
                .private_key(key.clone())
                .platform_key("not-an-id", key.public_key().clone()),
            "PUB_KEY_ID_",
        ),
        (
            Wechatpay::builder()
                .mchid("1900000001")
                .serial("AB")
                .private_key(key.clone())
                .apiv3_key(sandbox::APIV3_KEY)
                .base_url("http://api.mch.weixin.qq.com/"),
            "https",
        ),
    ];
    for (builder, expected) in cases {
        let error = builder.build().unwrap_err();
        assert!(matches!(error, Error::Config { .. }), "{error:?}");
        assert!(error.to_string().contains(expected), "{expected}: {error}");
    }
}
