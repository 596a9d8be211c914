//! Failover between two sandboxes: the backup takes over when the primary refuses, the
//! client probes the primary one request at a time after the cool-down, and comes back.

mod common;

use std::time::Duration;

use common::*;
use wechatpay::sandbox::{Fault, Sandbox};
use wechatpay::{Failover, HostState, RetryPolicy, Wechatpay};

fn post(wxpay: &Wechatpay) -> wechatpay::RequestBuilder {
    let seed = &seeds()[2];
    wxpay
        .chain(seed.template)
        .post(&seed.body)
        .param("out_order_no", OUT_ORDER_NO)
}

fn client(primary: &Sandbox, backup: &Sandbox, cool_down: Duration) -> Wechatpay {
    primary
        .client_builder()
        .unwrap()
        .backup_base_url(backup.base_url())
        .failover(Failover {
            cool_down,
            ..Failover::default()
        })
        // Failover alone: a retry would blur which request went where.
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

fn origin(sandbox: &Sandbox) -> String {
    sandbox.base_url().trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn a_post_refused_at_connect_goes_to_the_backup_exactly_once() {
    let (primary, backup) = (
        Sandbox::start().await.unwrap(),
        Sandbox::start().await.unwrap(),
    );
    let wxpay = client(&primary, &backup, Duration::from_secs(30));
    primary.refuse_connections(Duration::from_secs(30)).await;

    let answer = post(&wxpay).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(primary.requests_received(), 0);
    let seen = backup.requests();
    assert_eq!(seen.len(), 1, "sent to the backup once: {seen:?}");
    assert_eq!(seen[0].method, "POST");
    assert_eq!(
        seen[0].target,
        format!("/v3/payscore/payafter-orders/{OUT_ORDER_NO}/sync")
    );
    let status = wxpay.failover_status().unwrap();
    assert!(
        matches!(status.primary.state, HostState::Down { retry_in } if retry_in > Duration::from_secs(25)),
        "{status:?}"
    );
    assert_eq!(status.primary.consecutive_failures, 1);
    assert_eq!(status.active(), origin(&backup));

    // Later requests go straight to the backup: no connect attempt to the primary first.
    post(&wxpay).await.unwrap();
    assert_eq!(backup.requests().len(), 2);
}

#[tokio::test]
async fn after_the_cool_down_the_client_returns_to_the_primary() {
    let (primary, backup) = (
        Sandbox::start().await.unwrap(),
        Sandbox::start().await.unwrap(),
    );
    let wxpay = client(&primary, &backup, Duration::from_millis(300));
    primary.refuse_connections(Duration::from_millis(200)).await;

    wxpay.chain("v3/certificates").get().await.unwrap();
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(backup.requests().len(), 2);
    assert!(matches!(
        wxpay.failover_status().unwrap().primary.state,
        HostState::Down { .. }
    ));

    // The primary listens again after 200 ms; the cool-down ends after 300 ms.
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        wxpay.failover_status().unwrap().primary.state,
        HostState::Down {
            retry_in: Duration::ZERO
        }
    );
    wxpay.chain("v3/certificates").get().await.unwrap(); // the probe
    assert_eq!(primary.requests().len(), 1);
    let status = wxpay.failover_status().unwrap();
    assert_eq!(status.primary.state, HostState::Up);
    assert_eq!(status.active(), origin(&primary));
    for _ in 0..3 {
        wxpay.chain("v3/certificates").get().await.unwrap();
    }
    assert_eq!(primary.requests().len(), 4);
    assert_eq!(backup.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_coming_back_is_probed_by_one_request_at_a_time() {
    let (primary, backup) = (
        Sandbox::start().await.unwrap(),
        Sandbox::start().await.unwrap(),
    );
    let wxpay = client(&primary, &backup, Duration::from_millis(200));
    primary.refuse_connections(Duration::from_millis(100)).await;
    wxpay.chain("v3/certificates").get().await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;

    // The probe is slow, so the other requests overlap it.
    primary.fault(Fault::Delay(Duration::from_millis(800)));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..5 {
        tasks.spawn(wxpay.chain("v3/certificates").get().send());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        wxpay.failover_status().unwrap().primary.state,
        HostState::Probing
    );
    while let Some(answer) = tasks.join_next().await {
        answer.unwrap().unwrap();
    }
    assert_eq!(primary.requests().len(), 1, "one probe");
    assert_eq!(backup.requests().len(), 1 + 4);
    assert_eq!(
        wxpay.failover_status().unwrap().primary.state,
        HostState::Up
    );
}

#[tokio::test]
async fn a_probe_that_is_refused_again_keeps_traffic_on_the_backup() {
    let (primary, backup) = (
        Sandbox::start().await.unwrap(),
        Sandbox::start().await.unwrap(),
    );
    let wxpay = client(&primary, &backup, Duration::from_millis(100));
    primary.refuse_connections(Duration::from_secs(30)).await;
    wxpay.chain("v3/certificates").get().await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The probe is refused and the request goes on to the backup within the same call.
    wxpay.chain("v3/certificates").get().await.unwrap();
    assert_eq!(backup.requests().len(), 2);
    let status = wxpay.failover_status().unwrap();
    assert!(
        matches!(status.primary.state, HostState::Down { .. }),
        "{status:?}"
    );
    assert_eq!(status.primary.consecutive_failures, 2);
}

#[tokio::test]
async fn answers_of_any_status_keep_the_primary_up() {
    let (primary, backup) = (
        Sandbox::start().await.unwrap(),
        Sandbox::start().await.unwrap(),
    );
    let wxpay = client(&primary, &backup, Duration::from_secs(30));
    primary.fault(Fault::FailTimes {
        status: http::StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let error = wxpay.chain("v3/certificates").get().await.unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    // A 503 is the platform answering: not a failover (a retry may follow, on the primary).
    assert_eq!(backup.requests().len(), 0);
    assert_eq!(
        wxpay.failover_status().unwrap().primary.state,
        HostState::Up
    );
    // A client without a backup has no failover state.
    assert!(primary.client().failover_status().is_none());
}
