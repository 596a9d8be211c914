//! Bill downloads over real loopback HTTP (a hyper server here, hyper's `Incoming` body
//! on the client side), and bill parsing at size.
//!
//! Every failure kind (digest mismatch, truncation, bad gzip, over the limit, a dropped
//! download) is checked to leave nothing in the target directory, and a file already at
//! the target untouched. The bills are the sandbox's generated ones
//! (`wechatpay::sandbox::bills`), whose SHA-1 is cross-checked here against `sha1sum`
//! when it is installed.

use std::convert::Infallible;
use std::path::Path;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use http_body_util::BodyExt;
use hyper::body::Frame;
use wechatpay::bill::{AsyncBillReader, BillReader};
use wechatpay::download::{
    Compression, Digest, Download, DownloadErrorKind, DownloadLink, HashType, Progress,
};
use wechatpay::sandbox::bills::{BillKind, BillSpec};

// ---- a loopback file server ------------------------------------------------------------------

/// What the test server sends.
#[derive(Clone)]
struct Serve {
    body: Vec<u8>,
    /// Announce the whole length (otherwise chunked).
    content_length: bool,
    /// Drop the connection after this many body bytes.
    cut_after: Option<usize>,
    chunk: usize,
    pause: Duration,
}

impl Serve {
    fn new(body: Vec<u8>) -> Serve {
        Serve {
            body,
            content_length: true,
            cut_after: None,
            chunk: 16 << 10,
            pause: Duration::ZERO,
        }
    }
}

struct Frames(tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>);

impl Stream for Frames {
    type Item = Result<Frame<Bytes>, std::io::Error>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

/// Serves `serve` at every path of `http://127.0.0.1:PORT/`; returns the file's URL.
async fn serve(serve: Serve) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let serve = serve.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request| {
                    let serve = serve.clone();
                    async move {
                        let (tx, rx) = tokio::sync::mpsc::channel(4);
                        let length = serve.body.len();
                        tokio::spawn(async move {
                            let end = serve.cut_after.unwrap_or(length).min(length);
                            for piece in serve.body[..end].chunks(serve.chunk.max(1)) {
                                if tx
                                    .send(Ok(Frame::data(Bytes::copy_from_slice(piece))))
                                    .await
                                    .is_err()
                                {
                                    return;
                                }
                                tokio::time::sleep(serve.pause).await;
                            }
                            if serve.cut_after.is_some() {
                                let cut =
                                    std::io::Error::new(std::io::ErrorKind::BrokenPipe, "cut");
                                let _ = tx.send(Err(cut)).await;
                            }
                        });
                        let mut response = http::Response::builder()
                            .header("Content-Type", "application/octet-stream");
                        if serve.content_length {
                            response = response.header("Content-Length", length);
                        }
                        Ok::<_, Infallible>(
                            response
                                .body(http_body_util::StreamBody::new(Frames(rx)))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/v3/billdownload/file?token=test")
}

/// GETs `url`; the body as hyper gives it, and its Content-Length.
async fn fetch(
    url: &str,
) -> (
    impl Stream<Item = Result<Bytes, hyper::Error>> + Send + use<>,
    Option<u64>,
) {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>();
    let response = client.get(url.parse().unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    let length = response
        .headers()
        .get("Content-Length")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (response.into_body().into_data_stream(), length)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha1_of(data: &[u8]) -> Digest {
    Digest::of(HashType::Sha1, data)
}

// ---- downloads -------------------------------------------------------------------------------

#[tokio::test]
async fn a_gzip_bill_downloads_over_http_to_a_verified_file() {
    let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").approx_bytes(2 << 20);
    let bill = spec.to_vec();
    let digest = spec.digest();
    assert_eq!(digest.len, bill.len() as u64);

    // Step one's answer, as the sandbox will give it.
    let url = serve(Serve::new(gzip(&bill))).await;
    let answer = serde_json::json!({
        "hash_type": "SHA1", "hash_value": digest.sha1_hex(), "download_url": url,
    });
    let link = DownloadLink::from_json(answer.to_string().as_bytes()).unwrap();
    assert_eq!(link.target(), "/v3/billdownload/file?token=test");

    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("tradebill.csv");
    let (body, length) = fetch(link.download_url()).await;
    let (tx, rx) = tokio::sync::watch::channel(Progress::default());
    let done = Download::from_link(&link)
        .content_length(length)
        .watch_progress(tx)
        .to_path(body, &target)
        .await
        .unwrap();
    assert!(done.gzip);
    assert_eq!(done.bytes, bill.len() as u64);
    assert_eq!(done.received, length.unwrap());
    assert_eq!(std::fs::read(&target).unwrap(), bill);
    assert_eq!(entries(dir.path()), ["tradebill.csv"]);
    let last = *rx.borrow();
    assert_eq!(
        (last.written, last.received, last.total),
        (done.bytes, done.received, length)
    );
}

#[tokio::test]
async fn the_generated_digest_is_what_sha1sum_computes() {
    if Command::new("sha1sum")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        println!("skipped: sha1sum is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bill.csv");
    let spec = BillSpec::new(BillKind::FundFlow, "2026-11-29")
        .seed(3)
        .rows(5_000);
    spec.write_to(&mut std::fs::File::create(&path).unwrap(), None)
        .unwrap();
    let out = Command::new("sha1sum").arg(&path).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.starts_with(&spec.digest().sha1_hex()), "{printed}");
}

/// Runs a download of `serve` into an empty directory where `existing` already holds
/// the target's old content; returns the error kind and checks nothing else remains.
async fn failing(serve_with: Serve, download: Download) -> DownloadErrorKind {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bill.csv");
    std::fs::write(&target, b"yesterday's verified bill").unwrap();
    let url = serve(serve_with).await;
    let (body, length) = fetch(&url).await;
    let err = download
        .content_length(length)
        .to_path(body, &target)
        .await
        .expect_err("the download must fail");
    assert_eq!(
        entries(dir.path()),
        ["bill.csv"],
        "{err}: something was left behind"
    );
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"yesterday's verified bill"
    );
    err.kind().clone()
}

#[tokio::test]
async fn every_failure_is_its_own_kind_and_leaves_nothing() {
    let bill = BillSpec::new(BillKind::TradeSuccess, "2026-11-29")
        .approx_bytes(600_000)
        .to_vec();
    let gz = gzip(&bill);
    let digest = sha1_of(&bill);

    let kind = failing(
        Serve::new(bill.clone()),
        Download::new(sha1_of(b"another bill")),
    )
    .await;
    assert!(
        matches!(kind, DownloadErrorKind::DigestMismatch { .. }),
        "{kind:?}"
    );

    // Content-Length announced, connection dropped halfway.
    let cut = Serve {
        cut_after: Some(bill.len() / 2),
        ..Serve::new(bill.clone())
    };
    let kind = failing(cut, Download::new(digest.clone())).await;
    assert!(
        matches!(
            kind,
            DownloadErrorKind::Truncated {
                expected: Some(_),
                ..
            }
        ),
        "{kind:?}"
    );

    // Chunked gzip, connection dropped halfway.
    let cut = Serve {
        cut_after: Some(gz.len() / 2),
        content_length: false,
        ..Serve::new(gz.clone())
    };
    let kind = failing(cut, Download::new(digest.clone())).await;
    assert!(
        matches!(kind, DownloadErrorKind::Truncated { .. }),
        "{kind:?}"
    );

    // A gzip stream that is complete but damaged (middle bytes and CRC flipped).
    let mut bad = gz.clone();
    let n = bad.len();
    for b in &mut bad[n - 8..n - 4] {
        *b = !*b;
    }
    for b in &mut bad[n / 2..n / 2 + 16] {
        *b ^= 0x55;
    }
    let kind = failing(Serve::new(bad), Download::new(digest.clone())).await;
    assert_eq!(kind, DownloadErrorKind::Decompress);

    // Plain text where gzip was asked for.
    let kind = failing(
        Serve::new(bill.clone()),
        Download::new(digest.clone()).compression(Compression::Gzip),
    )
    .await;
    assert_eq!(kind, DownloadErrorKind::Decompress);

    // Over the size limit (decompressed size), though the body is small.
    let kind = failing(
        Serve::new(gz.clone()),
        Download::new(digest.clone()).max_size(100_000),
    )
    .await;
    assert_eq!(kind, DownloadErrorKind::TooLarge { limit: 100_000 });
}

#[tokio::test]
async fn a_stalled_download_fails_and_leaves_nothing() {
    let bill = BillSpec::new(BillKind::FundFlow, "2026-11-29")
        .rows(2_000)
        .to_vec();
    let stalling = Serve {
        chunk: 20_000,
        pause: Duration::from_millis(400),
        ..Serve::new(bill.clone())
    };
    let download = Download::new(sha1_of(&bill)).idle_timeout(Some(Duration::from_millis(100)));
    let kind = failing(stalling, download).await;
    assert_eq!(
        kind,
        DownloadErrorKind::Stalled {
            idle: Duration::from_millis(100)
        }
    );
}

#[tokio::test]
async fn a_dropped_download_leaves_nothing() {
    let bill = BillSpec::new(BillKind::FundFlow, "2026-11-29")
        .approx_bytes(400_000)
        .to_vec();
    let slow = Serve {
        chunk: 10_000,
        pause: Duration::from_millis(20),
        ..Serve::new(bill.clone())
    };
    let url = serve(slow).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bill.csv");
    let (body, length) = fetch(&url).await;
    let download = Download::new(sha1_of(&bill))
        .content_length(length)
        .to_path(body, &target);
    let outcome = tokio::time::timeout(Duration::from_millis(150), download).await;
    assert!(
        outcome.is_err(),
        "the slow download should still be running"
    );
    assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
}

#[tokio::test]
async fn a_bill_can_be_parsed_while_it_downloads() {
    let spec = BillSpec::new(BillKind::TradeRefund, "2026-11-29").rows(3_000);
    let bill = spec.to_vec();
    let url = serve(Serve {
        content_length: false,
        ..Serve::new(gzip(&bill))
    })
    .await;
    let (body, _) = fetch(&url).await;
    let (mut writer, reader) = tokio::io::duplex(64 << 10);
    let download = tokio::spawn(async move {
        Download::new(sha1_of(&bill))
            .to_writer(body, &mut writer)
            .await
    });
    let mut bills = AsyncBillReader::new(tokio::io::BufReader::new(reader))
        .await
        .unwrap();
    let mut refunds = 0u64;
    while let Some(record) = bills.next_record().await {
        let record = record.unwrap();
        assert_eq!(record.get("交易状态"), Some("REFUND"));
        refunds += 1;
    }
    // The records are trustworthy once the digest has matched.
    download.await.unwrap().unwrap();
    assert_eq!(refunds, 3_000);
    assert_eq!(bills.summary().unwrap().get("总交易单数"), Some("3000"));
}

// ---- parsing at size -------------------------------------------------------------------------

/// A `Vm…:` line of /proc/self/status, in KiB (Linux only).
fn status_kib(field: &str) -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

const LARGE_BILL: u64 = 64 << 20;

/// Run in a process of its own by the next test (so no other test's memory counts):
/// parses a generated 64 MiB bill, which is produced as it is read and never held, and
/// prints the process's peak resident set.
#[test]
fn large_bill_child() {
    if std::env::var_os("WECHATPAY_LARGE_BILL_CHILD").is_none() {
        return;
    }
    let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").approx_bytes(LARGE_BILL);
    let input = std::io::BufReader::with_capacity(64 << 10, spec.reader());
    let mut reader = BillReader::new(input).unwrap();
    let mut records = 0u64;
    let mut refunds = 0u64;
    for record in &mut reader {
        let record = record.unwrap();
        records += 1;
        if record.get("交易状态") == Some("REFUND") {
            refunds += 1;
        }
    }
    let summary = reader.summary().unwrap();
    assert_eq!(
        summary.get("总交易单数"),
        Some(records.to_string().as_str())
    );
    println!(
        "LARGE_BILL records={records} refunds={refunds} vmhwm_kib={}",
        status_kib("VmHWM:").unwrap_or(0)
    );
}

#[test]
fn parsing_a_large_bill_keeps_memory_bounded() {
    if status_kib("VmHWM:").is_none() {
        println!("skipped: no /proc/self/status on this system");
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "large_bill_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("WECHATPAY_LARGE_BILL_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The harness may print "test large_bill_child ... " on the same line.
    let line = stdout
        .lines()
        .find_map(|l| l.find("LARGE_BILL").map(|at| &l[at..]))
        .expect("the child reports");
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
            .unwrap()
    };
    let (records, peak_kib) = (field("records"), field("vmhwm_kib"));
    println!("{line}");
    assert!(records > 200_000, "{line}");
    // The whole process (test harness included) peaks far below the bill's size.
    assert!(
        peak_kib < 32 << 10,
        "peak RSS {peak_kib} KiB while parsing a {} MiB bill",
        LARGE_BILL >> 20
    );
}
