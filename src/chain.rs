//! Naming an endpoint: segments, template strings, and the `chain!` macro.
//!
//! Three styles build the same request:
//!
//! ```
//! # let wxpay = wechatpay::sandbox::offline_client()?;
//! use wechatpay::chain;
//!
//! let a = wxpay.chain("v3/payscore/payafter-orders/{out_order_no}/sync");
//! let b = wxpay.seg("v3").seg("payscore").seg("payafterOrders").seg("_out_order_no_").seg("sync");
//! let c = chain!(wxpay.v3.payscore.payafterOrders._out_order_no_.sync);
//! assert_eq!(a.template(), "v3/payscore/payafter-orders/{out_order_no}/sync");
//! assert_eq!(a.template(), b.template());
//! assert_eq!(b.template(), c.template());
//! # Ok::<(), wechatpay::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use http::Method;
use serde::Serialize;

use std::path::Path;

use tokio::io::AsyncRead;

use crate::multipart::{Multipart, UploadForm};
use crate::request::{Pipeline, RequestBuilder, Upload};

/// An endpoint being named, segment by segment or by template. Finish it with a verb:
/// [`get`](Chain::get), [`post`](Chain::post), [`put`](Chain::put), [`patch`](Chain::patch),
/// [`delete`](Chain::delete).
#[derive(Clone)]
#[must_use = "a Chain names an endpoint; finish it with a verb such as .get() or .post(body) and send it"]
pub struct Chain {
    pipeline: Arc<Pipeline>,
    template: String,
}

impl Chain {
    pub(crate) fn new(pipeline: Arc<Pipeline>) -> Chain {
        Chain {
            pipeline,
            template: String::new(),
        }
    }

    /// Appends one segment, normalized as the JS/PHP property chains are: a leading
    /// capital is lowered and every other capital becomes `-` + lowercase
    /// (`payafterOrders` → `payafter-orders`, `V3` → `v3`); `_name_` and `$name$` become
    /// the placeholder `{name}` with the name kept verbatim; `<name>` is an alias of
    /// `{name}`; `_empty_` ends the path with `/`, for the endpoints that require a
    /// trailing slash (`v3/applyment4sub/applyment/`).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let chain = wxpay.seg("V3").seg("merchantService").seg("complaintsV2").seg("_complaint_id_");
    /// assert_eq!(chain.template(), "v3/merchant-service/complaints-v2/{complaint_id}");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let js = wxpay.seg("v3").seg("pay").seg("transactions").seg("out-trade-no").seg("$out_trade_no$");
    /// assert_eq!(js.template(), "v3/pay/transactions/out-trade-no/{out_trade_no}");
    /// let slash = wxpay.seg("v3").seg("applyment4sub").seg("applyment").seg("_empty_");
    /// assert_eq!(slash.template(), "v3/applyment4sub/applyment/");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn seg(mut self, name: &str) -> Chain {
        if name == EMPTY_SEGMENT {
            if !self.template.is_empty() && !self.template.ends_with('/') {
                self.template.push('/');
            }
            return self;
        }
        let normalized = normalize_segment(name);
        self.push(&normalized);
        self
    }

    /// Appends literal template text, e.g. `"{out_order_no}/sync"`, with no case
    /// normalization (so `secapi/mch/addInstitutionsub` stays reachable). `<name>` is an
    /// alias of `{name}`.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let chain = wxpay.seg("v3").seg("payscore").chain("serviceorder/<out_order_no>/sync");
    /// assert_eq!(chain.template(), "v3/payscore/serviceorder/{out_order_no}/sync");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn chain(mut self, tail: &str) -> Chain {
        let tail = angle_to_braces(tail);
        self.push(&tail);
        self
    }

    fn push(&mut self, piece: &str) {
        let piece = piece.trim_start_matches('/');
        if piece.is_empty() {
            return;
        }
        if !self.template.is_empty() && !self.template.ends_with('/') {
            self.template.push('/');
        }
        self.template.push_str(piece);
    }

    /// The accumulated URI template, e.g. `v3/payscore/payafter-orders/{out_order_no}/sync`.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// A request with any method (the verbs below are shorthands).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let request = wxpay.chain("v3/merchant-service/complaints-v2/{complaint_id}").request(http::Method::HEAD)
    ///     .param("complaint_id", "200201820200101080076610000").build()?;
    /// assert_eq!(request.method(), "HEAD");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn request(self, method: Method) -> RequestBuilder {
        RequestBuilder::new(self.pipeline, method, self.template)
    }

    /// A `GET` request.
    pub fn get(self) -> RequestBuilder {
        self.request(Method::GET)
    }

    /// A `DELETE` request.
    pub fn delete(self) -> RequestBuilder {
        self.request(Method::DELETE)
    }

    /// A `POST` request with a JSON body (anything `Serialize`, usually `json!`).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use serde_json::json;
    ///
    /// let request = wxpay.chain("v3/refund/domestic/refunds")
    ///     .post(json!({ "out_trade_no": "1217752501201407033233368018", "out_refund_no": "1217752501201407033233368019",
    ///                   "amount": { "refund": 1, "total": 1, "currency": "CNY" } }))
    ///     .build()?;
    /// assert_eq!(request.headers()["content-type"], "application/json");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
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
        f.debug_tuple("Chain").field(&self.template).finish()
    }
}

/// The segment that stands for an empty last segment (a trailing `/`), as the PHP and JS
/// chains write it: `$instance->v3->applyment4sub->applyment->_empty_`.
const EMPTY_SEGMENT: &str = "_empty_";

/// Normalizes one property-chain segment (see [`Chain::seg`]).
///
/// ```
/// assert_eq!(wechatpay::normalize_segment("payafterOrders"), "payafter-orders");
/// assert_eq!(wechatpay::normalize_segment("_out_order_no_"), "{out_order_no}");
/// assert_eq!(wechatpay::normalize_segment("$out_trade_no$"), "{out_trade_no}");
/// ```
pub fn normalize_segment(name: &str) -> String {
    // The macro hands `$name$` over as stringified tokens, which may carry spaces.
    let placeholder = |open: char| {
        name.strip_prefix(open)
            .and_then(|rest| rest.strip_suffix(open))
            .map(str::trim)
            .filter(|inner| !inner.is_empty() && !inner.contains(['{', '}', '/', ' ']))
    };
    if let Some(inner) = placeholder('_').or_else(|| placeholder('$')) {
        return format!("{{{inner}}}");
    }
    if name.starts_with('<') && name.ends_with('>') {
        return angle_to_braces(name);
    }
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Rewrites `<name>` placeholders as `{name}`. `<` and `>` may not appear in a URI
/// template's literal text, so nothing else can be meant by them.
fn angle_to_braces(text: &str) -> String {
    if !text.contains('<') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('>') {
            Some(close) if !after[..close].contains(['<', '{', '}', '/']) => {
                out.push('{');
                out.push_str(&after[..close]);
                out.push('}');
                rest = &after[close + 1..];
            }
            // Left as is: the template parser reports the stray `<` with its position.
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Names an endpoint the way the JS and PHP SDKs do, as a property chain:
/// `chain!(wxpay.v3.payscore.serviceorder._out_order_no_.sync)` is
/// `wxpay.seg("v3").seg("payscore").seg("serviceorder").seg("_out_order_no_").seg("sync")`.
///
/// The client is an identifier or a parenthesized expression: `chain!((self.wxpay).v3.certificates)`.
/// Placeholders are written `_name_` or, as the JS chain also writes them, `$name$`;
/// `_empty_` at the end gives the trailing slash some endpoints require.
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client()?;
/// let chain = wechatpay::chain!(wxpay.v3.payscore.partner.serviceorder._out_order_no_.sync);
/// assert_eq!(chain.template(), "v3/payscore/partner/serviceorder/{out_order_no}/sync");
/// let js = wechatpay::chain!(wxpay.v3.pay.transactions.id.$transaction_id$);
/// assert_eq!(js.template(), "v3/pay/transactions/id/{transaction_id}");
/// let slash = wechatpay::chain!(wxpay.v3.applyment4sub.applyment._empty_);
/// assert_eq!(slash.template(), "v3/applyment4sub/applyment/");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[macro_export]
macro_rules! chain {
    ($client:tt $(. $($rest:tt)+)?) => {
        $crate::__chain_segments!(($client) $(. $($rest)+)?)
    };
}

/// The segments of [`chain!`], one at a time: `. $name$` (three tokens) is one segment.
#[doc(hidden)]
#[macro_export]
macro_rules! __chain_segments {
    (($chain:expr)) => {
        $chain
    };
    (($chain:expr) . $open:tt $name:ident $close:tt $(. $($rest:tt)+)?) => {
        $crate::__chain_segments!(
            ($chain.seg(concat!(stringify!($open), stringify!($name), stringify!($close))))
            $(. $($rest)+)?
        )
    };
    (($chain:expr) . $seg:tt $($rest:tt)*) => {
        $crate::__chain_segments!(($chain.seg(stringify!($seg))) $($rest)*)
    };
}

/// Upload verbs: a `POST` whose body is a `multipart/form-data` form in the endpoint's
/// layout ([`crate::multipart::UploadRule`]), signed over its `meta` JSON.
impl Chain {
    /// An upload of `file_name` with the file's `bytes`: a `POST` of the form the endpoint
    /// takes (the `meta` part, e.g. `{"filename":"a.png","sha256":"…"}`, then the file with
    /// a content type from its magic bytes or name), whose signature covers only the
    /// `meta` JSON. The endpoint's limits (kinds, sizes, name) are checked before anything
    /// is sent; extra meta fields and form fields go on with
    /// [`RequestBuilder::meta`] and [`RequestBuilder::form_field`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    /// let answer = sandbox.client()
    ///     .chain("v3/merchant/media/upload")
    ///     .upload("logo.png", png)
    ///     .await?; // the sandbox checked the signature over meta and the file's sha256
    /// let media: serde_json::Value = answer.json()?;
    /// assert!(media["media_id"].as_str().is_some_and(|id| !id.is_empty()));
    /// # Ok(()) }
    /// ```
    pub fn upload(self, file_name: &str, bytes: impl Into<Vec<u8>>) -> RequestBuilder {
        let form = UploadForm::for_endpoint(self.template(), file_name);
        self.request(Method::POST)
            .with_upload(Upload::bytes(form, bytes.into()))
    }

    /// An upload of the file at `path` (named by the path's last component), read once
    /// when the request is sent; its size is checked before reading. See
    /// [`upload`](Chain::upload).
    pub fn upload_from_path(self, path: impl AsRef<Path>) -> RequestBuilder {
        let form = UploadForm::for_endpoint(self.template(), "");
        self.request(Method::POST)
            .with_upload(Upload::path(form, path.as_ref().to_path_buf()))
    }

    /// An upload of `file_name` read from `reader` once when the request is sent (no
    /// further than the endpoint's limit). See [`upload`](Chain::upload).
    pub fn upload_from_reader(
        self,
        file_name: &str,
        reader: impl AsyncRead + Send + 'static,
    ) -> RequestBuilder {
        let form = UploadForm::for_endpoint(self.template(), file_name);
        self.request(Method::POST)
            .with_upload(Upload::reader(form, reader))
    }

    /// An upload of a form built with [`UploadForm`] (any layout, any part names): sent as
    /// it is, signed over its [`meta`](Multipart::meta).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use wechatpay::multipart::UploadForm;
    ///
    /// let form = UploadForm::for_endpoint("v3/merchant/media/upload", "a.jpg")
    ///     .boundary("BOUNDARY")
    ///     .from_bytes(b"\xff\xd8\xff\xe0 a jpeg".to_vec())?;
    /// let request = wxpay.chain("v3/merchant/media/upload").upload_multipart(form.clone()).build()?;
    /// assert_eq!(request.headers()["content-type"], "multipart/form-data; boundary=BOUNDARY");
    /// assert_eq!(request.body(), form.body());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn upload_multipart(self, form: Multipart) -> RequestBuilder {
        self.request(Method::POST).with_upload(Upload::built(form))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_normalize_like_the_js_and_php_chains() {
        assert_eq!(normalize_segment("payafterOrders"), "payafter-orders");
        assert_eq!(normalize_segment("merchantService"), "merchant-service");
        assert_eq!(normalize_segment("complaintsV2"), "complaints-v2");
        assert_eq!(normalize_segment("V3"), "v3");
        assert_eq!(normalize_segment("_out_order_no_"), "{out_order_no}");
        assert_eq!(normalize_segment("_outOrderNo_"), "{outOrderNo}");
        assert_eq!(normalize_segment("<out_order_no>"), "{out_order_no}");
        assert_eq!(normalize_segment("_"), "_");
        assert_eq!(normalize_segment("__"), "__");
        assert_eq!(normalize_segment("sub_mchid-x9"), "sub_mchid-x9");
        assert_eq!(normalize_segment("$out_trade_no$"), "{out_trade_no}");
        assert_eq!(normalize_segment("$ out_trade_no $"), "{out_trade_no}");
        assert_eq!(normalize_segment("$"), "$");
        assert_eq!(normalize_segment("$$"), "$$");
    }

    #[test]
    fn angle_brackets_become_braces_only_around_names() {
        assert_eq!(angle_to_braces("a/<b>/c"), "a/{b}/c");
        assert_eq!(angle_to_braces("a/<b/c"), "a/<b/c");
        assert_eq!(angle_to_braces("<a><b>"), "{a}{b}");
    }
}
