//! rustls client configurations for the database collectors, with troubleshoot's choices:
//! `tls.skipVerify` accepts any certificate; otherwise `tls.cacert` is added to the system's roots
//! (Go's `SystemCertPool` plus the CA) and a client certificate is sent when both halves are given.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::sync::Arc;

/// The collector's `tls` (a `secret` already read).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsParams {
    /// `skipVerify`: no certificate check at all.
    pub skip_verify: bool,
    /// `cacert`, PEM.
    pub ca_cert: String,
    /// `clientCert`, PEM.
    pub client_cert: String,
    /// `clientKey`, PEM.
    pub client_key: String,
}

/// How the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verify {
    /// Not at all (`skipVerify`, libpq's `prefer` and `require`).
    Nothing,
    /// The chain to a trusted root, not the name (libpq's `verify-ca`).
    Chain,
    /// The chain and the server's name (everything else).
    Full,
}

/// Which roots a verifying configuration trusts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Roots {
    /// The system's roots plus the CA given (Go's `createTLSConfig`).
    SystemAndCa,
    /// Only the CA given, else the system's (libpq's `sslrootcert`).
    CaElseSystem,
}

/// A TLS setting that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// No CA where one is needed.
    #[error(
        "failed to append CA cert to root CA bundle: `tls.cacert` is empty or not PEM (give the CA certificate, or `skipVerify: true`)"
    )]
    NoCa,
    /// Bad PEM.
    #[error("{what}: {message}")]
    Pem {
        /// Which field.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// troubleshoot's `createTLSConfig`: `skipVerify` wins; otherwise the CA must parse.
pub fn go_config(params: &TlsParams) -> Result<Arc<ClientConfig>, TlsError> {
    if params.skip_verify {
        return config(params, Verify::Nothing, Roots::SystemAndCa, false);
    }
    config(params, Verify::Full, Roots::SystemAndCa, true)
}

/// A client configuration: `verify`, `roots`, and the client certificate when both halves are
/// given. `ca_required`: an empty or unparsable CA is an error (Go's `AppendCertsFromPEM`).
pub fn config(
    params: &TlsParams,
    verify: Verify,
    roots: Roots,
    ca_required: bool,
) -> Result<Arc<ClientConfig>, TlsError> {
    let builder =
        ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?;
    let builder = match verify {
        Verify::Nothing => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert(provider()))),
        Verify::Chain | Verify::Full => {
            let store = Arc::new(root_store(params, roots, ca_required)?);
            let webpki = WebPkiServerVerifier::builder_with_provider(store, provider())
                .build()
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            if verify == Verify::Full {
                builder.with_webpki_verifier(webpki)
            } else {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(ChainOnly(webpki)))
            }
        }
    };
    let config = if params.client_cert.is_empty() && params.client_key.is_empty() {
        builder.with_no_client_auth()
    } else {
        let certs = CertificateDer::pem_slice_iter(params.client_cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem("clientCert", e))?;
        let key = PrivateKeyDer::from_pem_slice(params.client_key.as_bytes())
            .map_err(|e| pem("clientKey", e))?;
        builder.with_client_auth_cert(certs, key)?
    };
    Ok(Arc::new(config))
}

fn pem(what: &'static str, e: impl std::fmt::Display) -> TlsError {
    TlsError::Pem {
        what,
        message: e.to_string(),
    }
}

fn root_store(
    params: &TlsParams,
    roots: Roots,
    ca_required: bool,
) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let ca: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(params.ca_cert.as_bytes())
            .filter_map(Result::ok)
            .collect();
    if ca.is_empty() && ca_required {
        return Err(TlsError::NoCa);
    }
    let (added, _) = store.add_parsable_certificates(ca);
    if added == 0 && ca_required {
        return Err(TlsError::NoCa);
    }
    if roots == Roots::SystemAndCa || added == 0 {
        // Unreadable system certificates are skipped, as Go's pool skips them.
        let system = rustls_native_certs::load_native_certs();
        store.add_parsable_certificates(system.certs);
    }
    Ok(store)
}

/// Accepts any certificate (`skipVerify`, libpq's unverified modes); signatures still checked.
#[derive(Debug)]
struct AnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The chain checked, the name not (libpq's `verify-ca`).
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The name rustls checks the certificate against (an IP address or a DNS name).
pub fn server_name(host: &str) -> Result<ServerName<'static>, TlsError> {
    ServerName::try_from(host.to_string()).map_err(|e| TlsError::Pem {
        what: "server name",
        message: format!("{host:?}: {e}"),
    })
}
