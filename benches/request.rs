//! The cost of building, signing and verifying one request, next to the raw RSA cost it
//! cannot avoid. Run: `cargo bench --bench request` (add `--features aws-lc-rs` for the
//! aws-lc-rs signer). BENCHMARKS.md explains the figures and their ratios.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use http::HeaderMap;
use serde_json::{json, Map, Value};
use wechatpay::{sandbox, PrivateKey, UriTemplate, Verifier};

const TEMPLATE: &str = "v3/payscore/serviceorder/{out_order_no}/sync";
const TIMESTAMP: u64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

fn seed_body() -> Value {
    json!({
        "appid": "wxd678efh567hg6787",
        "service_id": "500001",
        "type": "Order_Paid",
        "detail": { "paid_time": "20091225091210" },
    })
}

/// The message `build()` signs for the seed request, built independently.
fn seed_message() -> Vec<u8> {
    let body = serde_json::to_vec(&seed_body()).unwrap();
    wechatpay::sign::message(
        "POST",
        "/v3/payscore/serviceorder/1234323JKHDFE1243252/sync",
        TIMESTAMP,
        NONCE,
        &body,
    )
}

fn template(c: &mut Criterion) {
    let wxpay = sandbox::offline_client().unwrap();
    let mut vars = Map::new();
    vars.insert("out_order_no".into(), json!("1234323JKHDFE1243252"));
    let body = seed_body();
    let mut group = c.benchmark_group("template");
    group.bench_function("parse_and_expand", |b| {
        b.iter(|| {
            let t = UriTemplate::parse(black_box(TEMPLATE)).unwrap();
            black_box(t.expand(&vars).unwrap())
        })
    });
    group.bench_function("chain_macro_and_params", |b| {
        b.iter(|| {
            black_box(
                wechatpay::chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync)
                    .post(&body)
                    .param("out_order_no", "1234323JKHDFE1243252"),
            )
        })
    });
    group.finish();
}

fn sign(c: &mut Criterion) {
    let wxpay = sandbox::offline_client().unwrap();
    let body = seed_body();
    let message = seed_message();
    let pem = sandbox::MERCHANT_PRIVATE_KEY_PEM;
    let der = rustls_pki_types_der(pem);
    let ring_key = ring::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let aws_key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).unwrap();
    let rng = ring::rand::SystemRandom::new();
    let aws_rng = aws_lc_rs::rand::SystemRandom::new();

    let mut group = c.benchmark_group("sign");
    // The build/raw ratio is the figure that matters here: longer runs narrow the noise.
    group
        .measurement_time(Duration::from_secs(6))
        .sample_size(60);
    group.bench_function("build_seed_request", |b| {
        b.iter(|| {
            black_box(
                wxpay
                    .chain(TEMPLATE)
                    .post(&body)
                    .param("out_order_no", "1234323JKHDFE1243252")
                    .timestamp(TIMESTAMP)
                    .nonce(NONCE)
                    .build()
                    .unwrap(),
            )
        })
    });
    group.bench_function("raw_ring_rsa2048_sha256", |b| {
        let mut sig = vec![0; 256];
        b.iter(|| {
            ring_key
                .sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    black_box(&message),
                    &mut sig,
                )
                .unwrap();
            black_box(&sig);
        })
    });
    group.bench_function("raw_aws_lc_rsa2048_sha256", |b| {
        let mut sig = vec![0; 256];
        b.iter(|| {
            aws_key
                .sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_rng,
                    black_box(&message),
                    &mut sig,
                )
                .unwrap();
            black_box(&sig);
        })
    });
    group.finish();
}

/// The machine's signing ceiling: every core signing at once, with the backend the crate
/// was built with (through the public `PrivateKey::sign`).
fn ceiling(c: &mut Criterion) {
    let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let message = seed_message();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_thread = 64;
    let mut group = c.benchmark_group("ceiling");
    group.throughput(Throughput::Elements((threads * per_thread) as u64));
    group.bench_function(format!("sign_on_{threads}_threads"), |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for _ in 0..threads {
                    s.spawn(|| {
                        for _ in 0..per_thread {
                            black_box(key.sign(&message).unwrap());
                        }
                    });
                }
            })
        })
    });
    group.finish();
}

fn verify(c: &mut Criterion) {
    // An answer signed as the platform signs: the seed's 200 body, real headers.
    let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM).unwrap();
    let body = br#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","order_id":"15646546545165651651","out_order_no":"1234323JKHDFE1243252"}"#;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let message = wechatpay::verify::message(&now, NONCE, body);
    let signature = platform.sign(&message).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Wechatpay-Timestamp", now.parse().unwrap());
    headers.insert("Wechatpay-Nonce", NONCE.parse().unwrap());
    headers.insert("Wechatpay-Signature", signature.parse().unwrap());
    headers.insert(
        "Wechatpay-Serial",
        sandbox::PLATFORM_SERIAL.parse().unwrap(),
    );
    headers.insert(
        "Request-ID",
        "08F78BB5AF0610D302839A5306E2E61900".parse().unwrap(),
    );
    let verifier = Verifier::new()
        .with_key(sandbox::PLATFORM_SERIAL, platform.public_key().clone())
        .unwrap();
    verifier.verify(&headers, body).unwrap();

    let raw_signature = base64::engine::general_purpose::STANDARD
        .decode(&signature)
        .unwrap();
    let pkcs1 = pkcs1_of(platform.public_key().spki_der());

    let mut group = c.benchmark_group("verify");
    group.bench_function("verify_response", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&headers), black_box(body))
                .unwrap()
        })
    });
    group.bench_function("raw_ring_rsa2048_sha256", |b| {
        b.iter(|| {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &pkcs1,
            )
            .verify(black_box(&message), black_box(&raw_signature))
            .unwrap()
        })
    });
    group.bench_function("raw_aws_lc_parsed_rsa2048_sha256", |b| {
        let parsed = aws_lc_rs::signature::ParsedPublicKey::new(
            &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
            &pkcs1,
        )
        .unwrap();
        b.iter(|| {
            parsed
                .verify_sig(black_box(&message), black_box(&raw_signature))
                .unwrap()
        })
    });
    group.finish();
}

/// PKCS#8 DER of a PEM private key (the benchmark's own decoding, not the crate's).
fn rustls_pki_types_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// The PKCS#1 `RSAPublicKey` inside an SPKI: the bit string after the 24-byte header of a
/// 2048-bit key (30 82 01 22 30 0d ... 03 82 01 0f 00).
fn pkcs1_of(spki: &[u8]) -> Vec<u8> {
    assert_eq!(spki.len(), 294, "a 2048-bit RSA SPKI");
    spki[24..].to_vec()
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = template, sign, verify, ceiling
}
criterion_main!(benches);
