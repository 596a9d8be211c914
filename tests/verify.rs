//! Answer verification against a misbehaving sandbox: each fault must be rejected with
//! its own kind. Every test here fails if verification is switched off, since the
//! sandbox's answers are otherwise well-formed 2xx.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::{Error, VerificationFailure};

async fn failure_with(fault: Fault) -> (Error, Sandbox) {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(fault);
    let seed = &seeds()[0];
    let error = sandbox
        .client()
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .expect_err("a faulty answer must not be accepted");
    (error, sandbox)
}

fn failure(error: &Error) -> &VerificationFailure {
    error
        .verification_failure()
        .unwrap_or_else(|| panic!("expected a verification error, got {error:?}"))
}

#[tokio::test]
async fn a_tampered_body_is_a_bad_signature_and_the_response_is_kept() {
    let (error, _sandbox) = failure_with(Fault::TamperBody).await;
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
    // The server may have acted: status, headers and body stay available.
    assert_eq!(error.status(), Some(http::StatusCode::OK));
    assert!(error.request_id().is_some());
    match &error {
        Error::Verification {
            response: Some(r), ..
        } => assert!(!r.bytes().is_empty()),
        other => panic!("{other:?}"),
    }
    assert!(error.to_string().contains("Request-ID"), "{error}");
}

#[tokio::test]
async fn a_tampered_signature_is_a_bad_signature() {
    let (error, _s) = failure_with(Fault::TamperSignature).await;
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
}

#[tokio::test]
async fn a_tampered_empty_204_answer_is_caught_too() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::TamperBody);
    let seed = &seeds()[1];
    let error = sandbox
        .client()
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
    assert_eq!(error.status(), Some(http::StatusCode::NO_CONTENT));
}

#[tokio::test]
async fn a_skewed_clock_beyond_300_seconds_is_refused_with_both_times() {
    for skew in [301, -301, 3600] {
        let (error, _s) = failure_with(Fault::SkewClock(skew)).await;
        match failure(&error) {
            VerificationFailure::ClockSkew {
                local,
                remote,
                tolerance,
            } => {
                assert_eq!(*tolerance, 300);
                assert!(
                    (remote - local - skew).abs() <= 2,
                    "{local} {remote} {skew}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(error.to_string().contains("300s"), "{error}");
    }
}

#[tokio::test]
async fn a_skew_within_the_window_is_accepted() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::SkewClock(-290));
    let seed = &seeds()[0];
    sandbox
        .client()
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_clock_is_injectable() {
    let sandbox = Sandbox::start().await.unwrap();
    let late = sandbox
        .client_builder()
        .unwrap()
        .clock(|| SystemTime::now() + Duration::from_secs(1000))
        .build()
        .unwrap();
    let error = late.chain("v3/certificates").get().await.unwrap_err();
    assert!(matches!(
        failure(&error),
        VerificationFailure::ClockSkew { .. }
    ));
}

#[tokio::test]
async fn a_probe_signature_is_its_own_kind() {
    let (error, _s) = failure_with(Fault::ProbeSignature).await;
    assert_eq!(failure(&error), &VerificationFailure::Probe);
    assert!(error.to_string().contains("WECHATPAY/SIGNTEST/"), "{error}");
}

#[tokio::test]
async fn each_missing_header_is_named() {
    for name in [
        "Wechatpay-Timestamp",
        "Wechatpay-Nonce",
        "Wechatpay-Signature",
        "Wechatpay-Serial",
    ] {
        let (error, _s) = failure_with(Fault::DropHeader(name.into())).await;
        assert_eq!(
            failure(&error),
            &VerificationFailure::MissingHeader { name }
        );
    }
}

#[tokio::test]
async fn an_unknown_serial_lists_the_configured_ids() {
    let (error, _s) = failure_with(Fault::WrongSerial(
        "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C".into(),
    ))
    .await;
    match failure(&error) {
        VerificationFailure::UnknownSerial { serial, configured } => {
            assert_eq!(serial, "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C");
            assert_eq!(
                configured,
                &[wechatpay::sandbox::PLATFORM_SERIAL.to_owned()]
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(error
        .to_string()
        .contains(wechatpay::sandbox::PLATFORM_SERIAL));
}

#[tokio::test]
async fn an_answer_signed_by_an_untrusted_key_fails_even_under_a_trusted_serial() {
    // The client trusts the public-key-id key under the certificate's serial: the serial
    // matches, the key does not.
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = trusting_only(
        &sandbox,
        wechatpay::sandbox::PLATFORM_SERIAL,
        sandbox.public_key().clone(),
    );
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
}

#[tokio::test]
async fn unsigned_2xx_answers_are_refused() {
    let (error, _s) = failure_with(Fault::Unsigned).await;
    assert!(matches!(
        failure(&error),
        VerificationFailure::MissingHeader { .. }
    ));
}

#[tokio::test]
async fn a_signed_error_answer_is_verified_before_it_is_reported() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Respond {
        status: http::StatusCode::BAD_REQUEST,
        body: r#"{"code":"PARAM_ERROR","message":"x"}"#.into(),
    });
    sandbox.fault(Fault::TamperSignature);
    let error = sandbox
        .client()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::BadSignature);
    assert_eq!(error.status(), Some(http::StatusCode::BAD_REQUEST));
}

#[tokio::test]
async fn verifier_checks_run_in_the_documented_order() {
    // A probe with a stale timestamp and unknown serial reports the probe first.
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::ProbeSignature);
    sandbox.fault(Fault::SkewClock(10_000));
    sandbox.fault(Fault::WrongSerial("ABCD".into()));
    let error = sandbox
        .client()
        .chain("v3/certificates")
        .get()
        .await
        .unwrap_err();
    assert_eq!(failure(&error), &VerificationFailure::Probe);
}
