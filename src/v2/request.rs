//! Turning a body into a signed APIv2 request.

use super::sign::{nonce_str, sign_fields};
use super::{Apiv2Key, Endpoint, Fields};
use crate::error::Error;

/// The names a body may give the merchant id, in the order both chain SDKs look for them.
pub const MERCHANT_FIELDS: [&str; 3] = ["mch_id", "mchid", "combine_mch_id"];

/// Signs the fields of a request to `endpoint`, as both chain SDKs do:
///
/// 1. if `merchant_id` is given, the body's `mch_id` (or `mchid`, or `combine_mch_id`) must
///    be present and equal to it, so a request is never signed for another merchant;
/// 2. `nonce_str` is added, 32 characters from the CSPRNG, unless the body has one (give it
///    to fix the request, e.g. for snapshots) or the endpoint takes none;
/// 3. `sign_type` is read (absent means MD5), any `sign` is dropped, and `sign` is
///    appended last.
///
/// Turn the result into the wire form with [`Fields::to_xml`] (POST) or
/// [`Fields::to_query`] (GET).
///
/// ```
/// use serde_json::json;
/// use wechatpay::v2::{endpoint, sign_request, Apiv2Key, Fields};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let body = Fields::from_serialize(&json!({
///     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000109", "body": "image",
///     "out_trade_no": "1415757673", "total_fee": 1, "auth_code": "120061098828009406",
///     "spbill_create_ip": "14.17.22.52", "nonce_str": "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
/// }))?;
/// let signed = sign_request(&endpoint("v2/pay/micropay"), body, &key, Some("1900000109"))?;
/// assert_eq!(signed.iter().last().map(|(name, _)| name), Some("sign"));
/// assert!(signed.to_xml()?.ends_with("</sign></xml>"));
///
/// let other = Fields::from_serialize(&json!({ "mch_id": "1230000109" }))?;
/// let error = sign_request(&endpoint("pay/micropay"), other, &key, Some("1900000109")).unwrap_err();
/// assert!(error.to_string().contains("1230000109"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Request`] if the merchant id is missing or another one, or `sign_type` is
/// neither `MD5` nor `HMAC-SHA256`; [`Error::Crypto`] if the CSPRNG fails.
pub fn sign_request(
    endpoint: &Endpoint,
    mut fields: Fields,
    key: &Apiv2Key,
    merchant_id: Option<&str>,
) -> Result<Fields, Error> {
    if let Some(configured) = merchant_id {
        check_merchant(endpoint, &fields, configured)?;
    }
    if !endpoint.nonceless && !fields.contains("nonce_str") {
        fields.insert("nonce_str", nonce_str()?);
    }
    sign_fields(&mut fields, key)?;
    Ok(fields)
}

fn check_merchant(endpoint: &Endpoint, fields: &Fields, configured: &str) -> Result<(), Error> {
    let found = MERCHANT_FIELDS
        .iter()
        .find_map(|name| fields.get(name).map(|value| (*name, value)));
    match found {
        Some((_, value)) if value == configured => Ok(()),
        Some((name, value)) => Err(Error::request(format!(
            "the APIv2 body's `{name}` is `{value}` but the client is configured for merchant \
             `{configured}`; a request is only signed for the configured merchant"
        ))),
        None => Err(Error::request(format!(
            "the APIv2 body has no merchant id: add `\"{}\": \"{configured}\"`{}",
            endpoint.merchant_field,
            if endpoint.known {
                format!(" (as `{}` names it)", endpoint.path)
            } else {
                " (or `mchid` / `combine_mch_id`, as the endpoint names it)".to_owned()
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v2::endpoint;

    fn key() -> Apiv2Key {
        Apiv2Key::new("exposed_your_key_here_have_risks").unwrap()
    }

    #[test]
    fn nonce_is_added_unless_given_or_nonceless() {
        let fields: Fields = [("mch_id", "1")].into_iter().collect();
        let signed = sign_request(&endpoint("pay/micropay"), fields.clone(), &key(), None).unwrap();
        assert_eq!(signed.get("nonce_str").map(str::len), Some(32));

        let signed = sign_request(&endpoint("pay/queryexchagerate"), fields, &key(), None).unwrap();
        assert!(!signed.contains("nonce_str"));
    }

    #[test]
    fn a_given_sign_is_replaced_and_moved_last() {
        let fields: Fields = [("sign", "stale"), ("mch_id", "1"), ("nonce_str", "n")]
            .into_iter()
            .collect();
        let signed = sign_request(&endpoint("pay/micropay"), fields, &key(), Some("1")).unwrap();
        let names: Vec<&str> = signed.iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["mch_id", "nonce_str", "sign"]);
        assert_ne!(signed.get("sign"), Some("stale"));
    }

    #[test]
    fn the_merchant_field_the_endpoint_uses_is_named() {
        let fields: Fields = [("amount", "1")].into_iter().collect();
        let error = sign_request(
            &endpoint("mmpaymkttransfers/promotion/transfers"),
            fields.clone(),
            &key(),
            Some("1900000109"),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("\"mchid\": \"1900000109\""),
            "{error}"
        );
        let ok: Fields = [("mchid", "1900000109")].into_iter().collect();
        assert!(sign_request(
            &endpoint("mmpaymkttransfers/promotion/transfers"),
            ok,
            &key(),
            Some("1900000109")
        )
        .is_ok());
        let combined: Fields = [("combine_mch_id", "1900000109")].into_iter().collect();
        assert!(sign_request(
            &endpoint("pay/combinedorder"),
            combined,
            &key(),
            Some("1900000109")
        )
        .is_ok());
    }

    #[test]
    fn an_unknown_sign_type_is_refused() {
        let fields: Fields = [("mch_id", "1"), ("sign_type", "SHA1")]
            .into_iter()
            .collect();
        let error = sign_request(&endpoint("pay/micropay"), fields, &key(), None).unwrap_err();
        assert!(error.to_string().contains("SHA1"));
    }
}
