//! The sandbox's TLS: the test server certificate for `127.0.0.1`/`localhost`, issued by the
//! test CA ([`TLS_CA_CERTIFICATE_PEM`](super::TLS_CA_CERTIFICATE_PEM)), and the client
//! certificate asked for like the platform's front end does: optional in the handshake
//! (one host serves both kinds of endpoints), verified against the test CA when presented
//! (a certificate from another CA fails the handshake), required by the APIv2 endpoints that
//! need mutual TLS (answered `400 No required SSL certificate was sent` without one, the page
//! the platform's nginx serves).

use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::{TLS_CA_CERTIFICATE_PEM, TLS_SERVER_CERTIFICATE_PEM, TLS_SERVER_PRIVATE_KEY_PEM};
use crate::error::Error;

/// The acceptor of the sandbox's TLS listener.
pub(crate) fn acceptor() -> Result<TlsAcceptor, Error> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        Error::config(format!("the sandbox's TLS {what} does not load: {e}"))
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(TLS_CA_CERTIFICATE_PEM.as_bytes()) {
        let ca = ca.map_err(|e| bad("CA", &e))?;
        roots.add(ca).map_err(|e| bad("CA", &e))?;
    }
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad("client verifier", &e))?;
    let chain = CertificateDer::pem_slice_iter(TLS_SERVER_CERTIFICATE_PEM.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("server certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(TLS_SERVER_PRIVATE_KEY_PEM.as_bytes())
        .map_err(|e| bad("server key", &e))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("configuration", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| bad("server certificate", &e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
