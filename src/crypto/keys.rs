//! Merchant private keys, platform public keys and X.509 certificates.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_lc_rs::rsa::{OaepPrivateDecryptingKey, OaepPublicEncryptingKey};
use base64::Engine as _;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, SubjectPublicKeyInfoDer};
use x509_cert::der::{Decode, Encode};

use super::{der, pem, rsa};
use crate::error::Error;

fn read_file(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Key {
        message: format!("cannot read the {what} file `{}`", path.display()),
        source: Some(Box::new(e)),
    })
}

/// A short SHA-256 fingerprint of a public key (SPKI DER), safe to print.
fn fingerprint(spki: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, spki);
    digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The merchant's RSA private key: signs every request and decrypts sensitive fields.
///
/// Parsed once; cloning is cheap. `Debug` shows only the key size and a fingerprint of the
/// public half, never key material.
///
/// ```
/// use wechatpay::PrivateKey;
///
/// let key = PrivateKey::from_pem(wechatpay::sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
/// assert_eq!(key.bits(), 2048);
/// assert!(!format!("{key:?}").contains("PRIVATE"));
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PrivateKey {
    inner: Arc<PrivateKeyInner>,
}

struct PrivateKeyInner {
    signer: rsa::SigningKey,
    decrypter: OaepPrivateDecryptingKey,
    public: PublicKey,
}

impl PrivateKey {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, as the merchant tool writes
    /// `apiclient_key.pem`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if the text holds no such block (the message lists what it holds),
    /// the key is not RSA, or is shorter than 2048 bits.
    pub fn from_pem(pem_text: &str) -> Result<PrivateKey, Error> {
        let what = "merchant private key";
        let der = match PrivateKeyDer::from_pem_slice(pem_text.as_bytes()) {
            Ok(PrivateKeyDer::Pkcs8(der)) => der.secret_pkcs8_der().to_vec(),
            Ok(PrivateKeyDer::Pkcs1(der)) => der::pkcs8_from_pkcs1(der.secret_pkcs1_der()),
            Ok(PrivateKeyDer::Sec1(_)) => {
                return Err(Error::key(format!(
                    "{what}: expected an RSA key, found an EC key (`EC PRIVATE KEY`); WeChat Pay APIv3 uses RSA-2048"
                )))
            }
            Ok(_) | Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                return Err(pem::not_found(
                    pem_text,
                    "`PRIVATE KEY` (PKCS#8) or `RSA PRIVATE KEY` (PKCS#1)",
                    what,
                ))
            }
            // The pki-types error may quote the offending line; it is private-key text,
            // so it is described, not attached.
            Err(_) => {
                return Err(Error::key(format!(
                    "{what}: the PEM text is malformed (bad base64 or a missing END line)"
                )))
            }
        };
        PrivateKey::from_pkcs8_der(&der)
    }

    /// Reads and parses a PEM private key file (see [`PrivateKey::from_pem`]).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] naming the path if it cannot be read or parsed.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<PrivateKey, Error> {
        let path = path.as_ref();
        PrivateKey::from_pem(&read_file(path, "private key")?)
            .map_err(|e| e.context(format_args!("`{}`", path.display())))
    }

    /// Parses PKCS#8 DER.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if the DER is not an RSA key of at least 2048 bits.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<PrivateKey, Error> {
        let what = "merchant private key";
        let signer = rsa::SigningKey::from_pkcs8(der).map_err(|reason| {
            Error::key(format!(
                "{what}: not a usable RSA private key ({reason}); expected RSA, at least 2048 bits"
            ))
        })?;
        let decrypter = rsa::oaep_private(der)
            .map_err(|reason| Error::key(format!("{what}: rejected for RSA-OAEP ({reason})")))?;
        let public = PublicKey::from_pkcs1_der(&signer.public_pkcs1())?;
        Ok(PrivateKey {
            inner: Arc::new(PrivateKeyInner {
                signer,
                decrypter,
                public,
            }),
        })
    }

    /// The public half, e.g. to give a test platform (the sandbox) or to match a certificate.
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public
    }

    /// The key size in bits.
    pub fn bits(&self) -> usize {
        self.inner.signer.signature_len() * 8
    }

    /// RSA PKCS#1 v1.5 SHA-256 signature of `message`, standard base64.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the backend fails (it does not for a valid key).
    ///
    /// ```
    /// use base64::Engine as _;
    /// use wechatpay::{sandbox, PrivateKey};
    ///
    /// let key = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// let signature = key.sign(b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n")?;
    /// let raw = base64::engine::general_purpose::STANDARD.decode(&signature).map_err(|e| e.to_string())?;
    /// assert_eq!(raw.len(), 256);
    /// assert!(key.public_key().verify(b"GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n", &raw));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sign(&self, message: &[u8]) -> Result<String, Error> {
        let signature = self.inner.signer.sign(message)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(signature))
    }

    /// Decrypts a base64 RSA-OAEP (SHA-1, MGF1-SHA1) ciphertext made with this key's public
    /// half, as the platform sends sensitive fields.
    ///
    /// # Errors
    ///
    /// [`Error::Decode`] for bad base64, [`Error::Crypto`] if it does not decrypt with this key.
    ///
    /// ```
    /// use wechatpay::{sandbox, PrivateKey};
    ///
    /// let merchant = PrivateKey::from_pem(sandbox::MERCHANT_PRIVATE_KEY_PEM)?;
    /// // What the platform sends: a field encrypted with the merchant's public key.
    /// let from_platform = merchant.public_key().encrypt("6214830000000000")?;
    /// assert_eq!(merchant.decrypt(&from_platform)?, "6214830000000000");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn decrypt(&self, ciphertext_b64: &str) -> Result<String, Error> {
        let ciphertext = base64::engine::general_purpose::STANDARD
            .decode(ciphertext_b64.trim())
            .map_err(|e| {
                Error::decode("the RSA-OAEP ciphertext is not base64", Some(Box::new(e)))
            })?;
        let plaintext = rsa::oaep_decrypt(&self.inner.decrypter, &ciphertext)?;
        String::from_utf8(plaintext)
            .map_err(|e| Error::decode("the decrypted field is not UTF-8", Some(Box::new(e))))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("bits", &self.bits())
            .field("public_sha256", &self.inner.public.fingerprint())
            .finish_non_exhaustive()
    }
}

/// An RSA public key of the platform: verifies answers and notifications, encrypts
/// sensitive fields.
///
/// ```
/// use wechatpay::PublicKey;
///
/// let key = PublicKey::from_pem(wechatpay::sandbox::PLATFORM_PUBLIC_KEY_PEM)?;
/// assert_eq!(key.bits(), 2048);
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct PublicKey {
    inner: Arc<PublicKeyInner>,
}

struct PublicKeyInner {
    pkcs1: Vec<u8>,
    spki: Vec<u8>,
    encrypter: OaepPublicEncryptingKey,
}

impl PublicKey {
    /// Parses a PEM public key: SPKI (`BEGIN PUBLIC KEY`, as the merchant platform hands out
    /// `pub_key.pem`), PKCS#1 (`BEGIN RSA PUBLIC KEY`) or an X.509 certificate
    /// (`BEGIN CERTIFICATE`, whose key is taken).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if none of these is found (the message lists what was), or the key is
    /// not RSA.
    pub fn from_pem(pem_text: &str) -> Result<PublicKey, Error> {
        if let Ok(spki) = SubjectPublicKeyInfoDer::from_pem_slice(pem_text.as_bytes()) {
            return PublicKey::from_spki_der(spki.as_ref());
        }
        if let Some(pkcs1) = pem::decode_block(pem_text, "RSA PUBLIC KEY")? {
            return PublicKey::from_pkcs1_der(&pkcs1);
        }
        if CertificateDer::from_pem_slice(pem_text.as_bytes()).is_ok() {
            return Ok(Certificate::from_pem(pem_text)?.public_key().clone());
        }
        Err(pem::not_found(
            pem_text,
            "`PUBLIC KEY`, `RSA PUBLIC KEY` or `CERTIFICATE`",
            "platform public key",
        ))
    }

    /// Reads and parses a PEM public key or certificate file (see [`PublicKey::from_pem`]).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] naming the path if it cannot be read or parsed.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<PublicKey, Error> {
        let path = path.as_ref();
        PublicKey::from_pem(&read_file(path, "public key")?)
            .map_err(|e| e.context(format_args!("`{}`", path.display())))
    }

    /// Parses a DER `SubjectPublicKeyInfo`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if it is not DER or not an RSA key.
    pub fn from_spki_der(spki: &[u8]) -> Result<PublicKey, Error> {
        let info =
            x509_cert::spki::SubjectPublicKeyInfoRef::from_der(spki).map_err(|e| Error::Key {
                message: "public key: the `PUBLIC KEY` block is not a DER SubjectPublicKeyInfo"
                    .into(),
                source: Some(Box::new(e)),
            })?;
        let oid = info.algorithm.oid.to_string();
        if oid != der::RSA_ENCRYPTION_OID {
            return Err(Error::key(format!(
                "public key: expected an RSA key (OID {}), found algorithm OID {oid}",
                der::RSA_ENCRYPTION_OID
            )));
        }
        let pkcs1 = info
            .subject_public_key
            .as_bytes()
            .ok_or_else(|| Error::key("public key: the key bit string has unused bits"))?;
        PublicKey::from_pkcs1_der(pkcs1)
    }

    /// Parses a DER PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if it is not a valid RSA public key.
    pub fn from_pkcs1_der(pkcs1: &[u8]) -> Result<PublicKey, Error> {
        let spki = der::spki_from_pkcs1(pkcs1);
        let encrypter = rsa::oaep_public(&spki).map_err(|reason| {
            Error::key(format!(
                "public key: not a usable RSA public key ({reason})"
            ))
        })?;
        Ok(PublicKey {
            inner: Arc::new(PublicKeyInner {
                pkcs1: pkcs1.to_vec(),
                spki,
                encrypter,
            }),
        })
    }

    /// The key size in bits.
    pub fn bits(&self) -> usize {
        self.inner.encrypter.key_size_bits()
    }

    /// The DER `SubjectPublicKeyInfo`.
    pub fn spki_der(&self) -> &[u8] {
        &self.inner.spki
    }

    /// The key as a `BEGIN PUBLIC KEY` PEM text.
    pub fn to_pem(&self) -> String {
        pem::encode("PUBLIC KEY", &self.inner.spki)
    }

    /// The first 8 bytes of the SHA-256 of the SPKI, in hex: a short, printable identity.
    pub fn fingerprint(&self) -> String {
        fingerprint(&self.inner.spki)
    }

    /// Whether `signature` (raw bytes) is a valid RSA PKCS#1 v1.5 SHA-256 signature of
    /// `message` by this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        rsa::verify(&self.inner.pkcs1, message, signature)
    }

    /// Encrypts a sensitive field with RSA-OAEP (SHA-1, MGF1-SHA1), standard base64, as the
    /// platform expects (e.g. a contact name or ID number).
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] if the plaintext is longer than the key allows (214 bytes for 2048 bits).
    ///
    /// ```
    /// use wechatpay::{sandbox, PrivateKey, PublicKey};
    ///
    /// let platform = PublicKey::from_pem(sandbox::PLATFORM_PUBLIC_KEY_PEM)?;
    /// let sealed = platform.encrypt("张三")?;             // RSA-OAEP is randomized:
    /// assert_ne!(sealed, platform.encrypt("张三")?);       // two encryptions differ
    /// let opened = PrivateKey::from_pem(sandbox::PLATFORM_PRIVATE_KEY_PEM)?.decrypt(&sealed)?;
    /// assert_eq!(opened, "张三");
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn encrypt(&self, plaintext: &str) -> Result<String, Error> {
        let ciphertext = rsa::oaep_encrypt(&self.inner.encrypter, plaintext.as_bytes())?;
        Ok(base64::engine::general_purpose::STANDARD.encode(ciphertext))
    }
}

impl PartialEq for PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner.spki == other.inner.spki
    }
}

impl Eq for PublicKey {}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("bits", &self.bits())
            .field("sha256", &self.fingerprint())
            .finish()
    }
}

/// An X.509 certificate (a platform certificate, or the merchant's `apiclient_cert.pem`).
///
/// ```
/// use wechatpay::Certificate;
///
/// let cert = Certificate::from_pem(wechatpay::sandbox::PLATFORM_CERTIFICATE_PEM)?;
/// // DER serial 00 9F 3A .. prints without the sign byte, as Wechatpay-Serial does.
/// assert_eq!(cert.serial(), "9F3A5C7E1B2D4F6081A3C5E7092B4D6F8091A2B3");
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<CertificateInner>,
}

struct CertificateInner {
    der: Vec<u8>,
    serial: String,
    subject: String,
    public_key: PublicKey,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl Certificate {
    /// Parses the first `BEGIN CERTIFICATE` block of a PEM text.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if there is no certificate block, it is not X.509, or its key is not RSA.
    pub fn from_pem(pem_text: &str) -> Result<Certificate, Error> {
        match CertificateDer::from_pem_slice(pem_text.as_bytes()) {
            Ok(der) => Certificate::from_der(der.as_ref()),
            Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                Err(pem::not_found(pem_text, "`CERTIFICATE`", "certificate"))
            }
            Err(e) => Err(Error::Key {
                message: "certificate: the PEM text is malformed".into(),
                source: Some(Box::new(e)),
            }),
        }
    }

    /// Reads and parses a PEM certificate file.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] naming the path if it cannot be read or parsed.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Certificate, Error> {
        let path = path.as_ref();
        Certificate::from_pem(&read_file(path, "certificate")?)
            .map_err(|e| e.context(format_args!("`{}`", path.display())))
    }

    /// Parses a DER certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if it is not an X.509 certificate with an RSA key.
    pub fn from_der(der_bytes: &[u8]) -> Result<Certificate, Error> {
        let cert = x509_cert::Certificate::from_der(der_bytes).map_err(|e| Error::Key {
            message: "certificate: not a DER X.509 certificate".into(),
            source: Some(Box::new(e)),
        })?;
        let tbs = cert.tbs_certificate();
        let serial = serial_hex(tbs.serial_number().as_bytes());
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| Error::Key {
                message: "certificate: cannot re-encode its public key".into(),
                source: Some(Box::new(e)),
            })?;
        let public_key = PublicKey::from_spki_der(&spki)?;
        let validity = tbs.validity();
        Ok(Certificate {
            inner: Arc::new(CertificateInner {
                der: der_bytes.to_vec(),
                serial,
                subject: tbs.subject().to_string(),
                public_key,
                not_before: SystemTime::UNIX_EPOCH + validity.not_before.to_unix_duration(),
                not_after: SystemTime::UNIX_EPOCH + validity.not_after.to_unix_duration(),
            }),
        })
    }

    /// The serial in uppercase hex without the DER sign byte, the form `Wechatpay-Serial`
    /// and the merchant platform use (e.g. `5157F09EFDC096DE15EBE81A47057A7232F1B8E1`).
    pub fn serial(&self) -> &str {
        &self.inner.serial
    }

    /// The subject distinguished name, RFC 4514 style.
    pub fn subject(&self) -> &str {
        &self.inner.subject
    }

    /// The certified public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.inner.public_key
    }

    /// Start of the validity period.
    pub fn not_before(&self) -> SystemTime {
        self.inner.not_before
    }

    /// End of the validity period.
    pub fn not_after(&self) -> SystemTime {
        self.inner.not_after
    }

    /// Whether `at` lies within the validity period.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    ///
    /// let cert = wechatpay::Certificate::from_pem(wechatpay::sandbox::PLATFORM_CERTIFICATE_PEM)?;
    /// assert!(cert.is_valid_at(cert.not_before() + Duration::from_secs(60)));
    /// assert!(!cert.is_valid_at(SystemTime::UNIX_EPOCH));
    /// # Ok::<(), wechatpay::Error>(())
    /// ```
    pub fn is_valid_at(&self, at: SystemTime) -> bool {
        self.inner.not_before <= at && at <= self.inner.not_after
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The certificate as `BEGIN CERTIFICATE` PEM text.
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.inner.der)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("serial", &self.inner.serial)
            .field("subject", &self.inner.subject)
            .field("not_before", &rfc3339(self.inner.not_before))
            .field("not_after", &rfc3339(self.inner.not_after))
            .finish()
    }
}

/// Uppercase hex of a DER INTEGER's content without the leading zero that only marks it
/// positive (`00 9F ..` is the serial `9F..`).
fn serial_hex(bytes: &[u8]) -> String {
    let bytes = match bytes {
        [0, rest @ ..] if !rest.is_empty() => rest,
        other => other,
    };
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time from 1970 to 9999, `None` outside that range.
pub(crate) fn rfc3339(time: SystemTime) -> Option<String> {
    let secs = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
    x509_cert::der::DateTime::from_unix_duration(Duration::from_secs(secs.as_secs()))
        .ok()
        .map(|dt| dt.to_string())
}

/// `YYYY-MM-DDTHH:MM:SS+08:00`, the China Standard Time form the platform's JSON uses;
/// `None` for a time outside 1970..9999.
pub(crate) fn rfc3339_china(time: SystemTime) -> Option<String> {
    let shifted = time.checked_add(Duration::from_secs(8 * 3600))?;
    let utc = rfc3339(shifted)?;
    let local = utc.strip_suffix('Z')?;
    Some(format!("{local}+08:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_time_is_utc_plus_eight() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_china(t).unwrap(), "2023-11-15T06:13:20+08:00");
        let far = SystemTime::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 4);
        assert_eq!(rfc3339_china(far), None);
    }

    #[test]
    fn serial_drops_only_the_sign_byte() {
        assert_eq!(serial_hex(&[0x00, 0x9f, 0x01]), "9F01");
        assert_eq!(serial_hex(&[0x51, 0x00]), "5100");
        assert_eq!(serial_hex(&[0x00]), "00");
    }
}
