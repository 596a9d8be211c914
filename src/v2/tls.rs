//! The merchant certificate for mutual TLS, and the rustls client configuration that
//! presents it.
//!
//! APIv2 calls that move money back (`secapi/pay/refund`), out (`mmpaymkttransfers/*`,
//! `mmpaysptrans/*`) or change a merchant's setup ([`endpoint`](super::endpoint)`().mutual_tls`)
//! must present the merchant's API certificate during the TLS handshake. The merchant
//! platform hands it out as `apiclient_cert.pem` + `apiclient_key.pem`, and as
//! `apiclient_cert.p12` (PKCS#12, password = the merchant id, encrypted the legacy way:
//! SHA-1 with RC2-40 and 3DES), which `MerchantIdentity::from_pkcs12` opens without
//! OpenSSL (cargo feature `pkcs12`: its reader costs more to compile than the rest of
//! APIv2 together, so it is opt-in; without it, convert the file once with
//! `openssl pkcs12 -legacy -in apiclient_cert.p12 -nodes` and use the PEM files).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

#[cfg(feature = "pkcs12")]
use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
#[cfg(feature = "pkcs12")]
use rustls_pki_types::PrivatePkcs8KeyDer;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::crypto::{Certificate, PrivateKey};
use crate::error::Error;

/// The merchant's certificate chain and private key, ready for mutual TLS.
///
/// Loading checks that the key belongs to the certificate. Cheap to clone. `Debug` shows
/// the certificate's serial and subject, never the key.
///
/// ```
/// # let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
/// # let keys = root.join("src/sandbox/keys");
/// # let dir = root.join("tests/fixtures/v2/tls");
/// use wechatpay::v2::MerchantIdentity;
///
/// let from_pem = MerchantIdentity::from_pem_files(keys.join("merchant_tls_cert.pem"), keys.join("merchant_key.pem"))?;
/// assert_eq!(from_pem.serial(), "744E5FDA7C3507152818D17AB82F89D94B4B63BF");
/// assert!(!format!("{from_pem:?}").contains("PRIVATE"));
/// # #[cfg(feature = "pkcs12")]
/// # {
/// let from_p12 = MerchantIdentity::from_pkcs12_file(dir.join("merchant_legacy.p12"), "1900000001")?;
/// assert_eq!(from_pem.serial(), from_p12.serial());
/// # }
///
/// let config = from_pem.client_config(&[])?;
/// assert!(config.client_auth_cert_resolver.has_certs());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[derive(Clone)]
pub struct MerchantIdentity {
    inner: Arc<Inner>,
}

struct Inner {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    certificate: Certificate,
}

impl MerchantIdentity {
    /// From the PEM texts of `apiclient_cert.pem` (the certificate, possibly followed by
    /// intermediates) and `apiclient_key.pem` (PKCS#8 or PKCS#1).
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if a text has no certificate or key block, the key is not RSA, or the
    /// key does not belong to the certificate.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Result<MerchantIdentity, Error> {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Key {
                message: "merchant certificate: the PEM text is malformed".into(),
                source: Some(Box::new(e)),
            })?;
        if chain.is_empty() {
            // Reuse the crate's message, which lists the PEM labels that were found.
            Certificate::from_pem(cert_pem)?;
            return Err(Error::key("merchant certificate: no `CERTIFICATE` block"));
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| Error::Key {
            message: "merchant key: expected a `PRIVATE KEY` or `RSA PRIVATE KEY` PEM block".into(),
            source: Some(Box::new(e)),
        })?;
        let check = PrivateKey::from_pem(key_pem).map_err(|e| e.context("merchant key"))?;
        MerchantIdentity::assemble(chain, key, &check)
    }

    /// Reads `apiclient_cert.pem` and `apiclient_key.pem`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] naming the file that cannot be read or parsed; as [`from_pem`](Self::from_pem).
    pub fn from_pem_files(
        cert_path: impl AsRef<Path>,
        key_path: impl AsRef<Path>,
    ) -> Result<MerchantIdentity, Error> {
        let cert_path = cert_path.as_ref();
        let key_path = key_path.as_ref();
        let cert = read_text(cert_path, "merchant certificate")?;
        let key = read_text(key_path, "merchant key")?;
        MerchantIdentity::from_pem(&cert, &key).map_err(|e| {
            e.context(format_args!(
                "`{}` + `{}`",
                cert_path.display(),
                key_path.display()
            ))
        })
    }

    /// From the bytes of `apiclient_cert.p12`. The platform's files use the merchant id as
    /// the password. Both the legacy encryption (SHA-1 with RC2-40/3DES, as the platform and
    /// `openssl pkcs12 -legacy` write) and the modern one (PBES2 with AES, OpenSSL 3's
    /// default) are read.
    ///
    /// Needs the cargo feature `pkcs12`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] if the password is wrong, the file is not PKCS#12, it holds no private
    /// key with its certificate, or the key is not RSA.
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12(p12: &[u8], password: &str) -> Result<MerchantIdentity, Error> {
        let store =
            KeyStore::from_pkcs12(p12, password, Pkcs12ImportPolicy::Strict).map_err(|e| {
                let message = match e {
                    p12_keystore::error::Error::MacError(_) => {
                        "PKCS#12: the password is wrong (the platform's apiclient_cert.p12 uses \
                         the merchant id)"
                    }
                    p12_keystore::error::Error::UnsupportedEncryptionScheme
                    | p12_keystore::error::Error::UnsupportedMacAlgorithm => {
                        "PKCS#12: the file's encryption is not supported; convert it with \
                         `openssl pkcs12` to PEM files"
                    }
                    _ => "PKCS#12: the file cannot be read (is it apiclient_cert.p12?)",
                };
                Error::Key {
                    message: message.into(),
                    source: Some(Box::new(e)),
                }
            })?;
        let Some((_, keychain)) = store.private_key_chain() else {
            return Err(Error::key(
                "PKCS#12: the file holds no private key with its certificate",
            ));
        };
        let chain: Vec<CertificateDer<'static>> = keychain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect();
        let pkcs8 = keychain.key().as_der().to_vec();
        let check = PrivateKey::from_pkcs8_der(&pkcs8).map_err(|e| e.context("PKCS#12 key"))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8));
        MerchantIdentity::assemble(chain, key, &check)
    }

    /// Reads `apiclient_cert.p12`. Needs the cargo feature `pkcs12`.
    ///
    /// # Errors
    ///
    /// [`Error::Key`] naming the file; as [`from_pkcs12`](Self::from_pkcs12).
    #[cfg(feature = "pkcs12")]
    pub fn from_pkcs12_file(
        path: impl AsRef<Path>,
        password: &str,
    ) -> Result<MerchantIdentity, Error> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::Key {
            message: format!("cannot read the PKCS#12 file `{}`", path.display()),
            source: Some(Box::new(e)),
        })?;
        MerchantIdentity::from_pkcs12(&bytes, password)
            .map_err(|e| e.context(format_args!("`{}`", path.display())))
    }

    fn assemble(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        check: &PrivateKey,
    ) -> Result<MerchantIdentity, Error> {
        let Some(first) = chain.first() else {
            return Err(Error::key("merchant certificate: the chain is empty"));
        };
        let certificate =
            Certificate::from_der(first.as_ref()).map_err(|e| e.context("merchant certificate"))?;
        if certificate.public_key().spki_der() != check.public_key().spki_der() {
            return Err(Error::key(format!(
                "the merchant key does not belong to the merchant certificate (serial {}); \
                 use the apiclient_key.pem issued with that apiclient_cert.pem",
                certificate.serial()
            )));
        }
        Ok(MerchantIdentity {
            inner: Arc::new(Inner {
                chain,
                key,
                certificate,
            }),
        })
    }

    /// The certificate's serial, uppercase hex (as the merchant platform shows it).
    pub fn serial(&self) -> &str {
        self.inner.certificate.serial()
    }

    /// The merchant certificate (the first of the chain).
    pub fn certificate(&self) -> &Certificate {
        &self.inner.certificate
    }

    /// The certificate chain as sent in the handshake.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.inner.chain
    }

    /// The private key, for the transport's mutual-TLS pool (never printed).
    pub(crate) fn key_der(&self) -> PrivateKeyDer<'static> {
        self.inner.key.clone_key()
    }

    /// A rustls client configuration that presents this identity: the ring provider (passed
    /// explicitly, as the transport does), TLS 1.2 and 1.3, and trust in the webpki roots
    /// plus `extra_roots` (a test CA such as the sandbox's; empty in production). ALPN is
    /// left to the connector (hyper-rustls sets it from its HTTP versions).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if rustls refuses the key or an extra root.
    pub fn client_config(&self, extra_roots: &[Certificate]) -> Result<ClientConfig, Error> {
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for root in extra_roots {
            roots
                .add(CertificateDer::from(root.der().to_vec()))
                .map_err(|e| Error::Config {
                    message: format!(
                        "the extra TLS root (serial {}) is not a usable trust anchor: {e}",
                        root.serial()
                    ),
                })?;
        }
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config {
                message: format!("cannot set up TLS: {e}"),
            })?
            .with_root_certificates(roots)
            .with_client_auth_cert(self.inner.chain.clone(), self.inner.key.clone_key())
            .map_err(|e| Error::Config {
                message: format!(
                    "rustls refused the merchant certificate (serial {}) or its key: {e}",
                    self.serial()
                ),
            })
    }
}

impl fmt::Debug for MerchantIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MerchantIdentity")
            .field("serial", &self.serial())
            .field("subject", &self.inner.certificate.subject())
            .field("chain_len", &self.inner.chain.len())
            .finish_non_exhaustive()
    }
}

fn read_text(path: &Path, what: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::Key {
        message: format!("cannot read the {what} file `{}`", path.display()),
        source: Some(Box::new(e)),
    })
}
