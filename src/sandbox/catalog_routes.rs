//! Every catalog endpoint, answered: the platform's validation (400 `PARAM_ERROR` naming the
//! missing field or placeholder) and the documented example answer, with the request's own
//! identifiers echoed where the example has those fields.
//!
//! [`super::routes`] answers its hand-written endpoints first (certificates, bills, the
//! payscore sync family) and falls back to [`answer`] before its 404.

use http::{Method, StatusCode};
use serde_json::{json, Map, Value};

use super::decode::{percent_decode, query_pairs};
use super::routes::Answer;
use crate::catalog::{self, ContentType, Endpoint};

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// The answer for a catalog endpoint, or None when no catalog endpoint has this path.
/// `path` has no leading `/`; `query` is the raw query string (no `?`). A request that
/// passes the platform's validation is answered by `stateful` if it has an answer (the
/// payment lifecycle), else with the documented example.
pub(crate) fn answer(
    method: &Method,
    path: &str,
    query: &str,
    body: &[u8],
    stateful: impl FnOnce() -> Option<Answer>,
) -> Option<Answer> {
    let Some(found) = catalog::find_path(method, path) else {
        let elsewhere: Vec<&str> = METHODS
            .iter()
            .filter(|m| catalog::find_path(m, path).is_some_and(|f| !f.endpoint().is_v2()))
            .map(Method::as_str)
            .collect();
        if elsewhere.is_empty() {
            return None;
        }
        return Some(Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            &format!(
                "{method} is not allowed on /{path} (it takes {})",
                elsewhere.join(", ")
            ),
        ));
    };
    let endpoint = found.endpoint();
    // APIv2 templates are not wire paths (the `v2/` folder is dropped there).
    if endpoint.is_v2() {
        return None;
    }
    let mut identifiers: Vec<(String, String)> = found
        .params()
        .iter()
        .map(|(name, value)| ((*name).to_owned(), percent_decode(value)))
        .collect();

    let query = query_pairs(query);
    for required in endpoint.query_params().iter().filter(|q| q.required()) {
        let given = query
            .iter()
            .any(|(name, value)| name == required.name() && !value.is_empty());
        if !given {
            return Some(missing(required.name(), "query", required.name()));
        }
    }
    identifiers.extend(query);

    if endpoint.request_type() == Some(ContentType::Json) {
        let json = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            match serde_json::from_slice::<Value>(body) {
                Ok(json) => json,
                Err(e) => {
                    return Some(Answer::error(
                        StatusCode::BAD_REQUEST,
                        "PARAM_ERROR",
                        &format!("请求体JSON格式错误 (the body is not JSON: {e})"),
                    ))
                }
            }
        };
        if let Some(pointer) = catalog::missing_field(&json, endpoint.required_body_fields()) {
            let name = pointer.rsplit('/').next().unwrap_or_default().to_owned();
            return Some(missing(&pointer, "body", &name));
        }
        if let Value::Object(fields) = &json {
            for (name, value) in fields {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                if is_identifier(name) {
                    identifiers.push((name.clone(), text));
                }
            }
        }
    }
    Some(stateful().unwrap_or_else(|| example_answer(endpoint, &identifiers)))
}

/// `; closest: …` for a 404 on an unknown path (empty when nothing is close).
pub(crate) fn closest(path: &str) -> String {
    let near: Vec<String> = catalog::suggestions_for(path)
        .iter()
        .map(ToString::to_string)
        .collect();
    if near.is_empty() {
        String::new()
    } else {
        format!("; closest: {}", near.join(", "))
    }
}

/// The platform's 400 for a missing value: `输入源“/body/detail/paid_time”映射到值字段“paid_time”…`.
fn missing(pointer: &str, location: &str, name: &str) -> Answer {
    let source = if pointer.starts_with('/') {
        format!("/{location}{pointer}")
    } else {
        format!("/{location}/{pointer}")
    };
    Answer::json(
        StatusCode::BAD_REQUEST,
        &json!({
            "code": "PARAM_ERROR",
            "message": format!("输入源“{source}”映射到值字段“{name}”字符串规则校验失败，值不能为空 ({location} field {pointer} is required)"),
            "detail": { "field": pointer, "location": location },
        }),
    )
}

/// Names the platform treats as the request's identifiers, echoed into the answer.
fn is_identifier(name: &str) -> bool {
    name.ends_with("_no")
        || name.ends_with("_id")
        || name.ends_with("mchid")
        || name.ends_with("appid")
        || name.ends_with("openid")
}

fn example_answer(endpoint: &Endpoint, identifiers: &[(String, String)]) -> Answer {
    let status = StatusCode::from_u16(endpoint.answer_status()).unwrap_or(StatusCode::OK);
    match (endpoint.answer_type(), endpoint.example_answer()) {
        (Some(ContentType::Other), _) => Answer {
            status: StatusCode::OK,
            body: format!("sandbox file for /{}\n", endpoint.template()).into_bytes(),
            content_type: endpoint.answer_media_type(),
            signed: endpoint.signed_answer(),
        },
        (_, Some(example)) => match serde_json::from_str::<Value>(example) {
            Ok(mut value) => {
                echo(&mut value, identifiers);
                let status = if status == StatusCode::NO_CONTENT {
                    StatusCode::OK
                } else {
                    status
                };
                Answer::json(status, &value)
            }
            Err(_) => Answer::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "SYSTEM_ERROR",
                "the catalog's example answer is not JSON",
            ),
        },
        (_, None) => Answer {
            status: StatusCode::NO_CONTENT,
            body: Vec::new(),
            content_type: None,
            signed: true,
        },
    }
}

/// Writes each identifier over every same-named scalar of the example, keeping the
/// example's type (a number stays a number when the value reads as one).
fn echo(value: &mut Value, identifiers: &[(String, String)]) {
    match value {
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                if let Some((_, given)) = identifiers.iter().find(|(n, _)| n == name) {
                    match field {
                        Value::String(s) => *s = given.clone(),
                        Value::Number(n) => {
                            if let Ok(number) = given.parse::<serde_json::Number>() {
                                *n = number;
                            }
                        }
                        other => echo(other, identifiers),
                    }
                } else {
                    echo(field, identifiers);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| echo(item, identifiers)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_of(answer: &Answer) -> Value {
        serde_json::from_slice(&answer.body).unwrap_or(Value::Null)
    }

    #[test]
    fn a_valid_request_gets_the_example_with_its_identifiers() {
        let answer = answer(
            &Method::GET,
            "v3/pay/transactions/out-trade-no/ORDER%2042",
            "mchid=1900000109",
            b"",
            || None,
        )
        .unwrap();
        assert_eq!(answer.status, StatusCode::OK);
        let body = body_of(&answer);
        assert_eq!(body["out_trade_no"], "ORDER 42");
        assert_eq!(body["mchid"], "1900000109");
        assert!(answer.signed);
    }

    #[test]
    fn missing_values_get_the_platforms_param_error() {
        let no_query = answer(
            &Method::GET,
            "v3/pay/transactions/id/4200000001",
            "",
            b"",
            || None,
        )
        .unwrap();
        assert_eq!(no_query.status, StatusCode::BAD_REQUEST);
        assert_eq!(body_of(&no_query)["detail"]["field"], "mchid");

        let body = br#"{"appid":"wxd678efh567hg6787","mchid":"1900000109","description":"x",
                        "out_trade_no":"A1","notify_url":"https://a.b/c","amount":{}}"#;
        let no_total = answer(
            &Method::POST,
            "v3/pay/transactions/native",
            "",
            body,
            || None,
        )
        .unwrap();
        assert_eq!(no_total.status, StatusCode::BAD_REQUEST);
        let json = body_of(&no_total);
        assert_eq!(json["code"], "PARAM_ERROR");
        assert_eq!(json["detail"]["field"], "/amount/total");
        assert!(json["message"]
            .as_str()
            .unwrap()
            .contains("/body/amount/total"));

        let not_json = answer(
            &Method::POST,
            "v3/pay/transactions/native",
            "",
            b"<xml/>",
            || None,
        )
        .unwrap();
        assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unknown_paths_fall_through_and_other_methods_are_refused() {
        assert!(answer(&Method::GET, "v3/nowhere", "", b"", || None).is_none());
        assert!(answer(&Method::POST, "v2/pay/micropay", "", b"", || None).is_none());
        let wrong = answer(
            &Method::DELETE,
            "v3/pay/transactions/native",
            "",
            b"",
            || None,
        )
        .unwrap();
        assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(closest("v3/pay/transaction/native").contains("POST v3/pay/transactions/native"));
        assert_eq!(closest("zz/qq/xx/yy/ww"), "");
    }

    #[test]
    fn files_are_unsigned_and_bodiless_answers_are_204() {
        let file = answer(
            &Method::GET,
            "v3/transferdownload/signfile",
            "token=abc",
            b"",
            || None,
        )
        .unwrap();
        assert!(!file.signed);
        assert_eq!(file.content_type, Some("application/pdf"));
        let closed = answer(
            &Method::POST,
            "v3/pay/transactions/out-trade-no/A1/close",
            "",
            br#"{"mchid":"1900000109"}"#,
            || None,
        )
        .unwrap();
        assert_eq!(closed.status, StatusCode::NO_CONTENT);
        assert!(closed.body.is_empty());
    }
}
