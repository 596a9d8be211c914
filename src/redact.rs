//! The one redaction policy of every `Debug` in the crate.
//!
//! Bodies show their length and at most [`PREVIEW`] bytes; headers show their names, and
//! their values except for those that carry a signature or a credential. Keys, the APIv3
//! key and signatures are never printed by any type (each key type has its own `Debug`).

use std::fmt;

use http::HeaderMap;

/// How many bytes of a body a `Debug` shows.
pub(crate) const PREVIEW: usize = 48;

/// Headers whose values are signatures or credentials: shown as `".."`.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "wechatpay-signature",
    "cookie",
];

/// `Debug` of a body: its length and a bounded, escaped prefix.
pub(crate) struct Body<'a>(pub(crate) &'a [u8]);

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0;
        let shown = &bytes[..bytes.len().min(PREVIEW)];
        let text = String::from_utf8_lossy(shown);
        if shown.len() < bytes.len() {
            write!(f, "{} bytes {:?}…", bytes.len(), text)
        } else {
            write!(f, "{} bytes {:?}", bytes.len(), text)
        }
    }
}

/// How many characters of a platform's message a `Debug` shows.
pub(crate) const MESSAGE: usize = 200;

/// `Debug` of text that came from the other end (an error message): at most [`MESSAGE`]
/// characters.
pub(crate) struct Text<'a>(pub(crate) &'a str);

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MESSAGE) {
            Some((cut, _)) => write!(f, "{:?}… ({} bytes)", &self.0[..cut], self.0.len()),
            None => write!(f, "{:?}", self.0),
        }
    }
}

/// `Debug` of a header map with signature and credential values hidden.
pub(crate) struct Headers<'a>(pub(crate) &'a HeaderMap);

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if SECRET_HEADERS.contains(&name.as_str()) {
                map.entry(&name.as_str(), &"..");
            } else {
                map.entry(&name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_bodies_are_cut_and_secret_headers_hidden() {
        let body = vec![b'a'; 100];
        let shown = format!("{:?}", Body(&body));
        assert!(shown.starts_with("100 bytes \"aaaa"), "{shown}");
        assert_eq!(shown.matches('a').count(), PREVIEW);

        let mut headers = HeaderMap::new();
        headers.insert(
            "authorization",
            "WECHATPAY2-SHA256-RSA2048 x".parse().unwrap(),
        );
        headers.insert("wechatpay-signature", "c2lnbmF0dXJl".parse().unwrap());
        headers.insert("request-id", "42".parse().unwrap());
        let shown = format!("{:?}", Headers(&headers));
        assert!(!shown.contains("WECHATPAY2") && !shown.contains("c2lnbmF0dXJl"));
        assert!(shown.contains("\"42\""));
    }
}
