//! Mutual TLS: the connections that present the merchant certificate.
//!
//! APIv2 calls that move money back or out (`secapi/pay/refund`, red packets, transfers)
//! must present the merchant's API certificate in the TLS handshake. A client configured
//! with one keeps a second connection pool for them, built like the first (the ring
//! provider passed explicitly, the same roots: bundled, native, extra, or those of a whole
//! `tls_config`) but presenting the certificate. The request pipeline marks each request
//! that needs it with the [`MutualTls`] extension, and the default HTTP stack sends marked
//! requests through that pool; a stack of one's own
//! ([`HttpSend`](super::HttpSend)) sees the same mark and the identity to present.

use std::fmt;
use std::sync::Arc;

use rustls::client::WantsClientCert;
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use rustls::{ClientConfig, ConfigBuilder};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::Error;

/// A certificate chain and its private key, presented by the mutual-TLS pool.
pub(crate) struct ClientAuth {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    /// The certificate's serial, for error messages.
    pub(crate) serial: String,
}

impl ClientAuth {
    /// What the mutual-TLS pool presents for `identity`: its chain and key.
    #[cfg(feature = "apiv2")]
    pub(crate) fn presenting(identity: &crate::v2::MerchantIdentity) -> ClientAuth {
        ClientAuth {
            chain: identity.chain().to_vec(),
            key: identity.key_der(),
            serial: identity.serial().to_owned(),
        }
    }

    /// Finishes a configuration builder with this certificate.
    pub(crate) fn build(
        &self,
        builder: ConfigBuilder<ClientConfig, WantsClientCert>,
    ) -> Result<ClientConfig, Error> {
        builder
            .with_client_auth_cert(self.chain.clone(), self.key.clone_key())
            .map_err(|e| self.refused(e))
    }

    /// Makes a finished configuration (a caller's `tls_config`) present this certificate.
    pub(crate) fn present_in(&self, config: &mut ClientConfig) -> Result<(), Error> {
        let certified = CertifiedKey::from_der(
            self.chain.clone(),
            self.key.clone_key(),
            config.crypto_provider(),
        )
        .map_err(|e| self.refused(e))?;
        config.client_auth_cert_resolver = Arc::new(SingleCertAndKey::from(certified));
        Ok(())
    }

    fn refused(&self, e: rustls::Error) -> Error {
        Error::config(format!(
            "rustls refused the merchant certificate (serial {}) or its key for mutual TLS: {e}",
            self.serial
        ))
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientAuth")
            .field("serial", &self.serial)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// The mark of a request that must go over mutual TLS, in its
/// [extensions](http::Request::extensions): the default HTTP stack sends it through the
/// connections that present the merchant certificate. A stack of one's own
/// ([`WechatpayBuilder::http_sender`](crate::WechatpayBuilder::http_sender)) must present
/// [`identity`](Self::identity) for such a request itself.
///
/// ```
/// # let wxpay = wechatpay::sandbox::offline_client_builder()?
/// #     .merchant_identity(wechatpay::sandbox::merchant_identity()?)
/// #     .build()?;
/// use wechatpay::transport::MutualTls;
///
/// let refund = wxpay.chain("v2/secapi/pay/refund").post(serde_json::json!({
///     "appid": "wx2421b1c4370ec43b", "mch_id": "1900000001", "out_trade_no": "1415757673",
///     "out_refund_no": "1415701182", "total_fee": 1, "refund_fee": 1,
/// })).build()?;
/// let mark = refund.extensions().get::<MutualTls>().expect("a mutual-TLS endpoint");
/// assert_eq!(mark.identity().serial(), wechatpay::sandbox::merchant_identity()?.serial());
/// # Ok::<(), wechatpay::Error>(())
/// ```
#[cfg(feature = "apiv2")]
#[derive(Debug, Clone)]
pub struct MutualTls {
    identity: crate::v2::MerchantIdentity,
}

#[cfg(feature = "apiv2")]
impl MutualTls {
    pub(crate) fn new(identity: crate::v2::MerchantIdentity) -> MutualTls {
        MutualTls { identity }
    }

    /// The merchant certificate and key the request must present.
    pub fn identity(&self) -> &crate::v2::MerchantIdentity {
        &self.identity
    }
}

/// Whether `request` is marked for mutual TLS.
pub(crate) fn wants_mutual_tls<B>(request: &http::Request<B>) -> bool {
    #[cfg(feature = "apiv2")]
    {
        request.extensions().get::<MutualTls>().is_some()
    }
    #[cfg(not(feature = "apiv2"))]
    {
        let _ = request;
        false
    }
}

#[cfg(all(test, feature = "apiv2"))]
mod tests {
    use super::super::TlsSettings;

    #[test]
    fn both_kinds_of_configuration_present_the_certificate_with_the_same_roots() {
        let identity = crate::sandbox::merchant_identity().unwrap();
        let auth = super::ClientAuth::presenting(&identity);
        let settings = TlsSettings {
            extra_roots: vec![crate::sandbox::TLS_CA_CERTIFICATE_PEM.as_bytes().to_vec()],
            ..TlsSettings::default()
        };
        let plain = settings.config_presenting(None).unwrap();
        assert!(!plain.client_auth_cert_resolver.has_certs());
        let mutual = settings.config_presenting(Some(&auth)).unwrap();
        assert!(mutual.client_auth_cert_resolver.has_certs());

        // A whole configuration of the caller's: cloned, and made to present it.
        let whole = TlsSettings {
            config: Some(plain),
            ..TlsSettings::default()
        };
        let mutual = whole.config_presenting(Some(&auth)).unwrap();
        assert!(mutual.client_auth_cert_resolver.has_certs());
        assert!(!whole
            .config
            .as_ref()
            .unwrap()
            .client_auth_cert_resolver
            .has_certs());
        assert!(format!("{auth:?}").contains(identity.serial()));
    }
}
