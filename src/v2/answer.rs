//! Reading APIv2 answers: XML to JSON, `return_code` and `result_code`, the answer's `sign`.
//!
//! An APIv2 answer is HTTP 200 whatever happened; the outcome is in the body, in two
//! layers. `return_code` says whether the call got through (FAIL: bad sign, missing field,
//! wrong merchant; such answers are not signed). `result_code`, present when it did, says
//! whether the business operation succeeded (FAIL comes with `err_code`/`err_code_des`, and
//! is signed). [`read_answer`] checks them in that order, verifying the sign in between, so
//! a business failure is only reported once it is known to come from the platform.

use std::fmt;

use serde_json::{Map, Value};

use super::endpoints::{AnswerFormat, Endpoint};
use super::sign::verify_map;
use super::{xml, Apiv2Key, SignType};
use crate::error::Error;

/// Which layer of an APIv2 answer reported the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureLayer {
    /// `return_code` is not `SUCCESS`: the call itself was refused (communication layer).
    Return,
    /// `result_code` is not `SUCCESS`: the call got through but the operation failed.
    Result,
}

/// The platform's refusal of an APIv2 call, from the answer's `return_code`/`result_code`.
///
/// The fields are what the answer said (`None` when absent). It implements
/// `std::error::Error`; the request pipeline surfaces it as [`Error::Api`] (code `err_code`,
/// or `return_code` when there is none; message `err_code_des` or `return_msg`).
///
/// `Debug` shows the codes and messages and the names of the other fields, never `sign`.
///
/// ```
/// use wechatpay::v2::{answer, FailureLayer};
///
/// let fields = wechatpay::v2::xml::decode(
///     b"<xml><return_code>SUCCESS</return_code><result_code>FAIL</result_code>\
///       <err_code>ORDERPAID</err_code><err_code_des>order paid</err_code_des></xml>",
/// )?;
/// let failure = answer::check(&fields).unwrap_err();
/// assert_eq!(failure.layer, FailureLayer::Result);
/// assert_eq!(failure.code(), "ORDERPAID");
/// assert_eq!(failure.to_string(), "APIv2 result_code FAIL, err_code ORDERPAID: order paid");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct Apiv2Failure {
    /// Which layer failed.
    pub layer: FailureLayer,
    /// `return_code` (`FAIL`, or empty when the answer had none).
    pub return_code: String,
    /// `return_msg`, e.g. `签名错误` or `OK`.
    pub return_msg: Option<String>,
    /// `result_code`, when present.
    pub result_code: Option<String>,
    /// `err_code`, e.g. `ORDERPAID`, `NOTENOUGH`, `SYSTEMERROR` (`error_code` on the few
    /// endpoints that spell it so).
    pub err_code: Option<String>,
    /// `err_code_des`, the description of `err_code`.
    pub err_code_des: Option<String>,
    /// The whole decoded answer.
    pub fields: Map<String, Value>,
}

impl Apiv2Failure {
    /// The most specific code: `err_code`, else `result_code`/`return_code`.
    pub fn code(&self) -> &str {
        self.err_code
            .as_deref()
            .or(match self.layer {
                FailureLayer::Result => self.result_code.as_deref(),
                FailureLayer::Return => None,
            })
            .unwrap_or(&self.return_code)
    }

    /// The most specific message: `err_code_des`, else `return_msg`.
    pub fn message(&self) -> &str {
        self.err_code_des
            .as_deref()
            .or(self.return_msg.as_deref())
            .unwrap_or("")
    }

    fn from_fields(layer: FailureLayer, fields: Map<String, Value>) -> Apiv2Failure {
        let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
        Apiv2Failure {
            layer,
            return_code: text("return_code").unwrap_or_default(),
            return_msg: text("return_msg"),
            result_code: text("result_code"),
            err_code: text("err_code").or_else(|| text("error_code")),
            err_code_des: text("err_code_des").or_else(|| text("error_code_des")),
            fields,
        }
    }
}

impl fmt::Display for Apiv2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.layer {
            FailureLayer::Return if self.return_code.is_empty() => {
                f.write_str("APIv2 answer without return_code")?
            }
            FailureLayer::Return => write!(f, "APIv2 return_code {}", self.return_code)?,
            FailureLayer::Result => write!(
                f,
                "APIv2 result_code {}",
                self.result_code.as_deref().unwrap_or("")
            )?,
        }
        if let Some(code) = &self.err_code {
            write!(f, ", err_code {code}")?;
        }
        let message = self.message();
        if !message.is_empty() {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Apiv2Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Apiv2Failure")
            .field("layer", &self.layer)
            .field("return_code", &self.return_code)
            .field("return_msg", &self.return_msg)
            .field("result_code", &self.result_code)
            .field("err_code", &self.err_code)
            .field("err_code_des", &self.err_code_des)
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl std::error::Error for Apiv2Failure {}

/// Checks `return_code` (must be `SUCCESS`) and, when present, `result_code` (likewise).
///
/// # Errors
///
/// The [`Apiv2Failure`] of the first layer that is not `SUCCESS`; an answer without
/// `return_code` fails the return layer.
pub fn check(answer: &Map<String, Value>) -> Result<(), Box<Apiv2Failure>> {
    check_return(answer)?;
    check_result(answer)
}

fn check_return(answer: &Map<String, Value>) -> Result<(), Box<Apiv2Failure>> {
    match answer.get("return_code").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(()),
        _ => Err(Box::new(Apiv2Failure::from_fields(
            FailureLayer::Return,
            answer.clone(),
        ))),
    }
}

fn check_result(answer: &Map<String, Value>) -> Result<(), Box<Apiv2Failure>> {
    match answer.get("result_code").map(|v| v.as_str()) {
        None | Some(Some("SUCCESS")) => Ok(()),
        Some(_) => Err(Box::new(Apiv2Failure::from_fields(
            FailureLayer::Result,
            answer.clone(),
        ))),
    }
}

/// A verified answer: its fields and how its sign was checked.
#[derive(Clone)]
#[non_exhaustive]
pub struct Answer {
    /// The decoded answer (strings; nested elements as objects).
    pub fields: Map<String, Value>,
    /// The algorithm the answer's `sign` used; `None` for the endpoints whose answers are
    /// unsigned and for JSON answers.
    pub verified_with: Option<SignType>,
}

impl fmt::Debug for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Answer")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("verified_with", &self.verified_with)
            .finish()
    }
}

/// Reads the body of an answer from `endpoint`: decodes it, checks `return_code`, verifies
/// the `sign` (unless the endpoint's answers are unsigned), then checks `result_code`.
///
/// The outer `Result` is for answers that cannot be trusted or read; the inner one is the
/// platform's own verdict.
///
/// ```
/// use wechatpay::v2::{answer, endpoint, sign, Apiv2Key, SignType};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let mut fields = vec![("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("transaction_id", "4200000001")];
/// let mac = sign::sign(fields.iter().copied(), &key, SignType::Md5);
/// fields.push(("sign", &mac));
/// let body = wechatpay::v2::xml::encode(fields.iter().copied())?;
///
/// let read = answer::read_answer(&endpoint("pay/micropay"), body.as_bytes(), &key)?
///     .expect("the platform said SUCCESS");
/// assert_eq!(read.fields["transaction_id"], "4200000001");
/// assert_eq!(read.verified_with, Some(SignType::Md5));
///
/// let tampered = body.replace("4200000001", "4200000002");
/// assert!(answer::read_answer(&endpoint("pay/micropay"), tampered.as_bytes(), &key).unwrap_err().is_verification());
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Decode`] if the body is not APIv2 XML (or JSON for the JSON endpoint);
/// [`Error::Verification`] if the `sign` is missing or wrong.
pub fn read_answer(
    endpoint: &Endpoint,
    body: &[u8],
    key: &Apiv2Key,
) -> Result<Result<Answer, Box<Apiv2Failure>>, Error> {
    if endpoint.answer == AnswerFormat::Json {
        return read_json_answer(body);
    }
    let fields = xml::decode(body)?;
    if let Err(failure) = check_return(&fields) {
        return Ok(Err(failure));
    }
    let verified_with = if endpoint.unsigned_answer {
        None
    } else {
        Some(verify_map(&fields, key)?)
    };
    if let Err(failure) = check_result(&fields) {
        return Ok(Err(failure));
    }
    Ok(Ok(Answer {
        fields,
        verified_with,
    }))
}

/// `appauth/getaccesstoken` answers JSON: `retcode` 0 is success, anything else a failure
/// whose `err_code` is the `retcode` and whose message is `retmsg`.
fn read_json_answer(body: &[u8]) -> Result<Result<Answer, Box<Apiv2Failure>>, Error> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Error::decode("the answer is not JSON", Some(Box::new(e))))?;
    let Value::Object(fields) = value else {
        return Err(Error::decode("the JSON answer is not an object", None));
    };
    let retcode = fields.get("retcode").cloned().unwrap_or(Value::Null);
    if retcode.as_i64() == Some(0) {
        return Ok(Ok(Answer {
            fields,
            verified_with: None,
        }));
    }
    let code = match &retcode {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let message = fields
        .get("retmsg")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Err(Box::new(Apiv2Failure {
        layer: FailureLayer::Result,
        return_code: String::new(),
        return_msg: message,
        result_code: Some("FAIL".to_owned()),
        err_code: Some(code),
        err_code_des: None,
        fields,
    })))
}

/// Reads the body of a download (`pay/downloadbill`, `pay/downloadfundflow`): the bytes of
/// the CSV (or gzip) file, unless the platform answered an `<xml>` error in its place.
///
/// ```
/// use wechatpay::v2::answer::read_download;
///
/// let csv = "交易时间,公众账号ID\n`2014-11-10 16:33:45,`wx2421b1c4370ec43b\n".as_bytes();
/// assert_eq!(read_download(csv)?.expect("a bill"), csv);
///
/// let refused = b"<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>";
/// let failure = read_download(refused)?.unwrap_err();
/// assert_eq!(failure.message(), "No Bill Exist");
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Decode`] if the body looks like XML but is not a readable APIv2 answer, or is
/// an XML answer that claims success (a bill was expected).
pub fn read_download(body: &[u8]) -> Result<Result<&[u8], Box<Apiv2Failure>>, Error> {
    let start = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let first = start.iter().position(|b| !b.is_ascii_whitespace());
    if first.map(|i| start[i]) != Some(b'<') {
        return Ok(Ok(body));
    }
    let fields = xml::decode(body)?;
    if let Err(failure) = check(&fields) {
        return Ok(Err(failure));
    }
    Err(Error::decode(
        "expected a bill file but the platform answered XML that says SUCCESS",
        None,
    ))
}
