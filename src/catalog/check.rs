//! Checks before signing: is the endpoint known, and does the request carry what it needs?

use std::fmt;

use http::Method;
use serde_json::{Map, Value};

use super::lookup::{find, find_all, find_path, is_placeholder, path_part};
use super::suggest::{suggest, Suggestion};
use super::table::{ContentType, Endpoint};

/// What [`check`] found wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CheckErrorKind {
    /// No endpoint in the catalog has this method and template (see
    /// [`CheckError::suggestions`]).
    UnknownEndpoint,
    /// A placeholder of the template has no value (or an empty one).
    MissingPathParam,
    /// A query parameter the endpoint requires is not given.
    MissingQueryParam,
    /// A body field the endpoint requires is absent, `null` or `""`
    /// ([`CheckError::field`] is its JSON Pointer).
    MissingBodyField,
    /// A value was given for a name no placeholder of the template uses (it would be
    /// silently ignored).
    UnusedParam,
    /// The endpoint expects a JSON body and the body is not JSON.
    BodyNotJson,
}

/// A request the catalog refuses before it is signed: [`Display`](fmt::Display) says what to
/// fix, [`kind`](CheckError::kind) says what kind of mistake it is.
#[derive(Debug, Clone)]
pub struct CheckError(Box<Details>);

#[derive(Debug, Clone)]
struct Details {
    kind: CheckErrorKind,
    method: Method,
    template: String,
    endpoint: Option<&'static Endpoint>,
    field: Option<String>,
    hint: Option<String>,
    suggestions: Vec<Suggestion>,
}

impl CheckError {
    fn new(kind: CheckErrorKind, method: &Method, template: &str) -> CheckError {
        CheckError(Box::new(Details {
            kind,
            method: method.clone(),
            template: template.to_owned(),
            endpoint: None,
            field: None,
            hint: None,
            suggestions: Vec::new(),
        }))
    }

    /// The kind of mistake.
    pub fn kind(&self) -> CheckErrorKind {
        self.0.kind
    }

    /// The method checked.
    pub fn method(&self) -> &Method {
        &self.0.method
    }

    /// The template checked, as given.
    pub fn template(&self) -> &str {
        &self.0.template
    }

    /// The catalog endpoint the request was checked against (None for
    /// [`CheckErrorKind::UnknownEndpoint`]).
    pub fn endpoint(&self) -> Option<&'static Endpoint> {
        self.0.endpoint
    }

    /// The name at fault: the placeholder, the query parameter, the unused param, or the
    /// body field's JSON Pointer (with the failing element's index, e.g.
    /// `/detail/goods_detail/1/quantity`).
    pub fn field(&self) -> Option<&str> {
        self.0.field.as_deref()
    }

    /// For an unknown endpoint, the closest known templates, best first.
    pub fn suggestions(&self) -> &[Suggestion] {
        &self.0.suggestions
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.0.field.as_deref().unwrap_or_default();
        let endpoint = match self.0.endpoint {
            Some(e) => format!("{e} ({})", e.summary()),
            None => format!("{} {}", self.0.method, self.0.template),
        };
        match self.0.kind {
            CheckErrorKind::UnknownEndpoint => {
                write!(f, "{endpoint} is not in the endpoint catalog")?;
                if let Some(hint) = &self.0.hint {
                    write!(f, "; {hint}")?;
                }
                if !self.0.suggestions.is_empty() {
                    let names: Vec<String> =
                        self.0.suggestions.iter().map(ToString::to_string).collect();
                    write!(f, "; closest: {}", names.join(", "))?;
                }
                Ok(())
            }
            CheckErrorKind::MissingPathParam => write!(
                f,
                "placeholder {{{field}}} of {endpoint} has no value: give it with .param(\"{field}\", …)"
            ),
            CheckErrorKind::MissingQueryParam => write!(
                f,
                "query parameter `{field}` is required by {endpoint}: add .query(\"{field}\", …)"
            ),
            CheckErrorKind::MissingBodyField => {
                write!(f, "body field {field} is required by {endpoint}")
            }
            CheckErrorKind::UnusedParam => {
                write!(
                    f,
                    "param `{field}` is used by no placeholder of {}",
                    self.0.template
                )?;
                match &self.0.hint {
                    Some(hint) => write!(f, "; did you mean `{hint}`?"),
                    None => Ok(()),
                }
            }
            CheckErrorKind::BodyNotJson => write!(
                f,
                "{endpoint} expects a JSON body, and the body is not JSON ({})",
                self.0.hint.as_deref().unwrap_or("unreadable")
            ),
        }
    }
}

impl std::error::Error for CheckError {}

/// Checks a request against the catalog before it is signed: the endpoint exists for this
/// method (else the closest ones are named), every placeholder has a value and every value
/// a placeholder, the required query parameters are given, and for JSON endpoints the body
/// is JSON with every required field (see the module's pointer convention). `template` is
/// the chain's template (placeholder names may differ from the catalog's; a concrete path
/// works too), `params` the placeholder values, `query_names` the query parameters added,
/// `body` the bytes to send. Multipart and XML bodies are not inspected.
///
/// # Errors
///
/// The first problem found, as a [`CheckError`].
///
/// ```
/// use http::Method;
/// use serde_json::{json, Map};
/// use wechatpay::catalog::{check, CheckErrorKind};
///
/// let template = "v3/payscore/serviceorder/{out_order_no}/sync";
/// let mut params = Map::new();
/// params.insert("out_order_no".into(), json!("1234323JKHDFE1243252"));
/// let body = br#"{"appid":"wxd678efh567hg6787","service_id":"500001","type":"Order_Paid","detail":{}}"#;
/// let error = check(&Method::POST, template, &params, &[], Some(body)).unwrap_err();
/// assert_eq!(error.kind(), CheckErrorKind::MissingBodyField);
/// assert_eq!(error.field(), Some("/detail/paid_time"));
///
/// let error = check(&Method::POST, "v3/payscore/serviceorders/{x}/sync", &params, &[], None).unwrap_err();
/// assert_eq!(error.kind(), CheckErrorKind::UnknownEndpoint);
/// assert_eq!(error.suggestions()[0].template(), template);
/// ```
pub fn check(
    method: &Method,
    template: &str,
    params: &Map<String, Value>,
    query_names: &[&str],
    body: Option<&[u8]>,
) -> Result<&'static Endpoint, CheckError> {
    let path = path_part(template);
    let endpoint = find(method, template)
        .or_else(|| {
            // A path with values written in (no placeholders) is matched as a concrete path.
            if path.split('/').any(is_placeholder) {
                None
            } else {
                find_path(method, path).map(|m| m.endpoint())
            }
        })
        .ok_or_else(|| unknown(method, template))?;
    let fail = |kind: CheckErrorKind, field: &str| {
        let mut error = CheckError::new(kind, method, template);
        error.0.endpoint = Some(endpoint);
        error.0.field = Some(field.to_owned());
        error
    };

    let all_variables = variables(template);
    let path_variables = variables(path);
    for name in params.keys() {
        if !all_variables.iter().any(|v| v == name) {
            let mut error = fail(CheckErrorKind::UnusedParam, name);
            error.0.hint = closest_name(name, &path_variables).map(str::to_owned);
            return Err(error);
        }
    }
    for name in &path_variables {
        if !has_value(params.get(name.as_str())) {
            return Err(fail(CheckErrorKind::MissingPathParam, name));
        }
    }
    for query in endpoint.query_params().iter().filter(|q| q.required()) {
        let given = query_names.contains(&query.name())
            || (all_variables.iter().any(|v| v == query.name())
                && has_value(params.get(query.name())));
        if !given {
            return Err(fail(CheckErrorKind::MissingQueryParam, query.name()));
        }
    }
    if endpoint.request_type() == Some(ContentType::Json) {
        let bytes = body.unwrap_or_default();
        let value = if bytes.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => value,
                Err(e) => {
                    let mut error = CheckError::new(CheckErrorKind::BodyNotJson, method, template);
                    error.0.endpoint = Some(endpoint);
                    error.0.hint = Some(e.to_string());
                    return Err(error);
                }
            }
        };
        if let Some(pointer) = missing_field(&value, endpoint.required_body_fields()) {
            return Err(fail(CheckErrorKind::MissingBodyField, &pointer));
        }
    }
    Ok(endpoint)
}

fn unknown(method: &Method, template: &str) -> CheckError {
    let mut error = CheckError::new(CheckErrorKind::UnknownEndpoint, method, template);
    let others: Vec<&str> = find_all(template).map(|e| e.method().as_str()).collect();
    if !others.is_empty() {
        error.0.hint = Some(format!("this template has {}", others.join(", ")));
    }
    error.0.suggestions = suggest(Some(method), template, 3);
    error
}

/// Every variable name in a template's expressions: `{a}`, `{+b}`, `{?c,d*}`, `{e:3}`, `<f>`.
fn variables(template: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find(['{', '<']) {
        let close_char = if rest.as_bytes()[open] == b'{' {
            '}'
        } else {
            '>'
        };
        let Some(len) = rest[open + 1..].find(close_char) else {
            break;
        };
        let expression = &rest[open + 1..open + 1 + len];
        let expression = expression.trim_start_matches(['+', '#', '.', '/', ';', '?', '&']);
        for name in expression.split(',') {
            let name = name.trim_end_matches('*');
            let name = name.split(':').next().unwrap_or_default();
            if !name.is_empty() {
                names.push(name.to_owned());
            }
        }
        rest = &rest[open + 1 + len + 1..];
    }
    names
}

fn has_value(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// The closest of `names` to `name`, if any is close (case, separators, a few edits).
fn closest_name<'a>(name: &str, names: &'a [String]) -> Option<&'a str> {
    let fold = |s: &str| -> String {
        s.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = fold(name);
    names
        .iter()
        .map(|n| (edit_distance(&wanted, &fold(n)), n))
        .filter(|(d, n)| *d * 3 <= n.len().max(3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != *cb))
                .min(previous[j + 1] + 1)
                .min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}

/// The first required pointer that `value` lacks, with concrete array indices. A pointer
/// binds where its parent exists; a `0` step stands for every element of an array.
pub(crate) fn missing_field(value: &Value, pointers: &[&str]) -> Option<String> {
    pointers.iter().find_map(|pointer| {
        let steps: Vec<String> = pointer
            .split('/')
            .skip(1)
            .map(|s| s.replace("~1", "/").replace("~0", "~"))
            .collect();
        missing_at(value, &steps, &mut String::new())
    })
}

fn missing_at(value: &Value, steps: &[String], at: &mut String) -> Option<String> {
    let (step, rest) = steps.split_first()?;
    match value {
        Value::Array(items) if step == "0" => {
            for (i, item) in items.iter().enumerate() {
                let mark = at.len();
                at.push('/');
                at.push_str(&i.to_string());
                if let Some(found) = missing_at(item, rest, at) {
                    return Some(found);
                }
                at.truncate(mark);
            }
            None
        }
        Value::Object(map) => {
            let child = map.get(step.as_str());
            let mark = at.len();
            at.push('/');
            at.push_str(&step.replace('~', "~0").replace('/', "~1"));
            let found = if rest.is_empty() {
                (!has_value(child)).then(|| at.clone())
            } else {
                // The parent is absent: its own entry (if required) reports it.
                child.and_then(|c| missing_at(c, rest, at))
            };
            at.truncate(mark);
            found
        }
        // A parent of another type: the field cannot exist. Report it only when the
        // parent is the whole body (a body that is not an object at all).
        _ if at.is_empty() => Some(format!("/{step}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    const SYNC: &str = "v3/payscore/serviceorder/{out_order_no}/sync";

    fn sync_body() -> Value {
        json!({"appid": "wxd678efh567hg6787", "service_id": "500001", "type": "Order_Paid",
               "detail": {"paid_time": "20091225091210"}})
    }

    #[test]
    fn a_complete_request_passes() {
        let params = map(json!({"out_order_no": "1234323JKHDFE1243252"}));
        let body = serde_json::to_vec(&sync_body()).unwrap();
        let endpoint = check(&Method::POST, SYNC, &params, &[], Some(&body)).unwrap();
        assert_eq!(endpoint.template(), SYNC);
        // Other placeholder names, same shape.
        let params = map(json!({"no": "1"}));
        check(
            &Method::POST,
            "v3/payscore/serviceorder/<no>/sync",
            &params,
            &[],
            Some(&body),
        )
        .unwrap();
        // A concrete path.
        check(
            &Method::POST,
            "/v3/payscore/serviceorder/1/sync",
            &Map::new(),
            &[],
            Some(&body),
        )
        .unwrap();
    }

    #[test]
    fn each_kind_of_mistake_is_named() {
        let params = map(json!({"out_order_no": "1"}));
        let body = serde_json::to_vec(&sync_body()).unwrap();

        let e = check(&Method::GET, SYNC, &params, &[], None).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::UnknownEndpoint);
        assert!(e.to_string().contains("this template has POST"), "{e}");

        let e = check(&Method::POST, SYNC, &Map::new(), &[], Some(&body)).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::MissingPathParam);
        assert_eq!(e.field(), Some("out_order_no"));
        assert!(e.to_string().contains(".param(\"out_order_no\""), "{e}");

        let typo = map(json!({"out_order_No": "1"}));
        let e = check(&Method::POST, SYNC, &typo, &[], Some(&body)).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::UnusedParam);
        assert!(
            e.to_string().ends_with("did you mean `out_order_no`?"),
            "{e}"
        );

        let e = check(&Method::POST, SYNC, &params, &[], Some(b"appid=1")).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::BodyNotJson);

        let e = check(&Method::POST, SYNC, &params, &[], None).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::MissingBodyField);
        assert_eq!(e.field(), Some("/appid"));
        assert!(e.to_string().contains("同步服务订单信息API"), "{e}");

        let query = "v3/pay/transactions/id/{transaction_id}";
        let params = map(json!({"transaction_id": "4200000001"}));
        let e = check(&Method::GET, query, &params, &[], None).unwrap_err();
        assert_eq!(e.kind(), CheckErrorKind::MissingQueryParam);
        assert_eq!(e.field(), Some("mchid"));
        check(&Method::GET, query, &params, &["mchid"], None).unwrap();
        // A query expression with a value counts as given.
        let params = map(json!({"transaction_id": "4200000001", "mchid": "1230000109"}));
        check(
            &Method::GET,
            "v3/pay/transactions/id/{transaction_id}{?mchid}",
            &params,
            &[],
            None,
        )
        .unwrap();
    }

    #[test]
    fn every_endpoint_passes_with_its_own_examples() {
        for endpoint in crate::catalog::endpoints() {
            let params: Map<String, Value> = endpoint
                .path_params()
                .iter()
                .map(|p| (p.name().to_owned(), Value::String(p.example().to_owned())))
                .collect();
            let query: Vec<&str> = endpoint.query_params().iter().map(|q| q.name()).collect();
            let body = endpoint.example_request().map(str::as_bytes);
            if let Err(e) = check(
                endpoint.method(),
                endpoint.template(),
                &params,
                &query,
                body,
            ) {
                panic!("{endpoint}: {e}");
            }
            if let Some(answer) = endpoint.example_answer() {
                assert!(serde_json::from_str::<Value>(answer).is_ok(), "{endpoint}");
            }
        }
    }

    #[test]
    fn pointers_bind_under_present_parents_and_every_array_element() {
        let pointers = ["/a", "/b/c", "/d/0/e"];
        assert_eq!(missing_field(&json!({}), &pointers).as_deref(), Some("/a"));
        assert_eq!(missing_field(&json!({"a": 1}), &pointers), None);
        assert_eq!(
            missing_field(&json!({"a": 1, "b": {}}), &pointers).as_deref(),
            Some("/b/c")
        );
        assert_eq!(
            missing_field(&json!({"a": "", "b": {}}), &pointers).as_deref(),
            Some("/a")
        );
        let items = json!({"a": 1, "d": [{"e": 1}, {"e": null}]});
        assert_eq!(missing_field(&items, &pointers).as_deref(), Some("/d/1/e"));
        assert_eq!(missing_field(&json!([1]), &pointers).as_deref(), Some("/a"));
        assert_eq!(missing_field(&json!({"a/b~": 1}), &["/a~1b~0"]), None);
    }

    #[test]
    fn template_variables_cover_every_expression_form() {
        assert_eq!(
            variables("v3/{a}/{+b}/<c>{?d,e*}{&f:3}"),
            ["a", "b", "c", "d", "e", "f"]
        );
        assert!(variables("v3/{unclosed").is_empty());
    }
}
