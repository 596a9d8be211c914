//! Files both ways through the full client against the sandbox: uploads through the chain
//! (signed over their `meta` JSON, read by the sandbox's own parser, their digest checked),
//! and downloads in two steps (a verified link, then the file streamed, gunzipped and
//! checked), with every failure kind leaving no file behind. The README's sections on
//! uploads, downloads and bill parsing are copies of the examples run here.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{json, Value};
use wechatpay::download::{DownloadErrorKind, HashType, Progress};
use wechatpay::multipart::UploadForm;
use wechatpay::sandbox::bills::{BillFault, BillKind, BillSpec};
use wechatpay::sandbox::{BillServing, Fault, Sandbox};
use wechatpay::transport::{BoxFuture, HttpSend, SendError};
use wechatpay::{Error, RetryPolicy, Timeouts};

#[allow(dead_code)]
#[path = "../examples/upload_media.rs"]
mod upload_example;

#[allow(dead_code)]
#[path = "../examples/download_bill.rs"]
mod download_example;

#[allow(dead_code)]
#[path = "../examples/read_bill.rs"]
mod read_example;

const PNG: &[u8] = upload_example::PNG;

/// A fresh, empty directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wechatpay-files-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names in `dir`, temporary files included.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn sha256_hex(data: &[u8]) -> String {
    wechatpay::download::Digest::of(HashType::Sha256, data).to_hex()
}

// ---- the examples and the README ---------------------------------------------------------

#[tokio::test]
async fn the_upload_example_uploads_and_refuses_an_oversized_file() {
    let log = upload_example::run().await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    let id = format!("SANDBOX_{}", &sha256_hex(PNG)[..32]);
    assert_eq!(log[0], format!("uploaded logo.png: media_id \"{id}\""));
    assert_eq!(
        log[1],
        "uploaded \"active_user.csv\": task \"101\" \"ICBC_DEBIT\""
    );
    assert!(log[2].contains("is too large: 6291456 bytes"), "{}", log[2]);
    assert!(log[2].contains("PNG files up to 5 MiB"), "{}", log[2]);
}

#[tokio::test]
async fn the_download_example_streams_checks_and_refuses() {
    let dir = scratch("example");
    let log = download_example::run(&dir).await.unwrap();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert!(log[0].starts_with("tradebill.csv: "), "{}", log[0]);
    assert!(log[0].contains("SHA1 verified"), "{}", log[0]);
    let spec = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(20_000);
    let bytes = std::fs::read(dir.join("tradebill.csv")).unwrap();
    assert_eq!(bytes, spec.to_vec());
    assert!(log[0].contains(&format!("(progress saw {})", bytes.len())));
    assert!(log[1].starts_with("fund-flow bill: "), "{}", log[1]);
    assert!(
        log[2].starts_with("refused (verification: true): the downloaded file's SHA1"),
        "{}",
        log[2]
    );
    assert!(log[2].ends_with("tampered.csv exists: false"), "{}", log[2]);
    assert_eq!(listing(&dir), ["tradebill.csv"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_bill_reading_example_adds_up_to_the_summary() {
    let dir = scratch("read");
    let log = read_example::run(&dir).await.unwrap();
    assert!(log[0].starts_with("1000 trades (first SBX"), "{log:#?}");
    assert!(log[0].contains("summary says 1000 with "), "{log:#?}");
    let settled: f64 = log[0]
        .rsplit(" with ")
        .next()
        .unwrap()
        .trim_end_matches(" settled")
        .parse()
        .unwrap();
    let per_state: f64 = log[1..]
        .iter()
        .map(|line| {
            line.split(", ")
                .nth(1)
                .unwrap()
                .trim_end_matches(" settled")
                .parse::<f64>()
                .unwrap()
        })
        .sum();
    assert!((settled - per_state).abs() < 0.005, "{log:#?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The lines between `// README: begin` and `// README: end` of an example, unindented.
fn readme_part(example: &str) -> String {
    let text =
        std::fs::read_to_string(format!("{}/examples/{example}", env!("CARGO_MANIFEST_DIR")))
            .unwrap();
    let start = text.find("// README: begin\n").unwrap() + "// README: begin\n".len();
    let end = text.find("    // README: end").unwrap();
    text[start..end]
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_readme_sections_are_copies_of_the_examples() {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for example in ["upload_media.rs", "download_bill.rs", "read_bill.rs"] {
        let part = readme_part(example);
        assert!(
            readme.contains(&part),
            "README.md lacks the part of examples/{example}:\n{part}"
        );
    }
}

// ---- uploads -----------------------------------------------------------------------------

#[tokio::test]
async fn an_upload_is_signed_over_its_meta_and_read_by_the_sandbox() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let answer = wxpay
        .chain("v3/merchant/media/upload")
        .upload("logo.png", PNG)
        .boundary("wechatpay-test-boundary")
        .await
        .unwrap();
    let media: Value = answer.json().unwrap();
    assert_eq!(
        media["media_id"],
        format!("SANDBOX_{}", &sha256_hex(PNG)[..32])
    );

    // What went on the wire: the form, its Content-Type, and a signature over the meta.
    let seen = &sandbox.requests()[0];
    assert_eq!(
        seen.headers["content-type"],
        "multipart/form-data; boundary=wechatpay-test-boundary"
    );
    let meta = format!(
        r#"{{"filename":"logo.png","sha256":"{}"}}"#,
        sha256_hex(PNG)
    );
    let form = UploadForm::for_endpoint("v3/merchant/media/upload", "logo.png")
        .boundary("wechatpay-test-boundary")
        .from_bytes(PNG.to_vec())
        .unwrap();
    assert_eq!(form.meta(), meta);
    assert_eq!(seen.body, form.body());
    let auth =
        wechatpay::sign::Authorization::parse(seen.headers["authorization"].to_str().unwrap())
            .unwrap();
    let signature = base64_decode(&auth.signature);
    let key =
        wechatpay::PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let over_meta = wechatpay::sign::message(
        "POST",
        "/v3/merchant/media/upload",
        auth.timestamp,
        &auth.nonce_str,
        meta.as_bytes(),
    );
    assert!(key.public_key().verify(&over_meta, &signature));
    let over_body = wechatpay::sign::message(
        "POST",
        "/v3/merchant/media/upload",
        auth.timestamp,
        &auth.nonce_str,
        &seen.body,
    );
    assert!(!key.public_key().verify(&over_body, &signature));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[tokio::test]
async fn the_sandbox_refuses_a_wrong_signature_digest_or_missing_meta_field() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.png")
        .boundary("B0UNDARY")
        .from_bytes(PNG.to_vec())
        .unwrap();
    let send = |body: Vec<u8>, signed: String| {
        wxpay
            .chain("v3/merchant/media/upload")
            .request(http::Method::POST)
            .body(body)
            .header("Content-Type", "multipart/form-data; boundary=B0UNDARY")
            .signed_body(signed)
            .skip_check()
            .send()
    };
    // Signed over the whole body instead of meta: the platform's 401.
    let error = send(
        form.body().to_vec(),
        String::from_utf8_lossy(form.body()).into_owned(),
    )
    .await
    .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::UNAUTHORIZED));
    assert_eq!(error.api_code(), Some("SIGN_ERROR"));

    // meta announces another file's digest.
    let other = sha256_hex(b"another file");
    let lying_meta = format!(r#"{{"filename":"a.png","sha256":"{other}"}}"#);
    let body = String::from_utf8_lossy(form.body()).replace(form.meta(), &lying_meta);
    let error = send(body.into_bytes(), lying_meta).await.unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
    assert!(error.to_string().contains("sha256"), "{error}");

    // meta lacks the file name.
    let short_meta = format!(r#"{{"sha256":"{}"}}"#, sha256_hex(PNG));
    let body = String::from_utf8_lossy(form.body()).replace(form.meta(), &short_meta);
    let error = send(body.into_bytes(), short_meta).await.unwrap_err();
    assert_eq!(error.api_code(), Some("PARAM_ERROR"));
    assert!(error.to_string().contains("/filename"), "{error}");
}

#[tokio::test]
async fn an_oversized_or_incomplete_upload_is_refused_before_anything_is_sent() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let mut huge = PNG.to_vec();
    huge.resize((5 << 20) + 1, 0);
    let error = wxpay
        .chain("v3/merchant/media/upload")
        .upload("huge.png", huge)
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Request { .. }), "{error:?}");
    assert!(error.to_string().contains("5 MiB"), "{error}");

    // From a path, the size is checked before the file is read.
    let dir = scratch("oversized");
    let path = dir.join("big.pdf");
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(8 << 20).unwrap();
    let error = wxpay
        .chain("v3/merchant/media/upload")
        .upload_from_path(&path)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("too large"), "{error}");

    // A meta field the endpoint requires, missing.
    let error = wxpay
        .chain("v3/marketing/bank/packages/{package_id}/tasks")
        .upload("users.csv", b"a\n".to_vec())
        .param("package_id", "8473295")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("meta field `bank_type`"),
        "{error}"
    );

    // meta() on a request that uploads nothing says so.
    let error = wxpay
        .chain("v3/certificates")
        .get()
        .meta("x", 1)
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("applies to uploads"), "{error}");
    assert!(
        sandbox.requests().is_empty(),
        "nothing reached the platform"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn uploads_from_a_reader_are_read_once_and_retried_with_the_same_body() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.fault(Fault::FailTimes {
        status: StatusCode::SERVICE_UNAVAILABLE,
        times: 1,
    });
    let answer = sandbox
        .client()
        .chain("v3/merchant-service/images/upload")
        .upload_from_reader("shot.png", std::io::Cursor::new(PNG.to_vec()))
        .idempotent()
        .retry(RetryPolicy::default())
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let seen = sandbox.requests();
    assert_eq!(seen.len(), 2, "one failure, one success");
    assert_eq!(seen[0].body, seen[1].body, "the same form, read once");
    assert_ne!(
        seen[0].headers["authorization"], seen[1].headers["authorization"],
        "each attempt is signed afresh"
    );
}

#[test]
fn the_blocking_client_uploads_and_downloads() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sandbox = runtime.block_on(Sandbox::start()).unwrap();
    let wxpay = wechatpay::blocking::Wechatpay::new(sandbox.client()).unwrap();
    let answer = wxpay
        .chain("v3/merchant/media/upload")
        .upload("a.png", PNG)
        .send()
        .unwrap();
    assert!(answer.json::<Value>().unwrap()["media_id"].is_string());
    let dir = scratch("blocking");
    let done = wxpay
        .download()
        .fundflowbill("2026-11-29")
        .account_type("OPERATION")
        .to_path(dir.join("fundflow.csv"))
        .unwrap();
    assert!(done.bytes > 0);
    assert_eq!(listing(&dir), ["fundflow.csv"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- downloads ---------------------------------------------------------------------------

/// A download of the sandbox's trade bill of 2026-11-29 to `dir/bill.csv`.
async fn download(
    sandbox: &Sandbox,
    dir: &Path,
    gzip: bool,
    adjust: impl FnOnce(wechatpay::download::DownloadBuilder) -> wechatpay::download::DownloadBuilder,
) -> Result<wechatpay::download::Downloaded, Error> {
    let mut builder = sandbox.client().download().tradebill("2026-11-29");
    if gzip {
        builder = builder.gzip();
    }
    adjust(builder).to_path(dir.join("bill.csv")).await
}

fn kind(error: &Error) -> &DownloadErrorKind {
    error
        .download()
        .unwrap_or_else(|| panic!("a download error, not {error:?}"))
        .kind()
}

#[tokio::test]
async fn plain_and_gzip_bills_arrive_whole_and_checked() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.serve_bills(BillServing::new().rows(5_000));
    let expected = BillSpec::new(BillKind::TradeAll, "2026-11-29").rows(5_000);
    for gzip in [false, true] {
        let dir = scratch(&format!("whole-{gzip}"));
        let done = download(&sandbox, &dir, gzip, |b| b).await.unwrap();
        assert_eq!(done.gzip, gzip);
        assert_eq!(
            std::fs::read(dir.join("bill.csv")).unwrap(),
            expected.to_vec()
        );
        assert_eq!(done.digest.as_bytes(), expected.digest().sha1);
        assert_eq!(listing(&dir), ["bill.csv"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    // Step one named the sandbox itself, and the file request was signed.
    let seen = sandbox.requests();
    let file = seen
        .iter()
        .find(|r| r.target.starts_with("/v3/billdownload/file?token="))
        .unwrap();
    assert!(file.headers.contains_key("authorization"));
}

#[tokio::test]
async fn every_failure_kind_is_distinct_and_leaves_no_file() {
    let sandbox = Sandbox::start().await.unwrap();
    /// A failure: its name, how bills are served, gzip or not, and what the error must be.
    type Case = (&'static str, BillServing, bool, Box<dyn Fn(&Error) -> bool>);
    let cases: Vec<Case> = vec![
        (
            "digest mismatch",
            BillServing::new().fault(BillFault::WrongDigest),
            true,
            Box::new(|e: &Error| {
                e.is_verification() && matches!(kind(e), DownloadErrorKind::DigestMismatch { .. })
            }),
        ),
        (
            "truncated plain",
            BillServing::new()
                .rows(2_000)
                .fault(BillFault::Truncate { after: 10_000 }),
            false,
            Box::new(|e: &Error| {
                matches!(
                    kind(e),
                    DownloadErrorKind::Truncated {
                        received: 10_000,
                        expected: Some(_)
                    }
                )
            }),
        ),
        (
            "truncated gzip",
            BillServing::new()
                .rows(20_000)
                .fault(BillFault::Truncate { after: 10_000 }),
            true,
            Box::new(|e: &Error| matches!(kind(e), DownloadErrorKind::Truncated { .. })),
        ),
        (
            "corrupt gzip",
            BillServing::new()
                .rows(20_000)
                .fault(BillFault::CorruptGzip),
            true,
            Box::new(|e: &Error| {
                matches!(kind(e), DownloadErrorKind::Decompress) && !e.is_verification()
            }),
        ),
    ];
    for (name, serving, gzip, expected) in cases {
        sandbox.serve_bills(serving);
        let dir = scratch(&name.replace(' ', "-"));
        std::fs::write(dir.join("bill.csv"), "yesterday's bill").unwrap();
        let error = download(&sandbox, &dir, gzip, |b| b).await.unwrap_err();
        assert!(expected(&error), "{name}: {error:?}");
        assert_eq!(
            listing(&dir),
            ["bill.csv"],
            "{name}: no temporary file left"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("bill.csv")).unwrap(),
            "yesterday's bill",
            "{name}: the old file is untouched"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn a_silent_file_stalls_and_an_oversized_one_is_cut_off() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.serve_bills(BillServing::new().rows(200).fault(BillFault::Slow {
        chunk: 1024,
        pause: Duration::from_millis(800),
    }));
    let dir = scratch("stall");
    let error = download(&sandbox, &dir, false, |b| {
        b.idle_timeout(Some(Duration::from_millis(200)))
    })
    .await
    .unwrap_err();
    assert!(
        matches!(kind(&error), DownloadErrorKind::Stalled { .. }),
        "{error:?}"
    );
    assert!(error.is_timeout());
    assert!(listing(&dir).is_empty());

    sandbox.serve_bills(BillServing::new().rows(5_000));
    let error = download(&sandbox, &dir, true, |b| b.max_size(100_000))
        .await
        .unwrap_err();
    assert!(
        matches!(kind(&error), DownloadErrorKind::TooLarge { limit: 100_000 }),
        "{error:?}"
    );
    assert!(listing(&dir).is_empty());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_response_cap_and_total_timeout_of_json_calls_do_not_apply_to_files() {
    let sandbox = Sandbox::start().await.unwrap();
    // 3.4 MB in 64 KiB pieces 40 ms apart: about 2 s, over a 1 s total timeout and a
    // 64 KiB response cap, within the 1 s idle timeout.
    sandbox.serve_bills(BillServing::new().rows(12_000).fault(BillFault::Slow {
        chunk: 64 << 10,
        pause: Duration::from_millis(40),
    }));
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .max_response_size(64 << 10)
        .timeouts(Timeouts {
            total: Duration::from_secs(1),
            ..Timeouts::default()
        })
        .build()
        .unwrap();
    let (tx, mut progress) = tokio::sync::watch::channel(Progress::default());
    let watcher = tokio::spawn(async move {
        let mut updates = 0u64;
        while progress.changed().await.is_ok() {
            updates += 1;
        }
        updates
    });
    let mut sink = Vec::new();
    let started = std::time::Instant::now();
    let done = wxpay
        .download()
        .tradebill("2026-11-29")
        .idle_timeout(Some(Duration::from_secs(1)))
        .watch_progress(tx)
        .to_writer(&mut sink)
        .await
        .unwrap();
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(done.bytes as usize, sink.len());
    assert!(sink.len() > 3_000_000);
    assert!(
        watcher.await.unwrap() > 10,
        "progress was published as it came"
    );
}

#[tokio::test]
async fn the_file_request_is_retried_only_before_a_byte_is_written() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let count_files = || {
        sandbox
            .requests()
            .iter()
            .filter(|r| r.target.starts_with("/v3/billdownload/file"))
            .count()
    };

    // The first file request is cut off before its answer: retried, and it succeeds.
    let link = wxpay
        .download()
        .tradebill("2026-11-29")
        .fetch_link()
        .await
        .unwrap();
    sandbox.fault(Fault::ResetConnection { times: 1 });
    let mut sink = Vec::new();
    wxpay
        .download()
        .link(link)
        .to_writer(&mut sink)
        .await
        .unwrap();
    assert_eq!(count_files(), 2);
    sandbox.clear_faults();

    // Cut off mid-file, after bytes were written: final, not retried.
    sandbox.serve_bills(
        BillServing::new()
            .rows(2_000)
            .fault(BillFault::Truncate { after: 5_000 }),
    );
    let mut sink = Vec::new();
    let error = wxpay
        .download()
        .tradebill("2026-11-29")
        .to_writer(&mut sink)
        .await
        .unwrap_err();
    assert!(
        matches!(kind(&error), DownloadErrorKind::Truncated { .. }),
        "{error:?}"
    );
    assert_eq!(count_files(), 3, "the truncated file was asked for once");
}

#[tokio::test]
async fn error_answers_to_either_step_are_api_errors() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    // Step one: a bad bill_type, refused like the platform.
    let error = wxpay
        .download()
        .tradebill("2026-11-29")
        .bill_type("EVERYTHING")
        .fetch_link()
        .await
        .unwrap_err();
    assert_eq!(error.api_code(), Some("PARAM_ERROR"));
    // The file: an error answer, read whole and verified, then classified.
    let link = wxpay
        .download()
        .tradebill("2026-11-29")
        .fetch_link()
        .await
        .unwrap();
    sandbox.fault(Fault::RespondOn {
        path: "v3/billdownload/file".into(),
        status: StatusCode::NOT_FOUND,
        body: json!({"code": "NO_STATEMENT_EXIST", "message": "账单文件不存在"}).to_string(),
    });
    let error = wxpay
        .download()
        .link(link)
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(error.api_code(), Some("NO_STATEMENT_EXIST"));
    // No source, two sources.
    let error = wxpay
        .download()
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no source"), "{error}");
    let error = wxpay
        .download()
        .tradebill("2026-11-29")
        .fundflowbill("2026-11-29")
        .fetch_link()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("two"), "{error}");
}

#[tokio::test]
async fn encrypted_bill_lists_are_refused_by_name() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let error = wxpay
        .download()
        .request(
            wxpay
                .chain("v3/bill/sub-merchant-fundflowbill")
                .get()
                .query("sub_mchid", "1900000109")
                .query("bill_date", "2026-11-29")
                .query("account_type", "BASIC")
                .query("algorithm", "AEAD_AES_256_GCM"),
        )
        .fetch_link()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("encrypt_key"), "{error}");
}

/// An HTTP stack that only reads whole answers (the trait's default `send_streaming`).
#[derive(Debug)]
struct WholeOnly(Arc<dyn HttpSend>, Arc<AtomicU64>);

impl HttpSend for WholeOnly {
    fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> BoxFuture<'_, Result<http::Response<Bytes>, SendError>> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.send(request)
    }
}

#[tokio::test]
async fn a_sender_without_streaming_still_downloads() {
    let sandbox = Sandbox::start().await.unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let wxpay = sandbox
        .client_builder()
        .unwrap()
        .wrap_http_sender(move |inner| WholeOnly(inner, counted))
        .build()
        .unwrap();
    let mut sink = Vec::new();
    let done = wxpay
        .download()
        .tradebill("2026-11-29")
        .gzip()
        .to_writer(&mut sink)
        .await
        .unwrap();
    assert!(done.gzip);
    assert_eq!(
        calls.load(Ordering::Relaxed),
        2,
        "step one and the file, through send()"
    );
}

#[tokio::test]
async fn download_errors_surface_through_error() {
    let sandbox = Sandbox::start().await.unwrap();
    sandbox.serve_bills(BillServing::new().fault(BillFault::WrongDigest));
    let error = sandbox
        .client()
        .download()
        .profitsharing_bill("2026-11-29")
        .to_writer(&mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Download(_)));
    assert!(error.is_verification() && !error.is_timeout());
    assert!(error.to_string().contains("do not use it"), "{error}");
    assert!(error.status().is_none());
    let debug = format!("{error:?}");
    assert!(debug.contains("DigestMismatch"), "{debug}");
}
