//! Memory under load: 10,000 requests issued at once on one client against the in-process
//! sandbox. Prints the completion time and the process's peak resident set (VmHWM).
//! Run: `cargo bench --bench memory`.

mod support;

use std::time::{Duration, Instant};

const REQUESTS: usize = 10_000;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs this too, so keep it bounded.
    support::runtime().block_on(async {
        let sandbox = support::sandbox().await;
        let wxpay = sandbox.client();
        let before = support::status_kib("self", "VmRSS:");
        let start = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..REQUESTS {
            tasks.spawn(support::seed_request(&wxpay, &format!("MEM-{i}")).send());
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
            support::status_kib("self", "VmHWM:"),
            sandbox.connections_accepted()
        );
        assert_eq!(ok, REQUESTS);
    });
}
