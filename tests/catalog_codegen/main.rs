//! The endpoint catalog's generator, kept as a test in the style of rust-analyzer's
//! `sourcegen` tests: it reads the vendored YAML tree (`tests/fixtures/wechatpay-openapi/docs`),
//! renders `src/catalog/generated.rs` and `src/catalog/unsigned.rs`, and fails if the
//! checked-in files differ. `WECHATPAY_REGENERATE=1 cargo test --test catalog_codegen`
//! writes them instead. The output is sorted and has no timestamps, so it is reproducible.

mod emit;
mod json;
mod model;
mod yaml;

use std::path::{Path, PathBuf};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn docs() -> model::Docs {
    model::Docs::new(&manifest_dir().join("tests/fixtures/wechatpay-openapi/docs"))
}

fn operations() -> Vec<model::Operation> {
    match docs().operations() {
        Ok(ops) => ops,
        Err(e) => panic!("the YAML catalog does not load: {e}"),
    }
}

/// Compares `text` with the checked-in file, or writes it when regenerating.
fn ensure_file(rel: &str, text: &str) -> Option<String> {
    let path: PathBuf = manifest_dir().join(rel);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == text {
        return None;
    }
    if std::env::var_os("WECHATPAY_REGENERATE").is_some_and(|v| v == "1") {
        if let Err(e) = std::fs::write(&path, text) {
            panic!("cannot write {}: {e}", path.display());
        }
        return None;
    }
    let line = current
        .lines()
        .zip(text.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| current.lines().count().min(text.lines().count()));
    Some(format!(
        "{rel} is out of date (first difference at line {}): run\n    \
         WECHATPAY_REGENERATE=1 cargo test --test catalog_codegen\nand commit the result",
        line + 1
    ))
}

#[test]
fn generated_catalog_is_up_to_date() {
    let ops = operations();
    let stale: Vec<String> = [
        ensure_file("src/catalog/generated.rs", &emit::table(&ops)),
        ensure_file("src/catalog/unsigned.rs", &emit::unsigned(&ops)),
    ]
    .into_iter()
    .flatten()
    .collect();
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

#[test]
fn generation_is_reproducible() {
    let a = operations();
    let b = operations();
    assert_eq!(emit::table(&a), emit::table(&b));
    assert_eq!(emit::unsigned(&a), emit::unsigned(&b));
}

/// Operations counted straight from the text (top-level `get:`, `post:`, ... lines), as a
/// check on the YAML reader, per top folder.
fn counted_from_text() -> Vec<(String, String)> {
    let docs = docs();
    let root = manifest_dir().join("tests/fixtures/wechatpay-openapi/docs");
    let mut pairs = Vec::new();
    for file in docs.operation_files() {
        let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        for line in text.lines() {
            let line = line.trim_end();
            if let Some(method) = line.strip_suffix(':') {
                if model::METHODS.contains(&method) {
                    pairs.push((model::template_of(&file), method.to_uppercase()));
                }
            }
        }
    }
    pairs.sort();
    pairs
}

#[test]
fn every_yaml_file_and_operation_is_read() {
    let docs = docs();
    let files = docs.operation_files();
    let count = |top: &str| files.iter().filter(|f| f.starts_with(top)).count();
    assert_eq!(
        [count("v3/"), count("v2/"), count("hk/"), count("global/")],
        [914, 136, 19, 3],
        "YAML files per folder"
    );
    let mut read: Vec<(String, String)> = operations()
        .into_iter()
        .map(|op| (op.template, op.method))
        .collect();
    read.sort();
    assert_eq!(read, counted_from_text());
}

#[cfg(feature = "catalog")]
#[test]
fn the_crate_catalog_holds_every_operation() {
    use wechatpay::catalog;

    let pairs = counted_from_text();
    assert_eq!(catalog::endpoints().len(), pairs.len());
    for (template, method) in &pairs {
        let method: http::Method = method.parse().unwrap();
        let found = catalog::find(&method, template)
            .unwrap_or_else(|| panic!("{method} {template} is not in the catalog"));
        assert_eq!(found.template(), template);
    }
    let per_top = |top: &str| pairs.iter().filter(|(t, _)| t.starts_with(top)).count();
    let in_catalog = |top: &str| {
        catalog::endpoints()
            .iter()
            .filter(|e| e.template().starts_with(top))
            .count()
    };
    for top in ["v3/", "v2/", "hk/", "global/"] {
        assert_eq!(in_catalog(top), per_top(top), "{top}");
    }
}
