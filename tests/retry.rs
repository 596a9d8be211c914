//! Retries against the sandbox: what is retried, how each attempt is signed, how long the
//! client waits, and how the total timeout and the budget bound it all.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::*;
use http::StatusCode;
use wechatpay::sandbox::{Fault, RecordedRequest, Sandbox};
use wechatpay::{Error, RetryBudget, RetryPolicy, Timeouts, TransportErrorKind};

/// The waits the client asked for, taken without spending them.
#[derive(Clone, Default)]
struct Waits(Arc<Mutex<Vec<Duration>>>);

impl Waits {
    fn install(&self, builder: wechatpay::WechatpayBuilder) -> wechatpay::WechatpayBuilder {
        let waits = self.clone();
        builder.retry_sleep(move |wait| {
            waits.0.lock().unwrap().push(wait);
            async {}
        })
    }

    fn taken(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

fn auth_of(request: &RecordedRequest) -> wechatpay::sign::Authorization {
    let header = request.headers["authorization"].to_str().unwrap();
    wechatpay::sign::Authorization::parse(header).unwrap()
}

/// The payafter-orders sync POST of the seeds, which the sandbox answers 200.
fn post(wxpay: &wechatpay::Wechatpay) -> wechatpay::RequestBuilder {
    let seed = &seeds()[2];
    wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
}

#[tokio::test]
async fn a_get_through_503_503_200_succeeds_with_three_signatures() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 2,
    });
    let waits = Waits::default();
    let wxpay = waits
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    let answer = wxpay
        .chain("v3/certificates")
        .get()
        .query("offset", 0)
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2), "no real waits");

    let seen = sandbox.requests();
    assert_eq!(seen.len(), 3);
    let auths: Vec<_> = seen.iter().map(auth_of).collect();
    // Three signatures over three different nonces, each verified by the sandbox.
    let nonces: std::collections::HashSet<_> = auths.iter().map(|a| a.nonce_str.clone()).collect();
    assert_eq!(nonces.len(), 3, "{nonces:?}");
    let signatures: std::collections::HashSet<_> =
        auths.iter().map(|a| a.signature.clone()).collect();
    assert_eq!(signatures.len(), 3);
    assert!(seen.iter().all(|r| r.target == "/v3/certificates?offset=0"));
    // Full jitter under a doubling cap: at most 100 ms, then at most 200 ms.
    let taken = waits.taken();
    assert_eq!(taken.len(), 2, "{taken:?}");
    assert!(taken[0] <= Duration::from_millis(100), "{taken:?}");
    assert!(taken[1] <= Duration::from_millis(200), "{taken:?}");
}

#[tokio::test]
async fn a_fixed_nonce_signs_the_first_attempt_only() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::BAD_GATEWAY,
        times: 1,
    });
    let wxpay = Waits::default()
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    wxpay
        .chain("v3/certificates")
        .get()
        .timestamp(now)
        .nonce(NONCE)
        .await
        .unwrap();
    let seen = sandbox.requests();
    assert_eq!(auth_of(&seen[0]).nonce_str, NONCE);
    assert_ne!(
        auth_of(&seen[1]).nonce_str,
        NONCE,
        "a retry never repeats a nonce"
    );
}

#[tokio::test]
async fn a_post_is_not_retried_after_a_5xx_unless_declared_idempotent() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = Waits::default()
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let error = post(&wxpay).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(error.api_code(), Some("SYSTEM_ERROR"));
    assert_eq!(sandbox.requests().len(), 1);

    sandbox.clear_faults();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    post(&wxpay).idempotent().await.unwrap();
    let seen = sandbox.requests();
    assert_eq!(seen.len(), 3);
    // The same body, signed again.
    assert_eq!(seen[1].body, seen[2].body);
    assert_ne!(auth_of(&seen[1]).nonce_str, auth_of(&seen[2]).nonce_str);
}

#[tokio::test]
async fn a_post_that_reached_the_server_and_timed_out_is_sent_exactly_once() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Delay(Duration::from_secs(3)));
    let each = RetryPolicy {
        attempt_timeout: Some(Duration::from_millis(200)),
        ..RetryPolicy::default()
    };
    let wxpay = Waits::default()
        .install(sandbox.client_builder().unwrap())
        .retry(each)
        .build()
        .unwrap();
    let started = Instant::now();
    let error = post(&wxpay).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::AttemptTimeout { after },
                ..
            } if after == Duration::from_millis(200)
        ),
        "{error:?}"
    );
    assert!(error.is_timeout());
    assert!(
        error.to_string().contains("the limit of one attempt"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_millis(600));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sandbox.requests_received(), 1, "the POST went out once");

    // A GET in the same situation may be sent again: three attempts, each cut off.
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert!(error.is_timeout(), "{error:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(sandbox.requests_received(), 1 + 3);
}

#[tokio::test]
async fn a_lost_answer_is_retried_for_a_get_and_not_for_a_post() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = Waits::default()
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    sandbox.fault(Fault::ResetConnection { times: 1 });
    let error = post(&wxpay).await.unwrap_err();
    assert!(
        matches!(
            error,
            Error::Transport {
                kind: TransportErrorKind::Io,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        sandbox.requests().len(),
        1,
        "the sandbox read it, then cut it off"
    );

    sandbox.fault(Fault::ResetConnection { times: 1 });
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(sandbox.requests().len(), 3);
}

#[tokio::test]
async fn a_post_refused_at_connect_is_retried_until_the_server_listens() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .retry(RetryPolicy {
            max_attempts: 20,
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(100),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    sandbox.refuse_connections(Duration::from_millis(300)).await;
    let started = Instant::now();
    post(&wxpay).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(250));
    // Refused attempts never reached it: the one it received is the one it answered.
    assert_eq!(sandbox.requests_received(), 1);
}

#[tokio::test]
async fn too_many_requests_with_retry_after_waits_what_the_platform_asks() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::TOO_MANY_REQUESTS,
        times: 1,
    });
    sandbox.fault(Fault::RetryAfter("1".into()));
    let waits = Waits::default();
    let wxpay = waits
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    let started = Instant::now();
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(waits.taken(), [Duration::from_secs(1)]);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "the injected sleep took no wall time: {:?}",
        started.elapsed()
    );
    assert_eq!(sandbox.requests()[0].target, sandbox.requests()[1].target);

    // An HTTP-date is read against the client's clock.
    sandbox.clear_faults();
    let now = SystemTime::UNIX_EPOCH
        + Duration::from_secs(
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        );
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::TOO_MANY_REQUESTS,
        times: 1,
    });
    sandbox.fault(Fault::RetryAfter(httpdate::fmt_http_date(
        now + Duration::from_secs(3),
    )));
    let waits = Waits::default();
    let fixed = waits
        .install(sandbox.client_builder().unwrap())
        .clock(wechatpay::Clock::fixed(now))
        .build()
        .unwrap();
    fixed.chain("v3/certificates").get().await.unwrap();
    assert_eq!(waits.taken(), [Duration::from_secs(3)]);

    // Longer than the policy allows: the 429 is returned at once.
    sandbox.clear_faults();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::TOO_MANY_REQUESTS,
        times: 1,
    });
    sandbox.fault(Fault::RetryAfter("3600".into()));
    let waits = Waits::default();
    let wxpay = waits
        .install(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(error.api_code(), Some("FREQUENCY_LIMITED"));
    assert!(waits.taken().is_empty());
}

#[tokio::test]
async fn the_total_timeout_holds_across_attempts() {
    let sandbox = Sandbox::start().await.unwrap();
    // Every attempt takes 300 ms and fails: attempts keep coming until the deadline.
    sandbox.fault(Fault::Delay(Duration::from_millis(300)));
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 100,
    });
    let total = Duration::from_secs(1);
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .timeouts(Timeouts {
            connect: Duration::from_millis(500),
            total,
        })
        .retry(RetryPolicy {
            max_attempts: 100,
            base_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(10),
            ..RetryPolicy::default()
        })
        .build()
        .unwrap();
    let started = Instant::now();
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    let took = started.elapsed();
    assert!(error.is_timeout(), "{error:?}");
    assert!(
        took >= total.mul_f64(0.9) && took <= total.mul_f64(1.1),
        "took {took:?} for a total timeout of {total:?}"
    );
    assert!(
        sandbox.requests_received() >= 3,
        "{}",
        sandbox.requests_received()
    );
}

#[tokio::test]
async fn the_budget_caps_retries_when_everything_fails() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::Respond {
        status: StatusCode::SERVICE_UNAVAILABLE,
        body: r#"{"code":"SYSTEM_ERROR","message":"down"}"#.into(),
    });
    let wxpay = Waits::default()
        .install(sandbox.client_builder().unwrap())
        .retry_budget(RetryBudget {
            ratio: 0.1,
            min_per_second: 0,
        })
        .build()
        .unwrap();
    for _ in 0..100 {
        let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    }
    // Without the budget: 300 requests (3 attempts each). With it: 10% extra at most.
    let received = sandbox.requests_received();
    assert!((100..=110).contains(&received), "{received}");
}

#[tokio::test]
async fn retry_settings_are_checked_at_build() {
    let sandbox = Sandbox::start().await.unwrap();
    let zero = RetryPolicy {
        max_attempts: 0,
        ..RetryPolicy::default()
    };
    let error = sandbox
        .client_builder()
        .unwrap()
        .retry(zero)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("at least 1"), "{error}");
    let error = sandbox
        .client_builder()
        .unwrap()
        .retry_budget(RetryBudget {
            ratio: f64::NAN,
            min_per_second: 1,
        })
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("ratio"), "{error}");
    assert_eq!(sandbox.client().retry_policy(), RetryPolicy::default());
}
