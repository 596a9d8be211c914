//! Pay-sign: the signed parameter sets a client app hands to WeChat to open the payment.
//!
//! After the server places an order and gets a `prepay_id`, the page, mini-program or app
//! calls WeChat with parameters signed by the merchant key (RSA PKCS#1 v1.5, SHA-256,
//! standard base64):
//!
//! | client | call | signed message | struct |
//! |---|---|---|---|
//! | JSAPI (Official Account page), mini-program | `WeixinJSBridge.invoke('getBrandWCPayRequest', …)`, `wx.requestPayment(…)` | `appId\ntimeStamp\nnonceStr\npackage\n` with `package=prepay_id=…` | [`JsapiPayParams`] |
//! | APP | OpenSDK `PayReq` | `appid\ntimestamp\nnoncestr\nprepayid\n` | [`AppPayParams`] |
//!
//! Both structs serialize (serde) with exactly the field names the client SDKs expect, so
//! the server can return them as JSON as they are. Timestamps are Unix seconds as strings.
//!
//! ```
//! # let wxpay = wechatpay::sandbox::offline_client()?;
//! let params = wxpay.jsapi_pay_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
//! let json = serde_json::to_value(&params)?;
//! assert_eq!(json["package"], "prepay_id=wx201410272009395522657a690389285100");
//! assert_eq!(json["signType"], "RSA");
//! assert!(json["paySign"].as_str().is_some());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::client::Wechatpay;
use crate::crypto::{random_nonce, PrivateKey, PublicKey};
use crate::error::Error;

/// The parameters of a JSAPI or mini-program payment (`getBrandWCPayRequest`,
/// `wx.requestPayment`), with the JS field names: `appId`, `timeStamp`, `nonceStr`,
/// `package`, `signType`, `paySign`.
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client()?;
/// let params = wxpay.jsapi_pay_params_at(
///     "wxd678efh567hg6787", "wx201410272009395522657a690389285100",
///     1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242")?;
/// assert_eq!(params.message(),
///     "wxd678efh567hg6787\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\
///      prepay_id=wx201410272009395522657a690389285100\n");
/// assert!(params.verify(wxpay.private_key().public_key()));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiPayParams {
    /// The AppID the order was placed for (公众号 or 小程序).
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Unix seconds, as a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// A random string (32 characters of `[0-9A-Za-z]`).
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=<prepay_id>`.
    pub package: String,
    /// Always `RSA` for APIv3.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// The signature, standard base64.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

impl JsapiPayParams {
    /// The signed message, `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn message(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.app_id, self.time_stamp, self.nonce_str, self.package
        )
    }

    /// Whether `pay_sign` is the signature of [`message`](Self::message) by the merchant
    /// key whose public half is `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        verify(key, &self.message(), &self.pay_sign)
    }
}

/// The parameters of an APP payment (OpenSDK `PayReq`), with the SDK's field names:
/// `appid`, `partnerid`, `prepayid`, `package` (`Sign=WXPay`), `noncestr`, `timestamp`,
/// `sign`.
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client()?;
/// let params = wxpay.app_pay_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
/// assert_eq!(params.partnerid, wxpay.mchid());
/// assert_eq!(params.package, "Sign=WXPay");
/// assert!(params.verify(wxpay.private_key().public_key()));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppPayParams {
    /// The mobile application's AppID.
    pub appid: String,
    /// The merchant id (the sub-merchant's, for a service provider's sub-merchant).
    pub partnerid: String,
    /// The prepay id, without a `prepay_id=` prefix.
    pub prepayid: String,
    /// Always `Sign=WXPay`.
    pub package: String,
    /// A random string (32 characters of `[0-9A-Za-z]`).
    pub noncestr: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// The signature, standard base64.
    pub sign: String,
}

impl AppPayParams {
    /// The signed message, `appid\ntimestamp\nnoncestr\nprepayid\n`.
    pub fn message(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n",
            self.appid, self.timestamp, self.noncestr, self.prepayid
        )
    }

    /// Whether `sign` is the signature of [`message`](Self::message) by the merchant key
    /// whose public half is `key`.
    pub fn verify(&self, key: &PublicKey) -> bool {
        verify(key, &self.message(), &self.sign)
    }
}

fn verify(key: &PublicKey, message: &str, signature: &str) -> bool {
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, signature)
        .is_ok_and(|raw| key.verify(message.as_bytes(), &raw))
}

/// Signs JSAPI / mini-program parameters with `key` (for callers without a
/// [`Wechatpay`], e.g. a service that only holds the merchant key).
///
/// ```
/// use wechatpay::{paysign, sandbox, PrivateKey};
///
/// let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
/// let params = paysign::jsapi(&key, "wxd678efh567hg6787", "wx2014", 1554208460, "nonce")?;
/// assert_eq!(params.package, "prepay_id=wx2014");
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Crypto`] if signing fails (it does not for a valid key).
pub fn jsapi(
    key: &PrivateKey,
    app_id: &str,
    prepay_id: &str,
    timestamp: u64,
    nonce: &str,
) -> Result<JsapiPayParams, Error> {
    let mut params = JsapiPayParams {
        app_id: app_id.to_owned(),
        time_stamp: timestamp.to_string(),
        nonce_str: nonce.to_owned(),
        package: format!("prepay_id={prepay_id}"),
        sign_type: "RSA".to_owned(),
        pay_sign: String::new(),
    };
    params.pay_sign = key.sign(params.message().as_bytes())?;
    Ok(params)
}

/// Signs APP parameters with `key`; `partner_id` is the merchant id (the sub-merchant's
/// in service-provider mode).
///
/// ```
/// use wechatpay::{paysign, sandbox, PrivateKey};
///
/// let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
/// let params = paysign::app(&key, "wxd678efh567hg6787", "1900000109", "wx2014", 1554208460, "nonce")?;
/// assert_eq!(params.partnerid, "1900000109");
/// assert!(params.verify(key.public_key()));
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Crypto`] if signing fails (it does not for a valid key).
pub fn app(
    key: &PrivateKey,
    app_id: &str,
    partner_id: &str,
    prepay_id: &str,
    timestamp: u64,
    nonce: &str,
) -> Result<AppPayParams, Error> {
    let mut params = AppPayParams {
        appid: app_id.to_owned(),
        partnerid: partner_id.to_owned(),
        prepayid: prepay_id.to_owned(),
        package: "Sign=WXPay".to_owned(),
        noncestr: nonce.to_owned(),
        timestamp: timestamp.to_string(),
        sign: String::new(),
    };
    params.sign = key.sign(params.message().as_bytes())?;
    Ok(params)
}

impl Wechatpay {
    /// The client clock's time and a fresh nonce: the defaults of pay-sign parameters.
    fn now_and_nonce(&self) -> Result<(u64, String), Error> {
        let now = self.clock().unix_seconds();
        let now = u64::try_from(now).map_err(|_| {
            Error::request(format!(
                "the clock reads {now}, before 1970: pay-sign parameters cannot be signed"
            ))
        })?;
        Ok((now, random_nonce(32)?))
    }

    /// JSAPI / mini-program payment parameters for `prepay_id`, signed by the merchant
    /// key, with the time of the client's [clock](crate::WechatpayBuilder::clock) and a
    /// fresh 32-character nonce.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let params = wxpay.jsapi_pay_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(params.sign_type, "RSA");
    /// assert_eq!(params.nonce_str.len(), 32);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the random source or signing fails.
    pub fn jsapi_pay_params(&self, app_id: &str, prepay_id: &str) -> Result<JsapiPayParams, Error> {
        let (now, nonce) = self.now_and_nonce()?;
        jsapi(self.private_key(), app_id, prepay_id, now, &nonce)
    }

    /// [`jsapi_pay_params`](Self::jsapi_pay_params) with a fixed timestamp and nonce (for
    /// tests and replays).
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let a = wxpay.jsapi_pay_params_with("wxd678efh567hg6787", "wx2014", 1554208460, "n")?;
    /// let b = wxpay.jsapi_pay_params_with("wxd678efh567hg6787", "wx2014", 1554208460, "n")?;
    /// assert_eq!(a, b); // PKCS#1 v1.5 is deterministic
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if signing fails.
    pub fn jsapi_pay_params_with(
        &self,
        app_id: &str,
        prepay_id: &str,
        timestamp: u64,
        nonce: &str,
    ) -> Result<JsapiPayParams, Error> {
        jsapi(self.private_key(), app_id, prepay_id, timestamp, nonce)
    }

    /// The former name of [`jsapi_pay_params_with`](Self::jsapi_pay_params_with) (`_at`
    /// now always means "at this `SystemTime`").
    ///
    /// # Errors
    ///
    /// As [`jsapi_pay_params_with`](Self::jsapi_pay_params_with).
    #[doc(hidden)]
    #[deprecated(note = "renamed to jsapi_pay_params_with")]
    pub fn jsapi_pay_params_at(
        &self,
        app_id: &str,
        prepay_id: &str,
        timestamp: u64,
        nonce: &str,
    ) -> Result<JsapiPayParams, Error> {
        self.jsapi_pay_params_with(app_id, prepay_id, timestamp, nonce)
    }

    /// APP payment parameters for `prepay_id`, signed by the merchant key, with this
    /// client's merchant id as `partnerid`, the current time and a fresh nonce.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let params = wxpay.app_pay_params("wxd678efh567hg6787", "wx201410272009395522657a690389285100")?;
    /// assert_eq!(serde_json::to_value(&params)?["package"], "Sign=WXPay");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the random source or signing fails.
    pub fn app_pay_params(&self, app_id: &str, prepay_id: &str) -> Result<AppPayParams, Error> {
        let (now, nonce) = self.now_and_nonce()?;
        app(
            self.private_key(),
            app_id,
            self.mchid(),
            prepay_id,
            now,
            &nonce,
        )
    }

    /// [`app_pay_params`](Self::app_pay_params) with a fixed timestamp and nonce.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// let params = wxpay.app_pay_params_with("wxd678efh567hg6787", "wx2014", 1554208460, "n")?;
    /// assert_eq!(params.message(), "wxd678efh567hg6787\n1554208460\nn\nwx2014\n");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if signing fails.
    pub fn app_pay_params_with(
        &self,
        app_id: &str,
        prepay_id: &str,
        timestamp: u64,
        nonce: &str,
    ) -> Result<AppPayParams, Error> {
        app(
            self.private_key(),
            app_id,
            self.mchid(),
            prepay_id,
            timestamp,
            nonce,
        )
    }

    /// The former name of [`app_pay_params_with`](Self::app_pay_params_with).
    ///
    /// # Errors
    ///
    /// As [`app_pay_params_with`](Self::app_pay_params_with).
    #[doc(hidden)]
    #[deprecated(note = "renamed to app_pay_params_with")]
    pub fn app_pay_params_at(
        &self,
        app_id: &str,
        prepay_id: &str,
        timestamp: u64,
        nonce: &str,
    ) -> Result<AppPayParams, Error> {
        self.app_pay_params_with(app_id, prepay_id, timestamp, nonce)
    }
}
