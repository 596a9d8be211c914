//! Every WeChat Pay endpoint known by name: the built-in catalog.
//!
//! The table is generated from the YAML catalog vendored in
//! `tests/fixtures/wechatpay-openapi/docs` (one Swagger 2.0 file per path) by the test
//! `tests/catalog_codegen`, and checked in as `src/catalog/generated.rs`; CI regenerates it and
//! fails on any difference. Each [`Endpoint`] holds its template, method, summary,
//! documentation link, path and query parameters, required body fields, content types,
//! whether its answer is signed, and example request and answer bodies.
//!
//! # Conventions
//!
//! - **Templates** are paths from the host root, as the catalog lists them:
//!   `v3/pay/transactions/id/{transaction_id}`; Hong Kong and global endpoints keep their
//!   `hk/` and `global/` first segment (`hk/v3/transactions/jsapi`), so a client whose base URL
//!   ends in `/hk/` should look up `hk/` + its template; APIv2 templates start with `v2/`
//!   (`v2/pay/micropay`; the wire path drops that folder). Two templates end with `/`
//!   (`v3/applyment4sub/applyment/`, `v3/ecommerce/applyments/`): the platform requires it.
//! - **Required body fields** are JSON Pointers (RFC 6901). A pointer is required wherever its
//!   parent exists: `/payer/openid` binds only when `/payer` is given (the parent has its own
//!   entry when it is required too), and a `0` step (`/goods_detail/0/merchant_goods_id`)
//!   stands for every element of the array.
//! - **Signed answers**: an APIv3 answer is signed (`Wechatpay-Signature` over the body) unless
//!   it is a file: the YAML's `produces:` lists no JSON type (`v3/billdownload/file`, the
//!   transfer PDFs), or a `GET`'s 200 answer documents no schema at all (the complaint images,
//!   the Hong Kong statements). APIv2 answers are never signed this way (their signature is a
//!   field of the XML). [`is_unsigned_answer`] is compiled even without the `catalog` feature.
//! - **Examples** are the documented examples completed from the schema, so that every required
//!   field is present: strings from the field's name or format (`*_time` an RFC 3339 time,
//!   `*mchid` a merchant id, ...), integers `1`, booleans `true`; optional fields with no example
//!   anywhere below them are left out.
//!
//! # Look-ups
//!
//! ```
//! use http::Method;
//! use wechatpay::catalog;
//!
//! // By template: placeholder names need not match, only the shape.
//! let by_id = catalog::find(&Method::GET, "v3/pay/transactions/id/{id}").unwrap();
//! assert_eq!(by_id.template(), "v3/pay/transactions/id/{transaction_id}");
//! assert_eq!(by_id.query_params()[0].name(), "mchid");
//!
//! // By a concrete path: literal segments win over placeholders.
//! let found = catalog::find_path(&Method::GET, "/v3/pay/transactions/id/4200000001?mchid=1").unwrap();
//! assert_eq!(found.endpoint().template(), by_id.template());
//! assert_eq!(found.params(), [("transaction_id", "4200000001")]);
//!
//! // By the JS chain text, with `_name_` or `$name$` placeholders.
//! let sync = catalog::find_chain(&Method::POST, "v3.payscore.serviceorder.$out_order_no$.sync").unwrap();
//! assert_eq!(sync.template(), "v3/payscore/serviceorder/{out_order_no}/sync");
//!
//! // Unknown paths get the closest templates.
//! let near = catalog::suggestions_for("v3/payscore/serviceorders/{out_order_no}/sync");
//! assert_eq!(near[0].template(), "v3/payscore/serviceorder/{out_order_no}/sync");
//! ```

mod unsigned;

#[cfg(feature = "catalog")]
mod check;
#[cfg(feature = "catalog")]
mod generated;
#[cfg(feature = "catalog")]
mod lookup;
#[cfg(feature = "catalog")]
mod suggest;

#[cfg(feature = "catalog")]
pub(crate) use check::missing_field;
#[cfg(feature = "catalog")]
pub use check::{check, CheckError, CheckErrorKind};
#[cfg(feature = "catalog")]
pub use lookup::{find, find_all, find_chain, find_path, search, PathMatch};
#[cfg(feature = "catalog")]
pub use suggest::{suggest, suggestions_for, Suggestion};

/// Whether the platform's success answer for `path` carries no signature, because it is a
/// file (a bill, a transfer receipt PDF, a complaint image, a statement). `path` may have a
/// leading `/`, a query and a fragment; a placeholder of the catalog's templates matches any
/// non-empty segment. Same semantics as [`crate::verify::is_unsigned_download`], from the
/// catalog's list; available without the `catalog` feature.
///
/// ```
/// assert!(wechatpay::catalog::is_unsigned_answer("/v3/billdownload/file?token=x"));
/// assert!(wechatpay::catalog::is_unsigned_answer("v3/merchant-service/images/abc"));
/// assert!(!wechatpay::catalog::is_unsigned_answer("/v3/certificates"));
/// ```
pub fn is_unsigned_answer(path: &str) -> bool {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_start_matches('/');
    unsigned::UNSIGNED_ANSWERS.iter().any(|template| {
        let mut want = template.split('/');
        let mut have = path.split('/');
        loop {
            match (want.next(), have.next()) {
                (None, None) => return true,
                (Some(w), Some(h)) if w.starts_with('{') && w.ends_with('}') && !h.is_empty() => {}
                (Some(w), Some(h)) if w == h => {}
                _ => return false,
            }
        }
    })
}

/// The templates whose answers are unsigned files, sorted (see [`is_unsigned_answer`]).
pub fn unsigned_answer_templates() -> &'static [&'static str] {
    unsigned::UNSIGNED_ANSWERS
}

#[cfg(feature = "catalog")]
pub use table::{endpoints, ContentType, Endpoint, Param};

#[cfg(feature = "catalog")]
mod table {
    use std::fmt;

    use http::Method;

    /// The kind of a request or answer body.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    #[non_exhaustive]
    pub enum ContentType {
        /// `application/json`.
        Json,
        /// `multipart/form-data`: a file and its `meta` JSON (uploads).
        Multipart,
        /// `application/xml` (APIv2).
        Xml,
        /// Anything else: a file (text, gzip, PDF, an image); see
        /// [`Endpoint::answer_media_type`].
        Other,
    }

    /// A path or query parameter.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Param {
        pub(super) name: &'static str,
        pub(super) required: bool,
        pub(super) example: &'static str,
    }

    impl Param {
        /// The name, e.g. `transaction_id`.
        pub fn name(&self) -> &'static str {
            self.name
        }

        /// Whether the platform requires it (path parameters always are).
        pub fn required(&self) -> bool {
            self.required
        }

        /// A documented (or synthesized) example value.
        pub fn example(&self) -> &'static str {
            self.example
        }
    }

    /// One endpoint (a template and a method) of the catalog.
    pub struct Endpoint {
        pub(super) template: &'static str,
        pub(super) method: Method,
        pub(super) summary: &'static str,
        pub(super) doc_url: Option<&'static str>,
        pub(super) path_params: &'static [Param],
        pub(super) query_params: &'static [Param],
        pub(super) body_required: &'static [&'static str],
        pub(super) request_type: Option<ContentType>,
        pub(super) answer_type: Option<ContentType>,
        pub(super) answer_media_type: Option<&'static str>,
        pub(super) answer_status: u16,
        pub(super) signed_answer: bool,
        pub(super) example_request: Option<&'static str>,
        pub(super) example_answer: Option<&'static str>,
        pub(super) deprecated: bool,
        pub(super) base_url: Option<&'static str>,
    }

    impl Endpoint {
        /// The URI template, e.g. `v3/pay/transactions/id/{transaction_id}`.
        pub fn template(&self) -> &'static str {
            self.template
        }

        /// The HTTP method.
        pub fn method(&self) -> &Method {
            &self.method
        }

        /// The one-line summary (Chinese, as documented), e.g. `微信支付订单号查询`.
        pub fn summary(&self) -> &'static str {
            self.summary
        }

        /// The official documentation page, when the catalog links one.
        pub fn doc_url(&self) -> Option<&'static str> {
            self.doc_url
        }

        /// The template's placeholders, in order, with example values.
        pub fn path_params(&self) -> &'static [Param] {
            self.path_params
        }

        /// The query parameters, with whether each is required.
        pub fn query_params(&self) -> &'static [Param] {
            self.query_params
        }

        /// The required body fields as JSON Pointers (`/amount/total`); a pointer binds
        /// wherever its parent exists, and a `0` step stands for every array element. For
        /// multipart uploads, the fields of the `meta` JSON.
        pub fn required_body_fields(&self) -> &'static [&'static str] {
            self.body_required
        }

        /// The request body's kind; `None` when the endpoint takes no body.
        pub fn request_type(&self) -> Option<ContentType> {
            self.request_type
        }

        /// The success answer's kind; `None` when it has no body (e.g. `204 No Content`).
        pub fn answer_type(&self) -> Option<ContentType> {
            self.answer_type
        }

        /// For file answers ([`ContentType::Other`]), the documented media type, e.g.
        /// `application/pdf` (`application/octet-stream` when the catalog names none).
        pub fn answer_media_type(&self) -> Option<&'static str> {
            self.answer_media_type
        }

        /// The documented success status: 200, or 204 (no body), 202 (accepted).
        pub fn answer_status(&self) -> u16 {
            self.answer_status
        }

        /// Whether the success answer carries an APIv3 platform signature over its body
        /// (false for file downloads and for APIv2).
        pub fn signed_answer(&self) -> bool {
            self.signed_answer
        }

        /// An example request body: JSON text (for multipart uploads, the `meta` JSON; for
        /// APIv2, the XML's fields as a flat JSON object). Every required field is present.
        pub fn example_request(&self) -> Option<&'static str> {
            self.example_request
        }

        /// An example success answer body (JSON text; APIv2 answers as a flat JSON object).
        pub fn example_answer(&self) -> Option<&'static str> {
            self.example_answer
        }

        /// Whether the catalog marks the endpoint deprecated.
        pub fn deprecated(&self) -> bool {
            self.deprecated
        }

        /// Another host the endpoint lives on, when the catalog names one (a few APIv2 ones,
        /// e.g. `https://fraud.mch.weixin.qq.com/`).
        pub fn base_url(&self) -> Option<&'static str> {
            self.base_url
        }

        /// Whether this is an APIv2 (XML) endpoint: its template starts with `v2/`.
        pub fn is_v2(&self) -> bool {
            self.template.starts_with("v2/")
        }

        /// The template as a JS property chain, `_name_` for placeholders:
        /// `v3.pay.transactions.id._transaction_id_`.
        ///
        /// ```
        /// let e = wechatpay::catalog::find(&http::Method::GET, "v3/pay/transactions/id/{id}").unwrap();
        /// assert_eq!(e.chain_text(), "v3.pay.transactions.id._transaction_id_");
        /// ```
        pub fn chain_text(&self) -> String {
            self.template
                .split('/')
                .map(|segment| match placeholder_name(segment) {
                    Some(name) => format!("_{name}_"),
                    None => segment.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(".")
        }
    }

    impl fmt::Debug for Endpoint {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Endpoint")
                .field("method", &self.method)
                .field("template", &self.template)
                .field("summary", &self.summary)
                .finish_non_exhaustive()
        }
    }

    impl fmt::Display for Endpoint {
        /// `POST v3/payscore/serviceorder/{out_order_no}/sync`.
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} {}", self.method, self.template)
        }
    }

    /// Every endpoint, sorted by template, then method (GET, POST, PUT, PATCH, DELETE).
    ///
    /// ```
    /// let all = wechatpay::catalog::endpoints();
    /// assert!(all.len() > 1000);
    /// assert!(all.windows(2).all(|w| w[0].template() <= w[1].template()));
    /// ```
    pub fn endpoints() -> &'static [Endpoint] {
        &super::generated::ENDPOINTS
    }

    /// `{name}` → `name`.
    pub(super) fn placeholder_name(segment: &str) -> Option<&str> {
        segment.strip_prefix('{')?.strip_suffix('}')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_verify_exempts_today_is_unsigned_in_the_catalog() {
        // The list verify kept by hand before it derived it from the catalog.
        for pattern in [
            "v3/billdownload/file",
            "v3/transferdownload/signfile",
            "v3/transferdownload/elecvoucherfile",
            "v3/merchant-service/images/*",
        ] {
            let path = pattern.replace('*', "6uqyGjGrCf2GtyXP8bxrbuH9");
            assert!(crate::verify::is_unsigned_download(&path));
            assert!(is_unsigned_answer(&path), "{path}");
            assert!(is_unsigned_answer(&format!("/{path}?token=1#x")), "{path}");
        }
        // The cases verify's own test pins, with the same answers.
        for path in [
            "/v3/billdownload/file/extra",
            "/v3/billdownload",
            "/v3/merchant-service/images/",
            "/v3/merchant-service/images/upload/x",
            "/v3/certificates",
        ] {
            assert!(!crate::verify::is_unsigned_download(path));
            assert!(!is_unsigned_answer(path), "{path}");
        }
        // Unsigned in the catalog, and so now in verify too.
        for path in [
            "hk/v3/statements?date=20180130",
            "v3/global/statements",
            "v3/global/merchant-service/images/abc",
        ] {
            assert!(is_unsigned_answer(path), "{path}");
            assert!(crate::verify::is_unsigned_download(path), "{path}");
        }
        assert!(unsigned_answer_templates().windows(2).all(|w| w[0] < w[1]));
    }
}
