//! The retry budget under an outage: the sandbox answers every request 503 for 5 s while
//! 200 callers keep requests in flight; the extra load is the sandbox's count of attempts
//! over the callers' count of requests. Ignored by default (about 20 s of load); run with
//! `cargo test --release --test outage -- --ignored --nocapture` (BENCHMARKS.md has figures).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::{RetryBudget, Wechatpay};

const OUTAGE: Duration = Duration::from_secs(5);
const CALLERS: usize = 200;

struct Load {
    requests: u64,
    attempts: u64,
}

impl Load {
    fn extra(&self) -> f64 {
        self.attempts as f64 / self.requests as f64 - 1.0
    }
}

/// `CALLERS` callers send GETs back to back for `OUTAGE`, every one answered 503.
async fn outage(
    configure: impl FnOnce(wechatpay::WechatpayBuilder) -> wechatpay::WechatpayBuilder,
) -> Load {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay: Wechatpay = configure(sandbox.client_builder().unwrap())
        .build()
        .unwrap();
    sandbox.fault(Fault::Respond {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        body: r#"{"code":"SYSTEM_ERROR","message":"outage"}"#.into(),
    });
    let requests = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..CALLERS {
        let wxpay = wxpay.clone();
        let requests = Arc::clone(&requests);
        callers.spawn(async move {
            while started.elapsed() < OUTAGE {
                requests.fetch_add(1, Ordering::Relaxed);
                let answer = wxpay.chain("v3/certificates").get().await;
                assert_eq!(
                    answer.unwrap_err().status(),
                    Some(http::StatusCode::SERVICE_UNAVAILABLE)
                );
            }
        });
    }
    while let Some(caller) = callers.join_next().await {
        caller.unwrap();
    }
    Load {
        requests: requests.load(Ordering::Relaxed),
        attempts: sandbox.requests_received(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 20 s load test; run it for BENCHMARKS.md"]
async fn the_retry_budget_bounds_the_extra_load_of_an_outage() {
    let budget = RetryBudget::default();
    // The floor allows min_per_second retries per second over the 10 s window, whatever
    // the traffic; above it, the ratio binds.
    let bound = |load: &Load| {
        budget
            .ratio
            .max(f64::from(budget.min_per_second) * 10.0 / load.requests as f64)
    };

    let default = outage(|b| b).await;
    println!(
        "default policy and budget: {} requests, {} attempts, extra load {:.4} (bound {:.4})",
        default.requests,
        default.attempts,
        default.extra(),
        bound(&default)
    );
    assert!(default.extra() <= bound(&default) + 1e-9);

    let no_waits = outage(|b| b.retry_sleep(|_| async {})).await;
    println!(
        "no backoff at all: {} requests, {} attempts, extra load {:.4} (bound {:.4})",
        no_waits.requests,
        no_waits.attempts,
        no_waits.extra(),
        bound(&no_waits)
    );
    assert!(no_waits.extra() <= bound(&no_waits) + 1e-9);

    let unbounded = outage(|b| {
        b.retry_budget(RetryBudget {
            ratio: 100.0,
            min_per_second: 0,
        })
    })
    .await;
    println!(
        "without a budget: {} requests, {} attempts, extra load {:.4}",
        unbounded.requests,
        unbounded.attempts,
        unbounded.extra()
    );
    assert!(unbounded.extra() > 1.5, "3 attempts each, less the tail");
}
