//! The TLS acceptor, built here rather than by tonic so that the connection guard sits above TLS,
//! on the plaintext HTTP/2 frames, and the TLS handshake itself runs under the handshake timeout.

use std::io::Cursor;
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

/// TLS material, as PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsOptions {
    /// The server's certificate chain.
    pub certificate: Vec<u8>,
    /// The server's private key.
    pub key: Vec<u8>,
    /// CA certificates that sign acceptable client certificates; when given, every client must
    /// present one (mutual TLS).
    pub client_ca: Option<Vec<u8>>,
}

/// Why the TLS material cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file holds no usable certificate or key.
    #[error("{what}: {source}")]
    Pem {
        /// Which of the PEM files: the certificate chain, the key or the client CA.
        what: &'static str,
        /// What the PEM reader found wrong in it.
        source: rustls_pki_types::pem::Error,
    },
    /// rustls refused the configuration.
    #[error("{0}")]
    Config(#[from] tokio_rustls::rustls::Error),
    /// The client CA cannot verify certificates.
    #[error("client CA: {0}")]
    ClientCa(#[from] tokio_rustls::rustls::server::VerifierBuilderError),
}

/// An acceptor serving `tls.certificate`, requiring client certificates signed by
/// `tls.client_ca` when one is given, and offering HTTP/2 only (ALPN `h2`).
pub(crate) fn tls_acceptor(tls: &TlsOptions) -> Result<TlsAcceptor, TlsError> {
    let pem = |what: &'static str| move |source| TlsError::Pem { what, source };
    let certificates = CertificateDer::pem_reader_iter(&mut Cursor::new(&tls.certificate))
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem("certificate"))?;
    let key = PrivateKeyDer::from_pem_reader(&mut Cursor::new(&tls.key)).map_err(pem("key"))?;
    // The provider is named rather than taken from the process default, which is ambiguous when
    // more than one is compiled in.
    let builder = ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?;
    let builder = match &tls.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = RootCertStore::empty();
            for certificate in CertificateDer::pem_reader_iter(&mut Cursor::new(ca)) {
                roots.add(certificate.map_err(pem("client CA"))?)?;
            }
            let provider = Arc::new(crypto::ring::default_provider());
            builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(roots.into(), provider).build()?,
            )
        }
    };
    let mut config = builder.with_single_cert(certificates, key)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
