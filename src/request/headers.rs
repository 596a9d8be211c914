//! What a caller may put in a request's headers, nonce and timestamp.
//!
//! The client alone decides the message framing and the identity of a request: a
//! `Content-Length` that disagrees with the signed body, a `Transfer-Encoding`, a `Host` or
//! an `Authorization` set by hand would send bytes other than those signed, or claim to be
//! someone else. Those headers are refused, as are values hyper would accept but the
//! platform cannot read (bytes above 0x7F, control characters).

use http::header::{HeaderName, HeaderValue};

use crate::error::Error;

/// Headers that decide the framing, routing or identity of the message: set by the client
/// (or by hyper from what the client gives it), never by the caller.
const REFUSED: [(&str, &str); 12] = [
    ("authorization", "is computed by the signer"),
    ("proxy-authorization", "belongs to the proxy configuration"),
    ("content-length", "is set from the body that is signed"),
    (
        "transfer-encoding",
        "would change how the signed body is framed",
    ),
    ("te", "would change how the answer is framed"),
    ("trailer", "would add fields after the signed body"),
    ("host", "is set from the base URL"),
    ("connection", "is managed by the connection pool"),
    ("keep-alive", "is managed by the connection pool"),
    ("proxy-connection", "is managed by the connection pool"),
    ("upgrade", "would switch the connection to another protocol"),
    (
        "expect",
        "would hold the signed body back waiting for the server",
    ),
];

/// Checks a header a caller wants on a request and parses it.
///
/// # Errors
///
/// [`Error::Request`] for a name that is not a header name, a header that decides framing
/// or identity (naming why), or a value that is not printable ASCII.
pub(crate) fn caller_header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), Error> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| Error::request(format!("`{name}` is not a valid header name")))?;
    if let Some((_, why)) = REFUSED.iter().find(|(refused, _)| parsed == *refused) {
        return Err(Error::request(format!(
            "the `{name}` header cannot be set on a request: it {why}"
        )));
    }
    // hyper takes any byte but controls; the platform reads printable ASCII only, and a
    // value it cannot read must not be signed and sent as if it could.
    if let Some(bad) = value
        .bytes()
        .find(|&b| !(b == b'\t' || (0x20..0x7f).contains(&b)))
    {
        let what = if bad >= 0x80 {
            "a non-ASCII character"
        } else {
            "a control character"
        };
        return Err(Error::request(format!(
            "the value of header `{name}` has {what}; header values must be printable ASCII \
             (encode other text, e.g. percent-encode it)"
        )));
    }
    let value = HeaderValue::from_str(value).map_err(|_| {
        Error::request(format!(
            "the value of header `{name}` must be printable ASCII"
        ))
    })?;
    Ok((parsed, value))
}

/// Checks a fixed signature timestamp: it must be a time the platform (and this crate's
/// verifier, which read it as a signed 64-bit number) can compare with its clock.
pub(crate) fn check_timestamp(unix_seconds: u64) -> Result<(), Error> {
    if i64::try_from(unix_seconds).is_err() {
        return Err(Error::request(format!(
            "the timestamp {unix_seconds} cannot be signed: the platform reads Unix seconds as \
             a signed 64-bit number"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_and_identity_headers_are_refused_in_any_case() {
        for name in [
            "Content-Length",
            "TRANSFER-ENCODING",
            "host",
            "Authorization",
            "Connection",
            "Upgrade",
            "TE",
        ] {
            let error = caller_header(name, "x").unwrap_err();
            assert!(
                error.to_string().contains("cannot be set"),
                "{name}: {error}"
            );
        }
        assert!(caller_header("Accept-Language", "en, zh;q=0.9").is_ok());
        assert!(caller_header("Wechatpay-Serial", "PUB_KEY_ID_01").is_ok());
    }

    #[test]
    fn values_must_be_printable_ascii() {
        let error = caller_header("X-Note", "caf\u{e9}").unwrap_err();
        assert!(error.to_string().contains("non-ASCII"), "{error}");
        let error = caller_header("X-Note", "a\u{7f}").unwrap_err();
        assert!(error.to_string().contains("control"), "{error}");
        assert!(caller_header("X-Note", "a\tb c").is_ok());
    }

    #[test]
    fn timestamps_beyond_i64_are_refused() {
        assert!(check_timestamp(1_554_208_460).is_ok());
        assert!(check_timestamp(i64::MAX as u64).is_ok());
        assert!(check_timestamp(u64::MAX).is_err());
    }
}
