//! The APIv2 sign: MD5 or HMAC-SHA256 over the sorted fields and the APIv2 key.
//!
//! The platform's rule (pay.weixin.qq.com/wiki/doc/api/jsapi.php?chapter=4_3): take every
//! field except `sign` whose value is not empty, sort by name (byte order), join as
//! `name=value&…`, append `&key=<APIv2 key>`, then MD5 (the default) or HMAC-SHA256 keyed
//! with the APIv2 key, in uppercase hex. Values are used as they are: no URL-encoding.

use std::fmt;
use std::sync::Arc;

use md5::{Digest as _, Md5};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq as _;

use super::Fields;
use crate::error::{Error, VerificationFailure};

/// The merchant's APIv2 key (32 characters, set on the merchant platform under
/// "API安全"), which signs every APIv2 request and answer and, through its MD5, encrypts
/// refund notifications.
///
/// `Debug` prints `Apiv2Key(..)`: the key never appears in logs or errors.
///
/// ```
/// use wechatpay::v2::Apiv2Key;
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// assert_eq!(format!("{key:?}"), "Apiv2Key(..)");
/// assert!(Apiv2Key::new("too short").is_err());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Apiv2Key {
    key: Arc<str>,
}

impl Apiv2Key {
    /// Takes the key as the merchant platform shows it: 32 printable ASCII characters.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if it is not 32 printable ASCII characters (the message gives the
    /// length found, never the key).
    pub fn new(key: &str) -> Result<Apiv2Key, Error> {
        if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::config(format!(
                "the APIv2 key must be 32 printable ASCII characters (as the merchant platform \
                 shows it), this one has {} bytes{}",
                key.len(),
                if key.bytes().all(|b| b.is_ascii_graphic()) {
                    ""
                } else {
                    " and spaces or non-ASCII characters"
                }
            )));
        }
        Ok(Apiv2Key { key: key.into() })
    }

    pub(crate) fn expose(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for Apiv2Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Apiv2Key(..)")
    }
}

/// The `sign_type` of an APIv2 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SignType {
    /// `MD5`, the default when `sign_type` is absent.
    #[default]
    Md5,
    /// `HMAC-SHA256`.
    HmacSha256,
}

impl SignType {
    /// The `sign_type` value: `MD5` or `HMAC-SHA256`.
    pub fn as_str(self) -> &'static str {
        match self {
            SignType::Md5 => "MD5",
            SignType::HmacSha256 => "HMAC-SHA256",
        }
    }

    /// The type a message's `sign_type` field names; absent or empty means MD5.
    ///
    /// ```
    /// use wechatpay::v2::SignType;
    ///
    /// assert_eq!(SignType::from_field(None)?, SignType::Md5);
    /// assert_eq!(SignType::from_field(Some("HMAC-SHA256"))?, SignType::HmacSha256);
    /// assert!(SignType::from_field(Some("SHA1")).is_err());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Request`] for any other value.
    pub fn from_field(value: Option<&str>) -> Result<SignType, Error> {
        match value {
            None | Some("") | Some("MD5") => Ok(SignType::Md5),
            Some("HMAC-SHA256") => Ok(SignType::HmacSha256),
            Some(other) => Err(Error::request(format!(
                "`sign_type` is `{other}`; APIv2 knows `MD5` (the default) and `HMAC-SHA256`"
            ))),
        }
    }

    /// The type of a received `sign`, by its length as the platform and both SDKs decide:
    /// 64 hex digits are HMAC-SHA256, anything else is taken as MD5 (32).
    pub fn of_sign(sign: &str) -> SignType {
        if sign.len() == 64 {
            SignType::HmacSha256
        } else {
            SignType::Md5
        }
    }
}

impl fmt::Display for SignType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The string that is signed, without the key: the non-empty fields except `sign`, sorted
/// by name, as `name=value&…`.
///
/// ```
/// let fields = [("mch_id", "10000100"), ("body", "test"), ("attach", ""), ("sign", "X"), ("appid", "wxd930ea5d5a258f4f")];
/// assert_eq!(
///     wechatpay::v2::sign::signing_string(fields),
///     "appid=wxd930ea5d5a258f4f&body=test&mch_id=10000100",
/// );
/// ```
pub fn signing_string<'a, I>(fields: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<(&str, &str)> = fields
        .into_iter()
        .filter(|(name, value)| *name != "sign" && !value.is_empty())
        .collect();
    pairs.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut out = String::new();
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// The sign of `fields` with `key`: uppercase hex of MD5 or HMAC-SHA256 over
/// [`signing_string`] `+ "&key=" + key`.
///
/// ```
/// use wechatpay::v2::{sign, Apiv2Key, SignType};
///
/// // The example of the platform's signing guide.
/// let key = Apiv2Key::new("192006250b4c09247ec02edce69f6a2d")?;
/// let fields = [
///     ("appid", "wxd930ea5d5a258f4f"), ("mch_id", "10000100"), ("device_info", "1000"),
///     ("body", "test"), ("nonce_str", "ibuaiVcKdpRxkhJA"),
/// ];
/// assert_eq!(sign::sign(fields, &key, SignType::Md5), "9A0A8659F005D6984697E2CA0A9CF3B7");
/// assert_eq!(
///     sign::sign(fields, &key, SignType::HmacSha256),
///     "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6",
/// );
/// # Ok::<(), wechatpay::Error>(())
/// ```
pub fn sign<'a, I>(fields: I, key: &Apiv2Key, sign_type: SignType) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut message = signing_string(fields);
    message.push_str("&key=");
    message.push_str(key.expose());
    let digest = digest(message.as_bytes(), key, sign_type);
    upper_hex(&digest)
}

fn digest(message: &[u8], key: &Apiv2Key, sign_type: SignType) -> Vec<u8> {
    match sign_type {
        SignType::Md5 => Md5::digest(message).to_vec(),
        SignType::HmacSha256 => {
            let hmac_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.expose().as_bytes());
            ring::hmac::sign(&hmac_key, message).as_ref().to_vec()
        }
    }
}

pub(crate) fn upper_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 15)]));
    }
    out
}

/// Checks a received message's `sign` in constant time and returns the algorithm it used.
///
/// The algorithm is the one the message's `sign_type` names if it has one, else the one
/// the sign's length says ([`SignType::of_sign`]), as the platform does. A `sign` in
/// lowercase hex is accepted.
///
/// ```
/// use wechatpay::v2::{sign, Apiv2Key, SignType};
///
/// let key = Apiv2Key::new("exposed_your_key_here_have_risks")?;
/// let mut fields = vec![("return_code", "SUCCESS"), ("out_trade_no", "1217752501201407033233368018")];
/// let mac = sign::sign(fields.iter().copied(), &key, SignType::HmacSha256);
/// fields.push(("sign", &mac));
/// assert_eq!(sign::verify(fields.iter().copied(), &key)?, SignType::HmacSha256);
///
/// fields[1].1 = "1217752501201407033233368019";
/// assert!(sign::verify(fields.iter().copied(), &key).unwrap_err().is_verification());
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Verification`] with [`VerificationFailure::BadSignature`] if there is no `sign`,
/// the sign does not match, or `sign_type` is neither `MD5` nor `HMAC-SHA256`.
pub fn verify<'a, I>(fields: I, key: &Apiv2Key) -> Result<SignType, Error>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let fields: Vec<(&str, &str)> = fields.into_iter().collect();
    let find = |wanted: &str| {
        fields
            .iter()
            .find(|(name, _)| *name == wanted)
            .map(|(_, v)| *v)
    };
    let received = find("sign")
        .filter(|s| !s.is_empty())
        .ok_or_else(bad_sign)?;
    let sign_type = match find("sign_type").filter(|s| !s.is_empty()) {
        Some(named) => SignType::from_field(Some(named)).map_err(|_| bad_sign())?,
        None => SignType::of_sign(received),
    };
    let expected = sign(fields.iter().copied(), key, sign_type);
    let received = received.to_ascii_uppercase();
    if bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
        Ok(sign_type)
    } else {
        Err(bad_sign())
    }
}

/// [`verify`] for a decoded answer or notification.
///
/// # Errors
///
/// As [`verify`]; also [`Error::Decode`] if a field is a nested element, which APIv2 never
/// signs.
pub fn verify_map(answer: &Map<String, Value>, key: &Apiv2Key) -> Result<SignType, Error> {
    let mut fields = Vec::with_capacity(answer.len());
    for (name, value) in answer {
        match value {
            Value::String(text) => fields.push((name.as_str(), text.as_str())),
            _ => {
                return Err(Error::decode(
                    format!(
                        "the signed answer's field `{name}` is a nested element; \
                         APIv2 signs only flat answers"
                    ),
                    None,
                ))
            }
        }
    }
    verify(fields, key)
}

fn bad_sign() -> Error {
    Error::Verification {
        failure: VerificationFailure::BadSignature,
        response: None,
    }
}

/// A fresh `nonce_str`: 32 characters of `[0-9A-Za-z]` from the system CSPRNG.
///
/// ```
/// let nonce = wechatpay::v2::sign::nonce_str()?;
/// assert_eq!(nonce.len(), 32);
/// assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
/// # Ok::<(), wechatpay::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Crypto`] if the system random number generator fails.
pub fn nonce_str() -> Result<String, Error> {
    crate::crypto::random_nonce(32)
}

/// Signs `fields` in place: drops any `sign`, reads `sign_type`, appends `sign` last.
pub(crate) fn sign_fields(fields: &mut Fields, key: &Apiv2Key) -> Result<SignType, Error> {
    fields.remove("sign");
    let sign_type = SignType::from_field(fields.get("sign_type"))?;
    let value = sign(fields.iter(), key, sign_type);
    fields.insert("sign", value);
    Ok(sign_type)
}

/// The AES-256 key of refund notifications: the lowercase hex MD5 of the APIv2 key.
pub(crate) fn refund_key(key: &Apiv2Key) -> [u8; 32] {
    let digest = Md5::digest(key.expose().as_bytes());
    let mut out = [0u8; 32];
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in digest.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_and_sign_are_skipped_and_order_is_bytewise() {
        let s = signing_string([
            ("b", "2"),
            ("B", "1"),
            ("a_b", "3"),
            ("ab", ""),
            ("sign", "x"),
        ]);
        assert_eq!(s, "B=1&a_b=3&b=2");
    }

    #[test]
    fn md5_of_the_key_is_lowercase_hex() {
        let key = Apiv2Key::new("exposed_your_key_here_have_risks").unwrap();
        let expected = upper_hex(&Md5::digest(b"exposed_your_key_here_have_risks")).to_lowercase();
        assert_eq!(refund_key(&key).as_slice(), expected.as_bytes());
    }

    #[test]
    fn a_missing_or_unknown_sign_type_fails_verification() {
        let key = Apiv2Key::new("exposed_your_key_here_have_risks").unwrap();
        assert!(verify([("a", "1")], &key).is_err());
        let md5 = sign([("a", "1")], &key, SignType::Md5);
        assert_eq!(
            verify([("a", "1"), ("sign", &md5)], &key).unwrap(),
            SignType::Md5
        );
        let lower = md5.to_lowercase();
        assert!(verify([("a", "1"), ("sign", &lower)], &key).is_ok());
        assert!(verify([("a", "1"), ("sign_type", "SHA1"), ("sign", &md5)], &key).is_err());
        // `sign_type` is signed too, and names the algorithm.
        let mac = sign(
            [("a", "1"), ("sign_type", "HMAC-SHA256")],
            &key,
            SignType::HmacSha256,
        );
        assert_eq!(
            verify(
                [("a", "1"), ("sign_type", "HMAC-SHA256"), ("sign", &mac)],
                &key
            )
            .unwrap(),
            SignType::HmacSha256
        );
    }
}
