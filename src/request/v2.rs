//! APIv2 through the same chain: a template that starts with `v2/` is an APIv2 call.
//!
//! The same verbs and the same retry loop as APIv3, with APIv2's wire: the body's fields
//! (and any `.query()` pairs) become `<xml>…</xml>` (POST) or the query string (GET), signed
//! with the APIv2 key ([`crate::v2::sign_request`]); the `v2/` folder is dropped from the
//! path; endpoints that need the merchant certificate are marked for the mutual-TLS pool;
//! the answer is read by [`crate::v2::answer`] (XML to JSON, `return_code`, the `sign`,
//! `result_code`). Each retry is signed again with a fresh `nonce_str`.

use std::fmt;
use std::io::Read as _;

use bytes::Bytes;
use http::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use http::{HeaderMap, Method, Request, Uri};
use serde_json::Value;

use super::{Prepared, RequestBuilder};
use crate::error::{ApiError, Error};
use crate::response::{api_error, Response};
use crate::transport::PRODUCTION_BASE_URL;
use crate::transport::{MutualTls, RawResponse};
use crate::v2::answer::{read_answer, read_download, Apiv2Failure};
use crate::v2::{
    endpoint, sign_request, AnswerFormat, Apiv2Key, Endpoint, Fields, MerchantIdentity,
};

/// What the SDKs accept: XML answers, bills as text or gzip.
const ACCEPT_V2: HeaderValue = HeaderValue::from_static("text/xml, text/plain, application/x-gzip");
const TEXT_XML: HeaderValue = HeaderValue::from_static("text/xml; charset=utf-8");

/// The APIv2 settings of a client: the key that signs, the certificate for mutual TLS.
#[derive(Clone, Default)]
pub(crate) struct Apiv2Config {
    pub(crate) key: Option<Apiv2Key>,
    pub(crate) identity: Option<MerchantIdentity>,
}

impl fmt::Debug for Apiv2Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Apiv2Config")
            .field("key", &self.key.as_ref().map(|_| ".."))
            .field(
                "merchant_identity",
                &self.identity.as_ref().map(MerchantIdentity::serial),
            )
            .finish()
    }
}

impl Apiv2Config {
    /// The key, or the configuration error naming the setting.
    pub(crate) fn key(&self, what: &str) -> Result<&Apiv2Key, Error> {
        self.key.as_ref().ok_or_else(|| {
            Error::config(format!(
                "{what} needs the APIv2 key: call .apiv2_key(\"…\") on the builder (the 32 \
                 characters set under API安全 on the merchant platform)"
            ))
        })
    }
}

/// Whether a chain's template names an APIv2 endpoint.
pub(crate) fn is_v2(template: &str) -> bool {
    template.trim_start_matches('/').starts_with("v2/")
}

/// The APIv2 part of a prepared request: what each attempt signs.
pub(crate) struct V2Parts {
    endpoint: Endpoint,
    /// The fields as the caller gave them (no `sign`; a `nonce_str` only if given).
    fields: Fields,
    key: Apiv2Key,
    /// The `nonce_str` of the first attempt, from `.nonce()`.
    nonce: Option<String>,
    /// The fields go in the query string (GET) rather than an XML body.
    in_query: bool,
    /// Scheme, host and base path + wire path, without a query.
    location: String,
    /// Present for endpoints that need the merchant certificate.
    mutual_tls: Option<MutualTls>,
}

impl RequestBuilder {
    /// The APIv2 `expand` stage (see [`RequestBuilder::prepare`]): the endpoint, its host,
    /// the fields, the headers; the catalog check has run.
    pub(super) fn prepare_v2(self) -> Result<Prepared, Error> {
        let pipeline = &*self.pipeline;
        let path = pipeline
            .template(&self.template)?
            .expand_path(&self.params)?;
        let wire = path.trim_start_matches('/');
        let wire = wire.strip_prefix("v2/").unwrap_or(wire).to_owned();
        let endpoint = endpoint(&wire);
        let what = format!("the APIv2 call `{}`", self.template);
        let key = pipeline.apiv2.key(&what)?.clone();
        if !self.encrypt.is_empty() {
            return Err(Error::request(format!(
                "{what}: encrypt_fields is for APIv3 JSON bodies; APIv2 carries no RSA-encrypted fields"
            )));
        }
        if self.nonce.is_some() && endpoint.nonceless {
            return Err(Error::request(format!(
                "{what}: `{}` takes no nonce_str, so .nonce() has nothing to fix",
                endpoint.path
            )));
        }
        if wire.contains('?') {
            return Err(Error::request(format!(
                "{what}: the template has a query; give APIv2 fields in the body or with .query()"
            )));
        }

        // GET endpoints carry every field in the query, so `.query()` pairs are fields
        // there; a POST's `.query()` pairs stay in its URL, unsigned, as the platform reads
        // them (`secapi/mch/submchmanage?action=add`).
        let in_query = self.method == Method::GET || self.method == Method::HEAD;
        let mut fields = Fields::from_json_slice(self.body.as_deref().unwrap_or_default())?;
        let mut url_query = Vec::new();
        for (name, value) in &self.query {
            if !in_query {
                url_query.push((name.clone(), value.clone()));
            } else if fields.contains(name) {
                return Err(Error::request(format!(
                    "{what}: the field `{name}` is given both in the body and with .query()"
                )));
            } else {
                fields.insert(name.as_str(), value.as_str());
            }
        }
        fields.remove("sign");
        if self.check.unwrap_or(pipeline.strict) {
            self.check_catalog_v2(&fields, in_query)?;
        }

        let mutual_tls = if endpoint.mutual_tls {
            let identity = pipeline.apiv2.identity.clone().ok_or_else(|| {
                Error::config(format!(
                    "{what} needs the merchant certificate (mutual TLS): set \
                     .merchant_identity(…), .merchant_certificate_pem(cert, key) or \
                     .merchant_p12(path) on the builder"
                ))
            })?;
            Some(MutualTls::new(identity))
        } else {
            None
        };
        // Another host (fraud.mch.weixin.qq.com, …) only in production: a sandbox or
        // proxy base URL serves every endpoint itself.
        let location = match endpoint.host {
            Some(host) if pipeline.base.as_str() == PRODUCTION_BASE_URL => format!("{host}{wire}"),
            _ => format!("{}{}{wire}", pipeline.base.origin, pipeline.base.path),
        };
        if mutual_tls.is_some() && !location.starts_with("https://") {
            return Err(Error::config(format!(
                "{what} needs mutual TLS, and `{location}` is plain http: use an https:// base \
                 URL (the sandbox serves one with Sandbox::start_tls())"
            )));
        }

        let mut headers = HeaderMap::with_capacity(4);
        headers.insert(ACCEPT, ACCEPT_V2);
        if !in_query {
            headers.insert(CONTENT_TYPE, TEXT_XML);
        }
        headers.insert(USER_AGENT, pipeline.user_agent.clone());
        for (name, value) in self.headers {
            if let Some(name) = name {
                headers.insert(name, value);
            }
        }
        let mut target = format!("{}{wire}", pipeline.base.path);
        let mut url = location.clone();
        super::append_query(&mut target, &url_query);
        super::append_query(&mut url, &url_query);
        if let Some(at) = url.find('#') {
            return Err(Error::request(format!(
                "{what}: the URL `{url}` has a fragment (`{}`), which is never sent",
                &url[at..]
            )));
        }
        let uri: Uri = url
            .parse()
            .map_err(|e| Error::request_with(format!("`{url}` is not a valid request URI"), e))?;
        Ok(Prepared {
            pipeline: self.pipeline,
            method: self.method,
            path: wire,
            target,
            uri,
            headers,
            body: Bytes::new(),
            signed: None,
            timestamp: None,
            nonce: None,
            v2: Some(Box::new(V2Parts {
                endpoint,
                fields,
                key,
                nonce: self.nonce,
                in_query,
                location,
                mutual_tls,
            })),
        })
    }

    /// The catalog check of an APIv2 call: the endpoint is known for this method, and a
    /// GET has the query parameters it requires (the client adds `nonce_str` and `sign`).
    /// XML bodies are not inspected (the catalog's required fields list alternatives, such
    /// as `transaction_id` and `out_trade_no`, as if both were needed).
    #[cfg(feature = "catalog")]
    fn check_catalog_v2(&self, fields: &Fields, in_query: bool) -> Result<(), Error> {
        let mut names: Vec<&str> = self.query.iter().map(|(name, _)| name.as_str()).collect();
        if in_query {
            names = fields.iter().map(|(name, _)| name).collect();
            names.extend(["nonce_str", "sign"]);
        }
        crate::catalog::check(&self.method, &self.template, &self.params, &names, None)
            .map(|_| ())
            .map_err(|e| Error::request_with("the endpoint catalog refuses this request", e))
    }

    #[cfg(not(feature = "catalog"))]
    fn check_catalog_v2(&self, _: &Fields, _: bool) -> Result<(), Error> {
        self.check_catalog()
    }

    /// [`send`](RequestBuilder::send) for an APIv2 call: the retry loop, with answers read
    /// by [`read`].
    pub(super) async fn send_v2(self) -> Result<Response, Error> {
        let pipeline = std::sync::Arc::clone(&self.pipeline);
        let max_size = pipeline.transport.max_response_size();
        let key = pipeline.apiv2.key.clone();
        self.execute(move |raw, path| read(raw, key.as_ref(), path, max_size))
            .await
    }
}

impl Prepared {
    /// Signs an APIv2 attempt: the caller's `.nonce()` on the first, a fresh `nonce_str` on
    /// every retry (unless the endpoint takes none).
    pub(super) fn sign_v2(&self, v2: &V2Parts, first: bool) -> Result<Request<Bytes>, Error> {
        let mut fields = v2.fields.clone();
        match v2.nonce.as_ref().filter(|_| first) {
            Some(nonce) => fields.insert("nonce_str", nonce.as_str()),
            // A nonce_str the caller wrote in the body fixes the first attempt only, too.
            None if !first => {
                fields.remove("nonce_str");
            }
            None => {}
        }
        let signed = sign_request(&v2.endpoint, fields, &v2.key, Some(&self.pipeline.mchid))?;
        let (uri, body) = if v2.in_query {
            let uri = format!("{}?{}", v2.location, signed.to_query());
            let uri: Uri = uri
                .parse()
                .map_err(|e| Error::request_with("the APIv2 query is not a valid URI", e))?;
            (uri, Bytes::new())
        } else {
            (self.uri.clone(), Bytes::from(signed.to_xml()?))
        };
        let mut request = Request::new(body);
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = uri;
        *request.headers_mut() = self.headers.clone();
        if let Some(mark) = &v2.mutual_tls {
            request.extensions_mut().insert(mark.clone());
        }
        Ok(request)
    }
}

/// Reads the raw answer to an APIv2 call to `path` (the wire path): a non-2xx status is
/// [`Error::Api`] as for APIv3 (the platform's TLS front answers HTML); a page is returned
/// as it is; a bill is its bytes (gunzipped) unless an XML error stands in its place; any
/// other answer is decoded, checked and verified ([`read_answer`]), and the
/// [`Response`] keeps the XML as received with a JSON view of its fields.
fn read(
    raw: RawResponse,
    key: Option<&Apiv2Key>,
    path: &str,
    max_size: usize,
) -> Result<Response, Error> {
    let endpoint = endpoint(path);
    let RawResponse {
        status,
        headers,
        body,
        ..
    } = raw;
    let response = Response::new(status, headers, body);
    if !status.is_success() {
        return Err(api_error(response, path));
    }
    match endpoint.answer {
        AnswerFormat::Page => Ok(response),
        AnswerFormat::Csv => match read_download(response.bytes())? {
            Ok(_) => gunzip(response, max_size),
            Err(failure) => Err(refused(response, failure)),
        },
        AnswerFormat::Xml | AnswerFormat::Json => {
            // `prepare_v2` refused the call without a key, so this is never `None` here.
            let key = key.ok_or_else(|| Error::config("APIv2 answers need the APIv2 key"))?;
            match read_answer(&endpoint, response.bytes(), key) {
                // JSON answers (`appauth/getaccesstoken`) are already JSON.
                Ok(Ok(_)) if endpoint.answer == AnswerFormat::Json => Ok(response),
                Ok(Ok(answer)) => {
                    let view = serde_json::to_vec(&answer.fields).map_err(|e| {
                        Error::decode("the APIv2 answer has no JSON form", Some(Box::new(e)))
                    })?;
                    Ok(response.with_json_view(Bytes::from(view)))
                }
                Ok(Err(failure)) => Err(refused(response, failure)),
                Err(Error::Verification { failure, .. }) => {
                    tracing::warn!(
                        path,
                        failure = %failure,
                        "wechatpay: the APIv2 answer failed sign verification: {failure}"
                    );
                    Err(Error::Verification {
                        failure,
                        response: Some(Box::new(response)),
                    })
                }
                Err(other) => Err(other),
            }
        }
    }
}

/// The platform's `return_code`/`result_code` refusal as [`Error::Api`] (HTTP 200).
fn refused(response: Response, failure: Box<Apiv2Failure>) -> Error {
    let mut detail = failure.fields.clone();
    detail.remove("sign");
    Error::Api(Box::new(ApiError {
        status: response.status(),
        code: Some(failure.code().to_owned()).filter(|c| !c.is_empty()),
        message: failure.message().to_owned(),
        detail: Some(Value::Object(detail)),
        request_id: response.request_id().map(str::to_owned),
        suggestions: Vec::new(),
        apiv2: Some(failure),
        response,
    }))
}

/// A gzip bill (`tar_type=GZIP`) decompressed, within the response size limit (a small
/// gzip cannot become an unbounded bill); a plain one as it is.
fn gunzip(response: Response, max_size: usize) -> Result<Response, Error> {
    if !response.bytes().starts_with(&[0x1f, 0x8b]) {
        return Ok(response);
    }
    let mut plain = Vec::new();
    let limit = u64::try_from(max_size)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    flate2::read::MultiGzDecoder::new(&response.bytes()[..])
        .take(limit)
        .read_to_end(&mut plain)
        .map_err(|e| Error::decode("the gzip bill does not decompress", Some(Box::new(e))))?;
    if plain.len() > max_size {
        return Err(Error::decode(
            format!(
                "the gzip bill decompresses to more than the {max_size}-byte response limit \
                 (raise it with WechatpayBuilder::max_response_size)"
            ),
            None,
        ));
    }
    Ok(response.with_body(Bytes::from(plain)))
}
