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
