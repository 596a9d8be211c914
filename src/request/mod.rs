//! Building, signing and sending one request.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, Request};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::client::Wechatpay;
use crate::error::{Error, TransportErrorKind};
use crate::response::Response;
use crate::sign::Authorization;
use crate::template::{self, UriTemplate};
use crate::transport::RawResponse;
use crate::verify::{is_unsigned_download, HEADER_SERIAL, HEADER_SIGNATURE};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// One request being built: placeholders, query, headers, body. Every method returns
/// `Self`, and the first error (a body that does not serialize, a bad header) is kept
/// and reported by [`build`](Self::build) or [`send`](Self::send), so a chain never
/// needs `?` halfway.
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client()?;
/// use serde_json::json;
///
/// let request = wxpay
///     .chain("v3/payscore/serviceorder/{out_order_no}/sync")
///     .post(json!({ "appid": "wxd678efh567hg6787", "service_id": "500001",
///                   "type": "Order_Paid", "detail": { "paid_time": "20091225091210" } }))
///     .param("out_order_no", "1234323JKHDFE1243252")
///     .timestamp(1_700_000_000)
///     .nonce("593BEC0C930BF1AFEB40B4A08C8FB242")
///     .build()?;
/// assert_eq!(request.uri(), "https://api.mch.weixin.qq.com/v3/payscore/serviceorder/1234323JKHDFE1243252/sync");
/// assert!(request.headers()["Authorization"].to_str()?.starts_with("WECHATPAY2-SHA256-RSA2048 mchid="));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RequestBuilder {
    client: Wechatpay,
    method: Method,
    template: String,
    params: Map<String, Value>,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    timestamp: Option<u64>,
    nonce: Option<String>,
    /// JSON Pointers of body fields to encrypt at `build()`/`send()`.
    encrypt: Vec<String>,
    error: Option<Error>,
}

/// A signed request and the target it was signed for.
pub(crate) struct Signed {
    pub(crate) request: Request<Bytes>,
    /// Path and query after the base path, e.g. `v3/certificates`.
    pub(crate) path: String,
}

impl RequestBuilder {
    pub(crate) fn new(client: Wechatpay, method: Method, template: String) -> RequestBuilder {
        RequestBuilder {
            client,
            method,
            template,
            params: Map::new(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            timestamp: None,
            nonce: None,
            encrypt: Vec::new(),
            error: None,
        }
    }

    fn fail(&mut self, error: Error) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Gives a placeholder its value: a string, number or bool (or a list/object for the
    /// RFC 6570 operators that take them). Values are percent-encoded into their segment,
    /// so `/`, `?`, `#` or spaces in a value can never change the path.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay
    ///     .chain("v3/payscore/serviceorder/{out_order_no}")
    ///     .get()
    ///     .param("out_order_no", "a/b c")
    ///     .build()?;
    /// // The value stays inside its segment.
    /// assert_eq!(request.uri().path(), "/v3/payscore/serviceorder/a%2Fb%20c");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }

    /// Gives several placeholders at once from a JSON object, e.g.
    /// `json!({"out_order_no": "1234323JKHDFE1243252"})`.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use serde_json::json;
    ///
    /// let request = wxpay
    ///     .chain("v3/pay/transactions/out-trade-no/{out_trade_no}{?mchid}")
    ///     .get()
    ///     .params(json!({ "out_trade_no": "1217752501201407033233368018", "mchid": "1900000001" }))
    ///     .build()?;
    /// assert_eq!(request.uri().query(), Some("mchid=1900000001"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn params(mut self, params: Value) -> Self {
        match params {
            Value::Object(map) => self.params.extend(map),
            other => self.fail(Error::request(format!(
                "params must be a JSON object of placeholder values, not {}",
                json_kind(&other)
            ))),
        }
        self
    }

    /// Appends `name=value` to the query string (after any query the template makes),
    /// percent-encoded. Repeatable; order is kept.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay
    ///     .chain("v3/bill/tradebill")
    ///     .get()
    ///     .query("bill_date", "2026-11-21")
    ///     .query("bill_type", "ALL")
    ///     .build()?;
    /// assert_eq!(request.uri().query(), Some("bill_date=2026-11-21&bill_type=ALL"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn query(mut self, name: impl Into<String>, value: impl fmt::Display) -> Self {
        self.query.push((name.into(), value.to_string()));
        self
    }

    /// Sets a header, replacing a previous value of the same name (including the defaults
    /// `Accept`, `Content-Type`, `User-Agent` and `Wechatpay-Serial`). `Authorization` is
    /// always the one computed by the signer.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay
    ///     .chain("v3/certificates")
    ///     .get()
    ///     .header("Accept-Language", "en")
    ///     .build()?;
    /// assert_eq!(request.headers()["accept-language"], "en");
    ///
    /// // A bad header is reported by build(), not here.
    /// let error = wxpay.chain("v3/certificates").get().header("bad name", "x").build().unwrap_err();
    /// assert!(error.to_string().contains("bad name"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name_text = name.as_ref();
        match (
            HeaderName::from_bytes(name_text.as_bytes()),
            HeaderValue::from_str(value.as_ref()),
        ) {
            (Ok(name), Ok(value)) => {
                self.headers.insert(name, value);
            }
            (Err(_), _) => self.fail(Error::request(format!(
                "`{name_text}` is not a valid header name"
            ))),
            (_, Err(_)) => self.fail(Error::request(format!(
                "the value of header `{name_text}` must be visible ASCII"
            ))),
        }
        self
    }

    /// Sets the JSON body (serialized once, here; the signature covers exactly these bytes).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// #[derive(serde::Serialize)]
    /// struct Close { mchid: &'static str }
    ///
    /// let request = wxpay
    ///     .chain("v3/pay/transactions/out-trade-no/{out_trade_no}/close")
    ///     .request(http::Method::POST)
    ///     .json(Close { mchid: "1900000001" })
    ///     .param("out_trade_no", "1217752501201407033233368018")
    ///     .build()?;
    /// assert_eq!(request.body(), br#"{"mchid":"1900000001"}"#);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn json<B: Serialize>(mut self, body: B) -> Self {
        match serde_json::to_vec(&body) {
            Ok(bytes) => self.body = Some(bytes),
            Err(e) => self.fail(Error::Request {
                message: "the body cannot be serialized as JSON".into(),
                source: Some(Box::new(e)),
            }),
        }
        self
    }

    /// Sets the raw body bytes (with `Content-Type: application/json` unless a
    /// `Content-Type` header is set).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay.chain("v3/x").request(http::Method::POST).body(br#"{"b":1,"a":2}"#.to_vec()).build()?;
    /// // Sent, and signed, byte for byte as given.
    /// assert_eq!(request.body(), br#"{"b":1,"a":2}"#);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = Some(bytes.into());
        self
    }

    /// Fixes the signature timestamp (Unix seconds) instead of the clock, for snapshots
    /// and replays.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let build = || wxpay.chain("v3/certificates").get().timestamp(1554208460).nonce("593BEC0C930BF1AFEB40B4A08C8FB242").build();
    /// // RSA PKCS#1 v1.5 is deterministic: fixed inputs give the same Authorization.
    /// assert_eq!(build()?.headers()["authorization"], build()?.headers()["authorization"]);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn timestamp(mut self, unix_seconds: u64) -> Self {
        self.timestamp = Some(unix_seconds);
        self
    }

    /// Fixes the signature nonce instead of a random one, for snapshots and replays.
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        self.nonce = Some(nonce.into());
        self
    }

    /// Encrypts these string fields of the JSON body for the platform (RSA-OAEP, SHA-1,
    /// MGF1-SHA1, base64) when the request is built or sent, and sends `Wechatpay-Serial`
    /// naming the key used. Fields are named by JSON Pointer (RFC 6901):
    /// `/contact_info/name`, `/bank_account_info/0/account_number`.
    ///
    /// The key is [`Wechatpay::encryption_key`]; to pin another trusted key, set
    /// `.header("Wechatpay-Serial", id)` and that key encrypts. The body is parsed and
    /// serialized again to do this (object keys come out sorted, as `json!` writes
    /// them); the signature covers the bytes actually sent.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use serde_json::json;
    /// use wechatpay::{sandbox, PrivateKey};
    ///
    /// let request = wxpay
    ///     .chain("v3/applyment4sub/applyment/")
    ///     .post(json!({
    ///         "business_code": "APPLYMENT_00000000001",
    ///         "contact_info": { "contact_name": "张三", "mobile_phone": "13800138000" },
    ///     }))
    ///     .encrypt_fields(&["/contact_info/contact_name", "/contact_info/mobile_phone"])
    ///     .build()?;
    /// assert_eq!(request.headers()["Wechatpay-Serial"], sandbox::PLATFORM_SERIAL);
    ///
    /// let sent: serde_json::Value = serde_json::from_slice(request.body())?;
    /// let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?;
    /// let name = sent["contact_info"]["contact_name"].as_str().unwrap_or_default();
    /// assert_eq!(platform.decrypt(name)?, "张三");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// A pointer that does not name a string of the body is reported by `build()`/`send()`
    /// as [`Error::Request`] naming it.
    pub fn encrypt_fields<I, S>(mut self, pointers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for pointer in pointers {
            let pointer = pointer.as_ref();
            if !pointer.starts_with('/') {
                self.fail(Error::request(format!(
                    "encrypt_fields: `{pointer}` is not a JSON Pointer to a field; write it \
                     like `/contact_info/name`"
                )));
            } else if !self.encrypt.iter().any(|p| p == pointer) {
                self.encrypt.push(pointer.to_owned());
            }
        }
        self
    }

    /// The template this request was named by.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// Expands, signs and returns the request without sending it.
    ///
    /// # Errors
    ///
    /// The first error of the chain: [`Error::Template`] for a placeholder without value or
    /// a bad template, [`Error::Request`] for a bad header, params or body.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay.chain("v3/certificates").get().build()?;
    /// assert_eq!(request.method(), "GET");
    /// assert_eq!(request.uri(), "https://api.mch.weixin.qq.com/v3/certificates");
    /// assert!(request.headers().contains_key("authorization"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn build(self) -> Result<Request<Vec<u8>>, Error> {
        let signed = self.sign()?;
        Ok(signed.request.map(Vec::from))
    }

    pub(crate) fn sign(self) -> Result<Signed, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let inner = &self.client.inner;
        let template = UriTemplate::parse(&self.template)?;
        let mut path = template.expand_path(&self.params)?;
        append_query(&mut path, &self.query);
        let target = format!("{}{path}", inner.base.path);
        let uri = format!("{}{target}", inner.base.origin);

        let timestamp = match self.timestamp {
            Some(t) => t,
            None => unix_now()?,
        };
        let nonce = match self.nonce {
            Some(n) => n,
            None => crate::crypto::random_nonce(32)?,
        };
        let mut body = self.body.unwrap_or_default();
        let mut encrypted_with = None;
        if !self.encrypt.is_empty() {
            let (id, encrypted) = encrypt_body(&self.client, &self.headers, &body, &self.encrypt)?;
            body = encrypted;
            encrypted_with = Some(id);
        }
        let auth = Authorization::sign(
            &inner.mchid,
            &inner.serial,
            &inner.key,
            self.method.as_str(),
            &target,
            timestamp,
            &nonce,
            &body,
        )?;

        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(ACCEPT, APPLICATION_JSON);
        if !body.is_empty() {
            headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        }
        headers.insert(USER_AGENT, inner.user_agent.clone());
        if let Some(id) = &inner.public_key_id {
            if let Ok(value) = HeaderValue::from_str(id) {
                headers.insert(HEADER_SERIAL, value);
            }
        }
        if let Some(id) = encrypted_with {
            let value = HeaderValue::from_str(&id)
                .map_err(|_| Error::request("the platform key id is not visible ASCII"))?;
            headers.insert(HEADER_SERIAL, value);
        }
        for (name, value) in self.headers {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        let authorization = HeaderValue::from_str(&auth.to_header_value())
            .map_err(|_| Error::request("the merchant id or serial is not visible ASCII"))?;
        headers.insert(AUTHORIZATION, authorization);

        let mut request = Request::builder()
            .method(self.method)
            .uri(&uri)
            .body(Bytes::from(body))
            .map_err(|e| Error::Request {
                message: format!("`{uri}` is not a valid request URI"),
                source: Some(Box::new(e)),
            })?;
        *request.headers_mut() = headers;
        Ok(Signed { request, path })
    }

    /// Signs, sends, reads and verifies. A 2xx answer is returned once its signature
    /// holds; a non-2xx answer becomes [`Error::Api`] (after verification, if signed).
    ///
    /// # Errors
    ///
    /// Everything [`build`](Self::build) reports, and [`Error::Transport`] (connect, TLS,
    /// timeout, oversized body), [`Error::Verification`] and [`Error::Api`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let answer = sandbox.client().chain("v3/certificates").get().send().await?;
    /// assert_eq!(answer.status(), 200); // and its signature was verified
    /// # Ok(()) }
    /// ```
    pub async fn send(self) -> Result<Response, Error> {
        let client = self.client.clone();
        crate::certificates::ensure_refresher(&client);
        let (raw, path) = self.send_raw().await?;
        finish(&client, &path, raw)
    }

    /// Signs and sends (with the backup-host retry) and returns the answer unverified,
    /// with the path it was signed for. Callers verify it themselves.
    pub(crate) async fn send_raw(self) -> Result<(RawResponse, String), Error> {
        let client = self.client.clone();
        let _slot = client.inner.transport.slot().await;
        // RSA off the executor threads (see `sign::off_executor`).
        let signed = crate::sign::off_executor(move || self.sign()).await??;
        let raw = match client.inner.transport.send(signed.request.clone()).await {
            Err(e) if e.is_connect() => match client.inner.backup.as_deref() {
                // The signature covers the path, not the host: the same request may go
                // to the backup host, and only if it never reached the first one.
                Some(backup) => {
                    let retry = redirect(&signed.request, &client.inner.base.origin, backup)?;
                    log::warn!("wechatpay: {e}; retrying once on {backup}");
                    client.inner.transport.send(retry).await?
                }
                None => return Err(e),
            },
            other => other?,
        };
        Ok((raw, signed.path))
    }
}

/// Encrypts the fields `pointers` name in a JSON `body` with the pinned
/// (`Wechatpay-Serial` set by the caller) or default platform key; returns the key's id
/// and the new body.
fn encrypt_body(
    client: &Wechatpay,
    headers: &HeaderMap,
    body: &[u8],
    pointers: &[String],
) -> Result<(String, Vec<u8>), Error> {
    let (id, key) = match headers.get(HEADER_SERIAL) {
        Some(pinned) => {
            let id = pinned.to_str().unwrap_or_default();
            let key = client.inner.verifier.key(id).ok_or_else(|| {
                Error::request(format!(
                    "encrypt_fields: `Wechatpay-Serial: {id}` names no trusted platform key \
                     (trusted: {})",
                    client.inner.verifier.ids().join(", ")
                ))
            })?;
            (id.to_owned(), key)
        }
        None => client.encryption_key()?,
    };
    let mut json: Value = serde_json::from_slice(body).map_err(|e| Error::Request {
        message: "encrypt_fields needs a JSON body".into(),
        source: Some(Box::new(e)),
    })?;
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
    let body = serde_json::to_vec(&json).map_err(|e| Error::Request {
        message: "the body cannot be serialized as JSON".into(),
        source: Some(Box::new(e)),
    })?;
    Ok((id, body))
}

/// Verifies and classifies a raw answer.
pub(crate) fn finish(client: &Wechatpay, path: &str, raw: RawResponse) -> Result<Response, Error> {
    let RawResponse {
        status,
        headers,
        body,
    } = raw;
    let signed = headers.contains_key(HEADER_SIGNATURE);
    let must_verify = status.is_success() && !is_unsigned_download(path);
    let response = Response::new(status, headers, body);
    if signed || must_verify {
        if let Err(failure) = client
            .inner
            .verifier
            .verify(response.headers(), response.bytes())
        {
            return Err(Error::Verification {
                failure,
                response: Some(Box::new(response)),
            });
        }
    }
    if status.is_success() {
        Ok(response)
    } else {
        Err(api_error(response))
    }
}

/// `{code, message, detail}` of a non-2xx answer, whatever shape its body has.
fn api_error(response: Response) -> Error {
    let parsed: Option<Map<String, Value>> = serde_json::from_slice(response.bytes()).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let code = field("code");
    let mut message = field("message");
    if message.is_empty() && parsed.is_none() {
        message = String::from_utf8_lossy(&response.bytes()[..response.bytes().len().min(200)])
            .into_owned();
    }
    let detail = parsed.as_ref().and_then(|m| m.get("detail")).cloned();
    Error::Api {
        status: response.status(),
        code,
        message,
        detail,
        request_id: response.request_id().map(str::to_owned),
        response: Box::new(response),
    }
}

fn redirect(request: &Request<Bytes>, from: &str, to: &str) -> Result<Request<Bytes>, Error> {
    let uri = request.uri().to_string();
    let uri = uri.replacen(from, to, 1);
    let mut retry = Request::builder()
        .method(request.method().clone())
        .uri(&uri)
        .body(request.body().clone())
        .map_err(|e| Error::Transport {
            kind: TransportErrorKind::Connect,
            source: Some(Box::new(e)),
        })?;
    *retry.headers_mut() = request.headers().clone();
    Ok(retry)
}

impl IntoFuture for RequestBuilder {
    type Output = Result<Response, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    /// `builder.await` is `builder.send().await`.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("template", &self.template)
            .field("params", &self.params)
            .field("query", &self.query)
            .field("encrypt_fields", &self.encrypt)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

fn append_query(path: &mut String, query: &[(String, String)]) {
    for (i, (name, value)) in query.iter().enumerate() {
        let sep = if i == 0 && !path.contains('?') {
            '?'
        } else {
            '&'
        };
        path.push(sep);
        template::encode_unreserved(path, name);
        path.push('=');
        template::encode_unreserved(path, value);
    }
}

fn unix_now() -> Result<u64, Error> {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| Error::config("the system clock is before 1970"))
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
