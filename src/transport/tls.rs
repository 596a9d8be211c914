//! Which certificate authorities the client trusts for the platform's TLS: the bundled
//! Mozilla roots (webpki-roots) by default, plus, on request, the operating system's roots
//! (cargo feature `native-roots`) and extra CAs (a corporate TLS-inspection proxy), or a
//! whole `rustls::ClientConfig`. The ring provider is always passed explicitly, so another
//! crate in the build enabling aws-lc-rs cannot make rustls pick a provider at random.

use std::sync::Arc;

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::error::Error;

/// The TLS settings of a client builder.
#[derive(Default)]
pub(crate) struct TlsSettings {
    /// PEM texts of extra CA certificates.
    pub(crate) extra_roots: Vec<Vec<u8>>,
    pub(crate) native_roots: bool,
    pub(crate) config: Option<ClientConfig>,
}

impl TlsSettings {
    /// The rustls configuration for the connector. Its ALPN list is left empty: the
    /// connector offers HTTP/2 and HTTP/1.1 itself.
    pub(crate) fn client_config(self) -> Result<ClientConfig, Error> {
        self.config_presenting(None)
    }

    /// The rustls configuration for the connector, presenting `client_auth` in the
    /// handshake when given (the mutual-TLS pool), with the same roots either way.
    pub(crate) fn config_presenting(
        &self,
        client_auth: Option<&super::mtls::ClientAuth>,
    ) -> Result<ClientConfig, Error> {
        if let Some(config) = &self.config {
            if !self.extra_roots.is_empty() || self.native_roots {
                return Err(Error::config(
                    "tls_config replaces the whole TLS configuration: add extra or native \
                     roots to that ClientConfig's root store instead of the builder",
                ));
            }
            let mut config = config.clone();
            config.alpn_protocols.clear();
            if let Some(auth) = client_auth {
                auth.present_in(&mut config)?;
            }
            return Ok(config);
        }
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if self.native_roots {
            add_native_roots(&mut roots)?;
        }
        for (i, pem) in self.extra_roots.iter().enumerate() {
            let what = format!("extra root certificate #{}", i + 1);
            let mut found = 0;
            for certificate in CertificateDer::pem_slice_iter(pem) {
                let certificate = certificate.map_err(|e| {
                    Error::config(format!("{what} is not PEM certificate text: {e}"))
                })?;
                roots.add(certificate).map_err(|e| {
                    Error::config(format!("{what} is not a usable CA certificate: {e}"))
                })?;
                found += 1;
            }
            if found == 0 {
                return Err(Error::config(format!(
                    "{what} holds no `-----BEGIN CERTIFICATE-----` block"
                )));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::config(format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots);
        match client_auth {
            None => Ok(builder.with_no_client_auth()),
            Some(auth) => auth.build(builder),
        }
    }
}

#[cfg(feature = "native-roots")]
fn add_native_roots(roots: &mut RootCertStore) -> Result<(), Error> {
    let found = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map_or_else(|| "none were found".to_owned(), ToString::to_string);
        return Err(Error::config(format!(
            "tls_native_roots: no root certificate of the operating system could be loaded ({why})"
        )));
    }
    Ok(())
}

#[cfg(not(feature = "native-roots"))]
fn add_native_roots(_: &mut RootCertStore) -> Result<(), Error> {
    // The builder's setter exists only with the feature.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_roots_must_be_certificates() {
        let settings = |pem: &[u8]| TlsSettings {
            extra_roots: vec![pem.to_vec()],
            ..TlsSettings::default()
        };
        let error = settings(b"not pem").client_config().unwrap_err();
        assert!(error.to_string().contains("#1"), "{error}");
        let platform = crate::sandbox::PLATFORM_CERTIFICATE_PEM.as_bytes();
        assert!(settings(platform).client_config().is_ok());
    }

    #[test]
    fn a_whole_config_keeps_its_roots_and_loses_its_alpn() {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let built = TlsSettings {
            config: Some(config),
            ..TlsSettings::default()
        }
        .client_config()
        .unwrap();
        assert!(built.alpn_protocols.is_empty());
    }
}
