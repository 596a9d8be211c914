//! The APIv3 request signature: the `Authorization` header.
//!
//! The signed message is `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n`, where TARGET is the
//! exact path and query sent (any base path such as `/hk/` included) and BODY the exact
//! bytes sent (empty for none). It is signed with RSA PKCS#1 v1.5 SHA-256 by the merchant
//! key and sent as
//!
//! ```text
//! Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",serial_no="…",timestamp="…",nonce_str="…",signature="…"
//! ```
//!
//! [`RequestBuilder::build`](crate::RequestBuilder::build) does all of this; the functions
//! here are public for those who check signatures themselves (test servers, audits).
//!
//! ```
//! use wechatpay::sign::{message, Authorization};
//!
//! let msg = message("GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", b"");
//! assert_eq!(msg, b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n");
//!
//! let auth = Authorization::parse(
//!     r#"WECHATPAY2-SHA256-RSA2048 mchid="1900009191",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",timestamp="1554208460",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="uOVRnA4qG/MNnYzdQxJanN+zU+lTgIcnU9BxGw5dKjK+VdEUz2FeIoC+D5sB/LN+nGzX3hfZg6r5wT1pl2ZobmIc6p0ldN7J6yDgUzbX8Uk3sD4a4eZVPTBvqNDoUqcYMlZ9uuDdCvNv4TM3c1WzsXUrExwVkI1XO5jCNbgDJ25nkT/c1gIFvqoogl7MdSFGc4W4xZsqCItnqbypR3RuGIlR9h9vlRsy7zJR9PBI83X8alLDIfR1ukt1P7tMnmogZ0cuDY8cZsd8ZlCgLadmvej58SLsIkVxFJ8XmUgx9/2fRk/sjRvC2ORalSGKg4nhFkXbKRdU+EAQGVHMHZgqOQ==""#,
//! )?;
//! assert_eq!(auth.mchid, "1900009191");
//! assert_eq!(auth.timestamp, 1554208460);
//! # Ok::<(), wechatpay::Error>(())
//! ```

use crate::crypto::PrivateKey;
use crate::error::Error;

/// The authorization scheme of APIv3 requests.
pub(crate) const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// The longest nonce the platform accepts.
pub(crate) const MAX_NONCE_LEN: usize = 32;

/// Checks a nonce the way the platform does: 1 to 32 visible ASCII characters, none of
/// them `"` or `,`, which would end or add a field of the `Authorization` header.
///
/// # Errors
///
/// [`Error::Request`] saying which rule the nonce breaks (never echoing it when it holds
/// control characters).
pub(crate) fn check_nonce(nonce: &str) -> Result<(), Error> {
    if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
        return Err(Error::request(format!(
            "the nonce must be 1 to {MAX_NONCE_LEN} characters, this one has {}",
            nonce.chars().count()
        )));
    }
    check_field("nonce", nonce)
}

/// Checks an `Authorization` field value: visible ASCII, without `"` or `,`.
fn check_field(name: &str, value: &str) -> Result<(), Error> {
    match value
        .bytes()
        .find(|b| !b.is_ascii_graphic() || matches!(b, b'"' | b','))
    {
        None => Ok(()),
        Some(b'"' | b',') => Err(Error::request(format!(
            "the {name} `{value}` contains `\"` or `,`, which would change the Authorization \
             header's fields; use letters and digits"
        ))),
        Some(_) => Err(Error::request(format!(
            "the {name} must be visible ASCII (no spaces, control characters or non-ASCII)"
        ))),
    }
}

/// The message a request signature covers: `METHOD\nTARGET\nTIMESTAMP\nNONCE\nBODY\n`.
pub fn message(method: &str, target: &str, timestamp: u64, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(method.len() + target.len() + nonce.len() + body.len() + 16);
    msg.extend_from_slice(method.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(target.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(timestamp.to_string().as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(nonce.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(body);
    msg.push(b'\n');
    msg
}

/// The fields of an `Authorization: WECHATPAY2-SHA256-RSA2048 …` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The merchant id.
    pub mchid: String,
    /// The serial of the merchant certificate whose key signed.
    pub serial_no: String,
    /// Unix seconds.
    pub timestamp: u64,
    /// The random nonce.
    pub nonce_str: String,
    /// The base64 signature.
    pub signature: String,
}

impl Authorization {
    /// Signs a request and returns its `Authorization` fields.
    ///
    /// # Errors
    ///
    /// [`Error::Request`] if a field value could change the header's structure (a `"` or `,`,
    /// anything but visible ASCII, or a nonce longer than 32 characters); [`Error::Crypto`]
    /// if the signing backend fails.
    ///
    /// ```
    /// use wechatpay::{sandbox, sign::Authorization, PrivateKey};
    ///
    /// let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// let auth = Authorization::sign(sandbox::MERCHANT_ID, sandbox::MERCHANT_SERIAL, &key,
    ///     "GET", "/v3/certificates", 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", b"")?;
    /// let header = auth.to_header_value();
    /// assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",serial_no="));
    /// assert_eq!(Authorization::parse(&header)?, auth);
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    #[allow(clippy::too_many_arguments)]
    pub fn sign(
        mchid: &str,
        serial_no: &str,
        key: &PrivateKey,
        method: &str,
        target: &str,
        timestamp: u64,
        nonce: &str,
        body: &[u8],
    ) -> Result<Authorization, Error> {
        check_field("merchant id", mchid)?;
        check_field("serial", serial_no)?;
        check_nonce(nonce)?;
        let signature = key.sign(&message(method, target, timestamp, nonce, body))?;
        Ok(Authorization {
            mchid: mchid.to_owned(),
            serial_no: serial_no.to_owned(),
            timestamp,
            nonce_str: nonce.to_owned(),
            signature,
        })
    }

    /// Parses a header value. Field order and spaces after commas are not significant; a
    /// field given twice is refused (it would be ambiguous which one was signed).
    ///
    /// # Errors
    ///
    /// [`Error::Request`] naming the scheme or field that is missing, repeated or malformed.
    pub fn parse(header: &str) -> Result<Authorization, Error> {
        let rest = header
            .trim()
            .strip_prefix(SCHEME)
            .filter(|rest| rest.starts_with(' '))
            .ok_or_else(|| {
                Error::request(format!("Authorization: the scheme is not `{SCHEME}`"))
            })?;
        let (mut mchid, mut serial_no, mut timestamp, mut nonce_str, mut signature) =
            (None, None, None, None, None);
        for field in rest.split(',') {
            let field = field.trim();
            let Some((name, value)) = field.split_once('=') else {
                return Err(Error::request(format!(
                    "Authorization: `{field}` is not name=\"value\""
                )));
            };
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| {
                    Error::request(format!(
                        "Authorization: the value of `{name}` is not quoted"
                    ))
                })?
                .to_owned();
            let slot = match name {
                "mchid" => &mut mchid,
                "serial_no" => &mut serial_no,
                "timestamp" => &mut timestamp,
                "nonce_str" => &mut nonce_str,
                "signature" => &mut signature,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(Error::request(format!(
                    "Authorization: `{name}` is given twice"
                )));
            }
        }
        let missing = |name: &str| Error::request(format!("Authorization: `{name}` is missing"));
        let timestamp = timestamp.ok_or_else(|| missing("timestamp"))?;
        Ok(Authorization {
            mchid: mchid.ok_or_else(|| missing("mchid"))?,
            serial_no: serial_no.ok_or_else(|| missing("serial_no"))?,
            timestamp: timestamp.parse().map_err(|_| {
                Error::request(format!(
                    "Authorization: timestamp `{timestamp}` is not Unix seconds"
                ))
            })?,
            nonce_str: nonce_str.ok_or_else(|| missing("nonce_str"))?,
            signature: signature.ok_or_else(|| missing("signature"))?,
        })
    }

    /// The header value, fields in the documented order.
    pub fn to_header_value(&self) -> String {
        format!(
            "{SCHEME} mchid=\"{}\",serial_no=\"{}\",timestamp=\"{}\",nonce_str=\"{}\",signature=\"{}\"",
            self.mchid, self.serial_no, self.timestamp, self.nonce_str, self.signature
        )
    }
}
