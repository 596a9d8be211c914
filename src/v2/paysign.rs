//! APIv2 pay-sign: the parameters a page, mini-program or app hands to WeChat after
//! `pay/unifiedorder`, signed with the APIv2 key.
//!
//! | client | signed fields | sign field | struct |
//! |---|---|---|---|
//! | JSAPI (`WeixinJSBridge` `getBrandWCPayRequest`), mini-program (`wx.requestPayment`) | `appId`, `timeStamp`, `nonceStr`, `package=prepay_id=…`, `signType` | `paySign` | [`JsapiPayParams`] |
//! | APP (OpenSDK `PayReq`) | `appid`, `partnerid`, `prepayid`, `package=Sign=WXPay`, `noncestr`, `timestamp` | `sign` | [`AppPayParams`] |
//!
//! The sign is the APIv2 sign over those fields ([`sign::sign`](super::sign::sign)), with
//! the algorithm the order was placed with (MD5 unless the order said HMAC-SHA256). The
//! structs serialize with the field names the client SDKs expect.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use super::sign::{nonce_str, sign};
use super::{Apiv2Key, SignType};
use crate::error::Error;

/// JSAPI / mini-program parameters, with the JS field names. `Debug` hides the sign.
///
/// ```
/// use wechatpay::v2::{paysign, Apiv2Key, SignType};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let params = paysign::jsapi_at(&key, "wxd678efh567hg6787", "wx201410272009395522657a690389285100",
///     SignType::Md5, 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242");
/// assert_eq!(params.sign_type, "MD5");
/// assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
/// assert!(params.verify(&key));
/// let json = serde_json::to_value(&params)?;
/// assert_eq!(json["paySign"], params.pay_sign.as_str());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPayParams {
    /// The AppID the order was placed for.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Unix seconds, as a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// A random string.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=<prepay_id>`.
    pub package: String,
    /// `MD5` or `HMAC-SHA256`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// The sign, uppercase hex.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

impl JsapiPayParams {
    fn signed_fields(&self) -> [(&str, &str); 5] {
        [
            ("appId", &self.app_id),
            ("timeStamp", &self.time_stamp),
            ("nonceStr", &self.nonce_str),
            ("package", &self.package),
            ("signType", &self.sign_type),
        ]
    }

    /// Whether `pay_sign` is the sign of these parameters under `key` (constant time).
    pub fn verify(&self, key: &Apiv2Key) -> bool {
        let Ok(sign_type) = SignType::from_field(Some(&self.sign_type)) else {
            return false;
        };
        let expected = sign(self.signed_fields(), key, sign_type);
        bool::from(expected.as_bytes().ct_eq(self.pay_sign.as_bytes()))
    }
}

/// APP parameters (`PayReq`), with the OpenSDK field names. `Debug` hides the sign.
///
/// ```
/// use wechatpay::v2::{paysign, Apiv2Key, SignType};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let params = paysign::app_at(&key, "wxd678efh567hg6787", "1900000109", "WX1217752501201407033233368018",
///     SignType::Md5, 1554208460, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS");
/// assert_eq!(params.package, "Sign=WXPay");
/// assert!(params.verify(&key, SignType::Md5));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPayParams {
    /// The app's AppID.
    pub appid: String,
    /// The merchant id (the sub-merchant's in service-provider mode).
    pub partnerid: String,
    /// The `prepay_id` of the order.
    pub prepayid: String,
    /// Always `Sign=WXPay`.
    pub package: String,
    /// A random string.
    pub noncestr: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// The sign, uppercase hex.
    pub sign: String,
}

impl AppPayParams {
    fn signed_fields(&self) -> [(&str, &str); 6] {
        [
            ("appid", &self.appid),
            ("partnerid", &self.partnerid),
            ("prepayid", &self.prepayid),
            ("package", &self.package),
            ("noncestr", &self.noncestr),
            ("timestamp", &self.timestamp),
        ]
    }

    /// Whether `sign` is the `sign_type` sign of these parameters under `key` (constant
    /// time; APP parameters do not name their algorithm).
    pub fn verify(&self, key: &Apiv2Key, sign_type: SignType) -> bool {
        let expected = sign(self.signed_fields(), key, sign_type);
        bool::from(expected.as_bytes().ct_eq(self.sign.as_bytes()))
    }
}

impl fmt::Debug for JsapiPayParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsapiPayParams")
            .field("app_id", &self.app_id)
            .field("time_stamp", &self.time_stamp)
            .field("nonce_str", &self.nonce_str)
            .field("package", &self.package)
            .field("sign_type", &self.sign_type)
            .field("pay_sign", &"..")
            .finish()
    }
}

impl fmt::Debug for AppPayParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppPayParams")
            .field("appid", &self.appid)
            .field("partnerid", &self.partnerid)
            .field("prepayid", &self.prepayid)
            .field("package", &self.package)
            .field("noncestr", &self.noncestr)
            .field("timestamp", &self.timestamp)
            .field("sign", &"..")
            .finish()
    }
}

/// JSAPI / mini-program parameters for `prepay_id`, signed now with a fresh nonce.
///
/// # Errors
///
/// [`Error::Crypto`] if the CSPRNG fails.
pub fn jsapi(
    key: &Apiv2Key,
    app_id: &str,
    prepay_id: &str,
    sign_type: SignType,
) -> Result<JsapiPayParams, Error> {
    Ok(jsapi_at(
        key,
        app_id,
        prepay_id,
        sign_type,
        unix_now(),
        &nonce_str()?,
    ))
}

/// [`jsapi`] with a fixed timestamp and nonce.
pub fn jsapi_at(
    key: &Apiv2Key,
    app_id: &str,
    prepay_id: &str,
    sign_type: SignType,
    timestamp: u64,
    nonce: &str,
) -> JsapiPayParams {
    let mut params = JsapiPayParams {
        app_id: app_id.to_owned(),
        time_stamp: timestamp.to_string(),
        nonce_str: nonce.to_owned(),
        package: format!("prepay_id={prepay_id}"),
        sign_type: sign_type.as_str().to_owned(),
        pay_sign: String::new(),
    };
    params.pay_sign = sign(params.signed_fields(), key, sign_type);
    params
}

/// APP parameters for `prepay_id`, signed now with a fresh nonce; `partner_id` is the
/// merchant id.
///
/// # Errors
///
/// [`Error::Crypto`] if the CSPRNG fails.
pub fn app(
    key: &Apiv2Key,
    app_id: &str,
    partner_id: &str,
    prepay_id: &str,
    sign_type: SignType,
) -> Result<AppPayParams, Error> {
    Ok(app_at(
        key,
        app_id,
        partner_id,
        prepay_id,
        sign_type,
        unix_now(),
        &nonce_str()?,
    ))
}

/// [`app`] with a fixed timestamp and nonce.
pub fn app_at(
    key: &Apiv2Key,
    app_id: &str,
    partner_id: &str,
    prepay_id: &str,
    sign_type: SignType,
    timestamp: u64,
    nonce: &str,
) -> AppPayParams {
    let mut params = AppPayParams {
        appid: app_id.to_owned(),
        partnerid: partner_id.to_owned(),
        prepayid: prepay_id.to_owned(),
        package: "Sign=WXPay".to_owned(),
        noncestr: nonce.to_owned(),
        timestamp: timestamp.to_string(),
        sign: String::new(),
    };
    params.sign = sign(params.signed_fields(), key, sign_type);
    params
}

/// Unix seconds from the system clock. (The lead's injected clock replaces this when the
/// pay-sign is wired into the client.)
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
