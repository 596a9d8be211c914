//! Every v3, hk and global JSON endpoint of the catalog, called through the client against
//! the sandbox with the catalog's own examples: a signed, verified 2xx answer; and with one
//! required body field removed, a 400 naming it. Every multipart upload endpoint likewise,
//! through the upload verb: a 2xx, and a 400 naming a required `meta` field left out. Every
//! APIv2 endpoint likewise (but its one multipart upload), over TLS.
#![cfg(feature = "catalog")]

use serde_json::{Map, Value};
use wechatpay::catalog::{self, ContentType, Endpoint};
use wechatpay::sandbox::Sandbox;

/// Endpoints whose sandbox answer is hand-written in `sandbox/routes.rs` and does not
/// validate the catalog's required fields (so the removal half does not apply).
const HAND_WRITTEN: &[&str] = &["v3/certificates", "v3/billdownload/file"];

fn in_scope(endpoint: &Endpoint) -> bool {
    let top = endpoint.template().split('/').next().unwrap_or_default();
    matches!(top, "v3" | "hk" | "global")
        && matches!(endpoint.request_type(), None | Some(ContentType::Json))
}

/// A request made of the catalog's examples: placeholders, required query parameters and
/// the example body. `params` and `query` values given override the examples.
fn request(
    wxpay: &wechatpay::Wechatpay,
    endpoint: &Endpoint,
    body: Option<&Value>,
    state: &Prepared,
) -> wechatpay::RequestBuilder {
    let mut params = Map::new();
    for param in endpoint.path_params() {
        let value = state
            .params
            .get(param.name())
            .cloned()
            .unwrap_or_else(|| param.example().to_owned());
        params.insert(param.name().to_owned(), Value::String(value));
    }
    let mut builder = wxpay
        .chain(endpoint.template())
        .request(endpoint.method().clone())
        .params(Value::Object(params));
    for query in endpoint.query_params().iter().filter(|q| q.required()) {
        let value = state
            .query
            .get(query.name())
            .map_or(query.example(), String::as_str);
        builder = builder.query(query.name(), value);
    }
    if let Some(body) = body {
        builder = builder.json(body);
    }
    builder
}

/// What a stateful endpoint needs named in its request: placeholder and query values.
#[derive(Default)]
struct Prepared {
    params: std::collections::HashMap<String, String>,
    query: std::collections::HashMap<String, String>,
}

/// The payment lifecycle's endpoints answer from state, as the platform does: a query needs
/// an order, a refund a paid order. This makes that state with the sandbox's merchant id
/// (the catalog's examples name other merchants, which the lifecycle refuses like the
/// platform), then rewrites the request to name it. `n` keeps each endpoint's order its own.
async fn prepare(
    sandbox: &Sandbox,
    wxpay: &wechatpay::Wechatpay,
    endpoint: &Endpoint,
    body: &mut Option<Value>,
    n: usize,
) -> Prepared {
    let template = endpoint.template();
    let partner = template.starts_with("v3/pay/partner/transactions");
    let lifecycle = partner
        || template.starts_with("v3/pay/transactions")
        || template.starts_with("v3/refund/domestic/refunds");
    let mut prepared = Prepared::default();
    if !lifecycle {
        return prepared;
    }
    let merchant = sandbox.merchant_id().to_owned();
    let mchid_field = if partner { "sp_mchid" } else { "mchid" };
    prepared
        .query
        .insert(mchid_field.to_owned(), merchant.clone());
    if let Some(Value::Object(fields)) = body.as_mut() {
        if fields.contains_key(mchid_field) {
            fields.insert(mchid_field.to_owned(), Value::String(merchant.clone()));
        }
    }
    let out_trade_no = format!("CATALOG-{n}");
    let paid = template.starts_with("v3/refund");
    // Every endpoint but placing an order needs one placed (and paid, for refunds).
    let places = template.ends_with("/jsapi")
        || template.ends_with("/native")
        || template.ends_with("/app")
        || template.ends_with("/h5");
    if places {
        if let Some(Value::Object(fields)) = body.as_mut() {
            fields.insert("out_trade_no".into(), Value::String(out_trade_no));
        }
        return prepared;
    }
    let total = body
        .as_ref()
        .and_then(|b| b.pointer("/amount/total"))
        .and_then(Value::as_i64)
        .unwrap_or(100);
    let order = serde_json::json!({
        "appid": "wxd678efh567hg6787", "mchid": merchant, "description": "catalog",
        "out_trade_no": out_trade_no, "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
        "amount": { "total": total, "currency": "CNY" },
    });
    let mut transaction_id = String::new();
    if !partner {
        wxpay
            .chain("v3/pay/transactions/native")
            .post(&order)
            .send()
            .await
            .unwrap();
    } else {
        // Partner queries and closes find partner orders only.
        let order = serde_json::json!({
            "sp_appid": "wxd678efh567hg6787", "sp_mchid": merchant, "sub_mchid": "1900000109",
            "description": "catalog", "out_trade_no": out_trade_no,
            "notify_url": "https://www.weixin.qq.com/wxpay/pay.php",
            "amount": { "total": total, "currency": "CNY" },
        });
        wxpay
            .chain("v3/pay/partner/transactions/native")
            .post(&order)
            .send()
            .await
            .unwrap();
    }
    if paid {
        // Delivery of the notification fails (no loopback notify_url); the order is paid.
        let _ = sandbox.pay(&out_trade_no).await;
    }
    let queried: Value = wxpay
        .chain(if partner {
            "v3/pay/partner/transactions/out-trade-no/{out_trade_no}{?sp_mchid,sub_mchid}"
        } else {
            "v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}"
        })
        .get()
        .params(if partner {
            serde_json::json!({ "out_trade_no": out_trade_no, "sp_mchid": merchant, "sub_mchid": "1900000109" })
        } else {
            serde_json::json!({ "out_trade_no": out_trade_no, "mchid": merchant })
        })
        .send()
        .await
        .and_then(|r| r.json())
        .unwrap();
    if let Some(id) = queried["transaction_id"].as_str() {
        transaction_id = id.to_owned();
    }
    prepared
        .params
        .insert("out_trade_no".into(), out_trade_no.clone());
    prepared
        .params
        .insert("transaction_id".into(), transaction_id);
    prepared
        .query
        .insert("sub_mchid".into(), "1900000109".into());
    if template == "v3/refund/domestic/refunds" {
        if let Some(Value::Object(fields)) = body.as_mut() {
            fields.remove("transaction_id");
            fields.insert("out_trade_no".into(), Value::String(out_trade_no));
            fields.insert(
                "out_refund_no".into(),
                Value::String(format!("CATALOG-RF-{n}")),
            );
            fields.remove("sub_mchid");
            if let Some(amount) = fields.get_mut("amount") {
                amount["refund"] = Value::from(1);
                amount["total"] = Value::from(total);
                amount["currency"] = Value::from("CNY");
                if let Some(map) = amount.as_object_mut() {
                    map.remove("from");
                }
            }
        }
    } else if template == "v3/refund/domestic/refunds/{out_refund_no}" {
        let out_refund_no = format!("CATALOG-RF-{n}");
        wxpay
            .chain("v3/refund/domestic/refunds")
            .post(serde_json::json!({
                "out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                "amount": { "refund": 1, "total": total, "currency": "CNY" },
            }))
            .send()
            .await
            .unwrap();
        prepared
            .params
            .insert("out_refund_no".into(), out_refund_no);
        prepared.query.remove("sub_mchid");
    }
    prepared
}

fn example_body(endpoint: &Endpoint) -> Option<Value> {
    if endpoint.request_type() != Some(ContentType::Json) {
        return None;
    }
    let text = endpoint.example_request().unwrap_or("{}");
    Some(
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("{endpoint}: example is not JSON: {e}")),
    )
}

/// Removes the field at a required pointer (`0` steps take the first element).
fn remove(body: &mut Value, pointer: &str) -> bool {
    let steps: Vec<&str> = pointer.split('/').skip(1).collect();
    let Some((last, parents)) = steps.split_last() else {
        return false;
    };
    let mut at = body;
    for step in parents {
        at = match at {
            Value::Object(map) => match map.get_mut(*step) {
                Some(next) => next,
                None => return false,
            },
            Value::Array(items) if *step == "0" => match items.first_mut() {
                Some(next) => next,
                None => return false,
            },
            _ => return false,
        };
    }
    match at {
        Value::Object(map) => map.remove(*last).is_some(),
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_endpoint_answers_its_example_and_refuses_a_missing_field() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let mut failures = Vec::new();
    let (mut answered, mut refused, mut unsigned, mut checked) = (0, 0, 0, 0);
    for (n, endpoint) in catalog::endpoints()
        .iter()
        .filter(|e| in_scope(e))
        .enumerate()
    {
        let mut body = example_body(endpoint);
        let state = prepare(&sandbox, &wxpay, endpoint, &mut body, n).await;
        match request(&wxpay, endpoint, body.as_ref(), &state)
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => answered += 1,
            Ok(response) => failures.push(format!("{endpoint}: status {}", response.status())),
            // A file whose answer verify does not exempt yet (the lead wires verify to
            // `catalog::is_unsigned_answer`): the sandbox answered 2xx, unsigned, as the
            // platform does.
            Err(e)
                if !endpoint.signed_answer()
                    && e.is_verification()
                    && e.status().is_some_and(|s| s.is_success()) =>
            {
                unsigned += 1
            }
            Err(e) => failures.push(format!("{endpoint}: {e}: {}", cause(&e))),
        }

        let Some(mut body) = body else { continue };
        let Some(pointer) = endpoint.required_body_fields().first() else {
            continue;
        };
        if HAND_WRITTEN.contains(&endpoint.template()) {
            continue;
        }
        assert!(
            remove(&mut body, pointer),
            "{endpoint}: example lacks {pointer}"
        );
        // The strict client refuses it before signing, naming the pointer...
        match request(&wxpay, endpoint, Some(&body), &state).build() {
            Err(e) if cause(&e).contains(*pointer) => checked += 1,
            Err(e) => failures.push(format!("{endpoint} without {pointer}, checked: {e}")),
            Ok(_) => failures.push(format!(
                "{endpoint} without {pointer}: not refused by check()"
            )),
        }
        // ...and the sandbox, sent it anyway, refuses it like the platform.
        match request(&wxpay, endpoint, Some(&body), &state)
            .skip_check()
            .send()
            .await
        {
            Err(e)
                if e.status() == Some(http::StatusCode::BAD_REQUEST)
                    && e.api_code() == Some("PARAM_ERROR")
                    && e.to_string().contains(*pointer) =>
            {
                refused += 1
            }
            Err(e) => failures.push(format!("{endpoint} without {pointer}: {e}")),
            Ok(response) => failures.push(format!(
                "{endpoint} without {pointer}: answered {}",
                response.status()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "{answered} answered and verified, {unsigned} unsigned files, {refused} refused a \
         missing field, {checked} refused it before signing"
    );
    assert_eq!(checked, refused);
    assert!(answered > 900, "{answered}");
    assert!(refused > 400, "{refused}");
}

#[tokio::test]
async fn hk_and_global_endpoints_are_reached_under_their_own_base_path_segment() {
    let sandbox = Sandbox::start().await.unwrap();
    // The catalog's hk templates start with `hk/`: with the root base URL they are sent
    // as `/hk/v3/...`; a client whose base URL already ends in `/hk/` uses `v3/...`.
    let hk = sandbox
        .client_builder()
        .unwrap()
        .base_url(format!("{}hk/", sandbox.base_url()))
        .build()
        .unwrap();
    let answer = hk
        .chain("v3/transactions/out-trade-no/{out_trade_no}")
        .get()
        .param("out_trade_no", "HK20180608")
        .query("mchid", "1900000109")
        .query("sub_mchid", "1900000109")
        .query("sp_mchid", "1900000100")
        .send()
        .await
        .unwrap();
    let json: Value = answer.json().unwrap();
    assert_eq!(json["out_trade_no"], "HK20180608");
    assert_eq!(
        sandbox.requests()[0].target.split('?').next(),
        Some("/hk/v3/transactions/out-trade-no/HK20180608")
    );
}

/// The cause's text of a refusal by the catalog check (the `CheckError` in `source()`).
fn cause(error: &wechatpay::Error) -> String {
    std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default()
}

#[tokio::test]
async fn unknown_paths_get_404_naming_the_closest_templates() {
    let sandbox = Sandbox::start().await.unwrap();
    let typo = || {
        sandbox
            .client()
            .chain("v3/payscore/serviceorders/{out_order_no}/sync")
            .post(serde_json::json!({}))
            .param("out_order_no", "1234323JKHDFE1243252")
    };
    // The strict sandbox client names the closest templates before signing...
    let refused = typo().build().unwrap_err();
    assert!(
        cause(&refused).contains("closest: POST v3/payscore/serviceorder/{out_order_no}/sync"),
        "{refused}: {}",
        cause(&refused)
    );
    // ...and the platform's 404 carries them too, whether or not the client checks.
    let error = typo().skip_check().send().await.unwrap_err();
    assert_eq!(error.status(), Some(http::StatusCode::NOT_FOUND));
    let text = error.to_string();
    assert!(
        text.contains("closest: POST v3/payscore/serviceorder/{out_order_no}/sync"),
        "{text}"
    );
    let api = error.api().unwrap();
    assert_eq!(
        api.suggestions.first().map(String::as_str),
        Some("POST v3/payscore/serviceorder/{out_order_no}/sync")
    );

    // A 404 about a resource on a known endpoint (no such refund) suggests nothing.
    let missing = sandbox
        .client()
        .chain("v3/refund/domestic/refunds/{out_refund_no}")
        .get()
        .param("out_refund_no", "NO-SUCH-REFUND")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(http::StatusCode::NOT_FOUND));
    assert_eq!(missing.api_code(), Some("RESOURCE_NOT_EXISTS"));
    assert!(missing.api().unwrap().suggestions.is_empty(), "{missing}");
}

// ---- uploads -----------------------------------------------------------------------------

use wechatpay::multipart::{FileKind, MetaValue, UploadForm, UploadRule};

/// A small file of the first kind `rule` accepts, with a name to match.
fn sample_file(rule: &UploadRule) -> (String, Vec<u8>) {
    match rule.accepts.first().map(|(kind, _)| *kind) {
        Some(FileKind::Jpeg) => (
            "sample.jpg".into(),
            b"\xFF\xD8\xFF\xE0\0\x10JFIF\0sample".to_vec(),
        ),
        Some(FileKind::Png) => (
            "sample.png".into(),
            b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR sample".to_vec(),
        ),
        Some(FileKind::Pdf) => ("sample.pdf".into(), b"%PDF-1.4\n% sample\n%%EOF\n".to_vec()),
        Some(FileKind::Avi) => (
            "sample.avi".into(),
            b"RIFF\x10\0\0\0AVI LIST sample".to_vec(),
        ),
        Some(other) => panic!("{}: no sample file for {other}", rule.endpoint),
        None => (
            "sample.csv".into(),
            b"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\n".to_vec(),
        ),
    }
}

/// The upload of `endpoint` as the catalog's example describes it: placeholders, the meta
/// fields the caller gives (from the example request) and the plain form fields.
fn upload_request(
    wxpay: &wechatpay::Wechatpay,
    endpoint: &Endpoint,
    rule: &UploadRule,
) -> wechatpay::RequestBuilder {
    let (name, bytes) = sample_file(rule);
    let example: Value = serde_json::from_str(endpoint.example_request().unwrap_or("{}")).unwrap();
    let mut request = wxpay.chain(endpoint.template()).upload(&name, bytes);
    for param in endpoint.path_params() {
        request = request.param(param.name(), param.example());
    }
    for (field, value) in rule.meta {
        if *value == MetaValue::Required {
            let given = example
                .get(*field)
                .cloned()
                .unwrap_or_else(|| panic!("{endpoint}: the example lacks meta field {field}"));
            request = request.meta(field, given);
        }
    }
    for field in rule.fields {
        request = request.form_field(field, "1");
    }
    request
}

#[tokio::test]
async fn every_upload_endpoint_answers_the_upload_verb_and_refuses_a_missing_meta_field() {
    let sandbox = Sandbox::start().await.unwrap();
    let wxpay = sandbox.client();
    let mut failures = Vec::new();
    let mut uploads = 0;
    for endpoint in catalog::endpoints()
        .iter()
        .filter(|e| !e.is_v2() && e.request_type() == Some(ContentType::Multipart))
    {
        let rule = UploadRule::find(endpoint.template())
            .unwrap_or_else(|| panic!("{endpoint}: no upload rule"));
        uploads += 1;
        match upload_request(&wxpay, endpoint, rule).send().await {
            Ok(answer) if answer.status().is_success() => {
                // The answer is about this file: an id made from it, its digest, or its name.
                let (name, bytes) = sample_file(rule);
                let sha256 =
                    wechatpay::download::Digest::of(wechatpay::download::HashType::Sha256, &bytes)
                        .to_hex();
                let text = answer.json::<Value>().unwrap().to_string();
                if [&sha256[..32], name.as_str()]
                    .iter()
                    .any(|mark| text.contains(mark))
                {
                    continue;
                }
                failures.push(format!("{endpoint}: nothing of the file in {text}"));
            }
            Ok(answer) => failures.push(format!("{endpoint}: status {}", answer.status())),
            Err(e) => failures.push(format!("{endpoint}: {e}: {}", cause(&e))),
        }

        // The same form with the first required meta field left out, signed over that meta.
        let (name, bytes) = sample_file(rule);
        let mut form = UploadForm::with_rule(rule, &name).boundary("CATALOG-BOUNDARY");
        let example: Value =
            serde_json::from_str(endpoint.example_request().unwrap_or("{}")).unwrap();
        for (field, value) in rule.meta {
            if *value == MetaValue::Required {
                form = form.meta(field, example[*field].clone());
            }
        }
        for field in rule.fields {
            form = form.field(field, "1");
        }
        let form = form.from_bytes(bytes).unwrap();
        let (dropped, _) = rule
            .meta
            .iter()
            .find(|(_, value)| *value != MetaValue::Optional)
            .unwrap();
        let mut meta: serde_json::Map<String, Value> = serde_json::from_str(form.meta()).unwrap();
        meta.remove(*dropped);
        let short = Value::Object(meta).to_string();
        let body = String::from_utf8_lossy(form.body()).replace(form.meta(), &short);
        let mut request = wxpay
            .chain(endpoint.template())
            .request(http::Method::POST)
            .body(body.into_bytes())
            .header("Content-Type", form.content_type())
            .signed_body(short)
            .skip_check();
        for param in endpoint.path_params() {
            request = request.param(param.name(), param.example());
        }
        match request.send().await {
            Err(e)
                if e.status() == Some(http::StatusCode::BAD_REQUEST)
                    && e.api_code() == Some("PARAM_ERROR")
                    && e.to_string().contains(&format!("/{dropped}")) => {}
            Err(e) => failures.push(format!("{endpoint} without meta {dropped}: {e}")),
            Ok(answer) => failures.push(format!(
                "{endpoint} without meta {dropped}: answered {}",
                answer.status()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(uploads, 14);
}

/// Every APIv2 endpoint of the catalog through the chain, against the sandbox over TLS (so
/// the mutual-TLS ones present the merchant certificate), with the catalog's example
/// request made the sandbox merchant's: a verified XML success, a bill, a page or JSON.
/// The payment-code order, its query, refund and refund query run on the sandbox's state,
/// so each gets the order (and refund) it names first.
#[cfg(feature = "apiv2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_v2_endpoint_answers_its_example_with_mutual_tls_where_needed() {
    use wechatpay::v2::{self, AnswerFormat, MERCHANT_FIELDS};

    let sandbox = Sandbox::start_tls().await.unwrap();
    let wxpay = sandbox.client();
    let merchant = sandbox.merchant_id().to_owned();
    let mut failures = Vec::new();
    let (mut xml, mut bills, mut pages, mut json, mut mutual_tls) = (0, 0, 0, 0, 0);
    for (n, endpoint) in catalog::endpoints()
        .iter()
        .filter(|e| e.is_v2())
        .enumerate()
    {
        let template = endpoint.template();
        let path = template.trim_start_matches("v2/");
        // A multipart upload (a file and its hash), not an XML body: not sent this way.
        if path == "secapi/mch/uploadmedia" {
            continue;
        }
        let facts = v2::endpoint(path);
        let mut fields: Map<String, Value> = endpoint
            .example_request()
            .map(|text| serde_json::from_str(text).expect("the example is JSON"))
            .unwrap_or_default();
        // A GET's fields are its query; a POST's query parameters stay in its URL.
        let get = endpoint.method() == http::Method::GET;
        let mut url_query = Vec::new();
        for param in endpoint.query_params() {
            if get {
                fields.insert(param.name().to_owned(), Value::from(param.example()));
            } else {
                url_query.push((param.name(), param.example()));
            }
        }
        fields.remove("sign");
        fields.remove("nonce_str");
        let mut named = false;
        for name in MERCHANT_FIELDS {
            if let Some(value) = fields.get_mut(name) {
                *value = Value::from(merchant.as_str());
                named = true;
            }
        }
        if !named {
            fields.insert(
                facts.merchant_field.to_owned(),
                Value::from(merchant.as_str()),
            );
        }

        // The stateful endpoints get the order (and refund) they name.
        let out_trade_no = format!("CATALOG-V2-{n}");
        if matches!(
            path,
            "pay/orderquery" | "secapi/pay/refund" | "pay/refundquery"
        ) {
            wxpay
                .chain("v2/pay/micropay")
                .post(serde_json::json!({
                    "appid": "wx2421b1c4370ec43b", "mch_id": merchant, "body": "catalog",
                    "out_trade_no": out_trade_no, "total_fee": 100,
                    "spbill_create_ip": "14.17.22.52", "auth_code": "120061098828009406",
                }))
                .await
                .unwrap();
            fields.remove("transaction_id");
            fields.remove("refund_id");
            fields.insert("out_trade_no".into(), Value::from(out_trade_no.as_str()));
            fields.insert("total_fee".into(), Value::from(100));
            fields.insert("refund_fee".into(), Value::from(100));
            fields.insert(
                "out_refund_no".into(),
                Value::from(format!("CATALOG-V2-RF-{n}")),
            );
        }
        if path == "pay/refundquery" {
            wxpay
                .chain("v2/secapi/pay/refund")
                .post(serde_json::json!({
                    "appid": "wx2421b1c4370ec43b", "mch_id": merchant, "out_trade_no": out_trade_no,
                    "out_refund_no": format!("CATALOG-V2-RF-{n}"), "total_fee": 100, "refund_fee": 100,
                }))
                .await
                .unwrap();
        }

        let builder = if get {
            fields
                .into_iter()
                .fold(wxpay.chain(template).get(), |b, (name, value)| {
                    let text = match value {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    b.query(name, text)
                })
        } else {
            url_query.into_iter().fold(
                wxpay.chain(template).post(Value::Object(fields)),
                |b, (name, value)| b.query(name, value),
            )
        };
        match builder.send().await {
            Ok(response) => {
                mutual_tls += usize::from(facts.mutual_tls);
                match facts.answer {
                    AnswerFormat::Xml => match response.json::<Value>() {
                        Ok(answer) if answer["return_code"] == "SUCCESS" => xml += 1,
                        other => failures.push(format!("{endpoint}: {other:?}")),
                    },
                    AnswerFormat::Csv
                        if response.text().is_ok_and(|t| t.starts_with("交易时间")) =>
                    {
                        bills += 1
                    }
                    AnswerFormat::Page if response.text().is_ok_and(|t| t.contains("accepted")) => {
                        pages += 1
                    }
                    AnswerFormat::Json
                        if response.json::<Value>().is_ok_and(|j| j["retcode"] == 0) =>
                    {
                        json += 1
                    }
                    _ => failures.push(format!("{endpoint}: {:?}", response.text())),
                }
            }
            Err(e) => failures.push(format!("{endpoint}: {e}: {}", cause(&e))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!(
        "APIv2: {xml} XML answers verified, {bills} bills, {pages} pages, {json} JSON; \
         {mutual_tls} over mutual TLS"
    );
    assert_eq!(xml + bills + pages + json, 135);
    assert!(mutual_tls > 50, "{mutual_tls}");
}

// ---- the example and the README ----------------------------------------------------------

#[allow(dead_code)]
#[path = "../examples/catalog.rs"]
mod catalog_example;

#[tokio::test]
async fn the_catalog_example_looks_up_checks_and_calls_and_the_readme_copies_it() {
    let log = catalog_example::run().await.unwrap();
    let expected_start = [
        "POST v3/refund/domestic/refunds: 申请退款API (required: /out_refund_no /amount /amount/refund \
         /amount/from/0/account /amount/from/0/amount /amount/total /amount/currency \
         /goods_detail/0/merchant_goods_id /goods_detail/0/unit_price /goods_detail/0/refund_amount \
         /goods_detail/0/refund_quantity)",
        "v3/refund/domestic/refunds/{out_refund_no} with out_refund_no = \"R1217752501201407\"",
        "chain style: v3/payscore/serviceorder/{out_order_no}/sync",
    ];
    assert_eq!(log.len(), 7, "{log:#?}");
    assert_eq!(log[..3], expected_start, "{log:#?}");
    assert!(
        log[3].starts_with("refused: ") && log[3].contains("v3/refund/domestic/refunds"),
        "{}",
        log[3]
    );
    assert!(
        log[4].starts_with("refused: ") && log[4].contains("/amount"),
        "{}",
        log[4]
    );
    assert!(log[5].contains(": code_url \"weixin://"), "{}", log[5]);
    assert_eq!(log[6], "1019 APIv3 endpoints, 136 APIv2");

    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/catalog.rs"))
            .unwrap();
    let start = example.find("// README: begin\n").unwrap() + "// README: begin\n".len();
    let end = example.find("    // README: end").unwrap();
    let part: String = example[start..end]
        .lines()
        .map(|line| line.strip_prefix("    ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&part),
        "README.md's catalog section is not a copy of examples/catalog.rs:\n{part}"
    );
}
