//! Does signing stall the async executor? While one client keeps 64 requests in flight
//! against the in-process sandbox, a probe task on the same runtime asks for a 1 ms sleep
//! over and over and records how late each wake-up is. RSA on an executor thread holds that
//! thread for the whole signature; RSA on the signing pool leaves it free to poll I/O and
//! timers. Prints throughput and the wake-up lateness percentiles.
//! Run: `cargo bench --bench stall`.

mod support;

use std::time::{Duration, Instant};

use support::Until;

const LOAD: Duration = Duration::from_secs(4);
const IN_FLIGHT: usize = 64;

fn main() {
    support::runtime().block_on(async {
        let sandbox = support::sandbox().await;
        let wxpay = sandbox.client();

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

        let (done, elapsed) = support::load(&wxpay, IN_FLIGHT, Until::Elapsed(LOAD)).await;
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
