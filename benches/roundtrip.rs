//! Round trips over loopback HTTP to the sandbox, which runs in this same process on the
//! same Tokio runtime (two worker threads on this two-core machine): sequential, and with
//! 16 and 64 requests in flight on one client. Each request is signed by the client,
//! verified by the sandbox, answered, signed by the sandbox and verified by the client.
//! Run: `cargo bench --bench roundtrip`.

mod support;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use support::Until;

fn roundtrip(c: &mut Criterion) {
    let runtime = support::runtime();
    let sandbox = runtime.block_on(support::sandbox());
    let wxpay = sandbox.client();
    // Warm the pool so connection set-up is not measured.
    runtime.block_on(support::load(&wxpay, 64, Until::Count(64)));

    let mut group = c.benchmark_group("roundtrip");
    group.throughput(Throughput::Elements(1));
    for in_flight in [1usize, 16, 64] {
        let name = if in_flight == 1 {
            "sequential".to_owned()
        } else {
            format!("{in_flight}_in_flight")
        };
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let wxpay = &wxpay;
                async move { support::load(wxpay, in_flight, Until::Count(iters)).await.1 }
            })
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
