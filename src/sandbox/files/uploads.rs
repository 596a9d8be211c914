//! Upload endpoints: the form is read by the sandbox's own parser, the `meta` JSON checked
//! against the endpoint's layout (every field it requires), the file against the digest
//! `meta` announces and the endpoint's documented limits, and a `media_id` answered (the
//! same for the same file, so tests can predict it).

use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use super::multipart;
use crate::crypto::digest::{HashType, Hasher};
use crate::multipart::{FileKind, MetaValue, UploadRule};
use crate::sandbox::routes::Answer;

/// The answer to an upload to `path`, or `None` when `path` is no upload endpoint.
pub(crate) fn answer(headers: &HeaderMap, path: &str, body: &[u8]) -> Option<Answer> {
    let rule = UploadRule::find(path)?;
    Some(check(rule, headers, path, body).unwrap_or_else(|refusal| refusal))
}

fn param_error(message: &str) -> Answer {
    Answer::error(StatusCode::BAD_REQUEST, "PARAM_ERROR", message)
}

/// The platform's 400 for a missing value, as the catalog routes word it.
fn missing(field: &str, location: &str) -> Answer {
    let name = field.rsplit('/').next().unwrap_or(field);
    let pointer = if field.starts_with('/') {
        field.to_owned()
    } else {
        format!("/{field}")
    };
    Answer::json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "PARAM_ERROR",
            "message": format!("输入源“/{location}{pointer}”映射到值字段“{name}”字符串规则校验失败，值不能为空 ({location} field {pointer} is required)"),
            "detail": { "field": pointer, "location": location },
        }),
    )
}

fn check(
    rule: &'static UploadRule,
    headers: &HeaderMap,
    path: &str,
    body: &[u8],
) -> Result<Answer, Answer> {
    let form = multipart::parse(headers, body).map_err(|why| {
        param_error(&format!(
            "multipart 请求体格式错误 (the multipart body cannot be read: {why})"
        ))
    })?;
    let meta_part = form.part("meta").ok_or_else(|| missing("meta", "form"))?;
    if let Some(content_type) = &meta_part.content_type {
        if !content_type
            .to_ascii_lowercase()
            .starts_with("application/json")
        {
            return Err(param_error(&format!(
                "meta 的 Content-Type 应为 application/json (the meta part is `{content_type}`)"
            )));
        }
    }
    let meta = match serde_json::from_slice::<Value>(meta_part.data) {
        Ok(Value::Object(meta)) => meta,
        _ => {
            return Err(param_error(
                "meta 应为JSON对象 (the meta part must be a JSON object)",
            ))
        }
    };
    for (name, value) in rule.meta {
        if *value != MetaValue::Optional && !present(meta.get(*name)) {
            return Err(missing(name, "meta"));
        }
    }
    #[cfg(feature = "catalog")]
    if let Some(endpoint) = crate::catalog::find_path(&http::Method::POST, path) {
        if let Some(pointer) = crate::catalog::missing_field(
            &Value::Object(meta.clone()),
            endpoint.endpoint().required_body_fields(),
        ) {
            return Err(missing(&pointer, "meta"));
        }
    }
    #[cfg(not(feature = "catalog"))]
    let _ = path;
    for field in rule.fields {
        if form.part(field).is_none_or(|p| p.data.is_empty()) {
            return Err(missing(field, "form"));
        }
    }
    let file = form
        .part(rule.file_field)
        .ok_or_else(|| missing(rule.file_field, "form"))?;
    if file.filename.as_deref().is_none_or(str::is_empty) {
        return Err(param_error(&format!(
            "文件名不能为空 (the `{}` part has no filename)",
            rule.file_field
        )));
    }
    let mut sha256 = Hasher::new(HashType::Sha256);
    sha256.update(file.data);
    let sha256 = sha256.finish().to_hex();
    for (name, value) in rule.meta {
        let hash_type = match value {
            MetaValue::Sha256 | MetaValue::Sha256Upper => HashType::Sha256,
            MetaValue::Sm3 => HashType::Sm3,
            _ => continue,
        };
        let mut hasher = Hasher::new(hash_type);
        hasher.update(file.data);
        let actual = hasher.finish().to_hex();
        let announced = meta.get(*name).and_then(Value::as_str).unwrap_or_default();
        // The platform compares the hex case-insensitively; the sub-merchant endpoints'
        // examples write it uppercase.
        if !announced.eq_ignore_ascii_case(&actual) {
            return Err(param_error(&format!(
                "文件摘要不匹配 (meta `{name}` is {announced} but the file's {hash_type} is {actual})"
            )));
        }
    }
    let kind = FileKind::sniff(file.data)
        .or_else(|| file.filename.as_deref().and_then(FileKind::from_name));
    if !rule.accepts.is_empty() {
        let limit = match kind.and_then(|k| rule.accepts.iter().find(|(a, _)| *a == k)) {
            Some((_, limit)) => *limit,
            None => {
                return Err(param_error(&format!(
                    "文件格式不支持 (the file is {}; {} accepts {})",
                    kind.map_or("of an unknown kind".to_owned(), |k| format!("a {k} file")),
                    rule.endpoint,
                    rule.accepts
                        .iter()
                        .map(|(k, _)| k.to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )))
            }
        };
        if file.data.len() as u64 > limit {
            return Err(param_error(&format!(
                "文件大小超过限制 (the file has {} bytes; {} accepts up to {limit})",
                file.data.len(),
                rule.endpoint
            )));
        }
    }
    Ok(Answer::json(
        StatusCode::OK,
        &media_answer(path, &meta, &sha256, kind),
    ))
}

/// A field is present when it is not null and not an empty string.
fn present(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// The endpoint's documented answer, with an id made from the file's SHA-256 and the
/// identifiers of `meta` echoed.
fn media_answer(
    path: &str,
    meta: &Map<String, Value>,
    sha256: &str,
    kind: Option<FileKind>,
) -> Value {
    let id = format!("SANDBOX_{}", &sha256[..32]);
    let url = format!(
        "https://wxpaypic.sandbox.invalid/{}.{}",
        &sha256[..32],
        kind.and_then(|k| k.extensions().first().copied())
            .unwrap_or("bin")
    );
    #[cfg(feature = "catalog")]
    let example = crate::catalog::find_path(&http::Method::POST, path)
        .and_then(|found| found.endpoint().example_answer())
        .and_then(|text| serde_json::from_str::<Value>(text).ok());
    #[cfg(not(feature = "catalog"))]
    let example: Option<Value> = {
        let _ = path;
        None
    };
    let mut answer = example.unwrap_or_else(|| json!({ "media_id": "" }));
    fill(&mut answer, meta, &id, &url, sha256);
    answer
}

fn fill(value: &mut Value, meta: &Map<String, Value>, id: &str, url: &str, sha256: &str) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                match (name.as_str(), field) {
                    ("media_id" | "file_id" | "fapiao_media_id", Value::String(s)) => {
                        *s = id.to_owned()
                    }
                    ("media_url", Value::String(s)) => *s = url.to_owned(),
                    ("sha256", Value::String(s)) => *s = sha256.to_owned(),
                    (name, Value::String(s)) => {
                        if let Some(given) = meta.get(name).and_then(Value::as_str) {
                            *s = given.to_owned();
                        }
                    }
                    (_, other) => fill(other, meta, id, url, sha256),
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| fill(item, meta, id, url, sha256)),
        _ => {}
    }
}
