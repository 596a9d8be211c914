//! The sandbox's APIv2: answers like the platform, and the notifications it sends.
//!
//! Every endpoint of the APIv2 table ([`crate::v2::endpoints`]) is answered at its wire
//! path (`/pay/micropay`; the chain's `v2/` folder is not on the wire). The sandbox checks
//! what the platform checks, in its order, and answers with the platform's two layers:
//!
//! 1. an endpoint that needs mutual TLS, reached without a client certificate: HTTP 400,
//!    the HTML page the platform's nginx serves (`No required SSL certificate was sent`);
//! 2. a body that is not APIv2 XML, a `sign` that does not verify with [`APIV2_KEY`] (MD5
//!    or HMAC-SHA256), another merchant's `mch_id`, a missing `nonce_str`: `return_code`
//!    `FAIL` with a `return_msg` saying so, unsigned;
//! 3. otherwise `return_code` `SUCCESS`, and the business answer, signed with the algorithm
//!    the request used: for `pay/micropay`, `pay/orderquery`, `secapi/pay/refund` and
//!    `pay/refundquery` from state (an order paid by micropay can be queried and refunded;
//!    a refund completes with [`Sandbox::complete_refund_v2`], which POSTs the refund
//!    notification with its encrypted `req_info`), for the others the catalog's example
//!    answer with the request's own identifiers; bills (`pay/downloadbill`) as CSV, gzip
//!    with `tar_type=GZIP`.
//!
//! [`Fault::V2ReturnFail`], [`Fault::V2ResultFail`], [`Fault::V2BadSign`],
//! [`Fault::TamperBody`] and [`Fault::Unsigned`] make it misbehave.
//!
//! The functions here make what the platform POSTs to a `notify_url`, signed or encrypted
//! with [`APIV2_KEY`], for testing a handler.

use std::io::Write as _;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use http::{Method, StatusCode, Uri};
use serde::Serialize;
use serde_json::{Map, Value};

use super::decode::form_decode;
use super::routes::Answer;
use super::server::Peer;
use super::{Fault, Sandbox, State, APIV2_KEY};
use crate::error::Error;
use crate::transport::{is_loopback, Limit, Timeouts, Transport};
use crate::v2::endpoints::{normalize, AnswerFormat};
use crate::v2::notify::encrypt_req_info;
use crate::v2::sign::{nonce_str, sign, sign_fields, verify_map};
use crate::v2::{endpoint, xml, Apiv2Key, Fields, SignType, MERCHANT_FIELDS};

/// Whether `target` (path and query) is an APIv2 endpoint the sandbox answers.
pub(crate) fn handles(target: &str) -> bool {
    endpoint(target).known
}

fn key() -> Result<Apiv2Key, Error> {
    Apiv2Key::new(APIV2_KEY)
}

/// The page the platform's nginx serves when a mutual-TLS endpoint is reached without a
/// client certificate.
const NO_CERTIFICATE_PAGE: &str = "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n\
<body>\r\n<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n\
<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";

/// Answers an APIv2 request (see the module documentation).
pub(crate) fn answer(
    state: &State,
    method: &Method,
    target: &str,
    body: &[u8],
    peer: Peer,
    faults: &[Fault],
) -> Answer {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let path = normalize(path);
    let endpoint = endpoint(path);
    if endpoint.mutual_tls && !peer.client_certificate {
        return Answer {
            status: StatusCode::BAD_REQUEST,
            body: NO_CERTIFICATE_PAGE.as_bytes().to_vec(),
            content_type: Some("text/html"),
            signed: false,
        };
    }
    let Ok(key) = key() else {
        return return_fail("sandbox APIv2 key unusable");
    };
    let request = if *method == Method::GET || *method == Method::HEAD {
        Ok(query_fields(query))
    } else {
        xml::decode(body)
    };
    let request = match request {
        Ok(fields) => fields,
        Err(e) => return return_fail(&format!("XML格式错误 (the body is not APIv2 XML: {e})")),
    };
    let checked = check(state, &endpoint, &request, &key, faults);
    match endpoint.answer {
        AnswerFormat::Page => page(checked.err()),
        AnswerFormat::Json => match checked {
            Err(message) => json_answer(&serde_json::json!({ "retcode": -1, "retmsg": message })),
            Ok(_) => json_answer(&example(path, method).map_or_else(
                || serde_json::json!({ "retcode": 0, "retmsg": "ok" }),
                |mut example| {
                    example.insert("retcode".into(), Value::from(0));
                    example.insert("retmsg".into(), Value::from("ok"));
                    Value::Object(example)
                },
            )),
        },
        AnswerFormat::Csv => match checked {
            Err(message) => return_fail(&message),
            Ok(_) => bill(state, &request),
        },
        AnswerFormat::Xml => {
            let sign_type = match checked {
                Err(message) => return return_fail(&message),
                Ok(sign_type) => sign_type,
            };
            let signed = !endpoint.unsigned_answer;
            if let Some((err_code, err_code_des)) = faults.iter().find_map(|f| match f {
                Fault::V2ResultFail {
                    err_code,
                    err_code_des,
                } => Some((err_code.as_str(), err_code_des.as_str())),
                _ => None,
            }) {
                let fields = result_fail(&request, err_code, err_code_des);
                return xml_answer(fields, signed.then_some(sign_type), &key, faults);
            }
            let fields = stateful(state, path, &request)
                .unwrap_or_else(|| example_fields(state, path, method, &request));
            xml_answer(fields, signed.then_some(sign_type), &key, faults)
        }
    }
}

/// The platform's checks, in its order; the message of the first that fails, or the
/// algorithm the request was signed with.
fn check(
    state: &State,
    endpoint: &crate::v2::Endpoint,
    request: &Map<String, Value>,
    key: &Apiv2Key,
    faults: &[Fault],
) -> Result<SignType, String> {
    if let Some(message) = faults.iter().find_map(|f| match f {
        Fault::V2ReturnFail(message) => Some(message.clone()),
        _ => None,
    }) {
        return Err(message);
    }
    let sign_type = verify_map(request, key)
        .map_err(|_| "签名错误 (the sign does not verify with the APIv2 key)".to_owned())?;
    let merchant = MERCHANT_FIELDS
        .iter()
        .find_map(|name| request.get(*name).and_then(Value::as_str));
    match merchant {
        None => return Err(format!("缺少参数{} (missing)", endpoint.merchant_field)),
        Some(id) if id != state.merchant_id => {
            return Err(format!(
                "商户号{id}不存在 (the sandbox's merchant is {})",
                state.merchant_id
            ))
        }
        Some(_) => {}
    }
    if !endpoint.nonceless && text(request, "nonce_str").is_empty() {
        return Err("缺少参数nonce_str (missing)".to_owned());
    }
    Ok(sign_type)
}

/// Decoded `a=1&b=2` (form encoding: `+` is a space).
fn query_fields(query: &str) -> Map<String, Value> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (form_decode(name), Value::String(form_decode(value)))
        })
        .collect()
}

fn text<'a>(fields: &'a Map<String, Value>, name: &str) -> &'a str {
    fields.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// `return_code` `FAIL`: unsigned, as the platform's are.
fn return_fail(message: &str) -> Answer {
    let fields = vec![
        ("return_code".to_owned(), "FAIL".to_owned()),
        ("return_msg".to_owned(), message.to_owned()),
    ];
    encode(&fields)
}

fn result_fail(
    request: &Map<String, Value>,
    err_code: &str,
    err_code_des: &str,
) -> Vec<(String, String)> {
    let mut fields = vec![
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("return_msg".to_owned(), "OK".to_owned()),
    ];
    for name in ["appid", "sub_appid", "mch_id", "mchid", "sub_mch_id"] {
        let value = text(request, name);
        if !value.is_empty() {
            fields.push((name.to_owned(), value.to_owned()));
        }
    }
    fields.push(("nonce_str".to_owned(), fresh_nonce()));
    fields.push(("result_code".to_owned(), "FAIL".to_owned()));
    fields.push(("err_code".to_owned(), err_code.to_owned()));
    fields.push(("err_code_des".to_owned(), err_code_des.to_owned()));
    fields
}

fn fresh_nonce() -> String {
    nonce_str().unwrap_or_else(|_| "5K8264ILTKCH16CQ2502SI8ZNMTM67VS".to_owned())
}

/// Signs (unless `sign_type` is `None`, an unsigned endpoint) and encodes an answer, with
/// the faults that alter it.
fn xml_answer(
    mut fields: Vec<(String, String)>,
    sign_type: Option<SignType>,
    key: &Apiv2Key,
    faults: &[Fault],
) -> Answer {
    if let Some(sign_type) = sign_type.filter(|_| !faults.contains(&Fault::Unsigned)) {
        let pairs = || fields.iter().map(|(n, v)| (n.as_str(), v.as_str()));
        let value = if faults.contains(&Fault::V2BadSign) {
            // The right algorithm and length, another key's value.
            match Apiv2Key::new("another-key-the-merchant-has-not") {
                Ok(other) => sign(pairs(), &other, sign_type),
                Err(_) => "0".repeat(32),
            }
        } else {
            sign(pairs(), key, sign_type)
        };
        fields.push(("sign".to_owned(), value));
        if faults.contains(&Fault::TamperBody) {
            // One value changed after signing, as a man in the middle would.
            if let Some((_, value)) = fields.iter_mut().rev().nth(1) {
                value.push('0');
            }
        }
    }
    encode(&fields)
}

fn encode(fields: &[(String, String)]) -> Answer {
    let body =
        xml::encode(fields.iter().map(|(n, v)| (n.as_str(), v.as_str()))).unwrap_or_else(|e| {
            let mut out = String::from("<xml><return_code>FAIL</return_code><return_msg>");
            xml::write_cdata(
                &mut out,
                &format!("the sandbox cannot encode its answer: {e}"),
            );
            out.push_str("</return_msg></xml>");
            out
        });
    Answer {
        status: StatusCode::OK,
        body: body.into_bytes(),
        content_type: Some("text/xml; charset=utf-8"),
        signed: false,
    }
}

fn json_answer(value: &Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: serde_json::to_vec(value).unwrap_or_default(),
        content_type: Some("application/json"),
        signed: false,
    }
}

/// The contract-signing and authorization pages: the page a browser would be shown.
fn page(failure: Option<String>) -> Answer {
    let text = match failure {
        None => "<html><body><h1>签约 (sandbox): the signed URL was accepted</h1></body></html>"
            .to_owned(),
        Some(message) => format!("<html><body><h1>{message}</h1></body></html>"),
    };
    Answer {
        status: StatusCode::OK,
        body: text.into_bytes(),
        content_type: Some("text/html; charset=utf-8"),
        signed: false,
    }
}

/// The catalog's example answer for `path`, if there is one.
fn example(path: &str, method: &Method) -> Option<Map<String, Value>> {
    #[cfg(feature = "catalog")]
    {
        let template = format!("v2/{path}");
        let found = crate::catalog::find(method, &template)
            .or_else(|| crate::catalog::find(&Method::POST, &template))?;
        match serde_json::from_str(found.example_answer()?) {
            Ok(Value::Object(example)) => Some(example),
            _ => None,
        }
    }
    #[cfg(not(feature = "catalog"))]
    {
        let _ = (path, method);
        None
    }
}

/// A field's text as an answer carries it (numbers in decimal, nested values as JSON).
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        other => Some(other.to_string()),
    }
}

/// The example answer of a stateless endpoint, made a success: `return_code` and
/// `result_code` `SUCCESS` (and no `err_code`), the request's values for every field both
/// name (identifiers, amounts), a fresh `nonce_str`; `$n` in a name becomes `0`.
fn example_fields(
    state: &State,
    path: &str,
    method: &Method,
    request: &Map<String, Value>,
) -> Vec<(String, String)> {
    let mut fields = vec![
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("return_msg".to_owned(), "OK".to_owned()),
    ];
    let example = example(path, method).unwrap_or_default();
    let has_result = example.contains_key("result_code");
    for (name, value) in &example {
        let name = first_of_list(name);
        if matches!(
            name.as_str(),
            "return_code"
                | "return_msg"
                | "sign"
                | "result_code"
                | "err_code"
                | "err_code_des"
                | "error_code"
                | "error_code_des"
                | "sign_type"
        ) {
            continue;
        }
        let value = match name.as_str() {
            "nonce_str" => Some(fresh_nonce()),
            "mch_id" | "mchid" | "combine_mch_id" => Some(state.merchant_id.clone()),
            _ => request
                .get(&name)
                .and_then(as_text)
                .or_else(|| as_text(value)),
        };
        if let Some(value) = value {
            fields.push((name, value));
        }
    }
    if has_result || example.is_empty() {
        fields.push(("result_code".to_owned(), "SUCCESS".to_owned()));
    }
    fields
}

/// A list field's name for its first element: `coupon_refund_id_$n_$m` is
/// `coupon_refund_id_0_0`.
fn first_of_list(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' {
            while chars.peek().is_some_and(char::is_ascii_alphabetic) {
                chars.next();
            }
            out.push('0');
        } else {
            out.push(c);
        }
    }
    out
}

/// A bill for `bill_date` (`yyyyMMdd`, a past day): CSV with the platform's back-quoted
/// cells, gzip with `tar_type=GZIP`; `No Bill Exist` for today or later.
fn bill(state: &State, request: &Map<String, Value>) -> Answer {
    let date = text(request, "bill_date");
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return return_fail("invalid bill_date (expected yyyyMMdd)");
    }
    let today = crate::crypto::rfc3339_china(state.clock.now())
        .map(|t| t.get(..10).unwrap_or_default().replace('-', ""))
        .unwrap_or_default();
    if date >= today.as_str() {
        return return_fail("No Bill Exist");
    }
    let day = format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..]);
    let appid = match text(request, "appid") {
        "" => "wx2421b1c4370ec43b",
        appid => appid,
    };
    let csv = format!(
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
         `{day} 10:00:00,`{appid},`{merchant},`0,`,`4200000001{date}0000000001,`1415757673,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`MICROPAY,`SUCCESS,`CMC,`CNY,`0.01,`0.00,`0,`0,`0.00,`0.00,`,`,`image,`,`0.00000,`0.60%,`0.01,`0.00,`\r\n\
         总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
         `1,`0.01,`0.00,`0.00,`0.00000,`0.01,`0.00\r\n",
        merchant = state.merchant_id,
    );
    if text(request, "tar_type") == "GZIP" {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        if encoder.write_all(csv.as_bytes()).is_ok() {
            if let Ok(gzip) = encoder.finish() {
                return Answer {
                    status: StatusCode::OK,
                    body: gzip,
                    content_type: Some("application/x-gzip"),
                    signed: false,
                };
            }
        }
    }
    Answer {
        status: StatusCode::OK,
        body: csv.into_bytes(),
        content_type: Some("text/plain; charset=utf-8"),
        signed: false,
    }
}

// ---------------------------------------------------------------------------------------
// State: orders paid by micropay, refunds.

/// The APIv2 orders and refunds a sandbox remembers.
#[derive(Default)]
pub(crate) struct Ledger {
    inner: Mutex<Books>,
}

#[derive(Default)]
struct Books {
    orders: Vec<Order>,
    refunds: Vec<Refund>,
    sequence: u64,
}

/// The most orders (and refunds) kept: more is a clear failure, not unbounded memory.
const MAX_ENTRIES: usize = 100_000;

struct Order {
    appid: String,
    out_trade_no: String,
    transaction_id: String,
    total_fee: u64,
    refunded: u64,
    time_end: String,
}

struct Refund {
    out_refund_no: String,
    refund_id: String,
    out_trade_no: String,
    transaction_id: String,
    total_fee: u64,
    refund_fee: u64,
    notify_url: String,
    success: bool,
}

impl Ledger {
    fn books(&self) -> MutexGuard<'_, Books> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Books {
    fn next(&mut self) -> u64 {
        self.sequence += 1;
        self.sequence
    }

    fn order(&self, request: &Map<String, Value>) -> Option<usize> {
        let transaction_id = text(request, "transaction_id");
        let out_trade_no = text(request, "out_trade_no");
        self.orders.iter().position(|o| {
            (!transaction_id.is_empty() && o.transaction_id == transaction_id)
                || (!out_trade_no.is_empty() && o.out_trade_no == out_trade_no)
        })
    }
}

/// The answer of a stateful endpoint, or `None` for the others.
fn stateful(
    state: &State,
    path: &str,
    request: &Map<String, Value>,
) -> Option<Vec<(String, String)>> {
    let mut books = state.v2.books();
    let now = crate::crypto::rfc3339_china(state.clock.now()).unwrap_or_default();
    let business = match path {
        "pay/micropay" => micropay(&mut books, request, &now),
        "pay/orderquery" => orderquery(&books, request),
        "secapi/pay/refund" => refund(&mut books, request),
        "pay/refundquery" => refundquery(&books, request),
        _ => return None,
    };
    drop(books);
    let mut fields = vec![
        ("return_code".to_owned(), "SUCCESS".to_owned()),
        ("return_msg".to_owned(), "OK".to_owned()),
        ("appid".to_owned(), text(request, "appid").to_owned()),
        ("mch_id".to_owned(), state.merchant_id.clone()),
        ("nonce_str".to_owned(), fresh_nonce()),
    ];
    match business {
        Ok(more) => {
            fields.push(("result_code".to_owned(), "SUCCESS".to_owned()));
            fields.extend(more);
        }
        Err((code, description)) => {
            fields.push(("result_code".to_owned(), "FAIL".to_owned()));
            fields.push(("err_code".to_owned(), code.to_owned()));
            fields.push(("err_code_des".to_owned(), description));
        }
    }
    Some(fields)
}

type Business = Result<Vec<(String, String)>, (&'static str, String)>;

fn pairs(items: &[(&str, String)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect()
}

fn amount(request: &Map<String, Value>, name: &str) -> Result<u64, (&'static str, String)> {
    text(request, name)
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or((
            "PARAM_ERROR",
            format!("{name}参数错误 (a positive number of fen)"),
        ))
}

fn micropay(books: &mut Books, request: &Map<String, Value>, now: &str) -> Business {
    let total_fee = amount(request, "total_fee")?;
    let out_trade_no = text(request, "out_trade_no");
    if out_trade_no.is_empty() {
        return Err(("PARAM_ERROR", "缺少参数out_trade_no".to_owned()));
    }
    // A payment code: 18 digits starting 10 to 15.
    let code = text(request, "auth_code");
    let valid_code = code.len() == 18
        && code.bytes().all(|b| b.is_ascii_digit())
        && matches!(&code[..2], "10" | "11" | "12" | "13" | "14" | "15");
    if !valid_code {
        return Err((
            "AUTH_CODE_INVALID",
            "付款码无效，请重新扫码 (auth_code is not a payment code)".to_owned(),
        ));
    }
    let index = match books
        .orders
        .iter()
        .position(|o| o.out_trade_no == out_trade_no)
    {
        Some(index) if books.orders[index].total_fee == total_fee => index,
        Some(_) => return Err(("OUT_TRADE_NO_USED", "商户订单号重复".to_owned())),
        None => {
            if books.orders.len() >= MAX_ENTRIES {
                return Err((
                    "SYSTEMERROR",
                    "the sandbox holds too many orders".to_owned(),
                ));
            }
            let n = books.next();
            let time_end: String = now.chars().filter(char::is_ascii_digit).take(14).collect();
            books.orders.push(Order {
                appid: text(request, "appid").to_owned(),
                out_trade_no: out_trade_no.to_owned(),
                transaction_id: format!("42000000012026{n:014}"),
                total_fee,
                refunded: 0,
                time_end,
            });
            books.orders.len() - 1
        }
    };
    let order = &books.orders[index];
    Ok(pairs(&[
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned()),
        ("is_subscribe", "N".to_owned()),
        ("trade_type", "MICROPAY".to_owned()),
        ("bank_type", "CMC".to_owned()),
        ("fee_type", "CNY".to_owned()),
        ("total_fee", order.total_fee.to_string()),
        ("cash_fee", order.total_fee.to_string()),
        ("transaction_id", order.transaction_id.clone()),
        ("out_trade_no", order.out_trade_no.clone()),
        ("time_end", order.time_end.clone()),
    ]))
}

fn orderquery(books: &Books, request: &Map<String, Value>) -> Business {
    let index = books
        .order(request)
        .ok_or(("ORDERNOTEXIST", "此交易订单号不存在".to_owned()))?;
    let order = &books.orders[index];
    let trade_state = if order.refunded > 0 {
        "REFUND"
    } else {
        "SUCCESS"
    };
    Ok(pairs(&[
        ("openid", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".to_owned()),
        ("trade_type", "MICROPAY".to_owned()),
        ("trade_state", trade_state.to_owned()),
        ("bank_type", "CMC".to_owned()),
        ("total_fee", order.total_fee.to_string()),
        ("cash_fee", order.total_fee.to_string()),
        ("transaction_id", order.transaction_id.clone()),
        ("out_trade_no", order.out_trade_no.clone()),
        ("time_end", order.time_end.clone()),
        ("trade_state_desc", "支付成功".to_owned()),
    ]))
}

fn refund(books: &mut Books, request: &Map<String, Value>) -> Business {
    let out_refund_no = text(request, "out_refund_no");
    if out_refund_no.is_empty() {
        return Err(("PARAM_ERROR", "缺少参数out_refund_no".to_owned()));
    }
    let total_fee = amount(request, "total_fee")?;
    let refund_fee = amount(request, "refund_fee")?;
    let index = books
        .order(request)
        .ok_or(("ORDERNOTEXIST", "订单不存在".to_owned()))?;
    if let Some(done) = books
        .refunds
        .iter()
        .find(|r| r.out_refund_no == out_refund_no)
    {
        // The same refund asked again is the same refund.
        if done.refund_fee != refund_fee {
            return Err((
                "INVALID_REQUEST",
                "同一退款单号的退款金额与之前请求不一致".to_owned(),
            ));
        }
        return Ok(refund_fields(done));
    }
    let order = &books.orders[index];
    if order.total_fee != total_fee {
        return Err(("INVALID_REQUEST", "订单金额与支付金额不一致".to_owned()));
    }
    if refund_fee > order.total_fee - order.refunded {
        return Err(("NOTENOUGH", "退款金额大于可退金额".to_owned()));
    }
    if books.refunds.len() >= MAX_ENTRIES {
        return Err((
            "SYSTEMERROR",
            "the sandbox holds too many refunds".to_owned(),
        ));
    }
    let n = books.next();
    let order = &mut books.orders[index];
    order.refunded += refund_fee;
    let refund = Refund {
        out_refund_no: out_refund_no.to_owned(),
        refund_id: format!("50000000012026{n:014}"),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone(),
        total_fee: order.total_fee,
        refund_fee,
        notify_url: text(request, "notify_url").to_owned(),
        success: false,
    };
    let fields = refund_fields(&refund);
    books.refunds.push(refund);
    Ok(fields)
}

fn refund_fields(refund: &Refund) -> Vec<(String, String)> {
    pairs(&[
        ("transaction_id", refund.transaction_id.clone()),
        ("out_trade_no", refund.out_trade_no.clone()),
        ("out_refund_no", refund.out_refund_no.clone()),
        ("refund_id", refund.refund_id.clone()),
        ("refund_fee", refund.refund_fee.to_string()),
        ("total_fee", refund.total_fee.to_string()),
        ("cash_fee", refund.total_fee.to_string()),
        ("cash_refund_fee", refund.refund_fee.to_string()),
    ])
}

fn refundquery(books: &Books, request: &Map<String, Value>) -> Business {
    let wanted = |r: &&Refund| {
        [
            ("out_refund_no", &r.out_refund_no),
            ("refund_id", &r.refund_id),
            ("out_trade_no", &r.out_trade_no),
            ("transaction_id", &r.transaction_id),
        ]
        .iter()
        .any(|(name, value)| {
            let given = text(request, name);
            !given.is_empty() && given == value.as_str()
        })
    };
    let found: Vec<&Refund> = books.refunds.iter().filter(wanted).collect();
    let Some(first) = found.first() else {
        return Err(("REFUNDNOTEXIST", "退款订单查询失败".to_owned()));
    };
    let mut fields = pairs(&[
        ("transaction_id", first.transaction_id.clone()),
        ("out_trade_no", first.out_trade_no.clone()),
        ("total_fee", first.total_fee.to_string()),
        ("cash_fee", first.total_fee.to_string()),
        ("refund_count", found.len().to_string()),
    ]);
    for (i, refund) in found.iter().enumerate() {
        let status = if refund.success {
            "SUCCESS"
        } else {
            "PROCESSING"
        };
        fields.extend(pairs(&[
            (&format!("out_refund_no_{i}"), refund.out_refund_no.clone()),
            (&format!("refund_id_{i}"), refund.refund_id.clone()),
            (&format!("refund_fee_{i}"), refund.refund_fee.to_string()),
            (&format!("refund_status_{i}"), status.to_owned()),
        ]));
    }
    Ok(fields)
}

impl Sandbox {
    /// Completes a refund requested through `v2/secapi/pay/refund` (`PROCESSING` until
    /// then): marks it `SUCCESS` (`v2/pay/refundquery` shows it) and POSTs the refund
    /// notification to the refund's `notify_url`, a plain `http://` loopback URL, as the
    /// platform does: `req_info` encrypted with AES-256-ECB under the MD5 of
    /// [`APIV2_KEY`]. Returns the handler's answer.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for an unknown or already completed refund, or a refund without a
    /// `notify_url` (or one that is not plain `http://` on loopback); [`Error::Transport`]
    /// if the handler cannot be reached or does not answer within 10 seconds.
    pub async fn complete_refund_v2(
        &self,
        out_refund_no: &str,
    ) -> Result<http::Response<Vec<u8>>, Error> {
        let (url, body) = {
            let mut books = self.state.v2.books();
            let books = &mut *books;
            let refund = books
                .refunds
                .iter_mut()
                .find(|r| r.out_refund_no == out_refund_no)
                .ok_or_else(|| {
                    Error::request(format!("the sandbox has no APIv2 refund `{out_refund_no}`"))
                })?;
            if refund.success {
                return Err(Error::request(format!(
                    "the APIv2 refund `{out_refund_no}` is already complete"
                )));
            }
            if refund.notify_url.is_empty() {
                return Err(Error::request(format!(
                    "the APIv2 refund `{out_refund_no}` was requested without a notify_url"
                )));
            }
            refund.success = true;
            let appid = books
                .orders
                .iter()
                .find(|o| o.out_trade_no == refund.out_trade_no)
                .map(|o| o.appid.clone())
                .unwrap_or_default();
            let success_time = crate::crypto::rfc3339_china(self.state.clock.now())
                .map(|t| t.get(..19).unwrap_or_default().replace('T', " "))
                .unwrap_or_default();
            let info = serde_json::json!({
                "transaction_id": refund.transaction_id,
                "out_trade_no": refund.out_trade_no,
                "refund_id": refund.refund_id,
                "out_refund_no": refund.out_refund_no,
                "total_fee": refund.total_fee,
                "refund_fee": refund.refund_fee,
                "settlement_refund_fee": refund.refund_fee,
                "refund_status": "SUCCESS",
                "success_time": success_time,
                "refund_recv_accout": "支付用户零钱",
                "refund_account": "REFUND_SOURCE_RECHARGE_FUNDS",
                "refund_request_source": "API",
            });
            let body = refund_notification_for(&self.state.merchant_id, &appid, &info)?;
            (refund.notify_url.clone(), body)
        };
        deliver(&url, &body).await
    }
}

/// What the platform POSTs for a payment: `fields` (a JSON object or struct, e.g.
/// `out_trade_no`, `transaction_id`, `total_fee`, `result_code`) after `return_code`
/// `SUCCESS`, with a `nonce_str` unless given, signed with [`APIV2_KEY`] (`sign_type` from
/// the fields, MD5 when absent).
///
/// # Errors
///
/// [`Error::Request`] if `fields` is not a map of fields or names an unknown `sign_type`.
pub fn payment_notification<T: Serialize>(fields: T) -> Result<String, Error> {
    let given = Fields::from_serialize(&fields)?;
    let mut out = Fields::new();
    out.insert("return_code", "SUCCESS");
    for (name, value) in given.iter() {
        out.insert(name, value);
    }
    if !out.contains("nonce_str") {
        out.insert("nonce_str", nonce_str()?);
    }
    sign_fields(&mut out, &key()?)?;
    out.to_xml()
}

/// What the platform POSTs for a refund: `return_code` `SUCCESS`, the sandbox merchant's
/// `mch_id`, and `info` (`out_refund_no`, `refund_status`, …) as `req_info`, encrypted with
/// AES-256-ECB under the MD5 of [`APIV2_KEY`].
///
/// # Errors
///
/// [`Error::Request`] if `info` is not a map of fields.
pub fn refund_notification<T: Serialize>(info: T) -> Result<String, Error> {
    refund_notification_for(super::MERCHANT_ID, "wx2421b1c4370ec43b", &info)
}

fn refund_notification_for<T: Serialize>(
    merchant: &str,
    appid: &str,
    info: &T,
) -> Result<String, Error> {
    let info = Fields::from_serialize(info)?;
    let mut root = String::from("<root>");
    for (name, value) in info.iter() {
        root.push('<');
        root.push_str(name);
        root.push('>');
        xml::write_cdata(&mut root, value);
        root.push_str("</");
        root.push_str(name);
        root.push('>');
    }
    root.push_str("</root>");
    let mut out = Fields::new();
    out.insert("return_code", "SUCCESS");
    out.insert("appid", appid);
    out.insert("mch_id", merchant);
    out.insert("nonce_str", nonce_str()?);
    out.insert("req_info", encrypt_req_info(&root, &key()?));
    out.to_xml()
}

/// POSTs an APIv2 notification (`text/xml`) to a handler at a plain `http://` loopback
/// URL, within 10 seconds, and returns its answer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// # let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// # let url = format!("http://{}/notify", listener.local_addr().unwrap());
/// # tokio::spawn(async move {
/// #     use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// #     let (mut stream, _) = listener.accept().await.unwrap();
/// #     let mut buf = vec![0; 65536];
/// #     let _ = stream.read(&mut buf).await;
/// #     let ack = wechatpay::v2::notify::ACK_XML;
/// #     let _ = stream.write_all(format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{ack}", ack.len()).as_bytes()).await;
/// # });
/// use wechatpay::sandbox::v2;
///
/// let body = v2::payment_notification(serde_json::json!({ "out_trade_no": "1415757673", "result_code": "SUCCESS" }))?;
/// let answer = v2::deliver(&url, &body).await?;
/// assert_eq!(answer.body(), wechatpay::v2::notify::ACK_XML.as_bytes());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Request`] for a URL that is not `http://` on a loopback host;
/// [`Error::Transport`] if the handler cannot be reached or does not answer in time.
pub async fn deliver(url: &str, xml: &str) -> Result<http::Response<Vec<u8>>, Error> {
    let uri: Uri = url.parse().map_err(|e| Error::Request {
        message: format!("`{url}` is not a URL"),
        source: Some(Box::new(e)),
    })?;
    if uri.scheme_str() != Some("http") || !uri.host().is_some_and(is_loopback) {
        return Err(Error::request(format!(
            "the sandbox delivers notifications to plain http:// loopback URLs only, not `{url}`"
        )));
    }
    let request = http::Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .body(Bytes::from(xml.to_owned()))
        .map_err(|e| Error::Request {
            message: format!("cannot build a request to `{url}`"),
            source: Some(Box::new(e)),
        })?;
    let timeouts = Timeouts {
        connect: SEND_TIMEOUT,
        total: SEND_TIMEOUT,
    };
    let answer = Transport::direct(timeouts, 1 << 20)?
        .send(request, Limit::from_now(timeouts.total))
        .await?;
    let mut response = http::Response::new(answer.body.to_vec());
    *response.status_mut() = answer.status;
    *response.headers_mut() = answer.headers;
    Ok(response)
}

const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
