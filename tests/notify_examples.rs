//! The README's "Receiving notifications" programs, `examples/axum_notify.rs` and
//! `examples/actix_notify.rs`, run as the processes a merchant would deploy: built by
//! cargo, started on 127.0.0.1 with `PORT=0`, fed notifications the sandbox signs, and
//! judged by the `fulfilled <out_trade_no>` lines on their stdout. One instance keeps ids
//! in memory; two instances sharing `REDIS_URL` fulfil each notification once between
//! them.

#[path = "common/notify.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde_json::json;
use support::{
    assert_acked_or_retryable, assert_fail_body, deliver, deliver_concurrently, payment,
};
use wechatpay::sandbox::{Fault, NotificationBuilder};

/// The crate features this test was built with (the examples need axum, actix-web and
/// redis, which it requires), so the nested build reuses the library instead of rebuilding it.
fn this_tests_features() -> String {
    let optional = [
        ("pkcs12", cfg!(feature = "pkcs12")),
        ("aws-lc-rs", cfg!(feature = "aws-lc-rs")),
        ("zlib-rs", cfg!(feature = "zlib-rs")),
        ("native-roots", cfg!(feature = "native-roots")),
    ];
    let mut features = vec!["axum", "actix-web", "redis"];
    features.extend(optional.iter().filter(|(_, on)| *on).map(|(name, _)| *name));
    features.join(",")
}

/// Builds both examples once (with this test's features, so the library is not rebuilt)
/// and returns their executables by name.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let mut cargo = Command::new(env!("CARGO"));
        // Cargo gives the test its package's CARGO_MANIFEST_DIR, CARGO_PKG_*, …; build
        // scripts that watch those (ring's does) would count them as changed and rebuild.
        for (variable, _) in std::env::vars_os() {
            let variable = variable.to_string_lossy().into_owned();
            let per_target = [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| variable.starts_with(prefix))
                || [
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&variable.as_str());
            if per_target {
                cargo.env_remove(variable);
            }
        }
        let output = cargo
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "build",
                "-p",
                "wechatpay",
                "--example",
                "axum_notify",
                "--example",
                "actix_notify",
                "--features",
                &this_tests_features(),
                "--message-format=json-render-diagnostics",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cargo runs");
        assert!(output.status.success(), "the examples build");
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["reason"] == "compiler-artifact")
            .filter_map(|message| {
                let name = message["target"]["name"].as_str()?.to_owned();
                let path = PathBuf::from(message["executable"].as_str()?);
                Some((name, path))
            })
            .collect()
    });
    built
        .iter()
        .find(|(built, _)| built == name)
        .map(|(_, path)| path.clone())
        .unwrap_or_else(|| panic!("cargo built no `{name}` example"))
}

/// A running example process; killed on drop.
struct Instance {
    child: Child,
    url: String,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Instance {
    /// Starts `name` on a free port, with `REDIS_URL` if given and no `WECHATPAY_*`
    /// credentials (so it trusts the sandbox's keys), and waits for its address.
    fn start(name: &str, redis_url: Option<&str>) -> Instance {
        let mut command = Command::new(example(name));
        command
            .env("PORT", "0")
            .env_remove("REDIS_URL")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (variable, _) in std::env::vars_os() {
            if variable.to_string_lossy().starts_with("WECHATPAY_") {
                command.env_remove(variable);
            }
        }
        if let Some(url) = redis_url {
            command.env("REDIS_URL", url);
        }
        let mut child = command.spawn().expect("the example starts");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = BufReader::new(child.stdout.take().expect("piped stdout"));
        let collected = stdout.clone();
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                collected.lock().unwrap().push(line);
            }
        });
        let (address, found) = mpsc::channel();
        let errors = BufReader::new(child.stderr.take().expect("piped stderr"));
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            for line in errors.lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = address.send(Ok(url.to_owned()));
                }
                seen.push(line);
            }
            let _ = address.send(Err(seen.join("\n")));
        });
        let url = match found.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(url)) => url,
            Ok(Err(stderr)) => panic!("{name} exited before listening:\n{stderr}"),
            Err(_) => panic!("{name} did not start listening within 30 s"),
        };
        Instance { child, url, stdout }
    }

    fn fulfilled(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `fulfilled …` lines of all `instances`, once at least `expected` have arrived
/// (stdout is read by another thread) or 5 s have passed.
async fn fulfilled_lines(instances: &[&Instance], expected: usize) -> Vec<String> {
    for _ in 0..500 {
        let lines: Vec<String> = instances.iter().flat_map(|i| i.fulfilled()).collect();
        if lines.len() >= expected {
            // Give a duplicate the chance to show up too.
            tokio::time::sleep(Duration::from_millis(200)).await;
            return instances.iter().flat_map(|i| i.fulfilled()).collect();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    instances.iter().flat_map(|i| i.fulfilled()).collect()
}

/// 50 deliveries of one payment at once, spread over `instances`, then a forged and a
/// stale notification: one `fulfilled` line in all.
async fn check_fulfils_once(instances: &[&Instance], out_trade_no: &str) {
    let urls: Vec<String> = instances.iter().map(|i| i.url.clone()).collect();
    let paid = payment(out_trade_no);
    let answers = deliver_concurrently(&paid, &urls, 50).await;
    assert!(assert_acked_or_retryable(&answers) >= 1);
    for (what, fault) in [
        ("tampered", Fault::TamperBody),
        ("stale", Fault::SkewClock(-600)),
        ("probe", Fault::ProbeSignature),
    ] {
        let forged = NotificationBuilder::new(
            "TRANSACTION.SUCCESS",
            json!({ "out_trade_no": format!("{out_trade_no}-{what}"), "trade_state": "SUCCESS" }),
        )
        .fault(fault)
        .build()
        .unwrap();
        let (status, body) = deliver(&forged, &urls[0]).await;
        assert_eq!(status.as_u16(), 401, "{what}");
        assert_fail_body(&body);
    }
    assert_eq!(
        fulfilled_lines(instances, 1).await,
        [format!("fulfilled {out_trade_no}")]
    );
}

async fn check_example(name: &str, test: &str) {
    let single = Instance::start(name, None);
    check_fulfils_once(&[&single], "EXAMPLE-MEMORY-1").await;
    drop(single);

    let Some(redis_url) = support::redis_url(test).await else {
        return;
    };
    // A fresh order number: the instances share the Redis (and its records) with other
    // runs and tests.
    let out_trade_no = format!("EXAMPLE-REDIS-{}", support::unique_number());
    let a = Instance::start(name, Some(&redis_url));
    let b = Instance::start(name, Some(&redis_url));
    check_fulfils_once(&[&a, &b], &out_trade_no).await;
}

#[tokio::test]
async fn the_axum_example_fulfils_each_payment_once() {
    check_example("axum_notify", "the_axum_example_fulfils_each_payment_once").await;
}

#[tokio::test]
async fn the_actix_example_fulfils_each_payment_once() {
    check_example(
        "actix_notify",
        "the_actix_example_fulfils_each_payment_once",
    )
    .await;
}

/// The README's "Receiving notifications" Rust blocks are verbatim excerpts of the two
/// examples tested above.
#[test]
fn the_readme_shows_the_tested_examples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |path: &str| std::fs::read_to_string(root.join(path)).expect("readable");
    let readme = read("README.md");
    let examples = [
        read("examples/axum_notify.rs"),
        read("examples/actix_notify.rs"),
    ];
    let section = readme
        .split("\n## Receiving notifications\n")
        .nth(1)
        .expect("the README has a \"Receiving notifications\" section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let blocks: Vec<&str> = section
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split("```").next())
        .collect();
    assert!(blocks.len() >= 4, "the section shows both examples");
    for block in blocks {
        assert!(
            examples.iter().any(|example| example.contains(block)),
            "this README block is not in examples/axum_notify.rs or examples/actix_notify.rs:\n{block}"
        );
    }
}
