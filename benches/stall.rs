//! Does signing stall the async executor? While one client keeps 64 requests in flight
//! against the in-process sandbox, a probe task on the same runtime asks for a 1 ms sleep
//! over and over and records how late each wake-up is. RSA on an executor thread holds that
//! thread for the whole signature; RSA on the blocking pool leaves it free to poll I/O and
//! timers. Prints throughput and the wake-up lateness percentiles.
//! Run: `cargo bench --bench stall`.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;
use wechatpay::sandbox::Sandbox;

const LOAD: Duration = Duration::from_secs(4);
const IN_FLIGHT: usize = 64;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let sandbox = Sandbox::start().await.expect("sandbox");
        // The sandbox shares this machine's cores: let it reuse its own signatures so the
        // figures are the client's (see BENCHMARKS.md).
        sandbox.reuse_signatures(true);
        let wxpay = sandbox.client();
        let body = json!({"appid": "wxd678efh567hg6787", "service_id": "500001",
                          "type": "Order_Paid", "detail": {"paid_time": "20091225091010"}});

        let probe = tokio::spawn(async move {
            let mut late = Vec::with_capacity(4096);
            let end = Instant::now() + LOAD;
            while Instant::now() < end {
                let asked = Instant::now();
                tokio::time::sleep(Duration::from_millis(1)).await;
                late.push(asked.elapsed().saturating_sub(Duration::from_millis(1)));
            }
            late
        });

        let start = Instant::now();
        let mut tasks = JoinSet::new();
        let mut done = 0u64;
        while start.elapsed() < LOAD || !tasks.is_empty() {
            while tasks.len() < IN_FLIGHT && start.elapsed() < LOAD {
                let request = wxpay
                    .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
                    .post(&body)
                    .param("out_order_no", "1234323JKHDFE1243252");
                tasks.spawn(request.send());
            }
            if let Some(result) = tasks.join_next().await {
                result.expect("task").expect("verified answer");
                done += 1;
            }
        }
        let elapsed = start.elapsed();
        let mut late = probe.await.expect("probe");
        late.sort();
        let pct = |p: f64| late[((late.len() - 1) as f64 * p) as usize];
        println!(
            "stall: {IN_FLIGHT} in flight, {:.0} requests/s; 1 ms timer wake-up lateness over {} samples: \
             p50 {:?}, p99 {:?}, max {:?}",
            done as f64 / elapsed.as_secs_f64(),
            late.len(),
            pct(0.50),
            pct(0.99),
            late[late.len() - 1]
        );
    });
}
