//! Memory under load: 10,000 requests issued at once on one client against the in-process
//! sandbox. Prints the completion time and the process's peak resident set (VmHWM).
//! Run: `cargo bench --bench memory`.

use std::time::{Duration, Instant};

use serde_json::json;
use wechatpay::sandbox::Sandbox;

const REQUESTS: usize = 10_000;

/// A `Vm…:` line of /proc/self/status, in KiB (Linux only; 0 elsewhere).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep it bounded.
    let runtime = tokio::runtime::Builder::new_multi_thread()
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
        let before = status_kib("VmRSS:");
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..REQUESTS {
            let request = wxpay
                .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
                .post(&body)
                .param("out_order_no", format!("MEM-{i}"));
            tasks.spawn(request.send());
        }
        let mut ok = 0;
        let deadline = tokio::time::sleep(Duration::from_secs(600));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = tasks.join_next() => match next {
                    Some(Ok(Ok(_))) => ok += 1,
                    Some(Ok(Err(e))) => panic!("request failed: {e}"),
                    Some(Err(e)) => panic!("task failed: {e}"),
                    None => break,
                },
                _ = &mut deadline => panic!("10,000 requests did not finish within 10 minutes"),
            }
        }
        let elapsed = start.elapsed();
        println!(
            "memory: {ok}/{REQUESTS} concurrent requests verified in {:.2?} ({:.0}/s); \
             RSS before {} KiB, peak (VmHWM) {} KiB; sandbox accepted {} connections",
            elapsed,
            REQUESTS as f64 / elapsed.as_secs_f64(),
            before,
            status_kib("VmHWM:"),
            sandbox.connections_accepted()
        );
        assert_eq!(ok, REQUESTS);
    });
}
