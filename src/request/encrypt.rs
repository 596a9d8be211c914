//! `encrypt_fields`: sensitive fields of a JSON body, encrypted for the platform.

use http::HeaderMap;
use serde_json::Value;

use super::Pipeline;
use crate::crypto::PublicKey;
use crate::error::Error;
use crate::verify::SERIAL;

/// Encrypts the fields `pointers` name in a JSON `body` with the pinned
/// (`Wechatpay-Serial` set by the caller) or default platform key; returns the key's id
/// and the new body.
pub(super) fn encrypt_body(
    pipeline: &Pipeline,
    headers: &HeaderMap,
    body: &[u8],
    pointers: &[String],
) -> Result<(String, Vec<u8>), Error> {
    let (id, key): (String, PublicKey) = match headers.get(&SERIAL) {
        Some(pinned) => {
            let id = pinned.to_str().unwrap_or_default();
            let key = pipeline.verifier.key(id).ok_or_else(|| {
                Error::request(format!(
                    "encrypt_fields: `Wechatpay-Serial: {id}` names no trusted platform key \
                     (trusted: {})",
                    pipeline.verifier.ids().join(", ")
                ))
            })?;
            (id.to_owned(), key)
        }
        None => pipeline.encryption_key()?,
    };
    let mut json: Value = serde_json::from_slice(body)
        .map_err(|e| Error::request_with("encrypt_fields needs a JSON body", e))?;
    for pointer in pointers {
        match json.pointer_mut(pointer) {
            Some(Value::String(text)) => {
                *text = key
                    .encrypt(text)
                    .map_err(|e| e.context(format_args!("encrypt_fields `{pointer}`")))?
            }
            found => {
                return Err(Error::request(format!(
                    "encrypt_fields: `{pointer}` does not name a string of the body ({})",
                    found.map_or_else(
                        || "nothing is there".to_owned(),
                        |v| format!("it is {}", json_kind(v))
                    )
                )))
            }
        }
    }
    let body = serde_json::to_vec(&json)
        .map_err(|e| Error::request_with("the body cannot be serialized as JSON", e))?;
    Ok((id, body))
}

/// `a string`, `an object`, ... for messages about JSON values.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
