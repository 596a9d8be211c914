//! PEM reading with errors that say what was found.
//!
//! rustls-pki-types decodes the labels it knows (and tells PKCS#1 from PKCS#8 itself);
//! `RSA PUBLIC KEY`, which it skips, is decoded here. When the wanted label is absent the
//! error lists the labels that are present, so "you gave me a certificate where a private
//! key belongs" is said in those words.

use base64::Engine as _;

use crate::error::Error;

/// The labels of every `-----BEGIN …-----` line, in order.
pub(crate) fn labels(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| {
            line.trim()
                .strip_prefix("-----BEGIN ")
                .and_then(|rest| rest.strip_suffix("-----"))
        })
        .collect()
}

/// The error for a PEM text without the expected block.
pub(crate) fn not_found(text: &str, expected: &str, what: &str) -> Error {
    let found = labels(text);
    let found = if found.is_empty() {
        if text.trim().is_empty() {
            "an empty text".to_owned()
        } else {
            "no PEM block at all (is it DER, or a file path passed as PEM text?)".to_owned()
        }
    } else {
        found
            .iter()
            .map(|l| format!("`{l}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    Error::key(format!(
        "{what}: expected a PEM block {expected}, found {found}"
    ))
}

/// Decodes the first block labelled exactly `label` (base64 body, headers not supported).
pub(crate) fn decode_block(text: &str, label: &str) -> Result<Option<Vec<u8>>, Error> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let Some(start) = text.find(&begin) else {
        return Ok(None);
    };
    let body = &text[start + begin.len()..];
    let Some(stop) = body.find(&end) else {
        return Err(Error::key(format!(
            "the `{label}` PEM block has no `{end}` line"
        )));
    };
    let b64: String = body[..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(Some)
        .map_err(|e| Error::Key {
            message: format!("the `{label}` PEM block is not valid base64"),
            source: Some(Box::new(e)),
        })
}

/// Wraps DER in a PEM block with 64-column lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::with_capacity(b64.len() + b64.len() / 64 + 64);
    out.push_str("-----BEGIN ");
    out.push_str(label);
    out.push_str("-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str("-----END ");
    out.push_str(label);
    out.push_str("-----\n");
    out
}
