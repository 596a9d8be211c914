//! Verification of the platform's signatures on answers and callback notifications.
//!
//! The platform signs `TIMESTAMP\nNONCE\nBODY\n` (BODY the raw bytes, empty for a 204) and
//! sends `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` and
//! `Wechatpay-Serial`. [`Verifier`] checks, in order: the four headers are present; the
//! signature is not a `WECHATPAY/SIGNTEST/` probe; the timestamp is within 300 s of the
//! local clock; the serial names a trusted key; the RSA-SHA256 signature holds.
//!
//! ```
//! use wechatpay::{sandbox, PublicKey, Verifier};
//!
//! let verifier = Verifier::new()
//!     .with_key(sandbox::PLATFORM_SERIAL, PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM)?)?;
//! assert_eq!(verifier.ids(), [sandbox::PLATFORM_SERIAL]);
//! # Ok::<(), wechatpay::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use http::{HeaderMap, HeaderName};

use crate::clock::{unix_seconds, Clock};
use crate::crypto::{Certificate, PublicKey};
use crate::error::{Error, VerificationFailure};

/// The clock type, now [`crate::Clock`] (one clock for the whole client).
#[doc(hidden)]
pub use crate::clock::Clock as VerifierClock;

/// `Wechatpay-Timestamp`, as looked up.
pub(crate) static TIMESTAMP: HeaderName = HeaderName::from_static("wechatpay-timestamp");
/// `Wechatpay-Nonce`.
pub(crate) static NONCE: HeaderName = HeaderName::from_static("wechatpay-nonce");
/// `Wechatpay-Signature`.
pub(crate) static SIGNATURE: HeaderName = HeaderName::from_static("wechatpay-signature");
/// `Wechatpay-Serial`: the platform key an answer is signed with, or (on a request) the one
/// the platform should sign with and that encrypted its sensitive fields.
pub(crate) static SERIAL: HeaderName = HeaderName::from_static("wechatpay-serial");
/// The prefix of the platform's deliberate probe signatures.
pub(crate) const PROBE_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// The default replay window: 300 seconds either way.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Whether `path` (with or without a leading `/` and a query) is a file the platform sends
/// without a signature (a bill, a transfer receipt, a complaint image): the endpoint
/// catalog's list ([`catalog::unsigned_answer_templates`](crate::catalog::unsigned_answer_templates)),
/// compiled with or without the `catalog` feature. An answer on such a path may lack the
/// signature headers; if it carries them, it is verified all the same.
///
/// ```
/// assert!(wechatpay::verify::is_unsigned_download("/v3/billdownload/file?token=x"));
/// assert!(!wechatpay::verify::is_unsigned_download("/v3/certificates"));
/// ```
pub fn is_unsigned_download(path: &str) -> bool {
    crate::catalog::is_unsigned_answer(path)
}

/// The message a platform signature covers: `TIMESTAMP\nNONCE\nBODY\n`.
pub fn message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut msg = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    msg.extend_from_slice(timestamp.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(nonce.as_bytes());
    msg.push(b'\n');
    msg.extend_from_slice(body);
    msg.push(b'\n');
    msg
}

#[derive(Clone)]
struct Trusted {
    key: PublicKey,
    /// For certificates: when to drop the key on the next refresh.
    not_after: Option<SystemTime>,
}

/// A trust store of platform public keys, keyed by certificate serial or public key id,
/// and the verification rules. Cheap to clone; clones share the store, so keys added
/// later (certificate refresh) are seen by every clone.
#[derive(Clone)]
pub struct Verifier {
    keys: Arc<RwLock<BTreeMap<String, Trusted>>>,
    tolerance: Duration,
    clock: Clock,
}

/// Serials are hex and compared case-insensitively; public key ids are kept verbatim.
fn normalize_id(id: &str) -> String {
    let id = id.trim();
    if id.starts_with("PUB_KEY_ID_") {
        id.to_owned()
    } else {
        id.to_ascii_uppercase()
    }
}

/// Checks that an id is a certificate serial (hex) or a `PUB_KEY_ID_…`.
pub(crate) fn check_id(id: &str) -> Result<String, Error> {
    let id = normalize_id(id);
    let ok = if let Some(rest) = id.strip_prefix("PUB_KEY_ID_") {
        !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    } else {
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit())
    };
    if ok {
        Ok(id)
    } else {
        Err(Error::config(format!(
            "`{id}` is not a platform key id: expected a certificate serial in hex \
             (e.g. 5157F09EFDC096DE15EBE81A47057A7232F1B8E1) or a public key id (PUB_KEY_ID_…)"
        )))
    }
}

impl Default for Verifier {
    fn default() -> Self {
        Verifier::new()
    }
}

impl Verifier {
    /// An empty trust store with the 300 s window and the system clock.
    pub fn new() -> Verifier {
        Verifier {
            keys: Arc::default(),
            tolerance: DEFAULT_TOLERANCE,
            clock: Clock::system(),
        }
    }

    /// Adds a trusted key (builder style).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `id` is neither a hex serial nor a `PUB_KEY_ID_…`.
    pub fn with_key(self, id: &str, key: PublicKey) -> Result<Verifier, Error> {
        self.add_key(id, key)?;
        Ok(self)
    }

    /// Replaces the clock (for tests and replays): a [`Clock`] or any
    /// `Fn() -> SystemTime`. A client's verifier uses the client's one clock
    /// ([`WechatpayBuilder::clock`](crate::WechatpayBuilder::clock)).
    #[must_use = "with_clock returns the changed verifier"]
    pub fn with_clock(mut self, clock: impl Into<Clock>) -> Verifier {
        self.clock = clock.into();
        self
    }

    /// Replaces the replay window (default 300 s).
    #[must_use = "with_tolerance returns the changed verifier"]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Verifier {
        self.tolerance = tolerance;
        self
    }

    /// Adds (or replaces) a trusted key, visible to every clone at once.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `id` is neither a hex serial nor a `PUB_KEY_ID_…`.
    pub fn add_key(&self, id: &str, key: PublicKey) -> Result<(), Error> {
        let id = check_id(id)?;
        self.write().insert(
            id,
            Trusted {
                key,
                not_after: None,
            },
        );
        Ok(())
    }

    /// Adds a platform certificate under its serial; it is dropped by
    /// [`Verifier::prune_expired`] once past its validity.
    ///
    /// ```
    /// use std::time::Duration;
    /// use wechatpay::{sandbox, Certificate, Verifier};
    ///
    /// let verifier = Verifier::new();
    /// let certificate = Certificate::from_pem(sandbox::PLATFORM_CERTIFICATE_PEM)?;
    /// verifier.add_certificate(&certificate);
    /// assert_eq!(verifier.ids(), [sandbox::PLATFORM_SERIAL]);
    /// // Once past its validity, the next prune drops it.
    /// let later = certificate.not_after() + Duration::from_secs(1);
    /// assert_eq!(verifier.prune_expired(later), [sandbox::PLATFORM_SERIAL]);
    /// assert!(verifier.ids().is_empty());
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn add_certificate(&self, cert: &Certificate) {
        self.write().insert(
            normalize_id(cert.serial()),
            Trusted {
                key: cert.public_key().clone(),
                not_after: Some(cert.not_after()),
            },
        );
    }

    /// Removes certificates whose validity ended before `now`; returns their serials.
    pub fn prune_expired(&self, now: SystemTime) -> Vec<String> {
        let mut keys = self.write();
        let expired: Vec<String> = keys
            .iter()
            .filter(|(_, t)| t.not_after.is_some_and(|end| end < now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            keys.remove(id);
        }
        expired
    }

    /// The configured ids, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.read().keys().cloned().collect()
    }

    /// The key trusted under `id`, if any.
    pub fn key(&self, id: &str) -> Option<PublicKey> {
        let keys = self.read();
        // Ids arrive normalized almost always; only otherwise pay for normalizing.
        match keys.get(id) {
            Some(trusted) => Some(trusted.key.clone()),
            None => keys.get(&normalize_id(id)).map(|t| t.key.clone()),
        }
    }

    /// The current time by this verifier's clock.
    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }

    /// The clock this verifier reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The end of validity of the certificate trusted under `id`; `None` for a plain key
    /// (configured with [`Verifier::add_key`]) or an unknown id.
    pub fn not_after(&self, id: &str) -> Option<SystemTime> {
        self.read().get(&normalize_id(id)).and_then(|t| t.not_after)
    }

    /// An independent copy of the store (same keys, clock and window): keys added to the
    /// copy are not seen by `self`. Used to verify a certificate download with the
    /// certificates it delivers before any of them is trusted for good.
    pub(crate) fn detached(&self) -> Verifier {
        Verifier {
            keys: Arc::new(RwLock::new(self.read().clone())),
            tolerance: self.tolerance,
            clock: self.clock.clone(),
        }
    }

    /// The unexpired certificate with the latest end of validity, as `(serial, key)`.
    pub(crate) fn newest_certificate(&self, now: SystemTime) -> Option<(String, PublicKey)> {
        self.read()
            .iter()
            .filter_map(|(id, t)| {
                t.not_after
                    .filter(|end| *end >= now)
                    .map(|end| (end, id, t))
            })
            .max_by_key(|(end, _, _)| *end)
            .map(|(_, id, t)| (id.clone(), t.key.clone()))
    }

    /// The keys configured without a validity period (plain keys and public key ids).
    fn plain_keys(&self) -> Vec<(String, PublicKey)> {
        self.read()
            .iter()
            .filter(|(_, t)| t.not_after.is_none())
            .map(|(id, t)| (id.clone(), t.key.clone()))
            .collect()
    }

    /// The platform key that encrypts sensitive fields, as `(id, key)`: `preferred` (the
    /// configured public key id) if trusted; else the unexpired certificate with the latest
    /// end of validity; else the only plain key.
    pub(crate) fn encryption_key(
        &self,
        preferred: Option<&str>,
    ) -> Result<(String, PublicKey), Error> {
        if let Some((id, key)) = preferred.and_then(|id| Some((id, self.key(id)?))) {
            return Ok((id.to_owned(), key));
        }
        if let Some(found) = self.newest_certificate(self.now()) {
            return Ok(found);
        }
        let mut plain = self.plain_keys();
        match plain.len() {
            1 => Ok(plain.remove(0)),
            0 => Err(Error::config(
                "no platform key to encrypt sensitive fields with: add \
                 .platform_key(\"PUB_KEY_ID_…\", PublicKey::from_pem_file(\"pub_key.pem\")?) or a platform \
                 certificate, or download the certificates (download_certificates)",
            )),
            _ => Err(Error::config(format!(
                "several platform keys are trusted ({}) and none is a public key id or a \
                 certificate, so which one encrypts is ambiguous: pin one with \
                 .header(\"Wechatpay-Serial\", id) on the request",
                plain
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// Verifies headers and raw body against the trust store at the clock's time.
    ///
    /// # Errors
    ///
    /// The first [`VerificationFailure`] met, in the order the module docs give.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<(), VerificationFailure> {
        self.verify_at(headers, body, self.now())
    }

    /// [`Verifier::verify`] at a given time.
    ///
    /// # Errors
    ///
    /// The first [`VerificationFailure`] met.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use wechatpay::{sandbox, PrivateKey, Verifier, VerificationFailure};
    ///
    /// let platform = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?;
    /// let body = br#"{"ok":true}"#;
    /// let signature = platform.sign(&wechatpay::verify::message("1700000000", "n0nce", body))?;
    /// let mut headers = http::HeaderMap::new();
    /// headers.insert("Wechatpay-Timestamp", "1700000000".parse()?);
    /// headers.insert("Wechatpay-Nonce", "n0nce".parse()?);
    /// headers.insert("Wechatpay-Signature", signature.parse()?);
    /// headers.insert("Wechatpay-Serial", sandbox::PLATFORM_SERIAL.parse()?);
    ///
    /// let verifier = Verifier::new().with_key(sandbox::PLATFORM_SERIAL, platform.public_key().clone())?;
    /// let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_100);
    /// assert_eq!(verifier.verify_at(&headers, body, then), Ok(()));
    /// assert!(matches!(
    ///     verifier.verify_at(&headers, body, then + Duration::from_secs(600)),
    ///     Err(VerificationFailure::ClockSkew { .. })
    /// ));
    /// assert_eq!(verifier.verify_at(&headers, b"{}", then), Err(VerificationFailure::BadSignature));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<(), VerificationFailure> {
        let timestamp = header(headers, &TIMESTAMP, "Wechatpay-Timestamp")?;
        let nonce = header(headers, &NONCE, "Wechatpay-Nonce")?;
        let signature = header(headers, &SIGNATURE, "Wechatpay-Signature")?;
        let serial = header(headers, &SERIAL, "Wechatpay-Serial")?;

        if signature.starts_with(PROBE_PREFIX) {
            return Err(VerificationFailure::Probe);
        }

        let remote: i64 = timestamp
            .parse()
            .map_err(|_| VerificationFailure::MalformedHeader {
                name: "Wechatpay-Timestamp",
                reason: format!("`{timestamp}` is not Unix seconds"),
            })?;
        let local = unix_seconds(now);
        if local.abs_diff(remote) > self.tolerance.as_secs() {
            return Err(VerificationFailure::ClockSkew {
                local,
                remote,
                tolerance: self.tolerance.as_secs(),
            });
        }

        let key = self
            .key(serial)
            .ok_or_else(|| VerificationFailure::UnknownSerial {
                serial: serial.to_owned(),
                configured: self.ids(),
            })?;

        // RSA-4096 signatures are 512 bytes; anything longer is not a signature.
        let mut raw = [0u8; 512];
        let len = base64::engine::general_purpose::STANDARD
            .decode_slice(signature, &mut raw)
            .map_err(|_| VerificationFailure::BadSignature)?;
        if key.verify(&message(timestamp, nonce, body), &raw[..len]) {
            Ok(())
        } else {
            Err(VerificationFailure::BadSignature)
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Trusted>> {
        // A panic while holding the lock cannot leave the map half-written (every write is
        // one insert or remove), so a poisoned lock is still consistent.
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Trusted>> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("ids", &self.ids())
            .field("tolerance", &self.tolerance)
            .finish_non_exhaustive()
    }
}

/// The value of header `key`, reported as `name` when missing or malformed. The names are
/// parsed once (the statics above): a `&str` lookup would parse and lowercase them on every
/// call.
fn header<'a>(
    headers: &'a HeaderMap,
    key: &HeaderName,
    name: &'static str,
) -> Result<&'a str, VerificationFailure> {
    let value = headers
        .get(key)
        .ok_or(VerificationFailure::MissingHeader { name })?;
    value
        .to_str()
        .map(str::trim)
        .map_err(|_| VerificationFailure::MalformedHeader {
            name,
            reason: "not visible ASCII".into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_and_serials_uppercased() {
        assert_eq!(check_id("9f3a").unwrap(), "9F3A");
        assert_eq!(check_id("PUB_KEY_ID_0114").unwrap(), "PUB_KEY_ID_0114");
        assert!(check_id("not a serial").is_err());
        assert!(check_id("PUB_KEY_ID_").is_err());
        assert!(check_id("").is_err());
    }
}
