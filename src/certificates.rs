//! Platform certificates: download (`GET v3/certificates`), decrypt, verify, refresh.
//!
//! The platform delivers its certificates encrypted with AEAD_AES_256_GCM under the
//! merchant's APIv3 key, which is what makes them trustworthy: only the platform and the
//! merchant know that key. [`Wechatpay::download_certificates`] decrypts each one, checks
//! that its serial is the one announced, and verifies the answer's signature with the
//! keys already trusted plus the certificates just delivered (a merchant may have no other
//! key yet). It returns them without trusting them; add them with
//! [`Verifier::add_certificate`](crate::Verifier::add_certificate), or let
//! [`WechatpayBuilder::auto_refresh_certificates`](crate::WechatpayBuilder::auto_refresh_certificates)
//! do it in the background.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wechatpay::Error> {
//! let sandbox = wechatpay::sandbox::Sandbox::start().await?;
//! let wxpay = sandbox.client();
//!
//! for certificate in wxpay.download_certificates().await? {
//!     println!("{} valid {} .. {}", certificate.serial(),
//!              certificate.effective_time(), certificate.expire_time());
//!     wxpay.verifier().add_certificate(certificate.certificate());
//!     std::fs::write(std::env::temp_dir().join(format!("wechatpay_{}.pem", certificate.serial())),
//!                    certificate.to_pem()).ok();
//! }
//! # Ok(()) }
//! ```

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::client::{Inner, Wechatpay};
use crate::crypto::{Apiv3Key, Certificate, PublicKey};
use crate::error::Error;
use crate::request::finish;
use crate::response::Response;

/// The path of the certificate download endpoint.
pub const CERTIFICATES_PATH: &str = "v3/certificates";

/// The only encryption WeChat Pay APIv3 uses for certificates and notifications.
pub(crate) const AEAD_AES_256_GCM: &str = "AEAD_AES_256_GCM";

/// A platform certificate as `GET v3/certificates` delivered it: decrypted, parsed, and
/// checked to carry the serial it was announced under.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), wechatpay::Error> {
/// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
/// let certificates = sandbox.client().download_certificates().await?;
/// let first = &certificates[0];
/// assert_eq!(first.serial(), wechatpay::sandbox::PLATFORM_SERIAL);
/// assert!(first.not_before() < first.not_after());
/// assert!(first.to_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PlatformCertificate {
    effective_time: String,
    expire_time: String,
    certificate: Certificate,
}

impl PlatformCertificate {
    /// The serial, uppercase hex, as `Wechatpay-Serial` names it.
    pub fn serial(&self) -> &str {
        self.certificate.serial()
    }

    /// `effective_time` as the platform wrote it, e.g. `2026-11-22T17:09:13+08:00`.
    pub fn effective_time(&self) -> &str {
        &self.effective_time
    }

    /// `expire_time` as the platform wrote it.
    pub fn expire_time(&self) -> &str {
        &self.expire_time
    }

    /// Start of validity, from the certificate itself.
    pub fn not_before(&self) -> SystemTime {
        self.certificate.not_before()
    }

    /// End of validity, from the certificate itself.
    pub fn not_after(&self) -> SystemTime {
        self.certificate.not_after()
    }

    /// The parsed certificate (add it to a trust store with
    /// [`Verifier::add_certificate`](crate::Verifier::add_certificate)).
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The certified public key.
    pub fn public_key(&self) -> &PublicKey {
        self.certificate.public_key()
    }

    /// The certificate as `BEGIN CERTIFICATE` PEM text, e.g. for `wechatpay_<serial>.pem`.
    pub fn to_pem(&self) -> String {
        self.certificate.to_pem()
    }
}

#[derive(Deserialize)]
struct Listing {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    serial_no: String,
    effective_time: String,
    expire_time: String,
    encrypt_certificate: Sealed,
}

/// An AEAD_AES_256_GCM envelope: `encrypt_certificate`, or a notification's `resource`.
#[derive(Deserialize)]
pub(crate) struct Sealed {
    pub(crate) algorithm: String,
    pub(crate) nonce: String,
    #[serde(default)]
    pub(crate) associated_data: String,
    pub(crate) ciphertext: String,
}

impl Sealed {
    /// Decrypts with the APIv3 key; `what` names the thing in errors.
    pub(crate) fn open(&self, key: &Apiv3Key, what: &str) -> Result<Vec<u8>, Error> {
        if self.algorithm != AEAD_AES_256_GCM {
            return Err(Error::decode(
                format!(
                    "{what}: unsupported algorithm `{}` (only {AEAD_AES_256_GCM} is known)",
                    self.algorithm
                ),
                None,
            ));
        }
        key.decrypt(&self.associated_data, &self.nonce, &self.ciphertext)
            .map_err(|e| e.context(what))
    }
}

pub(crate) fn missing_apiv3_key(what: &str) -> Error {
    Error::config(format!(
        "{what} needs the APIv3 key to decrypt: call .apiv3_key(…) on the builder"
    ))
}

impl Wechatpay {
    /// Downloads the platform certificates (`GET v3/certificates`), decrypts each with the
    /// APIv3 key, checks each one's serial against its `serial_no`, and verifies the answer
    /// with the keys already trusted plus the certificates delivered.
    ///
    /// The certificates are returned, not trusted: add them with
    /// [`Verifier::add_certificate`](crate::Verifier::add_certificate), or use
    /// [`WechatpayBuilder::auto_refresh_certificates`](crate::WechatpayBuilder::auto_refresh_certificates).
    /// Merchants in public-key mode have no certificates: the platform answers 404.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), wechatpay::Error> {
    /// let sandbox = wechatpay::sandbox::Sandbox::start().await?;
    /// // Only the APIv3 key: the delivered certificate is what verifies the answer.
    /// let wxpay = wechatpay::Wechatpay::builder()
    ///     .mchid(wechatpay::sandbox::MERCHANT_ID)
    ///     .serial(wechatpay::sandbox::MERCHANT_SERIAL)
    ///     .private_key(sandbox.merchant_key()?)
    ///     .apiv3_key(wechatpay::sandbox::APIV3_KEY)
    ///     .base_url(sandbox.base_url())
    ///     .build()?;
    /// let certificates = wxpay.download_certificates().await?;
    /// assert_eq!(certificates.len(), 1);
    /// assert!(wxpay.verifier().ids().is_empty()); // not trusted until added
    /// wxpay.verifier().add_certificate(certificates[0].certificate());
    /// wxpay.chain("v3/certificates").get().await?; // now answers verify
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Config`] without an APIv3 key; [`Error::Api`] for a non-2xx answer (404 in
    /// public-key mode); [`Error::Verification`] if the answer's signature fails;
    /// [`Error::Crypto`] if a certificate does not decrypt (wrong APIv3 key);
    /// [`Error::Decode`] for an answer that is not the documented shape, an algorithm
    /// other than AEAD_AES_256_GCM (named), or a certificate whose serial is not its
    /// `serial_no`; and the transport errors of any request.
    pub async fn download_certificates(&self) -> Result<Vec<PlatformCertificate>, Error> {
        let key = self
            .inner
            .apiv3_key
            .as_ref()
            .ok_or_else(|| missing_apiv3_key("downloading the platform certificates"))?;
        let (raw, path) = self.chain(CERTIFICATES_PATH).get().send_raw().await?;
        if !raw.status.is_success() {
            // Verified with the trusted keys if signed, then reported as Error::Api.
            return finish(self, &path, raw).map(|_| Vec::new());
        }
        let response = Response::new(raw.status, raw.headers, raw.body);
        let decoded = decode(key, response.bytes());
        // The delivered certificates may be the only keys, so they join a copy of the
        // trust store for this one check. A failed signature is reported before a
        // decoding error: an altered answer is first of all an unverified one.
        let verifier = self.inner.verifier.detached();
        if let Ok(certificates) = &decoded {
            for certificate in certificates {
                verifier.add_certificate(&certificate.certificate);
            }
        }
        if let Err(failure) = verifier.verify(response.headers(), response.bytes()) {
            return Err(Error::Verification {
                failure,
                response: Some(Box::new(response)),
            });
        }
        decoded
    }
}

fn decode(key: &Apiv3Key, body: &[u8]) -> Result<Vec<PlatformCertificate>, Error> {
    let listing: Listing = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            "the v3/certificates answer is not the documented \
             {\"data\": [{serial_no, effective_time, expire_time, encrypt_certificate}]}",
            Some(Box::new(e)),
        )
    })?;
    listing
        .data
        .into_iter()
        .map(|item| {
            let what = format!("platform certificate {}", item.serial_no);
            let plaintext = item.encrypt_certificate.open(key, &what)?;
            let certificate = std::str::from_utf8(&plaintext)
                .map_err(|e| Error::decode(format!("{what}: not UTF-8 PEM"), Some(Box::new(e))))
                .and_then(|pem| {
                    Certificate::from_pem(pem).map_err(|e| {
                        Error::decode(format!("{what}: not a PEM certificate"), Some(Box::new(e)))
                    })
                })?;
            if !certificate
                .serial()
                .eq_ignore_ascii_case(item.serial_no.trim())
            {
                return Err(Error::decode(
                    format!(
                        "the certificate delivered as serial_no {} has the serial {}",
                        item.serial_no,
                        certificate.serial()
                    ),
                    None,
                ));
            }
            Ok(PlatformCertificate {
                effective_time: item.effective_time,
                expire_time: item.expire_time,
                certificate,
            })
        })
        .collect()
}

/// Spawns the certificate refresher once, if configured and inside a Tokio runtime.
pub(crate) fn ensure_refresher(client: &Wechatpay) {
    let Some(interval) = client.inner.refresh_interval else {
        return;
    };
    if client.inner.refresh_started.load(Ordering::Acquire) {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return; // tried again by the next request
    };
    if client.inner.refresh_started.swap(true, Ordering::AcqRel) {
        return;
    }
    let inner = Arc::downgrade(&client.inner);
    runtime.spawn(refresh_loop(inner, interval));
}

/// Holds only a `Weak` between rounds, so the task ends with the last client clone.
async fn refresh_loop(inner: Weak<Inner>, interval: Duration) {
    loop {
        match inner.upgrade() {
            Some(inner) => refresh_once(&Wechatpay { inner }, interval).await,
            None => return,
        }
        tokio::time::sleep(interval).await;
    }
}

async fn refresh_once(client: &Wechatpay, interval: Duration) {
    let verifier = client.verifier();
    match client.download_certificates().await {
        Ok(certificates) => {
            let now = verifier.now();
            for certificate in certificates {
                let known = verifier.key(certificate.serial()).is_some();
                if !known && certificate.not_after() >= now {
                    log::info!(
                        "wechatpay: trusting platform certificate {} (valid until {})",
                        certificate.serial(),
                        certificate.expire_time()
                    );
                    verifier.add_certificate(certificate.certificate());
                }
            }
            for serial in verifier.prune_expired(now) {
                log::info!("wechatpay: dropped expired platform certificate {serial}");
            }
        }
        Err(e) if e.status() == Some(http::StatusCode::NOT_FOUND) => log::warn!(
            "wechatpay: v3/certificates answered 404 (a merchant in public-key mode has no \
             platform certificates); trying again in {interval:?}"
        ),
        Err(e) => log::warn!(
            "wechatpay: refreshing the platform certificates failed: {e}; trying again in {interval:?}"
        ),
    }
}
