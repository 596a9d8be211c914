//! Platform certificates: download, decrypt, verify, and refresh in the background.

mod common;

use std::time::{Duration, Instant};

use http::StatusCode;
use serde_json::json;
use wechatpay::sandbox::{self, Fault, Sandbox};
use wechatpay::{Apiv3Key, Certificate, Error, PublicKey, VerificationFailure, Wechatpay};

/// The merchant's credentials at the sandbox, without any platform key.
fn bare(sandbox: &Sandbox) -> wechatpay::WechatpayBuilder {
    Wechatpay::builder()
        .mchid(sandbox::MERCHANT_ID)
        .serial(sandbox::MERCHANT_SERIAL)
        .private_key(sandbox.merchant_key().unwrap())
        .base_url(sandbox.base_url())
}

fn public_key_mode(sandbox: &Sandbox) -> wechatpay::WechatpayBuilder {
    bare(sandbox)
        .platform_key(
            sandbox::PUBLIC_KEY_ID,
            PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM).unwrap(),
        )
        .apiv3_key(sandbox::APIV3_KEY)
}

fn certificate_requests(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.target == "/v3/certificates")
        .count()
}

/// Waits (at most 5 s) until `done` holds.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn downloads_the_platform_certificate_with_serial_and_validity() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let certificates = wxpay.download_certificates().await.unwrap();
    assert_eq!(certificates.len(), 1);
    let delivered = &certificates[0];
    let expected = Certificate::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM).unwrap();
    assert_eq!(delivered.serial(), sandbox::PLATFORM_SERIAL);
    assert_eq!(delivered.to_pem(), expected.to_pem());
    assert_eq!(delivered.not_before(), expected.not_before());
    assert_eq!(delivered.not_after(), expected.not_after());
    assert_eq!(delivered.public_key(), expected.public_key());
    assert!(delivered.effective_time().ends_with("+08:00"));
    assert!(delivered.expire_time().starts_with("2046-"));
    // Returned, not trusted: the configured plain key is still what the store holds.
    assert_eq!(wxpay.verifier().ids(), [sandbox::PLATFORM_SERIAL]);
    assert_eq!(wxpay.verifier().not_after(sandbox::PLATFORM_SERIAL), None);
}

#[tokio::test]
async fn with_only_the_apiv3_key_the_delivered_certificate_verifies_the_answer() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = bare(&sandbox)
        .apiv3_key(sandbox::APIV3_KEY)
        .build()
        .unwrap();
    let certificates = wxpay.download_certificates().await.unwrap();
    assert_eq!(certificates[0].serial(), sandbox::PLATFORM_SERIAL);
    assert!(wxpay.verifier().ids().is_empty());

    wxpay
        .verifier()
        .add_certificate(certificates[0].certificate());
    wxpay.chain("v3/certificates").get().await.unwrap();
}

#[tokio::test]
async fn in_public_key_mode_the_public_key_verifies_the_download() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = public_key_mode(&sandbox).build().unwrap();
    let certificates = wxpay.download_certificates().await.unwrap();
    assert_eq!(certificates[0].serial(), sandbox::PLATFORM_SERIAL);
    let received = sandbox.requests().pop().unwrap();
    assert_eq!(received.headers["wechatpay-serial"], sandbox::PUBLIC_KEY_ID);
}

#[tokio::test]
async fn without_the_apiv3_key_it_is_a_config_error() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = bare(&sandbox)
        .platform_key(
            sandbox::PLATFORM_SERIAL,
            PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        )
        .build()
        .unwrap();
    let error = wxpay.download_certificates().await.unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    assert!(error.to_string().contains(".apiv3_key("), "{error}");
    assert!(sandbox.requests().is_empty(), "nothing is sent");
}

#[tokio::test]
async fn a_tampered_answer_is_a_verification_error() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::TamperBody);
    let error = sandbox.client().download_certificates().await.unwrap_err();
    assert_eq!(
        error.verification_failure(),
        Some(&VerificationFailure::BadSignature)
    );
    assert_eq!(error.status(), Some(StatusCode::OK));

    // With no key but the delivered certificates, an undecodable answer has no trusted
    // signer: still a verification failure, not a decoding one.
    let apiv3_only = bare(&sandbox)
        .apiv3_key(sandbox::APIV3_KEY)
        .build()
        .unwrap();
    let error = apiv3_only.download_certificates().await.unwrap_err();
    assert!(
        matches!(
            error.verification_failure(),
            Some(VerificationFailure::UnknownSerial { .. })
        ),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stale_or_probe_signed_answer_is_refused() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::SkewClock(600));
    let error = sandbox.client().download_certificates().await.unwrap_err();
    assert!(matches!(
        error.verification_failure(),
        Some(VerificationFailure::ClockSkew { .. })
    ));
    sandbox.clear_faults();
    sandbox.fault(Fault::ProbeSignature);
    let error = sandbox.client().download_certificates().await.unwrap_err();
    assert_eq!(
        error.verification_failure(),
        Some(&VerificationFailure::Probe)
    );
}

#[tokio::test]
async fn a_wrong_apiv3_key_is_a_crypto_error() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .apiv3_key("0123456789abcdef0123456789abcdef")
        .build()
        .unwrap();
    let error = wxpay.download_certificates().await.unwrap_err();
    assert!(matches!(error, Error::Crypto { .. }), "{error:?}");
    assert!(
        error.to_string().contains(sandbox::PLATFORM_SERIAL),
        "{error}"
    );
    assert!(!format!("{error:?}").contains("0123456789abcdef"));
}

/// A `v3/certificates` answer with the sandbox certificate, encrypted as given.
fn listing(serial_no: &str, algorithm: &str) -> String {
    let sealed = Apiv3Key::new(sandbox::APIV3_KEY)
        .unwrap()
        .encrypt(
            "certificate",
            "0123456789ab",
            sandbox::PLATFORM_CERTIFICATE_PEM.as_bytes(),
        )
        .unwrap();
    json!({"data": [{
        "serial_no": serial_no,
        "effective_time": "2026-11-22T17:09:13+08:00",
        "expire_time": "2046-11-17T17:09:13+08:00",
        "encrypt_certificate": {
            "algorithm": algorithm, "nonce": "0123456789ab",
            "associated_data": "certificate", "ciphertext": sealed,
        },
    }]})
    .to_string()
}

async fn download_answering(body: String) -> Error {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::RespondOn {
        path: "v3/certificates".into(),
        status: StatusCode::OK,
        body,
    });
    sandbox.client().download_certificates().await.unwrap_err()
}

#[tokio::test]
async fn another_algorithm_is_named() {
    let error = download_answering(listing(sandbox::PLATFORM_SERIAL, "AEAD_SM4_GCM")).await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(error.to_string().contains("AEAD_SM4_GCM"), "{error}");
}

#[tokio::test]
async fn a_certificate_under_another_serial_is_refused() {
    let error = download_answering(listing(
        "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
        "AEAD_AES_256_GCM",
    ))
    .await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C")
            && text.contains(sandbox::PLATFORM_SERIAL),
        "{text}"
    );
}

#[tokio::test]
async fn an_answer_of_another_shape_is_a_decode_error() {
    let error = download_answering(r#"{"certificates":[]}"#.into()).await;
    assert!(matches!(error, Error::Decode { .. }), "{error:?}");
    assert!(format!("{:?}", std::error::Error::source(&error)).contains("data"));
}

#[tokio::test]
async fn a_404_in_public_key_mode_is_an_api_error() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::RespondOn {
        path: "v3/certificates".into(),
        status: StatusCode::NOT_FOUND,
        body: r#"{"code":"NOT_FOUND","message":"无可用的平台证书"}"#.into(),
    });
    let wxpay = public_key_mode(&sandbox).build().unwrap();
    let error = wxpay.download_certificates().await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(error.api_code(), Some("NOT_FOUND"));
}

// --- auto-refresh ---------------------------------------------------------------------

#[test]
fn auto_refresh_needs_the_apiv3_key_and_an_interval() {
    let builder = || {
        Wechatpay::builder()
            .mchid(sandbox::MERCHANT_ID)
            .serial(sandbox::MERCHANT_SERIAL)
            .private_key(
                wechatpay::PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap(),
            )
            .platform_key(
                sandbox::PUBLIC_KEY_ID,
                PublicKey::from_pem(sandbox::PUBLIC_KEY_PEM).unwrap(),
            )
    };
    let error = builder()
        .auto_refresh_certificates(Duration::from_secs(3600))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains(".apiv3_key("), "{error}");
    let error = builder()
        .apiv3_key(sandbox::APIV3_KEY)
        .auto_refresh_certificates(Duration::ZERO)
        .build()
        .unwrap_err();
    assert!(matches!(error, Error::Config { .. }), "{error:?}");
    // Building never touches the network or needs a runtime.
    builder()
        .apiv3_key(sandbox::APIV3_KEY)
        .auto_refresh_certificates(Duration::from_secs(3600))
        .build()
        .unwrap();
}

#[tokio::test]
async fn auto_refresh_adds_the_platform_certificate_to_the_live_trust_store() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = public_key_mode(&sandbox)
        .auto_refresh_certificates(Duration::from_millis(100))
        .build()
        .unwrap();
    assert_eq!(wxpay.verifier().ids(), [sandbox::PUBLIC_KEY_ID]);
    assert_eq!(
        certificate_requests(&sandbox),
        0,
        "nothing happens at build"
    );

    wxpay.chain("v3/certificates").get().await.unwrap();
    let verifier = wxpay.verifier().clone();
    assert!(
        eventually(|| verifier
            .ids()
            .contains(&sandbox::PLATFORM_SERIAL.to_owned()))
        .await,
        "the certificate was not learned: {:?}",
        verifier.ids()
    );
    assert!(verifier.not_after(sandbox::PLATFORM_SERIAL).is_some());
    // The old key stays, and an answer signed under the certificate now verifies.
    assert!(verifier.ids().contains(&sandbox::PUBLIC_KEY_ID.to_owned()));
    let answer = wxpay
        .chain("v3/certificates")
        .get()
        .header("Wechatpay-Serial", sandbox::PLATFORM_SERIAL)
        .await
        .unwrap();
    assert_eq!(
        answer.headers()["wechatpay-serial"],
        sandbox::PLATFORM_SERIAL
    );
}

#[tokio::test]
async fn auto_refresh_also_starts_from_a_notification() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = public_key_mode(&sandbox)
        .auto_refresh_certificates(Duration::from_millis(100))
        .build()
        .unwrap();
    let incoming = sandbox::NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .signed_with_public_key()
        .build()
        .unwrap();
    wxpay
        .notification(&incoming.headers, &incoming.body)
        .unwrap();
    let verifier = wxpay.verifier().clone();
    assert!(eventually(|| verifier.ids().len() == 2).await);
}

#[tokio::test]
async fn auto_refresh_survives_a_404_and_keeps_trying() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::RespondOn {
        path: "v3/certificates".into(),
        status: StatusCode::NOT_FOUND,
        body: r#"{"code":"NOT_FOUND","message":"无可用的平台证书"}"#.into(),
    });
    let wxpay = public_key_mode(&sandbox)
        .auto_refresh_certificates(Duration::from_millis(50))
        .build()
        .unwrap();
    let seed = &common::seeds()[0];
    let call = || {
        wxpay
            .chain(seed.template)
            .post(&seed.body)
            .param("out_order_no", common::OUT_ORDER_NO)
    };
    call().await.unwrap();
    assert!(eventually(|| certificate_requests(&sandbox) >= 3).await);
    call().await.unwrap();
    assert_eq!(wxpay.verifier().ids(), [sandbox::PUBLIC_KEY_ID]);

    // Once the platform has certificates again, the next round learns them.
    sandbox.clear_faults();
    let verifier = wxpay.verifier().clone();
    assert!(eventually(|| verifier.ids().len() == 2).await);
}

#[tokio::test]
async fn a_client_with_only_the_apiv3_key_verifies_once_refreshed() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = bare(&sandbox)
        .apiv3_key(sandbox::APIV3_KEY)
        .auto_refresh_certificates(Duration::from_millis(100))
        .build()
        .unwrap();
    // The first request starts the refresher but is not held up by it.
    let first = wxpay.chain("v3/certificates").get().await;
    let verifier = wxpay.verifier().clone();
    assert!(eventually(|| !verifier.ids().is_empty()).await);
    if let Err(error) = first {
        assert!(error.is_verification(), "{error:?}");
    }
    wxpay.chain("v3/certificates").get().await.unwrap();
}

#[tokio::test]
async fn the_refresher_stops_with_the_last_client() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = public_key_mode(&sandbox)
        .auto_refresh_certificates(Duration::from_millis(30))
        .build()
        .unwrap();
    let clone = wxpay.clone();
    clone.chain("v3/certificates").get().await.unwrap();
    assert!(eventually(|| certificate_requests(&sandbox) >= 3).await);
    drop(wxpay);
    drop(clone);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let settled = certificate_requests(&sandbox);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(certificate_requests(&sandbox), settled);
}

#[tokio::test]
async fn a_certificate_download_is_retried_through_a_503_like_any_get() {
    let sandbox = wechatpay::sandbox::Sandbox::start().await.unwrap();
    sandbox.fault(wechatpay::sandbox::Fault::FailTimes {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let certificates = sandbox.client().download_certificates().await.unwrap();
    assert_eq!(
        certificates[0].serial(),
        wechatpay::sandbox::PLATFORM_SERIAL
    );
    assert_eq!(sandbox.requests().len(), 2, "the 503, then the answer");
}
