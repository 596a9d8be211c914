//! A bill downloaded from the sandbox through the full client path, against curl.
//!
//! The sandbox runs in a child process (this same binary, started with
//! `WECHATPAY_BENCH_SANDBOX_CHILD=1`), so the client's peak RSS is its own. It serves a
//! generated trade bill (1 GiB uncompressed, gzip level 6), generated once into
//! `target/bench-data/sandbox-bills/` and streamed from there on every request
//! (`BillServing::cache_dir`), so the sandbox's own generation is not what is measured.
//!
//! Each round, alternating (the machine's speed drifts; see BENCHMARKS.md):
//! - ours: `wxpay.download().tradebill(..).gzip().to_path(..)`: step one (signed,
//!   verified), then the signed file request over loopback HTTP/1.1, gunzipped, SHA-1
//!   digested, written to a file (no fsync) and renamed once the digest matches;
//! - the reference: `curl -s -H 'Authorization: …' URL | gunzip | sha1sum` on the same file
//!   (the sandbox checks the file request's signature like any other, so the client signs
//!   one for curl; tokens do not expire in the sandbox).
//!
//! Reported: each side's throughput (uncompressed MB/s), the median ratio of ours to the
//! reference's, and the client process's peak RSS (VmHWM, reset before each of our rounds
//! and read after it; and the whole process's).
//!
//! Run: `cargo bench --bench bill_download`. Environment: `WECHATPAY_BENCH_BILL_MIB`
//! (default 1024), `WECHATPAY_BENCH_ROUNDS` (default 3), `WECHATPAY_BENCH_GZIP_LEVEL`
//! (default 6). Under `cargo test --benches` it runs once on a 4 MiB bill.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wechatpay::sandbox::{BillServing, Sandbox};
use wechatpay::Wechatpay;

mod support;
use support::{env_or, median, missing_tool, reset_peak_rss, status_kib, target_dir};

const CHILD: &str = "WECHATPAY_BENCH_SANDBOX_CHILD";
const DATE: &str = "2026-11-29";

/// The child: the sandbox, serving `mib` MiB bills from `cache`, until stdin closes.
fn serve(mib: u64, level: u32, cache: PathBuf) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let sandbox = Sandbox::start().await.expect("the sandbox starts");
        sandbox.serve_bills(
            BillServing::new()
                .approx_bytes(mib << 20)
                .gzip_level(level)
                .cache_dir(cache),
        );
        println!("{}", sandbox.base_url());
        tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        })
        .await
        .expect("stdin closes");
    });
}

/// The sandbox child, killed when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_child(mib: u64, level: u32, cache: &Path) -> (Served, String) {
    let mut child = Served(
        Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD, "1")
            .env("WECHATPAY_BENCH_BILL_MIB", mib.to_string())
            .env("WECHATPAY_BENCH_GZIP_LEVEL", level.to_string())
            .env("WECHATPAY_BENCH_CACHE", cache)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the sandbox child starts"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the child announces its URL");
    (child, line.trim().to_owned())
}

/// The sandbox's file request for `link`, signed for curl: URL and Authorization.
fn signed_for_curl(
    wxpay: &Wechatpay,
    link: &wechatpay::download::DownloadLink,
) -> (String, String) {
    let token = link
        .target()
        .split_once("token=")
        .map(|(_, t)| t)
        .expect("a token");
    let request = wxpay
        .chain("v3/billdownload/file")
        .get()
        .query("token", token)
        .skip_check()
        .build()
        .expect("a signed request");
    let authorization = request.headers()["authorization"]
        .to_str()
        .expect("ASCII")
        .to_owned();
    (request.uri().to_string(), authorization)
}

/// One round of the reference: seconds.
fn reference(wxpay: &Wechatpay, link: &wechatpay::download::DownloadLink, sha1: &str) -> Duration {
    let (url, authorization) = signed_for_curl(wxpay, link);
    let pipeline =
        format!("curl -s -H 'Authorization: {authorization}' '{url}' | gunzip | sha1sum");
    let start = Instant::now();
    let output = Command::new("sh")
        .arg("-c")
        .arg(&pipeline)
        .stderr(Stdio::inherit())
        .output()
        .expect("sh runs");
    let elapsed = start.elapsed();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.starts_with(sha1),
        "the reference pipeline printed `{printed}` (expected {sha1})"
    );
    elapsed
}

/// One round of ours: seconds and bytes written.
async fn ours(wxpay: &Wechatpay, out: &Path) -> (Duration, u64) {
    let start = Instant::now();
    let done = wxpay
        .download()
        .tradebill(DATE)
        .gzip()
        .sync_to_disk(false)
        .to_path(out)
        .await
        .expect("the download verifies");
    (start.elapsed(), done.bytes)
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let mib = if benching {
        env_or("WECHATPAY_BENCH_BILL_MIB", 1024u64)
    } else {
        4
    };
    let level = env_or("WECHATPAY_BENCH_GZIP_LEVEL", 6u32);
    if std::env::var_os(CHILD).is_some() {
        let cache = std::env::var_os("WECHATPAY_BENCH_CACHE").expect("a cache directory");
        serve(env_or("WECHATPAY_BENCH_BILL_MIB", mib), level, cache.into());
        return;
    }
    let rounds = if benching {
        env_or("WECHATPAY_BENCH_ROUNDS", 3usize).max(1)
    } else {
        1
    };
    if let Some(tool) = missing_tool(&["gunzip", "sha1sum", "curl"]) {
        println!("bill_download: skipped, `{tool}` is not installed");
        return;
    }
    let target = target_dir();
    let data = target.join("bench-data");
    std::fs::create_dir_all(&data).expect("the bench data directory");
    let (_child, base_url) = start_child(mib, level, &data.join("sandbox-bills"));
    let child_pid = _child.0.id().to_string();
    let out_dir = tempfile::tempdir_in(&data).expect("an output directory");
    let out = out_dir.path().join("tradebill.csv");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let wxpay = wechatpay::sandbox::offline_client_builder()
            .expect("the sandbox credentials")
            .base_url(&base_url)
            .build()
            .expect("a client");
        // Warm-up: the sandbox computes the digest (a generation pass) and writes its cache.
        let started = Instant::now();
        let link = wxpay
            .download()
            .tradebill(DATE)
            .gzip()
            .fetch_link()
            .await
            .expect("step one");
        let sha1 = link.digest().to_hex();
        let warm = reference(&wxpay, &link, &sha1);
        println!(
            "bill_download: {mib} MiB bill ready in {:.1?} (digest and gzip cache; a warm-up curl took {:.1?})",
            started.elapsed(),
            warm
        );

        let (mut ratios, mut our_rates, mut their_rates) = (Vec::new(), Vec::new(), Vec::new());
        let mut peak_kib = 0;
        let before_kib = status_kib("self", "VmHWM:");
        let reset = reset_peak_rss();
        let mut len = 0;
        for _ in 0..rounds {
            let theirs = reference(&wxpay, &link, &sha1);
            if reset {
                reset_peak_rss();
            }
            let (mine, bytes) = ours(&wxpay, &out).await;
            len = bytes;
            peak_kib = peak_kib.max(status_kib("self", "VmHWM:"));
            let rate = |d: Duration| len as f64 / d.as_secs_f64() / 1e6;
            our_rates.push(rate(mine));
            their_rates.push(rate(theirs));
            ratios.push(theirs.as_secs_f64() / mine.as_secs_f64());
            std::fs::remove_file(&out).expect("the output exists");
        }
        println!(
            "bill_download: {mib} MiB bill ({len} bytes, gzip level {level}), {rounds} rounds: \
             ours (wxpay.download()…to_path) {:.0} MB/s, `curl -s URL | gunzip | sha1sum` {:.0} MB/s, \
             ratio {:.2}x (median; rounds {}); client peak RSS (VmHWM{}) {:.1} MiB \
             ({:.1} MiB before our rounds); sandbox child VmHWM {:.1} MiB",
            median(our_rates),
            median(their_rates),
            median(ratios.clone()),
            ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
            if reset { ", reset before each of our rounds" } else { "" },
            peak_kib as f64 / 1024.0,
            before_kib as f64 / 1024.0,
            status_kib(&child_pid, "VmHWM:") as f64 / 1024.0,
        );
    });
}
