//! Platform certificates: download (`GET v3/certificates`), decrypt, verify, refresh.
//!
//! The platform delivers its certificates encrypted with AEAD_AES_256_GCM under the
//! merchant's APIv3 key, which is what makes them trustworthy: only the platform and the
//! merchant know that key. [`Wechatpay::download_certificates`](crate::Wechatpay::download_certificates) decrypts each one, checks
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

use std::sync::Arc;
use std::time::SystemTime;

use http::Method;
use serde::Deserialize;

use crate::crypto::{Apiv3Key, Certificate, PublicKey, Sealed};
use crate::error::Error;
use crate::request::{Pipeline, RequestBuilder};
use crate::response::{classify, Response};

/// The path of the certificate download endpoint.
pub const CERTIFICATES_PATH: &str = "v3/certificates";

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

/// `GET v3/certificates`, decrypted and verified (see
/// [`Wechatpay::download_certificates`](crate::Wechatpay::download_certificates)).
pub(crate) async fn download(
    pipeline: &Arc<Pipeline>,
    key: &Apiv3Key,
) -> Result<Vec<PlatformCertificate>, Error> {
    let request = RequestBuilder::new(
        Arc::clone(pipeline),
        Method::GET,
        CERTIFICATES_PATH.to_owned(),
    );
    // Classified inside the retry loop, so a 5xx or 429 is retried like any GET.
    request
        .execute(|raw, path| verify_and_decode(pipeline, key, raw, path))
        .await
}

/// A non-2xx answer becomes [`Error::Api`] (verified first if signed); a 2xx one is
/// decrypted and verified with the trusted keys plus the certificates it delivers.
fn verify_and_decode(
    pipeline: &Pipeline,
    key: &Apiv3Key,
    raw: crate::transport::RawResponse,
    path: &str,
) -> Result<Vec<PlatformCertificate>, Error> {
    if !raw.status.is_success() {
        return classify(raw, &pipeline.verifier, path).map(|_| Vec::new());
    }
    let response = Response::new(raw.status, raw.headers, raw.body);
    let decoded = decode(key, response.bytes());
    // The delivered certificates may be the only keys, so they join a copy of the
    // trust store for this one check. A failed signature is reported before a
    // decoding error: an altered answer is first of all an unverified one.
    let verifier = pipeline.verifier.detached();
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
