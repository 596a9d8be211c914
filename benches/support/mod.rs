//! What the load benches share: the runtime, the sandbox, the request, the load loop.
#![allow(dead_code)] // each bench uses a part

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::task::JoinSet;
use wechatpay::sandbox::Sandbox;
use wechatpay::{RequestBuilder, Wechatpay};

/// The machine's cores (2 here).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// A multi-threaded runtime with one worker per core, for client and sandbox alike.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores())
        .enable_all()
        .build()
        .expect("a Tokio runtime")
}

/// The in-process sandbox. It shares the cores with the client, so it reuses its own
/// answer signatures (identical answers within a second) and the figures measure the
/// client; see BENCHMARKS.md.
pub async fn sandbox() -> Sandbox {
    let sandbox = Sandbox::start().await.expect("the sandbox starts");
    sandbox.reuse_signatures(true);
    sandbox
}

/// The pay-after order sync of the seed pages: a POST with a body, a signed 200 answer.
pub fn seed_request(wxpay: &Wechatpay, out_order_no: &str) -> RequestBuilder {
    wxpay
        .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
        .post(
            json!({"appid": "wxd678efh567hg6787", "service_id": "500001",
                     "type": "Order_Paid", "detail": {"paid_time": "20091225091010"}}),
        )
        .param("out_order_no", out_order_no)
}

/// When a load run stops issuing requests.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    /// After this many requests.
    Count(u64),
    /// After this long.
    Elapsed(Duration),
}

/// Keeps `in_flight` seed requests outstanding on one client until `until` and waits
/// for the last; every answer must be a verified 200. Returns completed requests and
/// time: for [`Until::Count`], all of them and the time to the last answer; for
/// [`Until::Elapsed`], those completed within the window and the window's length, so
/// the ramp-down does not dilute the rate.
pub async fn load(wxpay: &Wechatpay, in_flight: usize, until: Until) -> (u64, Duration) {
    let start = Instant::now();
    let more = |issued: u64| match until {
        Until::Count(n) => issued < n,
        Until::Elapsed(d) => start.elapsed() < d,
    };
    let mut tasks = JoinSet::new();
    let (mut issued, mut done) = (0u64, 0u64);
    let mut window = None;
    loop {
        while tasks.len() < in_flight && more(issued) {
            tasks.spawn(seed_request(wxpay, "1234323JKHDFE1243252").send());
            issued += 1;
        }
        if window.is_none() && !more(issued) {
            window = Some((done, start.elapsed()));
        }
        let Some(result) = tasks.join_next().await else {
            break;
        };
        let response = result.expect("task").expect("a verified answer");
        assert_eq!(response.status(), 200);
        done += 1;
    }
    match (until, window) {
        (Until::Elapsed(_), Some(window)) => window,
        _ => (done, start.elapsed()),
    }
}

/// `name`'s value from the environment, parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The median of `values` (the upper one of an even count); `values` must not be empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The first of `tools` that is not on the `PATH`, if any.
pub fn missing_tool<'t>(tools: &[&'t str]) -> Option<&'t str> {
    tools.iter().copied().find(|tool| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(std::process::Stdio::null())
            .status()
            .map_or(true, |s| !s.success())
    })
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` at the top).
pub fn target_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        std::path::PathBuf::from,
    )
}

/// A `Vm…:` line of /proc/<pid>/status (`pid` may be `self`), in KiB (Linux only; 0
/// elsewhere).
pub fn status_kib(pid: &str, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Resets VmHWM to the current RSS (Linux 4.0+); false if not possible.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}
