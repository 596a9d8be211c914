//! What each APIv2 endpoint needs: one table, derived from three sources.
//!
//! Sources, merged as a union (a flag set by any of them is set here):
//!
//! - the catalog, `wechatpay-openapi/docs/v2/**.yaml` (136 endpoints): `x-api-cert-required`
//!   (mutual TLS), `x-base-uri` (another host), `get:` (query-string endpoints), `produces`
//!   (JSON or CSV answers), and, where a schema is written out in full rather than by `$ref`,
//!   whether the request has a `nonce_str` and the answer a `sign`, and whether the merchant
//!   field is `mchid`;
//! - wechatpay-php `src/ClientXmlTrait.php`, `$noneSignatureRespond` (unsigned answers);
//! - wechatpay-axios-plugin `lib/transformer.js`, `SIGNLESS` (unsigned answers) and
//!   `NONCELESS` (no `nonce_str`).
//!
//! Neither SDK decides mutual TLS per endpoint (the caller passes `security: true`), so
//! that column is the catalog's alone. An endpoint that is not in the table gets the
//! defaults, except that the prefixes the platform reserves for certificate-protected
//! calls (`secapi/`, `mmpaymkttransfers/`, `mmpaysptrans/`) still ask for mutual TLS.

/// The HTTP method of an APIv2 endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// The fields go in an XML body (all but six endpoints).
    Post,
    /// The fields go in the query string (the contract-signing pages, `appauth/*`).
    Get,
}

/// What an APIv2 endpoint answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnswerFormat {
    /// An `<xml>` document with `return_code` (almost all).
    Xml,
    /// A CSV file (possibly gzip), or an `<xml>` error in its place: `pay/downloadbill`,
    /// `pay/downloadfundflow`.
    Csv,
    /// JSON with `retcode`/`retmsg`: `appauth/getaccesstoken`.
    Json,
    /// A page or a redirect for the user's browser (the contract-signing pages,
    /// `appauth/authindex`): the merchant builds the signed URL, nothing is read back.
    Page,
}

/// The facts about one APIv2 endpoint that the request pipeline acts on.
///
/// ```
/// use wechatpay::v2::endpoint;
///
/// let refund = endpoint("v2/secapi/pay/refund");
/// assert!(refund.mutual_tls && !refund.unsigned_answer && !refund.nonceless);
/// assert_eq!(refund.merchant_field, "mch_id");
///
/// let transfer = endpoint("mmpaymkttransfers/promotion/transfers");
/// assert!(transfer.mutual_tls && transfer.unsigned_answer);
/// assert_eq!(transfer.merchant_field, "mchid");
///
/// // Not in the table: defaults, but the reserved prefix still asks for the certificate.
/// let unknown = endpoint("/secapi/pay/somethingnew");
/// assert!(unknown.mutual_tls && !unknown.known);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Endpoint {
    /// The path without `v2/` or a leading `/`, e.g. `secapi/pay/refund` (empty for an
    /// endpoint the table does not know).
    pub path: &'static str,
    /// Whether the table knows this endpoint (else the other fields are defaults).
    pub known: bool,
    /// POST with an XML body, or GET with a query string.
    pub method: Method,
    /// Whether the call must present the merchant certificate (mutual TLS).
    pub mutual_tls: bool,
    /// Whether the request carries no `nonce_str` (the platform rejects one).
    pub nonceless: bool,
    /// Whether the answer carries no `sign` to verify.
    pub unsigned_answer: bool,
    /// The name of the merchant-id field: `mch_id`, or `mchid` (transfers to balance,
    /// `pay/settlementquery`), or `combine_mch_id` (combined orders).
    pub merchant_field: &'static str,
    /// What the answer is.
    pub answer: AnswerFormat,
    /// Another host than `api.mch.weixin.qq.com`, e.g. `https://fraud.mch.weixin.qq.com/`.
    pub host: Option<&'static str>,
}

const fn post(path: &'static str) -> Endpoint {
    Endpoint {
        path,
        known: true,
        method: Method::Post,
        mutual_tls: false,
        nonceless: false,
        unsigned_answer: false,
        merchant_field: "mch_id",
        answer: AnswerFormat::Xml,
        host: None,
    }
}

const fn get(path: &'static str) -> Endpoint {
    let mut endpoint = post(path);
    endpoint.method = Method::Get;
    endpoint
}

impl Endpoint {
    const fn mtls(mut self) -> Self {
        self.mutual_tls = true;
        self
    }
    const fn nonceless(mut self) -> Self {
        self.nonceless = true;
        self
    }
    const fn unsigned(mut self) -> Self {
        self.unsigned_answer = true;
        self
    }
    const fn merchant_field(mut self, name: &'static str) -> Self {
        self.merchant_field = name;
        self
    }
    const fn csv(mut self) -> Self {
        self.answer = AnswerFormat::Csv;
        self.unsigned_answer = true;
        self
    }
    const fn json(mut self) -> Self {
        self.answer = AnswerFormat::Json;
        self
    }
    const fn page(mut self) -> Self {
        self.answer = AnswerFormat::Page;
        self
    }
    const fn host(mut self, host: &'static str) -> Self {
        self.host = Some(host);
        self
    }
}

/// Every APIv2 endpoint of the catalog, sorted by path, one per line.
#[rustfmt::skip]
pub static ENDPOINTS: &[Endpoint] = &[
    get("appauth/authindex").nonceless().unsigned().page().host("https://payapp.mch.weixin.qq.com/"),
    get("appauth/getaccesstoken").nonceless().unsigned().json(),
    post("applyment/micro/getstate").mtls(),
    post("applyment/micro/getupgradestate").mtls(),
    post("applyment/micro/modifyarchives").mtls(),
    post("applyment/micro/modifycontactinfo").mtls(),
    post("applyment/micro/signcontract").mtls(),
    post("applyment/micro/submit").mtls(),
    post("applyment/micro/submitupgrade").mtls(),
    post("billcommentsp/batchquerycomment").mtls(),
    post("cgi-bin/mch/customs/customdeclareorder").nonceless(),
    post("cgi-bin/mch/customs/customdeclarequery").nonceless(),
    post("cgi-bin/mch/newcustoms/customdeclareredeclare").nonceless(),
    post("deposit/consume").mtls(),
    post("deposit/facepay"),
    post("deposit/micropay"),
    post("deposit/orderquery"),
    post("deposit/refund").mtls(),
    post("deposit/refundquery"),
    post("deposit/reverse").mtls(),
    post("deposit/unifiedorder"),
    post("face/get_wxpayface_authinfo").host("https://payapp.weixin.qq.com/"),
    post("fund/queryautowithdrawbydate").mtls(),
    post("fund/reautowithdrawbydate").mtls(),
    post("mchrisk/bankquerymchauditinfo"),
    post("mchrisk/channelquerymchauditinfo"),
    post("mchrisk/querymchrisk").mtls().unsigned(),
    post("mchrisk/setmchriskcallback").unsigned(),
    post("mchrisk/syncmchriskresult").mtls().unsigned(),
    post("mmpaymkttransfers/gethbinfo").mtls().unsigned(),
    post("mmpaymkttransfers/gettransferinfo").mtls().unsigned(),
    post("mmpaymkttransfers/promotion/paywwsptrans2pocket").mtls().unsigned(),
    post("mmpaymkttransfers/promotion/querywwsptrans2pocket").mtls().unsigned(),
    post("mmpaymkttransfers/promotion/transfers").mtls().unsigned().merchant_field("mchid"),
    post("mmpaymkttransfers/query_coupon_stock"),
    post("mmpaymkttransfers/querycouponsinfo"),
    post("mmpaymkttransfers/queryworkwxredpack").mtls(),
    post("mmpaymkttransfers/send_coupon").mtls(),
    // Unsigned in wechatpay-php and the catalog; wechatpay-axios-plugin omits it.
    post("mmpaymkttransfers/sendgroupredpack").mtls().unsigned(),
    post("mmpaymkttransfers/sendminiprogramhb").mtls().unsigned(),
    post("mmpaymkttransfers/sendredpack").mtls().unsigned(),
    post("mmpaymkttransfers/sendworkwxredpack").mtls(),
    // Both SDKs list its answer as unsigned (wechatpay-php under the misspelt path
    // `/mmpaymkttransfers/pay_bank`); the catalog's schema names a `sign`. The SDKs' word wins:
    // they meet the real platform daily.
    post("mmpaysptrans/pay_bank").mtls().unsigned(),
    post("mmpaysptrans/query_bank").mtls().unsigned(),
    post("papay/deletecontract").nonceless(),
    get("papay/entrustweb").nonceless().unsigned().page(),
    get("papay/h5entrustweb").nonceless().unsigned().page(),
    // Nonceless by the catalog's schema; wechatpay-axios-plugin lists only `papay/deletecontract`.
    post("papay/partner/deletecontract").nonceless(),
    get("papay/partner/entrustweb").nonceless().unsigned().page(),
    get("papay/partner/h5entrustweb").nonceless().unsigned().page(),
    post("papay/partner/preentrustweb").nonceless(),
    post("papay/partner/querycontract").nonceless(),
    post("papay/preentrustweb").nonceless(),
    post("papay/querycontract").nonceless(),
    // Combined orders name the merchant `combine_mch_id` (the third name both SDKs check).
    post("pay/closecombinedorder").merchant_field("combine_mch_id"),
    post("pay/closeorder"),
    post("pay/combinedorder").merchant_field("combine_mch_id"),
    post("pay/contractorder"),
    post("pay/downloadbill").csv(),
    post("pay/downloadfundflow").mtls().csv(),
    post("pay/facepay"),
    post("pay/facepayquery"),
    post("pay/micropay"),
    post("pay/orderquery"),
    post("pay/paporderquery"),
    post("pay/pappayapply"),
    post("pay/partner/paporderquery"),
    post("pay/partner/pappayapply"),
    post("pay/profitsharingaddreceiver"),
    post("pay/profitsharingmerchantratioquery"),
    post("pay/profitsharingorderamountquery"),
    post("pay/profitsharingquery"),
    post("pay/profitsharingremovereceiver"),
    post("pay/profitsharingreturnquery"),
    post("pay/querycombinedorder").merchant_field("combine_mch_id"),
    post("pay/queryexchagerate").nonceless(),
    post("pay/refundquery"),
    post("pay/refundqueryv2"),
    post("pay/settlementquery").merchant_field("mchid"),
    post("pay/unifiedorder"),
    post("payitil/report").unsigned(),
    post("risk/getcertficates"),
    post("risk/getpublickey").mtls().unsigned().host("https://fraud.mch.weixin.qq.com/"),
    post("risk/getviolation").mtls().unsigned(),
    post("sandboxnew/pay/downloadbill").csv(),
    post("sandboxnew/pay/getsignkey").unsigned(),
    post("sandboxnew/pay/micropay"),
    post("sandboxnew/pay/orderquery"),
    post("sandboxnew/pay/refund"),
    post("sandboxnew/pay/refundquery"),
    post("sandboxnew/pay/unifiedorder"),
    post("secapi/mch/addInstitutionsub").mtls().nonceless(),
    post("secapi/mch/addsubdevconfig").mtls().nonceless(),
    post("secapi/mch/channelsetting").mtls().nonceless(),
    post("secapi/mch/modifyInstitutionsub").mtls().nonceless(),
    post("secapi/mch/modifymchinfo").mtls().nonceless(),
    post("secapi/mch/queryInstitutionsub").mtls().nonceless(),
    post("secapi/mch/querysubdevconfig").mtls().nonceless(),
    post("secapi/mch/submchmanage").mtls().unsigned(),
    // A multipart upload (`media` file + `media_hash`), not an XML body.
    post("secapi/mch/uploadmedia").mtls().nonceless(),
    post("secapi/mkt/addrecommendconf").mtls(),
    post("secapi/pay/facepayreverse").mtls(),
    post("secapi/pay/multiprofitsharing").mtls(),
    post("secapi/pay/profitsharing").mtls(),
    post("secapi/pay/profitsharingfinish").mtls(),
    post("secapi/pay/profitsharingreturn").mtls(),
    post("secapi/pay/refund").mtls(),
    post("secapi/pay/refundv2").mtls(),
    post("secapi/pay/reverse").mtls(),
    post("secsvc/getrealnameinfo").host("https://fraud.mch.weixin.qq.com/"),
    post("secsvc/realnameauth").host("https://fraud.mch.weixin.qq.com/"),
    post("tools/authcodetoopenid"),
    post("tools/shorturl"),
    post("transit/partnerpay/payapply"),
    post("transit/partnerpay/queryorder"),
    post("transit/partnerpay/querystate"),
    post("transit/pay/payapply"),
    post("transit/pay/querystate"),
    post("transit/queryorder"),
    post("vehicle/partnerpay/notification"),
    post("vehicle/partnerpay/payapply"),
    post("vehicle/partnerpay/querystate"),
    post("vehicle/pay/notification"),
    post("vehicle/pay/payapply"),
    post("vehicle/pay/querystate"),
    post("wxv/cancelbill").mtls(),
    post("wxv/changerentmoney").mtls(),
    post("wxv/createhotelbill").mtls(),
    post("wxv/createrentbill").mtls(),
    post("wxv/finishhotelbill").mtls(),
    post("wxv/finishrentbill").mtls(),
    post("wxv/queryhotelbill").mtls(),
    post("wxv/queryrentbill").mtls(),
    post("xdc/apiv2getsignkey/sign/getsignkey").unsigned(),
    post("xdc/apiv2sandbox/pay/micropay"),
    post("xdc/apiv2sandbox/pay/orderquery"),
];

/// Path prefixes whose endpoints need the merchant certificate even when the table does not
/// list them (the platform's `secapi` = "security API", and the fund-transfer families).
pub const MUTUAL_TLS_PREFIXES: &[&str] = &["secapi/", "mmpaymkttransfers/", "mmpaysptrans/"];

/// The path as the table keys it: without a leading `/`, a `v2/` prefix (the chain's
/// marker, dropped on the wire), a query or a trailing `/`.
pub fn normalize(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let path = path.trim_start_matches('/');
    let path = path.strip_prefix("v2/").unwrap_or(path);
    path.trim_end_matches('/')
}

/// The facts about `path` (`pay/micropay`, `/pay/micropay` or `v2/pay/micropay`): the
/// table's row, or defaults for an endpoint it does not know.
pub fn endpoint(path: &str) -> Endpoint {
    let path = normalize(path);
    match ENDPOINTS.binary_search_by(|e| e.path.cmp(path)) {
        Ok(index) => ENDPOINTS[index],
        Err(_) => {
            let mut unknown = post("");
            unknown.known = false;
            unknown.mutual_tls = MUTUAL_TLS_PREFIXES.iter().any(|p| path.starts_with(p));
            unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_complete() {
        assert_eq!(ENDPOINTS.len(), 136, "one row per catalog endpoint");
        for pair in ENDPOINTS.windows(2) {
            assert!(
                pair[0].path < pair[1].path,
                "{} before {}",
                pair[0].path,
                pair[1].path
            );
        }
    }

    #[test]
    fn both_sdks_lists_are_covered() {
        // wechatpay-axios-plugin NONCELESS
        for path in [
            "papay/querycontract",
            "secapi/mch/addInstitutionsub",
            "pay/queryexchagerate",
        ] {
            assert!(endpoint(path).nonceless, "{path}");
        }
        // wechatpay-php $noneSignatureRespond and axios SIGNLESS
        for path in [
            "mmpaymkttransfers/sendredpack",
            "pay/downloadbill",
            "risk/getpublickey",
            "xdc/apiv2getsignkey/sign/getsignkey",
        ] {
            assert!(endpoint(path).unsigned_answer, "{path}");
        }
        assert!(!endpoint("pay/micropay").unsigned_answer);
        assert!(!endpoint("pay/micropay").mutual_tls);
        assert!(endpoint("secapi/pay/refund").mutual_tls);
        assert!(!endpoint("mmpaymkttransfers/query_coupon_stock").mutual_tls);
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("/v2/pay/micropay/"), "pay/micropay");
        assert_eq!(normalize("v2/papay/entrustweb?a=1"), "papay/entrustweb");
        assert_eq!(endpoint("v2/pay/downloadbill").answer, AnswerFormat::Csv);
        assert_eq!(
            endpoint("appauth/getaccesstoken").answer,
            AnswerFormat::Json
        );
        assert_eq!(endpoint("papay/entrustweb").method, Method::Get);
    }
}
