//! The `wxpay` binary, run as a user would: the seed calls against the embedded sandbox
//! in both URI forms, `--dry-run` snapshots, every error with its exit code, and calls
//! with credentials to a `wxpay sandbox` served by another process.
//!
//! Every child runs with no `WECHATPAY_*` variable inherited, is killed when its test
//! ends (pass or fail), and every wait has a deadline. Nothing leaves 127.0.0.1.

// The binary exists only with the (default) `cli` feature.

#[path = "../../../../tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{seeds, NONCE, OUT_ORDER_NO, TIMESTAMP};
use serde_json::Value;
use wechatpay::sandbox::{MERCHANT_ID, MERCHANT_SERIAL, PLATFORM_SERIAL};

/// How long any one child may take.
const DEADLINE: Duration = Duration::from_secs(60);

/// The body of the seed call in the issue's "Done when" command.
const SEED_BODY: &str = r#"{"appid":"wxd678efh567hg6787","service_id":"500001","type":"Order_Paid","detail":{"paid_time":"20091225091210"}}"#;
const SEED_CHAIN: &str = "v3.payscore.serviceorder._out_order_no_.sync";
const SEED_TEMPLATE: &str = "v3/payscore/serviceorder/{out_order_no}/sync";

/// Exit codes, as documented in `wxpay --help`.
const USAGE: i32 = 2;
const CONFIG: i32 = 3;
const TRANSPORT: i32 = 4;
const API: i32 = 5;
const VERIFICATION: i32 = 6;

// ---------------------------------------------------------------------------------------
// Running the binary

/// `wxpay`, in the crate directory, with no `WECHATPAY_*` variable of ours.
fn wxpay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wxpay"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("WECHATPAY_") {
            command.env_remove(name);
        }
    }
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// A child that is killed and reaped when dropped, so a failing assert leaks nothing.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What a finished run left.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Asserts the exit code, showing everything on failure.
    fn expect(self, code: i32) -> Run {
        assert_eq!(self.code, code, "exit code; the run was {self:#?}");
        self
    }

    /// Asserts that stderr is exactly one `wxpay: ` line that mentions every `needle`.
    fn one_line_error(&self, needles: &[&str]) {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stderr: {self:#?}");
        assert!(lines[0].starts_with("wxpay: "), "{self:#?}");
        for needle in needles {
            assert!(
                lines[0].contains(needle),
                "stderr mentions {needle:?}: {self:#?}"
            );
        }
        assert!(self.stdout.is_empty(), "nothing on stdout: {self:#?}");
    }

    /// The stdout as JSON.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is JSON ({e}): {self:#?}"))
    }
}

fn run(args: &[&str]) -> Run {
    run_command(wxpay().args(args), None)
}

/// Runs to the end (within [`DEADLINE`]), feeding `stdin` if given.
fn run_command(command: &mut Command, stdin: Option<&str>) -> Run {
    command
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Killed(command.spawn().expect("the wxpay binary starts"));
    if let (Some(input), Some(mut pipe)) = (stdin, child.0.stdin.take()) {
        // The child may exit before reading it all; that shows in its exit code.
        let _ = pipe.write_all(input.as_bytes());
    }
    let stdout = drain(child.0.stdout.take());
    let stderr = drain(child.0.stderr.take());
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(status) = child.0.try_wait().expect("wait on wxpay") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "wxpay did not finish within {DEADLINE:?}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

/// Reads a pipe to its end on a thread (the child closes it when it exits or is killed).
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A key file the library publishes (src/sandbox/keys, three levels above this package).
fn sandbox_key(name: &str) -> String {
    format!(
        "{}/../../../src/sandbox/keys/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// A loopback port nobody listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

// ---------------------------------------------------------------------------------------
// `wxpay sandbox` in another process

/// A `wxpay sandbox --until-eof` child and what it printed.
struct Served {
    child: Killed,
    stdin: Option<ChildStdin>,
    exports: Vec<(String, String)>,
    key_dir: PathBuf,
}

impl Served {
    fn start() -> Served {
        let mut child = Killed(
            wxpay()
                .args(["sandbox", "--port", "0", "--until-eof"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("wxpay sandbox starts"),
        );
        let stdin = child.0.stdin.take();
        let stdout = child.0.stdout.take().expect("piped stdout");
        let (lines, announced) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + DEADLINE;
        let mut exports = Vec::new();
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let line = announced
                .recv_timeout(wait)
                .expect("wxpay sandbox announces itself in time")
                .expect("its stdout is UTF-8");
            if line.starts_with("# Serving") {
                break;
            }
            if let Some((name, value)) =
                line.strip_prefix("export ").and_then(|l| l.split_once('='))
            {
                exports.push((name.to_owned(), unquote(value)));
            }
        }
        let mut served = Served {
            child,
            stdin,
            exports,
            key_dir: PathBuf::new(),
        };
        served.key_dir = Path::new(served.var("WECHATPAY_PRIVATE_KEY"))
            .parent()
            .expect("the key file is in a directory")
            .to_owned();
        served
    }

    fn var(&self, name: &str) -> &str {
        self.exports
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("wxpay sandbox exports {name}"))
    }

    /// The directory holding the sandbox's key files.
    fn key_dir(&self) -> PathBuf {
        self.key_dir.clone()
    }

    /// `wxpay` with the exported variables set, as after pasting them into a shell.
    fn wxpay(&self) -> Command {
        let mut command = wxpay();
        command.envs(self.exports.iter().map(|(n, v)| (n, v)));
        command
    }

    /// Closes the sandbox's stdin and waits (bounded) for it to stop by itself.
    fn stop(&mut self) -> Option<i32> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.0.try_wait() {
                return status.code();
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop();
        // `child` is killed next, if it is still running; its key files go with it.
        if !self.key_dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.key_dir);
        }
    }
}

/// Undoes the single quotes `wxpay sandbox` puts around values that need them.
fn unquote(value: &str) -> String {
    match value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(inner) => inner.replace(r"'\''", "'"),
        None => value.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// The seeds against the embedded sandbox

fn call_seeds(uri_of: impl Fn(&common::Seed) -> String) {
    for seed in seeds() {
        let uri = uri_of(&seed);
        let body = seed.body.to_string();
        let run = run(&[
            &uri,
            "-p",
            &format!("out_order_no={OUT_ORDER_NO}"),
            "-d",
            &body,
        ])
        .expect(0);
        assert!(
            run.stderr
                .contains("using the embedded sandbox at http://127.0.0.1:"),
            "{run:#?}"
        );
        if seed.status == 204 {
            assert_eq!(
                run.stdout, "",
                "{} answers 204: nothing on stdout",
                seed.name
            );
        } else {
            assert_eq!(run.json()["out_order_no"], OUT_ORDER_NO, "{}", seed.name);
        }
    }
}

#[test]
fn the_seeds_answer_by_dotted_chain() {
    call_seeds(|seed| seed.segments.join("."));
}

#[test]
fn the_seeds_answer_by_uri_template() {
    call_seeds(|seed| seed.template.to_owned());
}

#[test]
fn the_issue_command_prints_the_verified_sandbox_answer() {
    // cargo run --bin wxpay -- v3.payscore.serviceorder._out_order_no_.sync -p out_order_no=… -d '…'
    let run = run(&[
        SEED_CHAIN,
        "-p",
        "out_order_no=1234323JKHDFE1243252",
        "-d",
        SEED_BODY,
    ])
    .expect(0);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(
        lines[0].starts_with(
            "wxpay: no credentials given; using the embedded sandbox at http://127.0.0.1:"
        ),
        "{run:#?}"
    );
    let answer = run.json();
    assert_eq!(answer["out_order_no"], "1234323JKHDFE1243252");
    assert_eq!(answer["service_id"], "500001");
    assert!(
        run.stdout.starts_with("{\n  \""),
        "pretty-printed: {run:#?}"
    );
}

#[test]
fn pretty_output_keeps_the_key_order_of_the_raw_body() {
    let args = [
        SEED_TEMPLATE,
        "-p",
        "out_order_no=1234323JKHDFE1243252",
        "-d",
        SEED_BODY,
    ];
    let pretty = run(&args).expect(0);
    let raw = run(&[&args[..], &["--raw"][..]].concat()).expect(0);
    assert!(
        !raw.stdout.contains('\n'),
        "the sandbox body is compact: {raw:#?}"
    );
    let squeezed: String = pretty
        .stdout
        .lines()
        .map(str::trim)
        .collect::<String>()
        .replace("\": ", "\":");
    // Both answers carry the same fields in the same order (values like ids may differ).
    let keys = |text: &str| -> Vec<String> {
        text.split('"')
            .collect::<Vec<_>>()
            .windows(2)
            .filter(|w| w[1].starts_with(':'))
            .map(|w| w[0].to_owned())
            .collect()
    };
    assert_eq!(keys(&squeezed), keys(&raw.stdout));
    assert_eq!(pretty.json()["out_order_no"], raw.json()["out_order_no"]);
}

#[test]
fn include_prints_the_status_line_and_headers() {
    let run = run(&["-i", SEED_CHAIN, "-p", "out_order_no=X1", "-d", SEED_BODY]).expect(0);
    let (head, body) = run
        .stdout
        .split_once("\n\n")
        .expect("a blank line after the headers");
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{run:#?}");
    for header in [
        "request-id: ",
        "wechatpay-signature: ",
        "wechatpay-serial: ",
    ] {
        assert!(
            head.to_ascii_lowercase().contains(header),
            "{header}: {run:#?}"
        );
    }
    let answer: Value = serde_json::from_str(body).expect("a JSON body after the headers");
    assert_eq!(answer["out_order_no"], "X1");

    let partner = seeds()
        .into_iter()
        .find(|s| s.status == 204)
        .expect("a 204 seed");
    let run = run_command(
        wxpay().args([
            "-i",
            partner.template,
            "-p",
            "out_order_no=X1",
            "-d",
            &partner.body.to_string(),
        ]),
        None,
    )
    .expect(0);
    assert!(
        run.stdout.starts_with("HTTP/1.1 204 No Content\n"),
        "{run:#?}"
    );
    assert!(
        run.stdout.ends_with("\n\n"),
        "no body after the headers: {run:#?}"
    );
}

#[test]
fn the_body_comes_from_a_file_or_stdin() {
    let file = fixture("sync.json");
    let from_file = run(&[
        SEED_CHAIN,
        "-p",
        "out_order_no=F1",
        "-d",
        &format!("@{file}"),
    ])
    .expect(0);
    assert_eq!(from_file.json()["out_order_no"], "F1");

    let text = std::fs::read_to_string(&file).expect("the fixture");
    let from_stdin = run_command(
        wxpay().args([SEED_CHAIN, "-p", "out_order_no=S1", "-d", "-"]),
        Some(&text),
    )
    .expect(0);
    assert_eq!(from_stdin.json()["out_order_no"], "S1");
}

// ---------------------------------------------------------------------------------------
// --dry-run

/// The dry-run text with the platform part of the User-Agent generalized.
fn dry_run(args: &[&str]) -> Run {
    let fixed = [
        "--dry-run",
        "--timestamp",
        &TIMESTAMP.to_string(),
        "--nonce",
        NONCE,
    ];
    let mut run = run(&[&fixed[..], args].concat()).expect(0);
    let user_agent = format!(
        "user-agent: wechatpay-rust/{} ({}/{})\n",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    assert!(
        run.stdout.contains(&user_agent),
        "the default User-Agent: {run:#?}"
    );
    run.stdout = run.stdout.replace(
        &user_agent,
        "user-agent: wechatpay-rust/<version> (<os>/<arch>)\n",
    );
    run
}

#[test]
fn dry_run_prints_the_signed_request_in_both_uri_forms() {
    let by_chain = dry_run(&[
        SEED_CHAIN,
        "-p",
        &format!("out_order_no={OUT_ORDER_NO}"),
        "-d",
        SEED_BODY,
    ]);
    let by_template = dry_run(&[
        SEED_TEMPLATE,
        "-p",
        &format!("out_order_no={OUT_ORDER_NO}"),
        "-d",
        SEED_BODY,
    ]);
    assert_eq!(by_chain.stdout, by_template.stdout);
    assert!(
        by_chain
            .stderr
            .contains("signed with the embedded sandbox's test keys")
            && by_chain.stderr.contains("nothing is sent"),
        "{by_chain:#?}"
    );
    snapshot_settings()
        .bind(|| insta::assert_snapshot!("dry_run_serviceorder_sync", by_chain.stdout));

    // A pretty-printed body file is sent (and signed) compact, in the order written.
    let from_file = dry_run(&[
        SEED_CHAIN,
        "-p",
        &format!("out_order_no={OUT_ORDER_NO}"),
        "-d",
        &format!("@{}", fixture("sync.json")),
    ]);
    assert_eq!(from_file.stdout, by_chain.stdout);
}

#[test]
fn dry_run_of_a_get_with_a_query() {
    let run = dry_run(&[
        "v3/bill/tradebill",
        "-q",
        "bill_date=2019-06-11",
        "-q",
        "bill_type=ALL",
        "-H",
        "Wechatpay-Serial: PUB_KEY_ID_0119000000012026112200000000000001",
    ]);
    assert!(run.stdout.starts_with("GET https://api.mch.weixin.qq.com/v3/bill/tradebill?bill_date=2019-06-11&bill_type=ALL\n"), "{run:#?}");
    snapshot_settings().bind(|| insta::assert_snapshot!("dry_run_get_with_query", run.stdout));
}

#[test]
fn dry_run_with_a_config_file_in_toml_or_json() {
    for config in ["sandbox.toml", "sandbox.json"] {
        let run = dry_run(&[
            "--config",
            &fixture(config),
            "-X",
            "delete",
            "v3.certificates",
        ]);
        assert!(
            run.stdout
                .starts_with("DELETE http://127.0.0.1:9/v3/certificates\n"),
            "{config}: {run:#?}"
        );
        assert!(
            run.stdout.contains(&format!(
                "mchid=\"{MERCHANT_ID}\",serial_no=\"{MERCHANT_SERIAL}\""
            )),
            "{run:#?}"
        );
        assert_eq!(run.stderr, "", "credentials given: no sandbox notice");
    }
}

// ---------------------------------------------------------------------------------------
// Errors: one line, a distinct exit code

#[test]
fn an_unknown_option_is_a_usage_error() {
    run(&["--frobnicate", "v3/certificates"])
        .expect(USAGE)
        .one_line_error(&["--frobnicate", "wxpay --help"]);
}

#[test]
fn a_param_without_equals_is_a_usage_error() {
    run(&[SEED_CHAIN, "-p", "out_order_no"])
        .expect(USAGE)
        .one_line_error(&["--param", "no `=`", "NAME=VALUE"]);
}

#[test]
fn a_header_without_colon_is_a_usage_error() {
    run(&["v3/certificates", "-H", "Wechatpay-Serial"])
        .expect(USAGE)
        .one_line_error(&["--header", "'Name: value'"]);
}

#[test]
fn a_header_that_decides_framing_or_identity_is_a_usage_error() {
    for header in [
        "Content-Length: 5",
        "Transfer-Encoding: chunked",
        "Host: evil.example",
        "Authorization: forged",
        "Connection: close",
    ] {
        let name = header.split(':').next().unwrap_or_default();
        run(&["--dry-run", "v3/certificates", "-H", header])
            .expect(USAGE)
            .one_line_error(&["--header", name, "cannot be set"]);
    }
    run(&["--dry-run", "v3/certificates", "-H", "X-Note: caf\u{e9}"])
        .expect(USAGE)
        .one_line_error(&["--header", "non-ASCII"]);
}

#[test]
fn invalid_json_names_line_and_column() {
    run(&[
        SEED_CHAIN,
        "-p",
        "out_order_no=1",
        "-d",
        r#"{"appid": "wx",}"#,
    ])
    .expect(USAGE)
    .one_line_error(&["-d body is not valid JSON", "line 1, column 16"]);
}

#[test]
fn an_unreadable_data_file_is_a_usage_error() {
    run(&[
        SEED_CHAIN,
        "-p",
        "out_order_no=1",
        "-d",
        "@/nonexistent/body.json",
    ])
    .expect(USAGE)
    .one_line_error(&["cannot read the -d file `/nonexistent/body.json`"]);
}

#[test]
fn a_placeholder_without_value_says_which_param_to_add() {
    run(&[SEED_CHAIN, "-d", SEED_BODY])
        .expect(USAGE)
        .one_line_error(&[
            "`out_order_no`",
            "v3/payscore/serviceorder/{out_order_no}/sync",
            "-p out_order_no=VALUE",
        ]);
}

#[test]
fn a_missing_key_file_is_a_configuration_error() {
    let platform = format!(
        "--platform-key={PLATFORM_SERIAL}={}",
        sandbox_key("platform_cert.pem")
    );
    run(&[
        "--mchid",
        MERCHANT_ID,
        "--serial",
        MERCHANT_SERIAL,
        "--private-key",
        "/nonexistent/apiclient_key.pem",
        &platform,
        "v3/certificates",
    ])
    .expect(CONFIG)
    .one_line_error(&["/nonexistent/apiclient_key.pem", "cannot read"]);
}

#[test]
fn partial_credentials_are_a_configuration_error_not_a_fallback() {
    run(&["--mchid", MERCHANT_ID, "v3/certificates"])
        .expect(CONFIG)
        .one_line_error(&[
            "incomplete credentials",
            "--serial",
            "--private-key",
            "--platform-key",
        ]);
    // The environment counts too.
    run_command(
        wxpay()
            .env("WECHATPAY_BASE_URL", "http://127.0.0.1:9/")
            .arg("v3/certificates"),
        None,
    )
    .expect(CONFIG)
    .one_line_error(&["incomplete credentials", "--mchid"]);
}

#[test]
fn a_bad_config_file_is_a_configuration_error() {
    run(&["--config", &fixture("typo.toml"), "v3/certificates"])
        .expect(CONFIG)
        .one_line_error(&[
            "typo.toml",
            "line 2, column 1",
            "unknown field `privatekey`",
        ]);
}

#[test]
fn an_unknown_endpoint_is_an_api_error_with_code_and_request_id() {
    let run = run(&["v3/no/such/endpoint"]).expect(API);
    let error = run.stderr.lines().last().expect("an error line");
    assert!(error.starts_with("wxpay: 404 NOT_FOUND: "), "{run:#?}");
    assert!(error.contains("(Request-ID "), "{run:#?}");
    assert_eq!(run.stdout, "");
}

#[test]
fn an_unreachable_platform_is_a_transport_error() {
    let base_url = format!("http://127.0.0.1:{}/", closed_port());
    run(&[
        "--config",
        &fixture("sandbox.toml"),
        "--base-url",
        &base_url,
        "v3/certificates",
    ])
    .expect(TRANSPORT)
    .one_line_error(&["could not connect"]);
}

#[test]
fn help_documents_examples_credentials_and_exit_codes() {
    let help = run(&["--help"]).expect(0);
    for needle in [
        "Examples:",
        SEED_CHAIN,
        "WECHATPAY_PLATFORM_KEYS",
        "[platform_keys]",
        "Exit codes:",
        "6  verification",
    ] {
        assert!(help.stdout.contains(needle), "--help mentions {needle:?}");
    }
    assert!(
        !help.stdout.contains("--timestamp"),
        "the signature inputs stay hidden"
    );
    let bare = run(&[]).expect(USAGE);
    assert!(bare.stderr.contains("Usage: wxpay"), "{bare:#?}");
}

// ---------------------------------------------------------------------------------------
// `wxpay sandbox`, called with credentials

#[test]
fn a_served_sandbox_answers_calls_with_its_exported_credentials() {
    let served = Served::start();
    assert!(served
        .var("WECHATPAY_BASE_URL")
        .starts_with("http://127.0.0.1:"));
    let run = run_command(
        served
            .wxpay()
            .args([SEED_CHAIN, "-p", "out_order_no=E1", "-d", SEED_BODY]),
        None,
    )
    .expect(0);
    assert_eq!(run.json()["out_order_no"], "E1");
    assert_eq!(run.stderr, "", "credentials given: no sandbox notice");

    // The same through a config file, with the base URL from the flag.
    let run = run_command(
        wxpay().args([
            "--config",
            &fixture("sandbox.json"),
            "--base-url",
            served.var("WECHATPAY_BASE_URL"),
            SEED_TEMPLATE,
            "-p",
            "out_order_no=E2",
            "-d",
            SEED_BODY,
        ]),
        None,
    )
    .expect(0);
    assert_eq!(run.json()["out_order_no"], "E2");
}

#[test]
fn a_wrong_platform_key_is_a_verification_failure() {
    let served = Served::start();
    // The WeChat Pay public key trusted under the certificate's serial: the signature cannot hold.
    let wrong = format!(
        "{PLATFORM_SERIAL}={}",
        served.key_dir().join("pub_key.pem").display()
    );
    let run = run_command(
        served.wxpay().args([
            "--platform-key",
            &wrong,
            SEED_CHAIN,
            "-p",
            "out_order_no=V1",
            "-d",
            SEED_BODY,
        ]),
        None,
    )
    .expect(VERIFICATION);
    run.one_line_error(&[
        "the 200 answer failed verification",
        "signature does not match",
        "(Request-ID ",
        "not printed",
    ]);

    // With -i the answer is shown, on stderr and labelled; stdout stays empty.
    let run = run_command(
        served.wxpay().args([
            "-i",
            "--platform-key",
            &wrong,
            SEED_CHAIN,
            "-p",
            "out_order_no=V1",
            "-d",
            SEED_BODY,
        ]),
        None,
    )
    .expect(VERIFICATION);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("UNVERIFIED"), "{run:#?}");
    assert!(run.stderr.contains("HTTP/1.1 200 OK"), "{run:#?}");
}

#[test]
fn a_served_sandbox_stops_and_removes_its_keys_when_stdin_closes() {
    let mut served = Served::start();
    let dir = served.key_dir();
    assert!(dir.join("apiclient_key.pem").is_file());
    assert!(dir.join("platform_cert.pem").is_file());
    assert!(dir.join("pub_key.pem").is_file());
    assert_eq!(served.stop(), Some(0), "exits by itself, successfully");
    assert!(!dir.exists(), "the key directory is removed");
}

// ---------------------------------------------------------------------------------------
// `wxpay crt`

/// A fresh directory under the system's temporary directory for one test's output.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wxpay-cli-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn crt_writes_the_sandbox_certificate_and_prints_serial_and_validity() {
    let dir = scratch_dir("crt");
    let out = dir.join("certs");
    let run = run(&["crt", "-o", out.to_str().unwrap()]).expect(0);
    assert!(run.stderr.contains("embedded sandbox"), "{run:#?}");
    let path = out.join(format!("wechatpay_{PLATFORM_SERIAL}.pem"));
    let pem = std::fs::read_to_string(&path).expect("the certificate file");
    let certificate = wechatpay::Certificate::from_pem(&pem).unwrap();
    assert_eq!(certificate.serial(), PLATFORM_SERIAL);
    assert!(run.stdout.starts_with(PLATFORM_SERIAL), "{run:#?}");
    assert!(
        run.stdout.contains("+08:00 .. 20"),
        "validity shown: {run:#?}"
    );
    assert!(run.stdout.contains(path.to_str().unwrap()), "{run:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crt_and_calls_bootstrap_from_the_apiv3_key_alone() {
    let served = Served::start();
    let dir = scratch_dir("bootstrap");
    // No platform key: only the APIv3 key vouches for what the platform sends.
    let mut crt = served.wxpay();
    crt.env_remove("WECHATPAY_PLATFORM_KEYS")
        .args(["crt", "-o", dir.to_str().unwrap()]);
    let run = run_command(&mut crt, None).expect(0);
    assert_eq!(run.stderr, "", "credentials given: no sandbox notice");
    assert!(dir
        .join(format!("wechatpay_{PLATFORM_SERIAL}.pem"))
        .is_file());

    let mut call = served.wxpay();
    call.env_remove("WECHATPAY_PLATFORM_KEYS").args([
        SEED_CHAIN,
        "-p",
        "out_order_no=B1",
        "-d",
        SEED_BODY,
    ]);
    let run = run_command(&mut call, None).expect(0);
    assert_eq!(run.json()["out_order_no"], "B1");

    // Neither a platform key nor the APIv3 key: a configuration error naming both.
    let mut bare = served.wxpay();
    bare.env_remove("WECHATPAY_PLATFORM_KEYS")
        .env_remove("WECHATPAY_APIV3_KEY_FILE")
        .args(["crt"]);
    let run = run_command(&mut bare, None).expect(3);
    run.one_line_error(&["--platform-key", "--apiv3-key-file"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The snapshots of the whole repository live in its top-level `snapshots/` directory.
fn snapshot_settings() -> insta::Settings {
    let mut settings = common::snapshot_settings();
    settings.set_snapshot_path("../../../../snapshots");
    settings
}

#[test]
fn list_shows_the_catalog_filtered_by_path_or_summary_words() {
    let all = run(&["list"]).expect(0);
    assert!(
        all.stdout.lines().count() > 1100,
        "every endpoint is listed"
    );
    assert!(
        all.stdout.lines().any(|l| l
            .starts_with("POST v3/payscore/serviceorder/{out_order_no}/sync ")
            && l.ends_with("同步服务订单信息API")),
        "{}",
        &all.stdout[..300]
    );
    let refunds = run(&["list", "退款"]).expect(0);
    assert!(refunds.stdout.contains("POST v3/refund/domestic/refunds"));
    assert!(refunds
        .stdout
        .lines()
        .all(|l| l.contains("退款") || l.contains("refund")));
    let words = run(&["list", "transactions", "close"]).expect(0);
    assert!(words
        .stdout
        .contains("POST v3/pay/transactions/out-trade-no/{out_trade_no}/close"));
    run(&["list", "no-such-word-anywhere"])
        .expect(USAGE)
        .one_line_error(&["no endpoint", "no-such-word-anywhere"]);
}

#[test]
fn describe_gives_parameters_required_fields_an_example_and_the_docs() {
    // By a concrete path, a template or a dotted chain.
    for uri in ["v3/refund/domestic/refunds", "v3.refund.domestic.refunds"] {
        let run = run(&["describe", uri]).expect(0);
        let text = &run.stdout;
        assert!(
            text.starts_with("POST v3/refund/domestic/refunds\n"),
            "{text}"
        );
        assert!(
            text.contains("required fields: /out_refund_no /amount"),
            "{text}"
        );
        assert!(text.contains("docs: https://pay.weixin.qq.com/"), "{text}");
        // The example body is one line of JSON after -d, with every required field.
        let example = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("example: -d '"))
            .and_then(|l| l.strip_suffix('\''))
            .expect("an example line");
        let body: Value = serde_json::from_str(example).unwrap();
        assert!(body["out_refund_no"].is_string() && body["amount"]["total"].is_number());
    }
    let by_path = run(&["describe", "v3/pay/transactions/id/4200000001"]).expect(0);
    assert!(by_path
        .stdout
        .starts_with("GET v3/pay/transactions/id/{transaction_id}\n"));
    assert!(by_path.stdout.contains("-q mchid="), "{}", by_path.stdout);
    run(&["describe", "v3/payscore/serviceorders/{out_order_no}/sync"])
        .expect(USAGE)
        .one_line_error(&[
            "not in the endpoint catalog",
            "closest: POST v3/payscore/serviceorder/{out_order_no}/sync",
        ]);
}

#[test]
fn check_refuses_typos_and_missing_fields_before_anything_is_sent() {
    run(&["--check", "v3/payscore/serviceorders/1234/sync", "-d", "{}"])
        .expect(USAGE)
        .one_line_error(&[
            "not in the endpoint catalog",
            "closest: POST v3/payscore/serviceorder/{out_order_no}/sync",
        ]);
    run(&[
        "--check",
        SEED_CHAIN,
        "-p",
        "out_order_no=1234",
        "-d",
        r#"{"appid":"wxd678efh567hg6787","service_id":"500001","type":"Order_Paid"}"#,
    ])
    .expect(USAGE)
    .one_line_error(&[
        "/detail",
        "POST v3/payscore/serviceorder/{out_order_no}/sync",
    ]);
    // A complete request passes the check and is sent.
    let ok = run(&[
        "--check",
        SEED_CHAIN,
        "-p",
        "out_order_no=1234",
        "-d",
        SEED_BODY,
    ])
    .expect(0);
    assert_eq!(ok.json()["out_order_no"], "1234");
}

#[test]
fn an_unknown_uri_sent_anyway_names_the_closest_templates() {
    let run = run(&["v3/payscore/serviceorders/1234/sync", "-d", SEED_BODY]).expect(API);
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("wxpay: 404 NOT_FOUND")
            && last.contains("closest: POST v3/payscore/serviceorder/{out_order_no}/sync"),
        "{run:#?}"
    );
    assert!(run.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------
// `wxpay bill` and uploads (`-F`)

/// A sandbox in this process (on a thread of its own), serving bills as `serving` says;
/// `wxpay` reaches it with the sandbox credentials of the config fixture.
struct InProcess {
    base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl InProcess {
    fn start(serving: wechatpay::sandbox::BillServing) -> InProcess {
        let (announce, announced) = mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let sandbox = wechatpay::sandbox::Sandbox::start()
                    .await
                    .expect("a sandbox");
                sandbox.serve_bills(serving);
                let _ = announce.send(sandbox.base_url());
                let _ = stopped.await;
            });
        });
        let base_url = announced
            .recv_timeout(DEADLINE)
            .expect("the sandbox starts in time");
        InProcess {
            base_url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `wxpay ARGS` with the sandbox credentials after them, aimed at this sandbox.
    fn wxpay(&self, args: &[&str]) -> Command {
        let mut command = wxpay();
        command.args(args).args([
            "--config",
            &fixture("sandbox.toml"),
            "--base-url",
            &self.base_url,
        ]);
        command
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn bill_downloads_a_gzip_tradebill_from_the_embedded_sandbox() {
    let dir = scratch_dir("bill");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("tradebill.csv");
    let run = run(&[
        "bill",
        "tradebill",
        "--date",
        "2026-11-29",
        "--type",
        "ALL",
        "--gzip",
        "-o",
        out.to_str().unwrap(),
    ])
    .expect(0);
    let expected = wechatpay::sandbox::bills::BillSpec::new(
        wechatpay::sandbox::bills::BillKind::TradeAll,
        "2026-11-29",
    );
    assert_eq!(std::fs::read(&out).unwrap(), expected.to_vec());
    assert!(
        run.stdout
            .contains(&format!("{} bytes (gzip, ", expected.to_vec().len())),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .trim_end()
            .ends_with(&format!("SHA1 {} verified", expected.digest().sha1_hex())),
        "{run:#?}"
    );
    // Not a terminal: no progress line, only the sandbox notice.
    assert!(!run.stderr.contains('\r'), "{run:#?}");
    assert_eq!(run.stderr.lines().count(), 1, "{run:#?}");
    assert_eq!(listing(&dir), ["tradebill.csv"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bill_failures_have_their_exit_codes_and_leave_no_file() {
    use wechatpay::sandbox::bills::BillFault;
    use wechatpay::sandbox::BillServing;

    let cases = [
        (BillFault::WrongDigest, VERIFICATION, "announced"),
        (
            BillFault::Truncate { after: 3_000 },
            TRANSPORT,
            "ended early",
        ),
        (BillFault::CorruptGzip, TRANSPORT, "gzip"),
    ];
    for (fault, code, needle) in cases {
        let sandbox = InProcess::start(BillServing::new().rows(2_000).fault(fault.clone()));
        let dir = scratch_dir("bill-fault");
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("fundflow.csv");
        let run = run_command(
            &mut sandbox.wxpay(&[
                "bill",
                "fundflowbill",
                "--date",
                "2026-11-29",
                "--account-type",
                "BASIC",
                "--gzip",
                "-o",
                out.to_str().unwrap(),
            ]),
            None,
        )
        .expect(code);
        run.one_line_error(&[needle, "nothing was written"]);
        assert!(listing(&dir).is_empty(), "{fault:?}: {:?}", listing(&dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn bill_takes_a_download_url_and_checks_its_digest() {
    let sandbox = InProcess::start(wechatpay::sandbox::BillServing::new().rows(50));
    // Step one, by hand: the link, as `wxpay -i` would show it.
    let link = run_command(
        &mut sandbox.wxpay(&["v3/bill/tradebill", "-q", "bill_date=2026-11-29"]),
        None,
    )
    .expect(0)
    .json();
    let url = link["download_url"].as_str().unwrap();
    let hash = link["hash_value"].as_str().unwrap();
    let dir = scratch_dir("bill-url");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("bill.csv");
    run_command(
        &mut sandbox.wxpay(&[
            "bill",
            "--url",
            url,
            "--hash-value",
            hash,
            "-o",
            out.to_str().unwrap(),
        ]),
        None,
    )
    .expect(0);
    assert!(out.is_file());
    let wrong = format!(
        "{}{}",
        if hash.starts_with('0') { "1" } else { "0" },
        &hash[1..]
    );
    let refused = run_command(
        &mut sandbox.wxpay(&[
            "bill",
            "--url",
            url,
            "--hash-value",
            &wrong,
            "-o",
            dir.join("other.csv").to_str().unwrap(),
        ]),
        None,
    )
    .expect(VERIFICATION);
    refused.one_line_error(&["SHA1", "do not use it"]);
    assert_eq!(listing(&dir), ["bill.csv"]);
    // Usage: no bill and no URL; a URL without its digest.
    run(&["bill", "-o", "x.csv"]).expect(USAGE);
    run(&["bill", "--url", url, "-o", "x.csv"]).expect(USAGE);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A 1×1 PNG in `dir`.
fn png_file(dir: &Path, name: &str) -> PathBuf {
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0bIDAT\x78\x9c\x63\x60\x00\x02\x00\x00\x05\x00\x01\x7a\x5e\xab\x3f\x00\x00\x00\x00IEND\xae\x42\x60\x82";
    let path = dir.join(name);
    std::fs::write(&path, PNG).unwrap();
    path
}

#[test]
fn form_uploads_a_file_with_its_meta_signed() {
    let dir = scratch_dir("upload");
    std::fs::create_dir_all(&dir).unwrap();
    let png = png_file(&dir, "logo.png");
    let file = format!("file=@{}", png.display());
    let answer = run(&["v3/merchant/media/upload", "-F", &file])
        .expect(0)
        .json();
    assert!(
        answer["media_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("SANDBOX_")),
        "{answer}"
    );

    // A meta field the endpoint requires, as -F NAME=VALUE.
    let users = dir.join("users.csv");
    std::fs::write(&users, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\n").unwrap();
    let task = run(&[
        "v3/marketing/bank/packages/{package_id}/tasks",
        "-p",
        "package_id=8473295",
        "-F",
        &format!("file=@{}", users.display()),
        "-F",
        "bank_type=ICBC_DEBIT",
    ])
    .expect(0)
    .json();
    assert_eq!(task["bank_type"], "ICBC_DEBIT");
    assert_eq!(task["filename"], "users.csv");

    // The dry run shows the form (text here) and its Content-Type.
    let dry = run(&[
        "--dry-run",
        "v3/marketing/bank/packages/{package_id}/tasks",
        "-p",
        "package_id=8473295",
        "-F",
        &format!("file=@{}", users.display()),
        "-F",
        "bank_type=ICBC_DEBIT",
    ])
    .expect(0);
    assert!(
        dry.stdout
            .contains("content-type: multipart/form-data; boundary="),
        "{dry:#?}"
    );
    assert!(
        dry.stdout
            .contains(r#"{"bank_type":"ICBC_DEBIT","filename":"users.csv","sha256":""#),
        "{dry:#?}"
    );
    assert!(
        dry.stdout.contains("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"),
        "{dry:#?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn form_mistakes_are_usage_errors_before_anything_is_sent() {
    let dir = scratch_dir("upload-mistakes");
    std::fs::create_dir_all(&dir).unwrap();
    let png = png_file(&dir, "logo.png");
    // No file.
    run(&["v3/merchant/media/upload", "-F", "bank_type=X"])
        .expect(USAGE)
        .one_line_error(&["one file", "-F NAME=@PATH"]);
    // A required meta field missing.
    run(&[
        "v3/marketing/bank/packages/{package_id}/tasks",
        "-p",
        "package_id=1",
        "-F",
        &format!("file=@{}", png.display()),
    ])
    .expect(USAGE)
    .one_line_error(&["bank_type"]);
    // Over the endpoint's limit.
    let big = dir.join("big.png");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(3 << 20).unwrap();
    run(&[
        "v3/marketing/favor/media/image-upload",
        "-F",
        &format!("file=@{}", big.display()),
    ])
    .expect(USAGE)
    .one_line_error(&["too large", "2 MiB"]);
    // -F with -d.
    run(&[
        "v3/merchant/media/upload",
        "-F",
        &format!("file=@{}", png.display()),
        "-d",
        "{}",
    ])
    .expect(USAGE);
    std::fs::remove_dir_all(&dir).unwrap();
}

// APIv2

const MICROPAY_BODY: &str = r#"{"appid":"wx2421b1c4370ec43b","mch_id":"1900000001","body":"image","out_trade_no":"1415757673","total_fee":1,"spbill_create_ip":"14.17.22.52","auth_code":"120061098828009406"}"#;
const REFUND_BODY: &str = r#"{"appid":"wx2421b1c4370ec43b","mch_id":"1900000001","out_trade_no":"1415757673","out_refund_no":"1415701182","total_fee":1,"refund_fee":1}"#;

#[test]
fn v2_calls_use_the_same_syntax_and_print_the_verified_fields_as_json() {
    let run = run(&["v2.pay.micropay", "-d", MICROPAY_BODY]).expect(0);
    assert!(
        run.stderr
            .contains("using the embedded sandbox at https://127.0.0.1:"),
        "{run:#?}"
    );
    let answer = run.json();
    assert_eq!(answer["return_code"], "SUCCESS");
    assert_eq!(answer["out_trade_no"], "1415757673");

    // --raw: the XML as received (and verified).
    let raw = run_command(
        wxpay().args(["--raw", "v2/pay/micropay", "-d", MICROPAY_BODY]),
        None,
    )
    .expect(0);
    assert!(
        raw.stdout
            .starts_with("<xml><return_code>SUCCESS</return_code>"),
        "{raw:#?}"
    );

    // A refused call is an API error with the platform's codes.
    let refused = run_command(
        wxpay().args([
            "v2/pay/orderquery",
            "-d",
            r#"{"appid":"wx2421b1c4370ec43b","mch_id":"1900000001","out_trade_no":"NONE"}"#,
        ]),
        None,
    )
    .expect(API);
    assert!(refused.stderr.contains("ORDERNOTEXIST"), "{refused:#?}");
}

#[test]
fn a_v2_dry_run_prints_the_signed_xml_for_the_production_host() {
    let run = run(&[
        "--dry-run",
        "v2/secapi/pay/refund",
        "-d",
        REFUND_BODY,
        "--nonce",
        "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
    ])
    .expect(0);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("POST https://api.mch.weixin.qq.com/secapi/pay/refund")
    );
    assert!(
        run.stdout.contains("content-type: text/xml; charset=utf-8"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("authorization"), "{run:#?}");
    assert!(
        run.stdout
            .contains("<nonce_str>5K8264ILTKCH16CQ2502SI8ZNMTM67VS</nonce_str><sign>"),
        "{run:#?}"
    );
}

#[test]
fn v2_credentials_come_from_flags_and_are_checked() {
    let served = Served::start();
    let key_file = served.var("WECHATPAY_APIV2_KEY_FILE").to_owned();
    let run = run_command(
        served
            .wxpay()
            .args(["v2/pay/micropay", "-d", MICROPAY_BODY]),
        None,
    )
    .expect(0);
    assert_eq!(run.json()["result_code"], "SUCCESS");

    // The served sandbox is plain http: a mutual-TLS call cannot present the certificate.
    let cert = sandbox_key("merchant_tls_cert.pem");
    let run = run_command(
        served.wxpay().args([
            "--merchant-cert",
            &cert,
            "v2/secapi/pay/refund",
            "-d",
            REFUND_BODY,
        ]),
        None,
    )
    .expect(CONFIG);
    run.one_line_error(&["mutual TLS", "https://"]);
    // Without the certificate, the setting is named.
    let run = run_command(
        served
            .wxpay()
            .args(["v2/secapi/pay/refund", "-d", REFUND_BODY]),
        None,
    )
    .expect(CONFIG);
    run.one_line_error(&["merchant certificate", ".merchant_identity("]);
    // A certificate whose key is another is refused at start-up.
    let run = run_command(
        served.wxpay().args([
            "--merchant-cert",
            &cert,
            "--merchant-key",
            &sandbox_key("platform_key.pem"),
            "v2/pay/micropay",
            "-d",
            MICROPAY_BODY,
        ]),
        None,
    )
    .expect(CONFIG);
    run.one_line_error(&["does not belong"]);
    // The APIv2 key file is read, and its content never shown.
    std::fs::write(&key_file, "short").unwrap();
    let run = run_command(
        served
            .wxpay()
            .args(["v2/pay/micropay", "-d", MICROPAY_BODY]),
        None,
    )
    .expect(CONFIG);
    run.one_line_error(&["APIv2 key must be 32"]);
}

#[cfg(not(feature = "pkcs12"))]
#[test]
fn merchant_p12_says_how_to_do_without_pkcs12_support() {
    let served = Served::start();
    let run = run_command(
        served.wxpay().args([
            "--merchant-p12",
            "apiclient_cert.p12",
            "v2/pay/micropay",
            "-d",
            MICROPAY_BODY,
        ]),
        None,
    )
    .expect(CONFIG);
    run.one_line_error(&["--features pkcs12", "--merchant-cert"]);
}

#[cfg(feature = "pkcs12")]
#[test]
fn merchant_p12_opens_the_platforms_file_with_the_merchant_id() {
    let served = Served::start();
    let p12 = format!(
        "{}/../../../tests/fixtures/v2/tls/merchant_legacy.p12",
        env!("CARGO_MANIFEST_DIR")
    );
    // Signed for the production host and printed: the certificate loaded, nothing sent.
    let run = run_command(
        served.wxpay().args([
            "--merchant-p12",
            &p12,
            "--base-url",
            "https://api.mch.weixin.qq.com/",
            "--dry-run",
            "v2/secapi/pay/refund",
            "-d",
            REFUND_BODY,
        ]),
        None,
    )
    .expect(0);
    assert!(run
        .stdout
        .starts_with("POST https://api.mch.weixin.qq.com/secapi/pay/refund"));
    let wrong = run_command(
        served.wxpay().args([
            "--merchant-p12",
            &p12,
            "--mchid",
            "1900000002",
            "--dry-run",
            "v2/pay/micropay",
            "-d",
            MICROPAY_BODY,
        ]),
        None,
    )
    .expect(CONFIG);
    wrong.one_line_error(&["password is wrong"]);
}
