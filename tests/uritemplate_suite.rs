//! Runs the official uritemplate-test conformance suite (github.com/uri-templates/uritemplate-test).
//!
//! A plain `main` rather than `#[test]`s so that every case is reported, with per-file
//! counts, instead of stopping at the first failing assertion.

use std::path::Path;
use std::process::ExitCode;

use serde_json::Value;
use wechatpay::UriTemplate;

const FILES: [&str; 4] = [
    "spec-examples.json",
    "spec-examples-by-section.json",
    "extended-tests.json",
    "negative-tests.json",
];

/// Outcome of one file: cases in the file, cases run, cases passed.
#[derive(Default)]
struct Tally {
    declared: usize,
    ran: usize,
    passed: usize,
}

fn main() -> ExitCode {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/uritemplate-test");
    let mut total = Tally::default();
    let mut broken = false;
    for file in FILES {
        match run_file(&dir.join(file)) {
            Ok(tally) => {
                println!(
                    "uritemplate-test {file}: {}/{} cases passed",
                    tally.passed, tally.declared
                );
                total.declared += tally.declared;
                total.ran += tally.ran;
                total.passed += tally.passed;
            }
            Err(message) => {
                println!("uritemplate-test {file}: cannot run: {message}");
                broken = true;
            }
        }
    }
    println!(
        "uritemplate-test: {} passed, {} failed",
        total.passed,
        total.declared - total.passed
    );
    if broken || total.declared == 0 || total.ran < total.declared || total.passed < total.ran {
        if total.ran < total.declared {
            println!(
                "uritemplate-test: only {} of {} cases ran",
                total.ran, total.declared
            );
        }
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn run_file(path: &Path) -> Result<Tally, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let suite: Value = serde_json::from_str(&text).map_err(|e| format!("not JSON: {e}"))?;
    let groups = suite.as_object().ok_or("top level is not an object")?;
    let mut tally = Tally::default();
    for (group, body) in groups {
        let empty = serde_json::Map::new();
        let vars = body
            .get("variables")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let cases = body
            .get("testcases")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("group `{group}` has no testcases array"))?;
        tally.declared += cases.len();
        for case in cases {
            tally.ran += 1;
            let (template, expected) = match case.as_array().map(Vec::as_slice) {
                Some([Value::String(t), expected]) => (t.as_str(), expected),
                _ => {
                    println!("FAIL [{group}] malformed case: {case}");
                    continue;
                }
            };
            let actual = UriTemplate::parse(template).and_then(|t| t.expand(vars));
            let ok = match (expected, &actual) {
                (Value::Bool(false), result) => result.is_err(),
                (Value::String(want), Ok(got)) => want == got,
                (Value::Array(options), Ok(got)) => {
                    options.iter().any(|o| o.as_str() == Some(got.as_str()))
                }
                _ => false,
            };
            if ok {
                tally.passed += 1;
            } else {
                let actual = match actual {
                    Ok(s) => format!("{s:?}"),
                    Err(e) => format!("error: {e}"),
                };
                println!(
                    "FAIL [{group}] template {template:?}\n  expected: {expected}\n  actual:   {actual}"
                );
            }
        }
    }
    Ok(tally)
}
