//! APIv2 notifications: payment results (signed) and refund results (encrypted).
//!
//! The platform POSTs `<xml>` to the order's `notify_url` and expects `<xml>` back:
//! [`ack`] when the notification was handled, [`nack`] otherwise (it then retries at
//! 15 s, 15 s, 30 s, 3 min, 10 min, … up to 24 h).
//!
//! - A **payment** notification is signed like an answer: [`payment_notification`] checks
//!   the `sign` (MD5 or HMAC-SHA256, as the order was placed) with the APIv2 key.
//! - A **refund** notification is not signed. Its details are in `req_info`, encrypted with
//!   AES-256-ECB under the lowercase hex MD5 of the APIv2 key (PKCS#7, base64):
//!   [`refund_notification`] opens it. ECB authenticates nothing: a block-shuffled
//!   ciphertext can still decrypt to well-formed XML, so confirm the refund with
//!   `pay/refundquery` before acting on money.

use std::fmt;

use aes::Aes256;
use base64::Engine as _;
use ecb::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyInit};
use http::header::{HeaderValue, CONTENT_TYPE};
use serde_json::{Map, Value};

use super::answer::{check, Apiv2Failure};
use super::sign::{refund_key, verify_map};
use super::{xml, Apiv2Key, SignType};
use crate::error::Error;

/// The acknowledgement body, exactly as the platform documents it.
pub const ACK_XML: &str =
    "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>";

/// The answer to a notification that was handled: HTTP 200, `text/xml`, [`ACK_XML`].
///
/// ```
/// let answer = wechatpay::v2::notify::ack();
/// assert_eq!(answer.status(), 200);
/// assert_eq!(answer.headers()["content-type"], "text/xml; charset=utf-8");
/// assert_eq!(answer.body(), wechatpay::v2::notify::ACK_XML.as_bytes());
/// ```
pub fn ack() -> http::Response<Vec<u8>> {
    xml_response(ACK_XML.as_bytes().to_vec())
}

/// The answer to a notification that was not handled: HTTP 200 with `return_code` `FAIL`
/// and `message` as `return_msg` (the documented form; the platform sends the notification
/// again later).
///
/// ```
/// let answer = wechatpay::v2::notify::nack("database unavailable");
/// assert_eq!(
///     answer.body(),
///     b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[database unavailable]]></return_msg></xml>",
/// );
/// ```
pub fn nack(message: &str) -> http::Response<Vec<u8>> {
    let mut body = String::from("<xml><return_code><![CDATA[FAIL]]></return_code><return_msg>");
    // Characters XML cannot carry are dropped: a nack must always be sendable.
    let message: String = message
        .chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r') || c >= ' ')
        .collect();
    xml::write_cdata(&mut body, &message);
    body.push_str("</return_msg></xml>");
    xml_response(body.into_bytes())
}

fn xml_response(body: Vec<u8>) -> http::Response<Vec<u8>> {
    let mut response = http::Response::new(body);
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/xml; charset=utf-8"),
    );
    response
}

/// A verified payment notification.
///
/// `Debug` shows the field names, not their values.
#[derive(Clone)]
pub struct PaymentNotification {
    fields: Map<String, Value>,
    sign_type: SignType,
}

impl PaymentNotification {
    /// All fields (`out_trade_no`, `transaction_id`, `total_fee`, `result_code`, …).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// One field's text.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(Value::as_str)
    }

    /// The algorithm the notification was signed with.
    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }

    /// Whether the payment succeeded: `result_code` `SUCCESS`. A signed notification with
    /// `result_code` `FAIL` reports a failed payment; acknowledge it all the same.
    ///
    /// # Errors
    ///
    /// The [`Apiv2Failure`] with `err_code`/`err_code_des` of a failed payment.
    pub fn result(&self) -> Result<(), Box<Apiv2Failure>> {
        check(&self.fields)
    }

    /// The fields, owned.
    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }
}

impl fmt::Debug for PaymentNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentNotification")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("sign_type", &self.sign_type)
            .finish()
    }
}

/// Reads and verifies a payment notification (the body the platform POSTed).
///
/// ```
/// use wechatpay::v2::{notify, sign, Apiv2Key, SignType};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let mut fields = vec![
///     ("return_code", "SUCCESS"), ("result_code", "SUCCESS"), ("sign_type", "HMAC-SHA256"),
///     ("out_trade_no", "1409811653"), ("total_fee", "1"),
/// ];
/// let mac = sign::sign(fields.iter().copied(), &key, SignType::HmacSha256);
/// fields.push(("sign", &mac));
/// let body = wechatpay::v2::xml::encode(fields.iter().copied())?;
///
/// let paid = notify::payment_notification(body.as_bytes(), &key)?;
/// assert_eq!(paid.get("out_trade_no"), Some("1409811653"));
/// assert!(paid.result().is_ok());
/// assert_eq!(paid.sign_type(), SignType::HmacSha256);
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Decode`] if the body is not APIv2 XML or says `return_code` `FAIL` (such a
/// notification carries no sign and nothing to act on); [`Error::Verification`] if the
/// `sign` is missing or wrong.
pub fn payment_notification(body: &[u8], key: &Apiv2Key) -> Result<PaymentNotification, Error> {
    let fields = xml::decode(body)?;
    refuse_return_fail(&fields)?;
    let sign_type = verify_map(&fields, key)?;
    Ok(PaymentNotification { fields, sign_type })
}

fn refuse_return_fail(fields: &Map<String, Value>) -> Result<(), Error> {
    match fields.get("return_code").and_then(Value::as_str) {
        Some("SUCCESS") => Ok(()),
        other => Err(Error::decode(
            format!(
                "the notification's return_code is {}{}; it carries nothing to act on",
                other.map_or("absent".to_owned(), |c| format!("`{c}`")),
                fields
                    .get("return_msg")
                    .and_then(Value::as_str)
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
            None,
        )),
    }
}

/// A refund notification with its `req_info` decrypted.
///
/// `Debug` shows the field names, not their values.
#[derive(Clone)]
pub struct RefundNotification {
    fields: Map<String, Value>,
    info: Map<String, Value>,
}

impl RefundNotification {
    /// The outer fields: `return_code`, `appid`, `mch_id`, `nonce_str` (and the
    /// sub-merchant's in service-provider mode); `req_info` is taken out.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The decrypted details: `transaction_id`, `out_trade_no`, `refund_id`,
    /// `out_refund_no`, `total_fee`, `refund_fee`, `refund_status`, `success_time`, …
    pub fn info(&self) -> &Map<String, Value> {
        &self.info
    }

    /// One detail's text, e.g. `info_field("refund_status")`.
    pub fn info_field(&self, name: &str) -> Option<&str> {
        self.info.get(name).and_then(Value::as_str)
    }
}

impl fmt::Debug for RefundNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefundNotification")
            .field("fields", &self.fields.keys().collect::<Vec<_>>())
            .field("info", &self.info.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Reads a refund notification and decrypts its `req_info`.
///
/// ```
/// use wechatpay::v2::{notify, Apiv2Key};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let req_info = notify::encrypt_req_info(
///     "<root><out_refund_no>1217752501201407033233368018</out_refund_no>\
///      <refund_status>SUCCESS</refund_status></root>",
///     &key,
/// );
/// let body = format!(
///     "<xml><return_code>SUCCESS</return_code><mch_id>1900000109</mch_id>\
///      <req_info><![CDATA[{req_info}]]></req_info></xml>"
/// );
/// let refund = notify::refund_notification(body.as_bytes(), &key)?;
/// assert_eq!(refund.info_field("refund_status"), Some("SUCCESS"));
/// assert_eq!(refund.fields()["mch_id"], "1900000109");
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Decode`] if the body is not APIv2 XML, says `return_code` `FAIL`, or has no
/// `req_info`; the errors of [`decrypt_req_info`].
pub fn refund_notification(body: &[u8], key: &Apiv2Key) -> Result<RefundNotification, Error> {
    let mut fields = xml::decode(body)?;
    refuse_return_fail(&fields)?;
    let req_info = match fields.remove("req_info") {
        Some(Value::String(text)) => text,
        _ => {
            return Err(Error::decode(
                "the refund notification has no `req_info` text",
                None,
            ))
        }
    };
    let info = decrypt_req_info(&req_info, key)?;
    Ok(RefundNotification { fields, info })
}

/// Decrypts a refund notification's `req_info` and reads the `<root>` document inside.
///
/// # Errors
///
/// [`Error::Decode`] for base64 that is not base64, a ciphertext that is not whole AES
/// blocks, or a plaintext that is not APIv2 XML; [`Error::Crypto`] if the padding is
/// wrong (the usual sign of another APIv2 key).
pub fn decrypt_req_info(req_info: &str, key: &Apiv2Key) -> Result<Map<String, Value>, Error> {
    let plaintext = open_req_info(req_info, key)?;
    xml::decode(&plaintext).map_err(|e| e.context("the decrypted req_info"))
}

/// Decrypts `req_info` to its raw bytes (the `<root>…</root>` XML).
///
/// # Errors
///
/// As [`decrypt_req_info`], except for reading the XML.
pub fn open_req_info(req_info: &str, key: &Apiv2Key) -> Result<Vec<u8>, Error> {
    let compact: String = req_info
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| Error::decode("req_info is not base64", Some(Box::new(e))))?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(Error::decode(
            format!(
                "req_info decodes to {} bytes, not a whole number of 16-byte AES blocks",
                ciphertext.len()
            ),
            None,
        ));
    }
    let aes_key = refund_key(key);
    ecb::Decryptor::<Aes256>::new_from_slice(&aes_key)
        .map_err(|_| Error::crypto("AES-256 rejected the derived key"))?
        .decrypt_padded_vec_mut::<Pkcs7>(&ciphertext)
        .map_err(|_| {
            Error::crypto(
                "req_info does not decrypt (bad PKCS#7 padding): it was encrypted under another \
                 APIv2 key, or altered",
            )
        })
}

/// Encrypts `plaintext` as the platform encrypts `req_info` (AES-256-ECB under the lowercase
/// hex MD5 of the APIv2 key, PKCS#7, standard base64). For tests and the sandbox.
pub fn encrypt_req_info(plaintext: &str, key: &Apiv2Key) -> String {
    let aes_key = refund_key(key);
    let ciphertext = ecb::Encryptor::<Aes256>::new(&aes_key.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plaintext.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(ciphertext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nack_drops_characters_xml_cannot_carry_and_splits_cdata_ends() {
        let answer = nack("a\u{0}b]]>c");
        assert_eq!(
            answer.body(),
            b"<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[ab]]]]><![CDATA[>c]]></return_msg></xml>"
        );
        assert!(xml::decode(answer.body()).is_ok());
    }

    #[test]
    fn a_wrong_key_or_length_fails_cleanly() {
        let key = Apiv2Key::new("exposed_your_key_here_have_risks").unwrap();
        let other = Apiv2Key::new("another_key_0123456789abcdefghij").unwrap();
        let sealed = encrypt_req_info("<root><a>1</a></root>", &key);
        assert_eq!(decrypt_req_info(&sealed, &key).unwrap()["a"], "1");
        assert!(decrypt_req_info(&sealed, &other).is_err());
        assert!(open_req_info("AAAA", &key).is_err());
        assert!(open_req_info("not base64!", &key).is_err());
        assert!(open_req_info("", &key).is_err());
    }
}
