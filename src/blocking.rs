//! A synchronous facade, like the PHP SDK's non-`Async` methods: the same chains and
//! verbs, and [`RequestBuilder::send`] returns the verified [`Response`] directly.
//!
//! It owns a one-worker Tokio runtime that drives the connection pool between calls.
//! Do not call it from inside an async runtime (use the async [`crate::Wechatpay`]
//! there); doing so returns [`Error::Config`] instead of blocking an executor thread.
//!
//! ```
//! # fn main() -> Result<(), wechatpay::Error> {
//! # let rt = tokio::runtime::Runtime::new().map_err(|e| wechatpay::Error::Config { message: e.to_string() })?;
//! # let sandbox = rt.block_on(wechatpay::sandbox::Sandbox::start())?;
//! use serde_json::json;
//!
//! let wxpay = wechatpay::blocking::Wechatpay::new(sandbox.client())?;
//! let response = wxpay
//!     .chain("v3/payscore/acquiringbank/serviceorder/{out_order_no}/sync")
//!     .post(json!({
//!         "service_id": "2002000000000558128851361561536",
//!         "sub_mchid": "1900000109",
//!         "channel_id": "1230000109",
//!         "type": "Order_Paid",
//!         "detail": { "paid_time": "20091225091210" },
//!     }))
//!     .param("out_order_no", "1234323JKHDFE1243252")
//!     .send()?;
//! assert_eq!(response.status(), 204);
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::response::Response;

/// Shuts the runtime down without blocking, so dropping the client inside an async
/// context cannot panic.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Runtime {
    fn block_on<F: std::future::Future>(&self, future: F) -> Result<F::Output, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::config(
                "the blocking client was called inside an async runtime, where it would stall \
                 an executor thread; use the async wechatpay::Wechatpay there",
            ));
        }
        match &self.0 {
            Some(runtime) => Ok(runtime.block_on(future)),
            None => Err(Error::config("the blocking client's runtime is shut down")),
        }
    }
}

/// The synchronous client. Cheap to clone; clones share the runtime and the pool.
#[derive(Clone)]
pub struct Wechatpay {
    client: crate::Wechatpay,
    runtime: Arc<Runtime>,
}

impl Wechatpay {
    /// Wraps a configured async client (see [`crate::Wechatpay::builder`]).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if the runtime's worker thread cannot be started.
    pub fn new(client: crate::Wechatpay) -> Result<Wechatpay, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("wechatpay-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::config(format!("cannot start the blocking runtime: {e}")))?;
        Ok(Wechatpay {
            client,
            runtime: Arc::new(Runtime(Some(runtime))),
        })
    }

    /// Names an endpoint by template (see [`crate::Wechatpay::chain`]).
    pub fn chain(&self, template: &str) -> Chain {
        self.wrap(self.client.chain(template))
    }

    /// Starts a chain with a normalized segment (see [`crate::Wechatpay::seg`]).
    pub fn seg(&self, name: &str) -> Chain {
        self.wrap(self.client.seg(name))
    }

    /// The async client inside.
    pub fn async_client(&self) -> &crate::Wechatpay {
        &self.client
    }

    /// Starts a bill or receipt download (see [`crate::Wechatpay::download`]).
    pub fn download(&self) -> DownloadBuilder {
        DownloadBuilder {
            builder: self.client.download(),
            runtime: Arc::clone(&self.runtime),
        }
    }

    fn wrap(&self, chain: crate::Chain) -> Chain {
        Chain {
            chain,
            runtime: Arc::clone(&self.runtime),
        }
    }
}

impl fmt::Debug for Wechatpay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("blocking::Wechatpay")
            .field(&self.client)
            .finish()
    }
}

/// A chain of the blocking client (see [`crate::Chain`]).
#[must_use = "a Chain names an endpoint; finish it with a verb such as .get() or .post(body) and send it"]
pub struct Chain {
    chain: crate::Chain,
    runtime: Arc<Runtime>,
}

impl Chain {
    /// Appends a normalized segment (see [`crate::Chain::seg`]).
    pub fn seg(self, name: &str) -> Chain {
        Chain {
            chain: self.chain.seg(name),
            runtime: self.runtime,
        }
    }

    /// Appends literal template text (see [`crate::Chain::chain`]).
    pub fn chain(self, tail: &str) -> Chain {
        Chain {
            chain: self.chain.chain(tail),
            runtime: self.runtime,
        }
    }

    /// The accumulated template.
    pub fn template(&self) -> &str {
        self.chain.template()
    }

    /// A request with any method.
    pub fn request(self, method: Method) -> RequestBuilder {
        RequestBuilder {
            builder: self.chain.request(method),
            runtime: self.runtime,
        }
    }

    /// A `GET` request.
    pub fn get(self) -> RequestBuilder {
        self.request(Method::GET)
    }

    /// A `DELETE` request.
    pub fn delete(self) -> RequestBuilder {
        self.request(Method::DELETE)
    }

    /// A `POST` request with a JSON body.
    pub fn post<B: Serialize>(self, body: B) -> RequestBuilder {
        self.request(Method::POST).json(body)
    }

    /// A `PUT` request with a JSON body.
    pub fn put<B: Serialize>(self, body: B) -> RequestBuilder {
        self.request(Method::PUT).json(body)
    }

    /// A `PATCH` request with a JSON body.
    pub fn patch<B: Serialize>(self, body: B) -> RequestBuilder {
        self.request(Method::PATCH).json(body)
    }

    /// An upload of `file_name` with the file's bytes (see [`crate::Chain::upload`]).
    ///
    /// ```
    /// # fn main() -> Result<(), wechatpay::Error> {
    /// # let rt = tokio::runtime::Runtime::new().map_err(|e| wechatpay::Error::Config { message: e.to_string() })?;
    /// # let sandbox = rt.block_on(wechatpay::sandbox::Sandbox::start())?;
    /// let wxpay = wechatpay::blocking::Wechatpay::new(sandbox.client())?;
    /// let jpeg = b"\xff\xd8\xff\xe0\0\x10JFIF\0".to_vec();
    /// let answer = wxpay.chain("v3/merchant/media/upload").upload("photo.jpg", jpeg).send()?;
    /// assert!(answer.json::<serde_json::Value>()?["media_id"].is_string());
    /// # Ok(()) }
    /// ```
    pub fn upload(self, file_name: &str, bytes: impl Into<Vec<u8>>) -> RequestBuilder {
        RequestBuilder {
            builder: self.chain.upload(file_name, bytes),
            runtime: self.runtime,
        }
    }

    /// An upload of the file at `path` (see [`crate::Chain::upload_from_path`]).
    pub fn upload_from_path(self, path: impl AsRef<std::path::Path>) -> RequestBuilder {
        RequestBuilder {
            builder: self.chain.upload_from_path(path),
            runtime: self.runtime,
        }
    }

    /// An upload of a form built with [`crate::multipart::UploadForm`] (see
    /// [`crate::Chain::upload_multipart`]).
    pub fn upload_multipart(self, form: crate::multipart::Multipart) -> RequestBuilder {
        RequestBuilder {
            builder: self.chain.upload_multipart(form),
            runtime: self.runtime,
        }
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.chain.fmt(f)
    }
}

/// A request of the blocking client (see [`crate::RequestBuilder`]).
#[must_use = "a RequestBuilder does nothing until .send() is called"]
pub struct RequestBuilder {
    builder: crate::RequestBuilder,
    runtime: Arc<Runtime>,
}

/// Forwards the builder-style methods to the async builder.
macro_rules! forward {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(where $($gen:tt)*)?;)*) => {$(
        $(#[$doc])*
        pub fn $name$(<$($gen)*>)?(self, $($arg: $ty),*) -> RequestBuilder {
            RequestBuilder { builder: self.builder.$name($($arg),*), runtime: self.runtime }
        }
    )*};
}

impl RequestBuilder {
    forward! {
        /// Gives a placeholder its value (see [`crate::RequestBuilder::param`]).
        fn param(name: impl Into<String>, value: impl Into<Value>);
        /// Gives several placeholders from a JSON object.
        fn params(params: Value);
        /// Appends `name=value` to the query string.
        fn query(name: impl Into<String>, value: impl fmt::Display);
        /// Sets a header.
        fn header(name: impl AsRef<str>, value: impl AsRef<str>);
        /// Sets the raw body.
        fn body(bytes: impl Into<Vec<u8>>);
        /// Fixes the signature timestamp.
        fn timestamp(unix_seconds: u64);
        /// Fixes the signature nonce.
        fn nonce(nonce: impl Into<String>);
        /// Encrypts body fields for the platform (see [`crate::RequestBuilder::encrypt_fields`]).
        fn encrypt_fields(pointers: impl IntoIterator<Item = impl AsRef<str>>);
        /// Checks the request against the endpoint catalog before signing (see
        /// [`crate::RequestBuilder::check`]).
        fn check();
        /// Skips the catalog check on a strict client (see [`crate::RequestBuilder::skip_check`]).
        fn skip_check();
        /// Retries this request by another policy (see [`crate::RequestBuilder::retry`]).
        fn retry(policy: crate::RetryPolicy);
        /// Declares the request safe to send twice (see [`crate::RequestBuilder::idempotent`]).
        fn idempotent();
        /// Sets a field of an upload's `meta` JSON (see [`crate::RequestBuilder::meta`]).
        fn meta(name: &str, value: impl Into<Value>);
        /// Adds a plain form field to an upload (see [`crate::RequestBuilder::form_field`]).
        fn form_field(name: &str, value: &str);
        /// Fixes an upload's multipart boundary (see [`crate::RequestBuilder::boundary`]).
        fn boundary(boundary: &str);
        /// Limits an upload's file size (see [`crate::RequestBuilder::max_file_size`]).
        fn max_file_size(bytes: u64);
        /// Signs other bytes than the body (see [`crate::RequestBuilder::signed_body`]).
        fn signed_body(bytes: impl Into<Vec<u8>>);
    }

    /// Sets the JSON body.
    pub fn json<B: Serialize>(self, body: B) -> RequestBuilder {
        RequestBuilder {
            builder: self.builder.json(body),
            runtime: self.runtime,
        }
    }

    /// Expands and signs without sending (see [`crate::RequestBuilder::build`]).
    ///
    /// # Errors
    ///
    /// As [`crate::RequestBuilder::build`].
    pub fn build(self) -> Result<http::Request<Vec<u8>>, Error> {
        self.builder.build()
    }

    /// Signs, sends, and returns the verified answer.
    ///
    /// # Errors
    ///
    /// As [`crate::RequestBuilder::send`], and [`Error::Config`] when called inside an
    /// async runtime.
    pub fn send(self) -> Result<Response, Error> {
        self.runtime.block_on(self.builder.send())?
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.builder.fmt(f)
    }
}

/// A bill or receipt download of the blocking client (see [`crate::download::DownloadBuilder`]).
#[must_use = "a DownloadBuilder does nothing until .to_path(…) is called"]
pub struct DownloadBuilder {
    builder: crate::download::DownloadBuilder,
    runtime: Arc<Runtime>,
}

/// Forwards the builder-style methods to the async download builder.
macro_rules! forward_download {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        $(#[$doc])*
        pub fn $name(self, $($arg: $ty),*) -> DownloadBuilder {
            DownloadBuilder { builder: self.builder.$name($($arg),*), runtime: self.runtime }
        }
    )*};
}

impl DownloadBuilder {
    forward_download! {
        /// The trade bill of a date (see [`crate::download::DownloadBuilder::tradebill`]).
        fn tradebill(bill_date: &str);
        /// The fund-flow bill of a date.
        fn fundflowbill(bill_date: &str);
        /// The profit-sharing bill of a date.
        fn profitsharing_bill(bill_date: &str);
        /// A link already known.
        fn link(link: crate::download::DownloadLink);
        /// A `download_url` and its digest.
        fn url(download_url: &str, hash_type: crate::download::HashType, hash_value: &str);
        /// Adds a query parameter to the step-one call.
        fn query(name: &str, value: &str);
        /// `bill_type` of a trade bill.
        fn bill_type(bill_type: &str);
        /// `account_type` of a fund-flow bill.
        fn account_type(account_type: &str);
        /// `sub_mchid` of a sub-merchant.
        fn sub_mchid(sub_mchid: &str);
        /// Asks for the file gzip-compressed.
        fn gzip();
        /// The largest file accepted.
        fn max_size(bytes: u64);
        /// The longest wait for the file's next bytes.
        fn idle_timeout(timeout: Option<std::time::Duration>);
        /// Calls `f` as the file arrives.
        fn on_progress(f: impl FnMut(crate::download::Progress) + Send + 'static);
        /// Whether the file is synced to disk before it is renamed into place.
        fn sync_to_disk(sync: bool);
        /// The retry policy of both requests.
        fn retry(policy: crate::RetryPolicy);
    }

    /// Any step-one request of the blocking client (see
    /// [`crate::download::DownloadBuilder::request`]).
    pub fn request(self, request: RequestBuilder) -> DownloadBuilder {
        DownloadBuilder {
            builder: self.builder.request(request.builder),
            runtime: self.runtime,
        }
    }

    /// Runs step one only and returns the link.
    ///
    /// # Errors
    ///
    /// As [`crate::download::DownloadBuilder::fetch_link`], and [`Error::Config`] inside
    /// an async runtime.
    pub fn fetch_link(self) -> Result<crate::download::DownloadLink, Error> {
        self.runtime.block_on(self.builder.fetch_link())?
    }

    /// Downloads to the file at `path`, renamed into place once its digest matches.
    ///
    /// # Errors
    ///
    /// As [`crate::download::DownloadBuilder::to_path`], and [`Error::Config`] inside an
    /// async runtime.
    pub fn to_path(
        self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<crate::download::Downloaded, Error> {
        self.runtime.block_on(self.builder.to_path(path))?
    }
}

impl fmt::Debug for DownloadBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.builder.fmt(f)
    }
}
