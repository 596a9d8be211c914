//! Upload bodies (`multipart/form-data`), cross-checked with independent implementations:
//! - Python's `email` package parses the body (given the Content-Type header) and hands
//!   back every part's name, file name, content type and bytes, compared byte for byte;
//! - `curl -F` builds the same form (its bytes captured by a listener in this test): with
//!   curl's boundary, the crate's body is identical;
//! - the `openssl` binary verifies the RSA-SHA256 signature of the APIv3 message whose
//!   BODY is the `meta` JSON, made with the sandbox merchant key.
//!
//! Python and curl are optional (a test prints why it skips); openssl is required, as in
//! tests/encrypt.rs.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::Value;
use wechatpay::multipart::{Multipart, UploadForm};
use wechatpay::{sandbox, sign, PrivateKey};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A PNG signature followed by every byte value, CR LF pairs and things that look like
/// boundaries, so a parser that normalizes line ends or stops early is caught.
fn awkward_png() -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    data.extend(0..=255u8);
    data.extend_from_slice(b"\r\n--\r\n--not-the-boundary\r\n\n\r\r\n");
    data.extend((0..4096u32).map(|i| (i * 7 % 251) as u8));
    data.extend_from_slice(b"\r\n");
    data
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

// ---- Python's email package -------------------------------------------------------------

const PARSE_PY: &str = r#"
import base64, email.parser, email.policy, json, sys
content_type = sys.argv[1]
body = sys.stdin.buffer.read()
message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
    b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
parts = []
for part in message.iter_parts():
    def raw(text):
        return None if text is None else base64.b64encode(str(text).encode("utf-8", "surrogateescape")).decode()
    parts.append({
        "name": part.get_param("name", header="content-disposition"),
        "filename": raw(part.get_param("filename", header="content-disposition")),
        "content_type": part.get_content_type() if "Content-Type" in part else None,
        "payload": base64.b64encode(part.get_payload(decode=True)).decode(),
    })
print(json.dumps({
    "multipart": message.is_multipart(),
    "defects": [type(d).__name__ for d in message.defects],
    "preamble": message.preamble,
    "epilogue": message.epilogue,
    "parts": parts,
}))
"#;

fn python_parse(form: &Multipart) -> Option<Value> {
    if !have("python3") {
        println!("skipped: python3 is not installed");
        return None;
    }
    let mut child = Command::new("python3")
        .args(["-c", PARSE_PY, form.content_type()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    child.stdin.take().unwrap().write_all(form.body()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("python prints JSON"))
}

fn b64(value: &Value) -> Vec<u8> {
    B64.decode(value.as_str().expect("base64 text")).unwrap()
}

#[test]
fn python_email_reads_every_part_byte_for_byte() {
    let file = awkward_png();
    let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.png")
        .from_bytes(file.clone())
        .unwrap();
    let Some(parsed) = python_parse(&form) else {
        return;
    };
    assert_eq!(parsed["multipart"], true);
    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
    let parts = parsed["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{parsed}");

    assert_eq!(parts[0]["name"], "meta");
    assert_eq!(parts[0]["filename"], Value::Null);
    assert_eq!(parts[0]["content_type"], "application/json");
    assert_eq!(
        b64(&parts[0]["payload"]),
        form.meta().as_bytes(),
        "the signed bytes are the sent bytes"
    );
    let meta: Value = serde_json::from_str(form.meta()).unwrap();
    assert_eq!(meta["filename"], "a.png");
    assert_eq!(meta["sha256"], form.sha256_hex());

    assert_eq!(parts[1]["name"], "file");
    assert_eq!(b64(&parts[1]["filename"]), b"a.png");
    assert_eq!(parts[1]["content_type"], "image/png");
    assert_eq!(b64(&parts[1]["payload"]), file);
}

#[test]
fn python_email_reads_extra_fields_and_a_chinese_file_name() {
    let file = awkward_png();
    let form = UploadForm::for_endpoint(
        "v3/mch-manage/submission-files/sub-mchid/1900000109/upload",
        "营业执照.png",
    )
    .field("item_id", "56")
    .field("manage_record_id", "M1210999900435123451697535102441")
    .from_bytes(file.clone())
    .unwrap();
    let Some(parsed) = python_parse(&form) else {
        return;
    };
    assert_eq!(parsed["defects"], serde_json::json!([]), "{parsed}");
    let parts = parsed["parts"].as_array().unwrap();
    let names: Vec<&str> = parts.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["meta", "item_id", "manage_record_id", "submission_file"]
    );
    assert_eq!(b64(&parts[1]["payload"]), b"56");
    assert_eq!(parts[1]["content_type"], Value::Null);
    assert_eq!(b64(&parts[3]["filename"]), "营业执照.png".as_bytes());
    assert_eq!(b64(&parts[3]["payload"]), file);
    let meta: Value = serde_json::from_str(form.meta()).unwrap();
    assert_eq!(meta["file_name"], "营业执照.png");
    assert_eq!(meta["file_digest"], form.sha256_hex().to_ascii_uppercase());
}

// ---- curl -F ----------------------------------------------------------------------------------

/// Runs curl with `args` against a one-shot listener; returns the request's Content-Type
/// and body as curl sent them.
fn capture_curl(args: &[String]) -> (String, Vec<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/v3/merchant/media/upload",
        listener.local_addr().unwrap()
    );
    let server = std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "curl closed before its headers ended");
            request.extend_from_slice(&buf[..n]);
            if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8(request[..head_end].to_vec()).unwrap();
        let header = |name: &str| {
            head.lines()
                .find_map(|l| {
                    l.split_once(':')
                        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                })
                .map(|(_, v)| v.trim().to_owned())
        };
        if header("Expect").is_some() {
            tcp.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap();
        }
        let length: usize = header("Content-Length")
            .expect("curl sends a Content-Length")
            .parse()
            .unwrap();
        let mut body = request[head_end..].to_vec();
        while body.len() < length {
            let n = tcp.read(&mut buf).unwrap();
            assert!(n > 0, "curl closed mid-body");
            body.extend_from_slice(&buf[..n]);
        }
        tcp.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        (header("Content-Type").unwrap(), body)
    });
    let status = Command::new("curl")
        .args(["-s", "-S", "-o", "/dev/null", "--max-time", "20"])
        .args(args)
        .arg(&url)
        .status()
        .expect("curl runs");
    assert!(status.success(), "curl failed");
    server.join().unwrap()
}

#[test]
fn curl_sends_the_same_bytes() {
    if !have("curl") {
        println!("skipped: curl is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = awkward_png();
    let file_path = dir.path().join("upload.bin");
    std::fs::write(&file_path, &file).unwrap();

    /// Endpoint, file name, extra form fields.
    type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
    let cases: [Case; 2] = [
        ("v3/merchant/media/upload", "a.png", &[]),
        (
            "v3/mch-manage/submission-files/sub-mchid/1900000109/upload",
            "营业执照.png",
            &[("item_id", "56"), ("manage_record_id", "M12109999")],
        ),
    ];
    for (endpoint, name, fields) in cases {
        let mut form = UploadForm::for_endpoint(endpoint, name);
        for (field, value) in fields {
            form = form.field(field, value);
        }
        let ours = form.clone().from_bytes(file.clone()).unwrap();
        let meta_path = dir.path().join("meta.json");
        std::fs::write(&meta_path, ours.meta()).unwrap();

        let mut args = vec![
            "-F".to_owned(),
            format!("meta=<{};type=application/json", meta_path.display()),
        ];
        for (field, value) in fields {
            args.push("-F".into());
            args.push(format!("{field}={value}"));
        }
        let file_field = wechatpay::multipart::UploadRule::find(endpoint)
            .unwrap()
            .file_field;
        args.push("-F".into());
        args.push(format!(
            "{file_field}=@{};type=image/png;filename={name}",
            file_path.display()
        ));
        let (content_type, curls) = capture_curl(&args);

        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap_or_else(|| panic!("curl's Content-Type: {content_type}"));
        let same = form.boundary(boundary).from_bytes(file.clone()).unwrap();
        assert_eq!(same.content_type(), content_type);
        assert!(
            same.body() == curls.as_slice(),
            "{endpoint}: the bodies differ\n--- ours\n{}\n--- curl\n{}",
            String::from_utf8_lossy(same.body()),
            String::from_utf8_lossy(&curls)
        );
    }
}

// ---- OpenSSL -----------------------------------------------------------------------------------

fn key_path(name: &str) -> String {
    format!("{}/src/sandbox/keys/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// `openssl dgst -sha256 -verify` of `signature` over `message` with the merchant
/// certificate's public key; true when OpenSSL says "Verified OK".
fn openssl_verifies(dir: &std::path::Path, message: &[u8], signature: &[u8]) -> bool {
    let public = dir.join("merchant_pub.pem");
    let out = Command::new("openssl")
        .args([
            "x509",
            "-in",
            &key_path("merchant_cert.pem"),
            "-pubkey",
            "-noout",
        ])
        .output()
        .expect("the openssl binary is needed by this test (apt-get install openssl)");
    assert!(out.status.success());
    std::fs::write(&public, out.stdout).unwrap();
    std::fs::write(dir.join("message"), message).unwrap();
    std::fs::write(dir.join("signature"), signature).unwrap();
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-verify"])
        .arg(&public)
        .arg("-signature")
        .arg(dir.join("signature"))
        .arg(dir.join("message"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("Verified OK") && out.status.success()
}

#[test]
fn the_meta_signature_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.png")
        .from_bytes(awkward_png())
        .unwrap();
    let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let (timestamp, nonce) = (1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242");
    let message = sign::message(
        "POST",
        "/v3/merchant/media/upload",
        timestamp,
        nonce,
        form.meta().as_bytes(),
    );
    let signature = B64.decode(key.sign(&message).unwrap()).unwrap();
    assert!(openssl_verifies(dir.path(), &message, &signature));

    // The Authorization header the crate would send carries the same signature.
    let auth = sign::Authorization::sign(
        sandbox::MERCHANT_ID,
        sandbox::MERCHANT_SERIAL,
        &key,
        "POST",
        "/v3/merchant/media/upload",
        timestamp,
        nonce,
        form.meta().as_bytes(),
    )
    .unwrap();
    assert_eq!(B64.decode(&auth.signature).unwrap(), signature);

    // Over the whole body instead of the meta, the signature fails: the meta is what counts.
    let whole = sign::message(
        "POST",
        "/v3/merchant/media/upload",
        timestamp,
        nonce,
        form.body(),
    );
    assert!(!openssl_verifies(dir.path(), &whole, &signature));
}

#[tokio::test]
async fn an_over_limit_file_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mp4");
    let mut video = b"\0\0\0\x20ftypisom".to_vec();
    video.resize((5 << 20) + 1, 0);
    std::fs::write(&path, &video).unwrap();
    let err = UploadForm::for_endpoint("v3/merchant/media/video_upload", "clip.mp4")
        .from_path(&path)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`clip.mp4` is too large: 5242881 bytes"),
        "{message}"
    );
    assert!(message.contains("up to 5 MiB"), "{message}");

    video.truncate(5 << 20);
    std::fs::write(&path, &video).unwrap();
    let form = UploadForm::for_endpoint("v3/merchant/media/video_upload", "clip.mp4")
        .from_path(&path)
        .await
        .unwrap();
    assert_eq!(form.file_content_type(), "video/mp4");
    assert_eq!(form.file_len(), 5 << 20);
}

#[test]
fn an_upload_through_the_chain_is_the_same_form_and_its_signature_verifies_with_openssl() {
    let dir = tempfile::tempdir().unwrap();
    let (timestamp, nonce) = (1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242");
    let wxpay = sandbox::offline_client().unwrap();
    let request = wxpay
        .chain("v3/merchant/media/upload")
        .upload("a.png", awkward_png())
        .boundary("chain-boundary")
        .timestamp(timestamp)
        .nonce(nonce)
        .build()
        .unwrap();
    let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.png")
        .boundary("chain-boundary")
        .from_bytes(awkward_png())
        .unwrap();
    // Byte for byte the form Python's email parser and curl agree with (tests above).
    assert_eq!(request.body(), form.body());
    assert_eq!(request.headers()["content-type"], form.content_type());
    let auth =
        sign::Authorization::parse(request.headers()["authorization"].to_str().unwrap()).unwrap();
    let signature = B64.decode(&auth.signature).unwrap();
    let over_meta = sign::message(
        "POST",
        "/v3/merchant/media/upload",
        timestamp,
        nonce,
        form.meta().as_bytes(),
    );
    assert!(openssl_verifies(dir.path(), &over_meta, &signature));
}
