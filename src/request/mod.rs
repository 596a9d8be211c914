//! Building, signing and sending one request: the middle of the one-way flow
//! `Chain -> RequestBuilder -> expand -> sign -> transport -> verify -> Response`.

mod download;
mod encrypt;
mod headers;
mod pipeline;
mod send;
mod upload;
#[cfg(feature = "apiv2")]
mod v2;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, Request, Uri};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::Error;
use crate::redact;
use crate::response::{classify, Response};
use crate::retry::RetryPolicy;
use crate::sign::{check_nonce, Authorization};
use crate::template;
use crate::verify::SERIAL;

pub(crate) use encrypt::json_kind;
pub(crate) use pipeline::{Pipeline, Retries};
pub(crate) use upload::Upload;
#[cfg(feature = "apiv2")]
pub(crate) use v2::Apiv2Config;

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
///
/// A request that is built and then dropped sends nothing; the compiler says so:
///
/// ```compile_fail
/// #![deny(unused_must_use)]
/// # fn main() -> Result<(), wechatpay::Error> {
/// let wxpay = wechatpay::sandbox::offline_client()?;
/// wxpay.chain("v3/certificates").get().query("offset", 0); // unused: nothing is sent
/// # Ok(()) }
/// ```
#[must_use = "a RequestBuilder does nothing until it is sent (`.send().await` or `.await`) or built"]
pub struct RequestBuilder {
    pipeline: Arc<Pipeline>,
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
    /// Whether to check the request against the endpoint catalog before signing; `None`
    /// follows the client ([`WechatpayBuilder::strict`](crate::WechatpayBuilder::strict)).
    check: Option<bool>,
    /// This request's retry policy, over the client's.
    retry: Option<RetryPolicy>,
    /// Declared safe to send twice (an idempotency key in the body).
    idempotent: bool,
    /// A file to upload as `multipart/form-data`, signed over its `meta` JSON.
    upload: Option<Upload>,
    /// What the signature covers when it is not the body sent (see `signed_body`).
    signed_body: Option<Vec<u8>>,
    /// The whole URL, for a file request to a `download_url` (no template).
    absolute: Option<Uri>,
    error: Option<Error>,
}

/// A request expanded, encrypted and ready to be signed, once per attempt.
pub(crate) struct Prepared {
    pipeline: Arc<Pipeline>,
    method: Method,
    /// Path and query after the base path, e.g. `v3/certificates`.
    pub(crate) path: String,
    /// Base path, path and query: what the signature covers.
    target: String,
    uri: Uri,
    /// Every header but `Authorization`.
    headers: HeaderMap,
    body: Bytes,
    /// The signed BODY when it is not `body` (a multipart upload's `meta` JSON).
    signed: Option<Bytes>,
    /// The caller's fixed signature inputs, for the first attempt.
    timestamp: Option<u64>,
    nonce: Option<String>,
    /// An APIv2 call: signed with the APIv2 key instead (see `v2.rs`).
    #[cfg(feature = "apiv2")]
    v2: Option<Box<v2::V2Parts>>,
}

impl RequestBuilder {
    pub(crate) fn new(pipeline: Arc<Pipeline>, method: Method, template: String) -> RequestBuilder {
        RequestBuilder {
            pipeline,
            method,
            template,
            params: Map::new(),
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: None,
            timestamp: None,
            nonce: None,
            encrypt: Vec::new(),
            check: None,
            retry: None,
            idempotent: false,
            upload: None,
            signed_body: None,
            absolute: None,
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
    /// `Accept`, `Content-Type`, `User-Agent` and `Wechatpay-Serial`).
    ///
    /// Headers that decide the message's framing or identity are refused, since the bytes
    /// sent must be the bytes signed: `Authorization`, `Content-Length`,
    /// `Transfer-Encoding`, `Host`, `Connection`, `Upgrade`, `TE`, `Trailer`, `Expect`,
    /// `Keep-Alive` and the proxy ones. Values must be printable ASCII.
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
    /// // A refused or bad header is reported by build(), not here.
    /// let error = wxpay.chain("v3/certificates").get().header("Content-Length", "5").build().unwrap_err();
    /// assert!(error.to_string().contains("Content-Length"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        match headers::caller_header(name.as_ref(), value.as_ref()) {
            Ok((name, value)) => {
                self.headers.insert(name, value);
            }
            Err(error) => self.fail(error),
        }
        self
    }

    /// Checks a header the way [`header`](Self::header) does, without a request: for
    /// tools that take headers from their users (the `wxpay -H` option).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] naming the header and what is wrong with it.
    ///
    /// ```
    /// use wechatpay::RequestBuilder;
    ///
    /// assert!(RequestBuilder::check_header("Accept-Language", "zh-CN").is_ok());
    /// assert!(RequestBuilder::check_header("Transfer-Encoding", "chunked").is_err());
    /// ```
    pub fn check_header(name: &str, value: &str) -> Result<(), Error> {
        headers::caller_header(name, value).map(|_| ())
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
            Err(e) => self.fail(Error::request_with(
                "the body cannot be serialized as JSON",
                e,
            )),
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
    ///
    /// Without it, the timestamp is read from the client's one
    /// [`clock`](crate::WechatpayBuilder::clock). A timestamp beyond what the platform
    /// reads (a signed 64-bit number) is reported by `build()`/`send()`.
    /// APIv2 calls sign no timestamp, so there it changes nothing.
    pub fn timestamp(mut self, unix_seconds: u64) -> Self {
        match headers::check_timestamp(unix_seconds) {
            Ok(()) => self.timestamp = Some(unix_seconds),
            Err(error) => self.fail(error),
        }
        self
    }

    /// Fixes the signature nonce instead of a random one, for snapshots and replays.
    ///
    /// The platform takes 1 to 32 visible ASCII characters; a `"` or `,` would change the
    /// fields of the `Authorization` header, so such a nonce is reported by
    /// `build()`/`send()` and never signed.
    ///
    /// For an APIv2 call (a `v2/…` chain) it is the `nonce_str` field of the first attempt.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let error = wxpay.chain("v3/certificates").get().nonce("a\",mchid=\"999").build().unwrap_err();
    /// assert!(error.to_string().contains("nonce"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn nonce(mut self, nonce: impl Into<String>) -> Self {
        let nonce = nonce.into();
        match check_nonce(&nonce) {
            Ok(()) => self.nonce = Some(nonce),
            Err(error) => self.fail(error),
        }
        self
    }

    /// Encrypts these string fields of the JSON body for the platform (RSA-OAEP, SHA-1,
    /// MGF1-SHA1, base64) when the request is built or sent, and sends `Wechatpay-Serial`
    /// naming the key used. Fields are named by JSON Pointer (RFC 6901):
    /// `/contact_info/name`, `/bank_account_info/0/account_number`.
    ///
    /// The key is [`Wechatpay::encryption_key`](crate::Wechatpay::encryption_key); to pin another trusted key, set
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

    /// Checks the request against the built-in endpoint catalog before it is signed, and
    /// refuses it with [`Error::Request`] (its source a
    /// [`catalog::CheckError`](crate::catalog::CheckError) saying what to fix) if the
    /// endpoint is not in the catalog for this method (naming the closest ones), a required
    /// placeholder, query parameter or body field is missing (naming its JSON Pointer and
    /// the endpoint), a `param` is used by no placeholder, or a JSON endpoint's body is not
    /// JSON. Clients built with [`strict`](crate::WechatpayBuilder::strict) (the sandbox's)
    /// check every request; [`skip_check`](Self::skip_check) opts one out.
    ///
    /// Needs the `catalog` cargo feature (on by default); without it, `build()` reports a
    /// configuration error.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let error = wxpay
    ///     .chain("v3/payscore/serviceorders/{out_order_no}/sync")
    ///     .post(serde_json::json!({}))
    ///     .param("out_order_no", "1234323JKHDFE1243252")
    ///     .check()
    ///     .build()
    ///     .unwrap_err();
    /// assert!(error.to_string().contains("catalog"));
    /// let cause = std::error::Error::source(&error).map(|e| e.to_string()).unwrap_or_default();
    /// assert!(cause.contains("closest: POST v3/payscore/serviceorder/{out_order_no}/sync"), "{cause}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn check(mut self) -> Self {
        self.check = Some(true);
        self
    }

    /// Sends this request without the catalog check even on a [`strict`] client, e.g. for
    /// an endpoint newer than the catalog.
    ///
    /// [`strict`]: crate::WechatpayBuilder::strict
    pub fn skip_check(mut self) -> Self {
        self.check = Some(false);
        self
    }

    /// Retries this request by `policy` instead of the client's
    /// [`retry`](crate::WechatpayBuilder::retry) policy; [`RetryPolicy::none()`] sends it
    /// once. What is retried depends on the method (see [`crate::retry`]); the total
    /// timeout still covers every attempt.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use wechatpay::{sandbox::{Fault, Sandbox}, RetryPolicy};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::SERVICE_UNAVAILABLE, times: 1 });
    /// let once = sandbox.client().chain("v3/certificates").get().retry(RetryPolicy::none()).await;
    /// assert_eq!(once.unwrap_err().status(), Some(http::StatusCode::SERVICE_UNAVAILABLE));
    /// // The default policy would have retried a GET, and the second attempt succeeds:
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::SERVICE_UNAVAILABLE, times: 1 });
    /// sandbox.client().chain("v3/certificates").get().await?;
    /// # Ok(()) }
    /// ```
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// Declares that sending this request twice acts once, so that it may be retried
    /// after a failure the platform may have acted on (a 5xx or 429 answer, a connection
    /// lost mid-exchange), like a GET. Only for endpoints whose body carries an idempotency
    /// key the platform deduplicates on, such as `out_trade_no` when placing an order or
    /// `out_refund_no` for a refund; without it, a POST is retried only when it certainly
    /// never reached the platform (the connection could not be made). Each attempt is
    /// signed again, with a fresh timestamp and nonce, over the same body.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use serde_json::json;
    /// use wechatpay::sandbox::{Fault, Sandbox};
    ///
    /// let sandbox = Sandbox::start().await?;
    /// sandbox.fault(Fault::FailTimes { status: http::StatusCode::SERVICE_UNAVAILABLE, times: 1 });
    /// let answer = sandbox.client()
    ///     .chain("v3/payscore/payafter-orders/{out_order_no}/sync")
    ///     .post(json!({ "appid": "wxd678efh567hg6787", "service_id": "500001",
    ///                   "type": "Order_Paid", "detail": { "paid_time": "20091225091010" } }))
    ///     .param("out_order_no", "1234323JKHDFE1243252")
    ///     .idempotent() // syncing the same out_order_no twice acts once
    ///     .await?;
    /// assert_eq!(answer.status(), 200);
    /// assert_eq!(sandbox.requests().len(), 2);
    /// # Ok(()) }
    /// ```
    pub fn idempotent(mut self) -> Self {
        self.idempotent = true;
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
        let request = self.prepare()?.sign(true)?;
        Ok(request.map(Vec::from))
    }

    /// Expands the template, encrypts the fields, and assembles everything but the
    /// signature (the flow's `expand` stage): done once, however many attempts follow.
    pub(crate) fn prepare(self) -> Result<Prepared, Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        #[cfg(feature = "apiv2")]
        if v2::is_v2(&self.template) {
            return self.prepare_v2();
        }
        let pipeline = &*self.pipeline;
        if self.check.unwrap_or(pipeline.strict) && self.absolute.is_none() {
            self.check_catalog()?;
        }
        let (path, target, uri) = match &self.absolute {
            Some(uri) => download::absolute_target(uri, &self.query)?,
            None => {
                let template = pipeline.template(&self.template)?;
                let mut path = template.expand_path(&self.params)?;
                append_query(&mut path, &self.query);
                let target = format!("{}{path}", pipeline.base.path);
                let uri = request_uri(&format!("{}{target}", pipeline.base.origin), &target)?;
                (path, target, uri)
            }
        };

        // An upload's wire body is the multipart form; what is signed is its meta JSON.
        let mut signed = self.signed_body.map(Bytes::from);
        let mut content_type = None;
        let mut body = match self.upload {
            Some(upload) => {
                let form = upload.into_multipart(&self.template, !self.encrypt.is_empty())?;
                signed = Some(Bytes::from(form.meta().to_owned()));
                content_type = Some(upload::content_type(&form)?);
                form.into_body()
            }
            None => self.body.unwrap_or_default(),
        };
        let mut encrypted_with = None;
        if !self.encrypt.is_empty() {
            let (id, encrypted) =
                encrypt::encrypt_body(pipeline, &self.headers, &body, &self.encrypt)?;
            body = encrypted;
            encrypted_with = Some(id);
        }

        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(ACCEPT, APPLICATION_JSON);
        if let Some(content_type) = content_type {
            headers.insert(CONTENT_TYPE, content_type);
        } else if !body.is_empty() {
            headers.insert(CONTENT_TYPE, APPLICATION_JSON);
        }
        headers.insert(USER_AGENT, pipeline.user_agent.clone());
        if let Some(id) = &pipeline.public_key_id {
            if let Ok(value) = HeaderValue::from_str(id) {
                headers.insert(&SERIAL, value);
            }
        }
        if let Some(id) = encrypted_with {
            let value = HeaderValue::from_str(&id)
                .map_err(|_| Error::request("the platform key id is not visible ASCII"))?;
            headers.insert(&SERIAL, value);
        }
        // The caller's headers were checked by `header()`: none of them decides framing.
        for (name, value) in self.headers {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        Ok(Prepared {
            pipeline: self.pipeline,
            method: self.method,
            path,
            target,
            uri,
            headers,
            body: Bytes::from(body),
            signed,
            timestamp: self.timestamp,
            nonce: self.nonce,
            #[cfg(feature = "apiv2")]
            v2: None,
        })
    }

    /// The catalog check (see [`check`](Self::check)).
    #[cfg(feature = "catalog")]
    fn check_catalog(&self) -> Result<(), Error> {
        // A base path such as `/hk/` is part of the catalog's templates (`hk/v3/...`).
        let base = self.pipeline.base.path.trim_start_matches('/');
        let template = if base.is_empty() {
            std::borrow::Cow::Borrowed(self.template.as_str())
        } else {
            std::borrow::Cow::Owned(format!("{base}{}", self.template.trim_start_matches('/')))
        };
        let query: Vec<&str> = self.query.iter().map(|(name, _)| name.as_str()).collect();
        crate::catalog::check(
            &self.method,
            &template,
            &self.params,
            &query,
            self.body.as_deref(),
        )
        .map(|_| ())
        .map_err(|e| Error::request_with("the endpoint catalog refuses this request", e))
    }

    #[cfg(not(feature = "catalog"))]
    fn check_catalog(&self) -> Result<(), Error> {
        Err(Error::config(
            "checking a request against the endpoint catalog needs the `catalog` cargo feature",
        ))
    }

    /// Signs, sends, reads and verifies. A 2xx answer is returned once its signature
    /// holds; a non-2xx answer becomes [`Error::Api`] (after verification, if signed).
    ///
    /// Failures are retried by the client's [`RetryPolicy`] (or this request's, see
    /// [`retry`](Self::retry)), each attempt signed again with a fresh timestamp and nonce,
    /// all within the [total timeout](crate::Timeouts::total).
    ///
    /// # Errors
    ///
    /// Everything [`build`](Self::build) reports, and [`Error::Transport`] (connect, TLS,
    /// timeout, oversized body), [`Error::Verification`] and [`Error::Api`]: the failure
    /// of the last attempt.
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
        #[cfg(feature = "apiv2")]
        if v2::is_v2(&self.template) {
            return self.send_v2().await;
        }
        // A file to read (a path, a reader) is read once, here, before any attempt.
        let this = self.read_upload().await;
        let pipeline = Arc::clone(&this.pipeline);
        this.execute(move |raw, path| classify(raw, &pipeline.verifier, path))
            .await
    }
}

impl Prepared {
    /// Signs the prepared request (the flow's `sign` stage): with the caller's fixed
    /// timestamp and nonce on the first attempt, with fresh ones on every retry, so that
    /// the platform never sees the same nonce twice.
    pub(crate) fn sign(&self, first: bool) -> Result<Request<Bytes>, Error> {
        #[cfg(feature = "apiv2")]
        if let Some(v2) = &self.v2 {
            return self.sign_v2(v2, first);
        }
        let pipeline = &*self.pipeline;
        let timestamp = match self.timestamp.filter(|_| first) {
            Some(t) => t,
            None => {
                let now = pipeline.clock().unix_seconds();
                u64::try_from(now).map_err(|_| {
                    Error::request(format!(
                        "the clock reads {now}, before 1970: a request cannot be signed"
                    ))
                })?
            }
        };
        let nonce = match self.nonce.as_ref().filter(|_| first) {
            Some(n) => n.clone(),
            None => crate::crypto::random_nonce(32)?,
        };
        let auth = Authorization::sign(
            &pipeline.mchid,
            &pipeline.serial,
            &pipeline.key,
            self.method.as_str(),
            &self.target,
            timestamp,
            &nonce,
            self.signed.as_ref().unwrap_or(&self.body),
        )?;
        let authorization = HeaderValue::from_str(&auth.to_header_value())
            .map_err(|_| Error::request("the Authorization header is not visible ASCII"))?;
        let mut request = Request::new(self.body.clone());
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.reserve(self.headers.len() + 1);
        headers.extend(
            self.headers
                .iter()
                .map(|(name, value)| (name.clone(), value.clone())),
        );
        headers.insert(AUTHORIZATION, authorization);
        Ok(request)
    }
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
    /// Method, template, the names (not values) of placeholders and query fields, the
    /// body's length and prefix, and any error waiting for `build()`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("template", &self.template)
            .field("params", &self.params.keys().collect::<Vec<_>>())
            .field(
                "query",
                &self.query.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("headers", &redact::Headers(&self.headers))
            .field("body", &self.body.as_deref().map(redact::Body))
            .field("upload", &self.upload)
            .field(
                "signed_body",
                &self.signed_body.as_deref().map(redact::Body),
            )
            .field("encrypt_fields", &self.encrypt)
            .field("check", &self.check)
            .field("retry", &self.retry)
            .field("idempotent", &self.idempotent)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// The request URI `uri`, whose path and query must be exactly `target`, the text the
/// signature covers: a `#` (a literal, `{#…}`, or a `{+…}` value holding one) starts a
/// fragment, which `http::Uri` drops and no request carries, so the platform would check
/// the signature over a different target, or the call would reach another endpoint.
fn request_uri(uri: &str, target: &str) -> Result<Uri, Error> {
    if let Some(at) = target.find('#') {
        return Err(Error::request(format!(
            "the request target `{target}` has a fragment (`{}`), which is never sent: \
             percent-encode the `#` in the value (the default `{{name}}` expansion does)",
            &target[at..]
        )));
    }
    let parsed: Uri = uri
        .parse()
        .map_err(|e| Error::request_with(format!("`{uri}` is not a valid request URI"), e))?;
    let sent = parsed.path_and_query().map_or("/", |pq| pq.as_str());
    if sent != target {
        return Err(Error::request(format!(
            "the request target `{target}` would be sent as `{sent}`, which the signature \
             does not cover"
        )));
    }
    Ok(parsed)
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
