//! Round trips over loopback HTTP to the sandbox, which runs in this same process on the
//! same Tokio runtime (two worker threads on this two-core machine): sequential, and with
//! 16 and 64 requests in flight on one client. Each request is signed by the client,
//! verified by the sandbox, answered, signed by the sandbox and verified by the client.
//! Run: `cargo bench --bench roundtrip`.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::json;
use tokio::task::JoinSet;
use wechatpay::sandbox::Sandbox;
use wechatpay::Wechatpay;

/// Sends `total` requests keeping `in_flight` of them outstanding; returns the wall time.
async fn run(wxpay: &Wechatpay, total: u64, in_flight: usize) -> Duration {
    let body = json!({
        "appid": "wxd678efh567hg6787",
        "service_id": "500001",
        "type": "Order_Paid",
        "detail": { "paid_time": "20091225091010" },
    });
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    let mut issued = 0;
    while issued < total || !tasks.is_empty() {
        while tasks.len() < in_flight && issued < total {
            let request = wxpay
                .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
                .post(&body)
                .param("out_order_no", "1234323JKHDFE1243252");
            tasks.spawn(async move { request.await.map(|r| r.status()) });
            issued += 1;
        }
        if let Some(done) = tasks.join_next().await {
            let status = done.expect("task").expect("verified answer");
            assert_eq!(status, 200);
        }
    }
    start.elapsed()
}

fn roundtrip(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .unwrap();
    let sandbox = runtime.block_on(Sandbox::start()).unwrap();
    // The sandbox shares the cores with the client: let it reuse its own signatures
    // (identical answers within a second) so the figures measure the client.
    sandbox.reuse_signatures(true);
    let wxpay = sandbox.client();
    // Warm the pool so connection set-up is not measured.
    runtime.block_on(run(&wxpay, 64, 64));

    let mut group = c.benchmark_group("roundtrip");
    group.throughput(Throughput::Elements(1));
    for in_flight in [1usize, 16, 64] {
        let name = if in_flight == 1 {
            "sequential".to_owned()
        } else {
            format!("{in_flight}_in_flight")
        };
        group.bench_function(name, |b| {
            b.to_async(&runtime)
                .iter_custom(|iters| run(&wxpay, iters, in_flight))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
        .sample_size(20)
}

criterion_group! {
    name = benches;
    config = config();
    targets = roundtrip
}
criterion_main!(benches);
