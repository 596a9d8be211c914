//! Inputs found by the fuzz targets (`fuzz/`, see fuzz/README.md), replayed on stable Rust
//! by the same checks libFuzzer runs: `fuzz/src/lib.rs` is included here as a module.
//!
//! - `tests/fixtures/fuzz/<target>/<file>`: minimized inputs of fixed findings. Each must
//!   pass its target's check. A file named `pending-…` is a finding whose fix is still
//!   pending; it is replayed by its own `#[ignore]`d test below instead.
//! - `fuzz/corpus/<target>/<file>`: the seed corpora (real inputs), which must pass too, so
//!   a change that breaks a seed or the harness shows up here rather than in a fuzz run.
//!
//! To add a crash: copy `fuzz/artifacts/<target>/crash-…` (after `cargo fuzz tmin`) to
//! `tests/fixtures/fuzz/<target>/` under a name that says what it is.

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;
use wechatpay::sandbox::{Fault, NotificationBuilder};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check_of(target: &str) -> harness::Check {
    harness::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, check)| *check)
        .unwrap_or_else(|| panic!("no fuzz target `{target}`"))
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Replays every file of `base/<target>/` (but `pending-…` ones) through its target;
/// returns how many ran and the failures.
fn replay_all(base: &Path) -> (usize, Vec<String>) {
    let mut ran = 0;
    let mut failures = Vec::new();
    for (target, check) in harness::TARGETS {
        for file in files(&base.join(target)) {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with("pending-") || name == "README.md" {
                continue;
            }
            let data = std::fs::read(&file).expect("readable input");
            ran += 1;
            if let Err(panic) = harness::run_catching(*check, &data) {
                failures.push(format!("{}: {panic}", file.display()));
            }
        }
    }
    (ran, failures)
}

#[test]
fn fixed_findings_stay_fixed() {
    let (_, failures) = replay_all(&root().join("tests/fixtures/fuzz"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn seed_corpora_pass_their_targets() {
    let (ran, failures) = replay_all(&root().join("fuzz/corpus"));
    assert!(ran > 100, "only {ran} seeds found under fuzz/corpus");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Replays one finding (a pending one with its property enforced).
fn replay(target: &str, file: &str) {
    let path = root().join("tests/fixtures/fuzz").join(target).join(file);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    harness::known_pending::enforce_pending();
    check_of(target)(&data);
}

// Found by `request_path`: a `#` in the expanded target was signed but never sent, because
// `http::Uri` drops the fragment. The platform then answered 401 SIGN_ERROR, and with
// `{+p}` = `a#b?c` the request even went to another endpoint (`/v3/a`). Fixed: `build()`
// refuses a target with a fragment, and any target `http::Uri` would not send as signed.

#[test]
fn fragment_operator_is_refused_or_sent() {
    replay("request_path", "fragment-operator");
}

#[test]
fn literal_fragment_is_refused_or_sent() {
    replay("request_path", "fragment-literal");
}

#[test]
fn fragment_in_reserved_value_is_refused_or_sent() {
    replay("request_path", "fragment-in-reserved-value");
}

// Found by `multipart`: the file part's name (`UploadForm::file_field`) went into its
// `Content-Disposition: form-data; name="…"` unchecked, so a `"`, `\` or line break in it
// broke the quoted parameter or injected headers, and a name holding the boundary split the
// body. Fixed: `from_bytes` refuses such a name as it does for form field names, and the
// boundary must not occur in it either.

#[test]
fn file_part_name_with_a_backslash_is_refused() {
    replay("multipart", "file-field-with-backslash");
}

#[test]
fn file_part_name_that_injects_a_header_or_holds_the_boundary_is_refused() {
    use wechatpay::multipart::UploadForm;
    for name in [
        "file\"; filename=\"x.exe",
        "file\r\nX-Injected: 1",
        "a\\b",
        "a\0b",
    ] {
        let built = UploadForm::new("a.jpg")
            .file_field(name)
            .from_bytes(b"\xFF\xD8\xFF".to_vec());
        assert!(built.is_err(), "{name:?} was accepted");
    }
    // Nor may it be empty or be the `meta` part's name (two parts named `meta`).
    for name in ["", "meta"] {
        let built = UploadForm::new("a.jpg")
            .file_field(name)
            .from_bytes(b"\xFF\xD8\xFF".to_vec());
        assert!(built.is_err(), "{name:?} was accepted");
    }
    let built = UploadForm::new("a.jpg")
        .file_field("part-B0undary")
        .boundary("B0undary")
        .from_bytes(b"x".to_vec());
    assert!(
        built.is_err(),
        "a file part name holding the boundary was accepted"
    );
}

// Known before fuzzing (a structured random run): the sandbox's NotificationBuilder
// overflowed on extreme times. Fixed; each must build (or refuse) without a panic.

#[test]
fn notification_at_the_latest_time_does_not_panic() {
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX.unsigned_abs());
    let _ = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .at(at)
        .build();
}

#[test]
fn notification_skewed_by_i64_max_does_not_panic() {
    let _ = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .fault(Fault::SkewClock(i64::MAX))
        .build();
}

#[test]
fn notification_with_two_large_skews_does_not_panic() {
    let _ = NotificationBuilder::new("TRANSACTION.SUCCESS", json!({}))
        .fault(Fault::SkewClock(i64::MAX / 2 + 1))
        .fault(Fault::SkewClock(i64::MAX / 2 + 1))
        .build();
}
