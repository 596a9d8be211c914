//! Bill download throughput and memory.
//!
//! A generated trade bill (1 GiB uncompressed, gzip level 6, cached under
//! `target/bench-data/`) goes through `wechatpay::download::Download`: gzip decoded,
//! SHA-1 digested, written to a file (no fsync) and checked. The same file goes through
//! `gunzip -c FILE | sha1sum` and `curl -s URL | gunzip | sha1sum` in the same run, in
//! alternating rounds (the machine's speed drifts; see BENCHMARKS.md). Reported: each
//! side's throughput (uncompressed MB/s), the median ratio of ours to the pipe's, and the
//! process's peak RSS (VmHWM, reset before our rounds) while ours run.
//!
//! Two sources: `file` (the body is the file, read in 256 KiB chunks) and `http` (the body
//! comes over loopback HTTP/1.1 from a hyper server in this process, as from the sandbox;
//! the reference is `curl -s http://… | gunzip | sha1sum` against the same server).
//!
//! Run: `cargo bench --bench download`. Environment: `WECHATPAY_BENCH_BILL_MIB` (default
//! 1024), `WECHATPAY_BENCH_ROUNDS` (default 3), `WECHATPAY_BENCH_SOURCES` (default
//! `file,http`). Under `cargo test --benches` it runs once on a 4 MiB bill.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::BodyExt;
use wechatpay::download::{Compression, Digest, Download, HashType};
use wechatpay::sandbox::bills::{BillKind, BillSpec};

mod support;
use support::{env_or, median, missing_tool, reset_peak_rss, status_kib, target_dir};

type Body = Pin<Box<dyn Stream<Item = Result<Bytes, wechatpay::BoxError>> + Send>>;

/// Where the bill's bytes come from: swap in another source here.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    /// `http://127.0.0.1:PORT/bill.csv.gz`, served by [`serve`].
    Http(String),
}

impl Source {
    fn name(&self) -> &'static str {
        match self {
            Source::File(_) => "file",
            Source::Http(_) => "http",
        }
    }

    /// The body as a stream of chunks, and its length when announced.
    async fn open(&self) -> (Body, Option<u64>) {
        match self {
            Source::File(path) => {
                let file = tokio::fs::File::open(path)
                    .await
                    .expect("the bill file opens");
                let len = file.metadata().await.expect("metadata").len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
                (Box::pin(MapErr(stream)), Some(len))
            }
            Source::Http(url) => {
                let client = hyper_util::client::legacy::Client::builder(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .build_http::<http_body_util::Empty<Bytes>>();
                let response = client
                    .get(url.parse().expect("a URL"))
                    .await
                    .expect("the loopback server answers");
                let len = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok()?.parse().ok());
                let stream = response.into_body().into_data_stream();
                (Box::pin(MapErr(stream)), len)
            }
        }
    }

    /// The shell pipeline the reference runs.
    fn reference(&self) -> String {
        match self {
            Source::File(path) => format!("gunzip -c '{}' | sha1sum", path.display()),
            Source::Http(url) => format!("curl -s '{url}' | gunzip | sha1sum"),
        }
    }
}

/// Boxes a stream's error.
struct MapErr<S>(S);

impl<S, E> Stream for MapErr<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<wechatpay::BoxError>,
{
    type Item = Result<Bytes, wechatpay::BoxError>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|r| r.map_err(Into::into)))
    }
}

/// Serves `path` at every URL over HTTP/1.1 on 127.0.0.1, with its Content-Length.
async fn serve(path: PathBuf) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let path = path.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let path = path.clone();
                    async move {
                        let file = tokio::fs::File::open(&path).await?;
                        let len = file.metadata().await?.len();
                        let frames =
                            FramesOf(tokio_util::io::ReaderStream::with_capacity(file, 256 << 10));
                        let body = http_body_util::StreamBody::new(frames);
                        let response = http::Response::builder()
                            .header(http::header::CONTENT_LENGTH, len)
                            .header(http::header::CONTENT_TYPE, "application/x-gzip")
                            .body(body)
                            .map_err(std::io::Error::other)?;
                        Ok::<_, std::io::Error>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

/// Chunks as HTTP body frames.
struct FramesOf<S>(S);

impl<S> Stream for FramesOf<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<hyper::body::Frame<Bytes>>;
    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        Pin::new(&mut self.0)
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(hyper::body::Frame::data)))
    }
}

/// CPU seconds (user + system) of this process and of its waited-for children, from
/// /proc/self/stat (Linux; zeros elsewhere).
fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| {
            rest.split_whitespace()
                .map(|f| f.parse().unwrap_or(0.0))
                .collect()
        })
        .unwrap_or_default();
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the name.
    let tick = 100.0; // USER_HZ on Linux
    let get = |i: usize| fields.get(i).copied().unwrap_or(0.0) / tick;
    (get(11) + get(12), get(13) + get(14))
}

/// The cached gzip bill and its uncompressed length and SHA-1, generated on first use.
fn bill(dir: &Path, mib: u64) -> (PathBuf, u64, String) {
    let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").approx_bytes(mib << 20);
    let path = dir.join(format!("tradebill-{mib}MiB-seed0-level6.csv.gz"));
    let sidecar = path.with_extension("gz.sha1");
    if let Ok(text) = std::fs::read_to_string(&sidecar) {
        if let Some((len, sha1)) = text.trim().split_once(' ') {
            if path.exists() {
                return (path, len.parse().expect("a length"), sha1.to_owned());
            }
        }
    }
    let start = Instant::now();
    std::fs::create_dir_all(dir).expect("the bench data directory");
    let file = std::fs::File::create(&path).expect("the bill file");
    let mut gz = flate2::write::GzEncoder::new(
        std::io::BufWriter::with_capacity(1 << 20, file),
        flate2::Compression::new(6),
    );
    let mut sha1 = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    let mut len = 0u64;
    for chunk in spec.chunks() {
        sha1.update(&chunk);
        len += chunk.len() as u64;
        gz.write_all(&chunk).expect("write the bill");
    }
    gz.finish().expect("finish gzip").flush().expect("flush");
    let sha1 = hex(sha1.finish().as_ref());
    std::fs::write(&sidecar, format!("{len} {sha1}\n")).expect("the sidecar");
    println!(
        "generated {} ({len} bytes uncompressed, {} compressed) in {:.1?}",
        path.display(),
        std::fs::metadata(&path).map_or(0, |m| m.len()),
        start.elapsed()
    );
    (path, len, sha1)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One round of ours: seconds.
async fn ours(source: &Source, sha1: &str, out: &Path) -> Duration {
    let start = Instant::now();
    let (body, len) = source.open().await;
    let expected = Digest::from_hex(HashType::Sha1, sha1).expect("a SHA-1");
    Download::new(expected)
        .compression(Compression::Gzip)
        .content_length(len)
        .sync_to_disk(false)
        .to_path(body, out)
        .await
        .expect("the download verifies");
    start.elapsed()
}

/// One round of the reference pipeline: seconds.
async fn reference(source: &Source, sha1: &str) -> Duration {
    let pipeline = source.reference();
    let start = Instant::now();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("sh")
            .arg("-c")
            .arg(&pipeline)
            .stderr(Stdio::inherit())
            .output()
            .expect("sh runs")
    })
    .await
    .expect("the pipeline task");
    let elapsed = start.elapsed();
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && printed.starts_with(sha1),
        "the reference pipeline printed `{printed}` (expected {sha1})"
    );
    elapsed
}

fn main() {
    let benching = std::env::args().any(|a| a == "--bench");
    let mib = if benching {
        env_or("WECHATPAY_BENCH_BILL_MIB", 1024u64)
    } else {
        4
    };
    let rounds = if benching {
        env_or("WECHATPAY_BENCH_ROUNDS", 3usize).max(1)
    } else {
        1
    };
    let sources = std::env::var("WECHATPAY_BENCH_SOURCES").unwrap_or_else(|_| "file,http".into());
    if let Some(tool) = missing_tool(&["gunzip", "sha1sum", "curl"]) {
        println!("download: skipped, `{tool}` is not installed");
        return;
    }
    let target = target_dir();
    let (path, len, sha1) = bill(&target.join("bench-data"), mib);
    let out_dir = tempfile::tempdir_in(target.join("bench-data")).expect("an output directory");
    let out = out_dir.path().join("tradebill.csv");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    runtime.block_on(async {
        let addr = serve(path.clone()).await;
        for name in sources.split(',') {
            let source = match name.trim() {
                "file" => Source::File(path.clone()),
                "http" => Source::Http(format!("http://{addr}/v3/billdownload/file?token=bench")),
                other => panic!("unknown source `{other}` (file, http)"),
            };
            let (mut ratios, mut our_rates, mut their_rates) = (Vec::new(), Vec::new(), Vec::new());
            let (mut our_cpu, mut their_cpu) = (0.0, 0.0);
            let mut peak_kib = 0;
            let reset = reset_peak_rss();
            for _ in 0..rounds {
                let before = cpu_seconds();
                let theirs = reference(&source, &sha1).await;
                let between = cpu_seconds();
                if reset {
                    reset_peak_rss();
                }
                let mine = ours(&source, &sha1, &out).await;
                let after = cpu_seconds();
                their_cpu += between.1 - before.1;
                our_cpu += after.0 - between.0;
                peak_kib = peak_kib.max(status_kib("self", "VmHWM:"));
                let rate = |d: Duration| len as f64 / d.as_secs_f64() / 1e6;
                our_rates.push(rate(mine));
                their_rates.push(rate(theirs));
                ratios.push(theirs.as_secs_f64() / mine.as_secs_f64());
                std::fs::remove_file(&out).expect("the output exists");
            }
            println!(
                "download[{}]: {} MiB bill ({len} bytes), {rounds} rounds: ours {:.0} MB/s, `{}` {:.0} MB/s, \
                 ratio {:.2}x (median; rounds {}); CPU per GiB: ours {:.2} s, theirs {:.2} s (all processes); \
                 peak RSS (VmHWM{}) {:.1} MiB",
                source.name(),
                mib,
                median(our_rates),
                source.reference().replace(&*path.to_string_lossy(), "FILE").replace(&addr.to_string(), "ADDR"),
                median(their_rates),
                median(ratios.clone()),
                ratios.iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", "),
                our_cpu / rounds as f64 * (1u64 << 30) as f64 / len as f64,
                their_cpu / rounds as f64 * (1u64 << 30) as f64 / len as f64,
                if reset { ", reset before our rounds" } else { ", whole process" },
                peak_kib as f64 / 1024.0,
            );
        }
    });
}
