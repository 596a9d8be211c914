//! A verified answer from the platform, and the classification of raw answers into
//! [`Response`], [`Error::Api`] and [`Error::Verification`].

use std::fmt;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, Error};
use crate::redact;
use crate::transport::RawResponse;
use crate::verify::{Verifier, SIGNATURE};

/// An answer whose signature has been verified (or that is on the explicit list of
/// unsigned downloads). The body is already read, so the accessors are not `async`.
///
/// For an APIv2 call (a `v2/…` chain), [`bytes`](Self::bytes) and [`text`](Self::text)
/// hold the XML exactly as received and verified, and [`json`](Self::json) reads its fields
/// as a JSON object of strings (`{"return_code": "SUCCESS", "total_fee": "1", …}`); a bill
/// (`pay/downloadbill`) is its CSV bytes, gunzipped.
///
/// ```no_run
/// # async fn demo(wxpay: wechatpay::Wechatpay) -> Result<(), wechatpay::Error> {
/// let response = wxpay.chain("v3/certificates").get().send().await?;
/// assert!(response.status().is_success());
/// let body: serde_json::Value = response.json()?;
/// println!("{} {:?}", body["data"], response.request_id());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// The JSON form of an APIv2 XML answer's fields.
    json_view: Option<Bytes>,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Response {
        Response {
            status,
            headers,
            body,
            json_view: None,
        }
    }

    /// This answer, with `view` as what [`json`](Self::json) reads (APIv2 XML answers).
    #[cfg_attr(not(feature = "apiv2"), allow(dead_code))]
    pub(crate) fn with_json_view(mut self, view: Bytes) -> Response {
        self.json_view = Some(view);
        self
    }

    /// This answer with another body (an APIv2 gzip bill, decompressed).
    #[cfg_attr(not(feature = "apiv2"), allow(dead_code))]
    pub(crate) fn with_body(mut self, body: Bytes) -> Response {
        self.body = body;
        self
    }

    /// The HTTP status (200, or 204 for answers without a body).
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The `Request-ID` header, which WeChat Pay support asks for.
    pub fn request_id(&self) -> Option<&str> {
        self.headers.get("Request-ID").and_then(|v| v.to_str().ok())
    }

    /// The raw body bytes, exactly as received and verified.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// Takes the raw body.
    pub fn into_bytes(self) -> Bytes {
        self.body
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] if the body is not UTF-8.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// // Bill files are text, and unsigned by the platform (an explicit exemption).
    /// let bill = sandbox.client().chain("v3/billdownload/file").get().query("token", "t").await?;
    /// assert!(bill.text()?.starts_with("交易时间"));
    /// # Ok(()) }
    /// ```
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|e| Error::decode("the response body is not UTF-8", Some(Box::new(e))))
    }

    /// Deserializes the JSON body, into a `serde_json::Value` or any `Deserialize` type.
    /// An empty body (204) deserializes as JSON `null`, so `Value` and `Option<T>` accept it.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] naming the line and column where the JSON does not fit `T`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// #[derive(serde::Deserialize)]
    /// struct Synced { out_order_no: String, order_id: String }
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let answer = sandbox.client()
    ///     .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
    ///     .post(serde_json::json!({ "appid": "wxd678efh567hg6787" }))
    ///     .param("out_order_no", "1234323JKHDFE1243252")
    ///     .await?;
    /// let typed: Synced = answer.json()?;                  // a type of yours
    /// let untyped: serde_json::Value = answer.json()?;     // or untyped
    /// assert_eq!(typed.out_order_no, untyped["out_order_no"]);
    /// assert!(!typed.order_id.is_empty());
    /// # Ok(()) }
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let json = self.json_bytes();
        let body: &[u8] = if json.iter().all(u8::is_ascii_whitespace) {
            b"null"
        } else {
            json
        };
        serde_json::from_slice(body).map_err(|e| {
            Error::decode(
                format!(
                    "the response body does not fit {}",
                    std::any::type_name::<T>()
                ),
                Some(Box::new(e)),
            )
        })
    }
}

impl Response {
    /// The JSON text [`json`](Self::json) reads: the body, or for an APIv2 XML answer its
    /// fields as a JSON object (compact, keys sorted).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// # #[cfg(feature = "apiv2")]
    /// # {
    /// use serde_json::json;
    ///
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let paid = sandbox.client().chain("v2/pay/micropay").post(json!({
    ///     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "body": "image",
    ///     "out_trade_no": "1415757673", "total_fee": 1, "spbill_create_ip": "14.17.22.52",
    ///     "auth_code": "120061098828009406",
    /// })).await?;
    /// assert!(paid.text()?.starts_with("<xml>")); // as received, and verified
    /// assert!(std::str::from_utf8(paid.json_bytes()).unwrap_or("").starts_with('{'));
    /// let fields: serde_json::Value = paid.json()?;
    /// assert_eq!(fields["out_trade_no"], "1415757673");
    /// # }
    /// # Ok(()) }
    /// ```
    pub fn json_bytes(&self) -> &[u8] {
        self.json_view.as_deref().unwrap_or(&self.body)
    }
}

impl fmt::Debug for Response {
    /// Status, `Request-ID` and the body's length with a short prefix (the crate's one
    /// redaction policy: bodies are never printed whole).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("request_id", &self.request_id())
            .field("body", &redact::Body(&self.body))
            .finish_non_exhaustive()
    }
}

/// Verifies and classifies a raw answer to a request for `path` (after the base path, with
/// any query): a 2xx is verified (unless the catalog lists `path` as an unsigned file) and
/// returned; a non-2xx is verified if it carries a signature, then becomes [`Error::Api`].
pub(crate) fn classify(
    raw: RawResponse,
    verifier: &Verifier,
    path: &str,
) -> Result<Response, Error> {
    let unsigned = crate::catalog::is_unsigned_answer(path);
    let RawResponse {
        status,
        headers,
        body,
        ..
    } = raw;
    let signed = headers.contains_key(&SIGNATURE);
    let must_verify = status.is_success() && !unsigned;
    let response = Response::new(status, headers, body);
    if signed || must_verify {
        if let Err(failure) = verifier.verify(response.headers(), response.bytes()) {
            tracing::warn!(
                status = status.as_u16(),
                request_id = response.request_id(),
                failure = %failure,
                "wechatpay: the answer failed signature verification: {failure}"
            );
            return Err(Error::Verification {
                failure,
                response: Some(Box::new(response)),
            });
        }
    }
    if status.is_success() {
        Ok(response)
    } else {
        Err(api_error(response, path))
    }
}

/// `{code, message, detail}` of a non-2xx answer, whatever shape its body has; for a 404,
/// the catalog's closest templates to `path`.
pub(crate) fn api_error(response: Response, path: &str) -> Error {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(response.bytes()).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let code = field("code").filter(|c| !c.is_empty());
    let mut message = field("message").unwrap_or_default();
    if message.is_empty() && parsed.is_none() {
        let bytes = response.bytes();
        // An HTML error page (a TLS front's, a proxy's) says it in its title.
        message = html_title(bytes).unwrap_or_else(|| {
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
        });
    }
    let detail = parsed.as_ref().and_then(|m| m.get("detail")).cloned();
    let suggestions = if response.status() == http::StatusCode::NOT_FOUND {
        suggestions(path)
    } else {
        Vec::new()
    };
    Error::Api(Box::new(ApiError {
        status: response.status(),
        code,
        message,
        detail,
        request_id: response.request_id().map(str::to_owned),
        suggestions,
        response,
        #[cfg(feature = "apiv2")]
        apiv2: None,
    }))
}

/// The `<title>` of an HTML page, e.g. nginx's `400 No required SSL certificate was sent`.
fn html_title(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let start = text.find("<title>")? + "<title>".len();
    let end = start + text[start..].find("</title>")?;
    let title = text[start..end].trim();
    (!title.is_empty() && title.len() <= 200).then(|| title.to_owned())
}

/// The closest catalog templates to a 404's path, unless the path is an endpoint of the
/// catalog (under any method): then the 404 is about a resource (`RESOURCE_NOT_EXISTS`,
/// an unknown order), not the path, and nothing is suggested.
#[cfg(feature = "catalog")]
fn suggestions(path: &str) -> Vec<String> {
    use http::Method;
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let methods = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    ];
    if methods
        .iter()
        .any(|method| crate::catalog::find_path(method, path).is_some())
    {
        return Vec::new();
    }
    crate::catalog::suggestions_for(path)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[cfg(not(feature = "catalog"))]
fn suggestions(_: &str) -> Vec<String> {
    Vec::new()
}
