//! The target ratios, measured in pairs: `build()` against a raw RSA signature of the
//! same message with the same backend, and response verification against a raw ring
//! verification. Each round times a batch of one, then a batch of the other (alternating
//! which goes first), and the figure is the median of the per-round ratios: on a shared
//! machine whose speed drifts between runs, both sides of a pair see the same drift.
//! Run: `cargo bench --bench ratios` (and `--features aws-lc-rs`).

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use http::HeaderMap;
use serde_json::json;
use wechatpay::{sandbox, PrivateKey, Verifier};

const ROUNDS: usize = 41;
const TIMESTAMP: u64 = 1554208460;
const NONCE: &str = "593BEC0C930BF1AFEB40B4A08C8FB242";

fn timed(batch: usize, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed()
}

/// Median over rounds of time(a)/time(b), with the per-call times of each side.
fn paired(batch: usize, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, Duration, Duration) {
    let (mut ratios, mut ta, mut tb) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (x, y) = if round % 2 == 0 {
            let x = timed(batch, &mut a);
            (x, timed(batch, &mut b))
        } else {
            let y = timed(batch, &mut b);
            (timed(batch, &mut a), y)
        };
        ratios.push(x.as_secs_f64() / y.as_secs_f64());
        ta.push(x / batch as u32);
        tb.push(y / batch as u32);
    }
    ratios.sort_by(f64::total_cmp);
    ta.sort();
    tb.sort();
    (ratios[ROUNDS / 2], ta[ROUNDS / 2], tb[ROUNDS / 2])
}

const THROUGHPUT_ROUNDS: usize = 11;
const IN_FLIGHT: usize = 16;

/// Requests per second for `window`: one client keeping `IN_FLIGHT` requests in flight
/// against the in-process sandbox, on a runtime with one worker per core.
async fn loopback(wxpay: &wechatpay::Wechatpay, window: Duration) -> f64 {
    let (done, elapsed) = support::load(wxpay, IN_FLIGHT, support::Until::Elapsed(window)).await;
    done as f64 / elapsed.as_secs_f64()
}

/// Signatures per second for `window` with every core signing (the crate's backend).
fn ceiling(key: &PrivateKey, message: &[u8], window: Duration) -> f64 {
    let start = Instant::now();
    let total: u32 = std::thread::scope(|s| {
        let threads: Vec<_> = (0..support::cores())
            .map(|_| {
                s.spawn(|| {
                    let mut n = 0u32;
                    while start.elapsed() < window {
                        black_box(key.sign(message).expect("sign"));
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
    });
    f64::from(total) / start.elapsed().as_secs_f64()
}

/// Median over rounds of loopback throughput / signing ceiling, measured back to back.
fn throughput(window_ms: u64) -> (f64, f64, f64) {
    let window = Duration::from_millis(window_ms);
    let runtime = support::runtime();
    let sandbox = runtime.block_on(support::sandbox());
    let wxpay = sandbox.client();
    let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM).expect("key");
    let message = b"POST\n/v3/x\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{}\n";
    runtime.block_on(loopback(&wxpay, window / 2));
    let (mut ratios, mut rates, mut ceilings) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..THROUGHPUT_ROUNDS {
        let (rate, top) = if round % 2 == 0 {
            let rate = runtime.block_on(loopback(&wxpay, window));
            (rate, ceiling(&key, message, window))
        } else {
            let top = ceiling(&key, message, window);
            (runtime.block_on(loopback(&wxpay, window)), top)
        };
        ratios.push(rate / top);
        rates.push(rate);
        ceilings.push(top);
    }
    for v in [&mut ratios, &mut rates, &mut ceilings] {
        v.sort_by(f64::total_cmp);
    }
    let mid = THROUGHPUT_ROUNDS / 2;
    (ratios[mid], rates[mid], ceilings[mid])
}

fn main() {
    // `cargo test --benches` runs bench binaries too: keep that quick.
    let batch = if std::env::args().any(|a| a == "--bench") {
        20
    } else {
        1
    };
    let wxpay = sandbox::offline_client().expect("sandbox keys");
    let body = json!({"appid": "wxd678efh567hg6787", "service_id": "500001",
                      "type": "Order_Paid", "detail": {"paid_time": "20091225091210"}});
    let message = wechatpay::sign::message(
        "POST",
        "/v3/payscore/serviceorder/1234323JKHDFE1243252/sync",
        TIMESTAMP,
        NONCE,
        &serde_json::to_vec(&body).expect("JSON"),
    );
    let der = base64::engine::general_purpose::STANDARD
        .decode(
            sandbox::MERCHANT_PRIVATE_KEY_PEM
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<String>(),
        )
        .expect("PEM body");
    let mut signature = vec![0u8; 256];

    // The raw signature with the backend this build signs with.
    let backend = wechatpay::crypto::signing_backend();
    let ring_key = ring::rsa::KeyPair::from_pkcs8(&der).expect("ring key");
    let aws_key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).expect("aws-lc key");
    let ring_rng = ring::rand::SystemRandom::new();
    let aws_rng = aws_lc_rs::rand::SystemRandom::new();
    let mut raw_sign = || {
        if backend == "aws-lc-rs" {
            aws_key
                .sign(
                    &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                    &aws_rng,
                    &message,
                    &mut signature,
                )
                .expect("sign");
        } else {
            ring_key
                .sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring_rng,
                    &message,
                    &mut signature,
                )
                .expect("sign");
        }
        black_box(&signature);
    };
    let build = || {
        black_box(
            wxpay
                .chain("v3/payscore/serviceorder/{out_order_no}/sync")
                .post(&body)
                .param("out_order_no", "1234323JKHDFE1243252")
                .timestamp(TIMESTAMP)
                .nonce(NONCE)
                .build()
                .expect("build"),
        );
    };
    let (sign_ratio, build_time, sign_time) = paired(batch, build, &mut raw_sign);

    // An answer signed as the platform signs it.
    let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM).expect("key");
    let answer = br#"{"appid":"wxd678efh567hg6787","mchid":"1900000001","order_id":"15646546545165651651","out_order_no":"1234323JKHDFE1243252"}"#;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let signed = wechatpay::verify::message(&now, NONCE, answer);
    let answer_signature = platform.sign(&signed).expect("sign");
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("Wechatpay-Timestamp", now.as_str()),
        ("Wechatpay-Nonce", NONCE),
        ("Wechatpay-Signature", answer_signature.as_str()),
        ("Wechatpay-Serial", sandbox::PLATFORM_SERIAL),
    ] {
        headers.insert(name, value.parse().expect("header"));
    }
    let verifier = Verifier::new()
        .with_key(sandbox::PLATFORM_SERIAL, platform.public_key().clone())
        .expect("verifier");
    let raw_signature = base64::engine::general_purpose::STANDARD
        .decode(&answer_signature)
        .expect("base64");
    // The PKCS#1 RSAPublicKey inside a 2048-bit SPKI starts at byte 24.
    let pkcs1 = platform.public_key().spki_der()[24..].to_vec();
    let (verify_ratio, verify_time, raw_verify_time) = paired(
        batch * 20,
        || {
            verifier
                .verify(black_box(&headers), black_box(answer))
                .expect("verifies")
        },
        || {
            ring::signature::UnparsedPublicKey::new(
                &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                &pkcs1,
            )
            .verify(black_box(&signed), black_box(&raw_signature))
            .expect("verifies")
        },
    );

    let (throughput_ratio, loopback, ceiling) = throughput(if batch == 1 { 50 } else { 500 });

    println!(
        "ratios ({backend}, median of {THROUGHPUT_ROUNDS} paired rounds): loopback throughput at \
         {IN_FLIGHT} in flight / signing ceiling = {throughput_ratio:.2} ({loopback:.0}/s vs \
         {ceiling:.0}/s on {} cores; target >= 0.70)",
        support::cores()
    );
    println!(
        "ratios ({backend}, median of {ROUNDS} paired rounds): build()/raw sign = {sign_ratio:.3} \
         ({build_time:?} vs {sign_time:?}; target <= 1.05); verify/raw verify = {verify_ratio:.3} \
         ({verify_time:?} vs {raw_verify_time:?}; target <= 1.10)"
    );
}
