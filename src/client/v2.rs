//! The client's APIv2 helpers: notifications and pay-sign with its APIv2 key and its one
//! clock. Calls themselves go through the chain (`wxpay.chain("v2/pay/micropay")`).

use super::Wechatpay;
use crate::error::Error;
use crate::v2::notify::{payment_notification, refund_notification};
use crate::v2::paysign::{self, AppPayParams, JsapiPayParams};
use crate::v2::{Apiv2Key, MerchantIdentity, PaymentNotification, RefundNotification, SignType};

impl Wechatpay {
    /// The merchant certificate APIv2 calls present for mutual TLS, if configured
    /// ([`WechatpayBuilder::merchant_identity`](crate::WechatpayBuilder::merchant_identity)).
    pub fn merchant_identity(&self) -> Option<&MerchantIdentity> {
        self.inner.pipeline.apiv2.identity.as_ref()
    }

    fn apiv2_key(&self, what: &str) -> Result<&Apiv2Key, Error> {
        self.inner.pipeline.apiv2.key(what)
    }

    /// Reads and verifies an APIv2 payment notification (the XML the platform POSTed to
    /// the order's `notify_url`) with the client's APIv2 key: the `sign`, MD5 or
    /// HMAC-SHA256 as the order was placed, in constant time. Answer the platform with
    /// [`v2::notify::ack`](crate::v2::notify::ack) once handled, or
    /// [`v2::notify::nack`](crate::v2::notify::nack).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// use serde_json::json;
    /// use wechatpay::sandbox;
    ///
    /// let wxpay = sandbox::offline_client()?;
    /// let body = sandbox::v2::payment_notification(json!({
    ///     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "out_trade_no": "1415757673",
    ///     "transaction_id": "4200000001", "total_fee": 1, "result_code": "SUCCESS",
    /// }))?;
    /// let paid = wxpay.v2_notification(body.as_bytes())?;
    /// assert_eq!(paid.get("transaction_id"), Some("4200000001"));
    /// assert!(paid.result().is_ok());
    /// let answer = wechatpay::v2::notify::ack(); // 200, <xml><return_code>SUCCESS…
    /// # let _ = answer;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an APIv2 key; [`Error::Verification`] if the `sign` is
    /// missing or wrong; [`Error::Decode`] for a body that is not APIv2 XML or says
    /// `return_code` `FAIL`.
    pub fn v2_notification(&self, body: &[u8]) -> Result<PaymentNotification, Error> {
        let key = self.apiv2_key("reading an APIv2 notification")?;
        payment_notification(body, key).inspect_err(|error| {
            if error.is_verification() {
                tracing::warn!("wechatpay: an APIv2 notification failed sign verification");
            }
        })
    }

    /// Reads an APIv2 refund notification and decrypts its `req_info` (AES-256-ECB under
    /// the MD5 of the client's APIv2 key). ECB authenticates nothing: confirm the refund
    /// with `v2/pay/refundquery` before acting on money.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use serde_json::json;
    ///
    /// let body = wechatpay::sandbox::v2::refund_notification(json!({
    ///     "out_refund_no": "1415701182", "refund_status": "SUCCESS", "refund_fee": 1,
    /// }))?;
    /// let refund = wxpay.v2_refund_notification(body.as_bytes())?;
    /// assert_eq!(refund.info_field("refund_status"), Some("SUCCESS"));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an APIv2 key; [`Error::Decode`] for a body that is not
    /// APIv2 XML, says `return_code` `FAIL` or has no `req_info`; [`Error::Crypto`] if
    /// `req_info` does not decrypt with this key.
    pub fn v2_refund_notification(&self, body: &[u8]) -> Result<RefundNotification, Error> {
        let key = self.apiv2_key("reading an APIv2 refund notification")?;
        refund_notification(body, key)
    }

    /// APIv2 JSAPI / mini-program parameters for `prepay_id` (from `v2/pay/unifiedorder`),
    /// signed with the APIv2 key (`sign_type` as the order was placed), at the time of the
    /// client's [clock](crate::WechatpayBuilder::clock) with a fresh nonce.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use wechatpay::v2::SignType;
    ///
    /// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_554_208_460);
    /// let wxpay = wechatpay::sandbox::offline_client_builder()?.clock(wechatpay::Clock::fixed(then)).build()?;
    /// let params = wxpay.jsapi_pay_params_v2("wxd678efh567hg6787", "wx201410272009395522657a690389285100", SignType::HmacSha256)?;
    /// assert_eq!(params.time_stamp, "1554208460");
    /// assert_eq!(params.sign_type, "HMAC-SHA256");
    /// assert!(params.verify(&wechatpay::v2::Apiv2Key::new(wechatpay::sandbox::APIV2_KEY)?));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an APIv2 key; [`Error::Request`] if the clock reads before
    /// 1970; [`Error::Crypto`] if the random source fails.
    pub fn jsapi_pay_params_v2(
        &self,
        app_id: &str,
        prepay_id: &str,
        sign_type: SignType,
    ) -> Result<JsapiPayParams, Error> {
        let key = self.apiv2_key("APIv2 pay-sign")?;
        let (now, nonce) = self.v2_now_and_nonce()?;
        Ok(paysign::jsapi_at(
            key, app_id, prepay_id, sign_type, now, &nonce,
        ))
    }

    /// APIv2 APP parameters (`PayReq`) for `prepay_id`, signed with the APIv2 key, with the
    /// client's merchant id as `partnerid`, at the time of the client's clock.
    ///
    /// ```
    /// # let wxpay = wechatpay::sandbox::offline_client()?;
    /// use wechatpay::v2::{Apiv2Key, SignType};
    ///
    /// let params = wxpay.app_pay_params_v2("wxd678efh567hg6787", "WX1217752501201407033233368018", SignType::Md5)?;
    /// assert_eq!(params.partnerid, "1900000001");
    /// assert!(params.verify(&Apiv2Key::new(wechatpay::sandbox::APIV2_KEY)?, SignType::Md5));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`jsapi_pay_params_v2`](Self::jsapi_pay_params_v2).
    pub fn app_pay_params_v2(
        &self,
        app_id: &str,
        prepay_id: &str,
        sign_type: SignType,
    ) -> Result<AppPayParams, Error> {
        let key = self.apiv2_key("APIv2 pay-sign")?;
        let (now, nonce) = self.v2_now_and_nonce()?;
        Ok(paysign::app_at(
            key,
            app_id,
            self.mchid(),
            prepay_id,
            sign_type,
            now,
            &nonce,
        ))
    }

    fn v2_now_and_nonce(&self) -> Result<(u64, String), Error> {
        let now = self.clock().unix_seconds();
        let now = u64::try_from(now).map_err(|_| {
            Error::request(format!(
                "the clock reads {now}, before 1970: pay-sign parameters cannot be signed"
            ))
        })?;
        Ok((now, crate::v2::sign::nonce_str()?))
    }
}
