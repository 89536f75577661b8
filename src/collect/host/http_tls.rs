//! TLS for the builtin `http` client: the client configuration from troubleshoot's options, and
//! Go-style messages for handshake failures (they are the `error.message` of the result file).
//!
//! troubleshoot's `doRequest` trusts only `tls.cacert` when it is given (Go's `RootCAs` replaced
//! by a pool of that CA), else the system's roots; `insecureSkipVerify` checks nothing. A client
//! certificate (`clientCert` + `clientKey`) is sent when both are given.

pub use crate::collect::cluster::db::tls::TlsParams;
use crate::collect::cluster::db::tls::{self, Roots, TlsError, Verify};
use rustls::{AlertDescription, CertificateError, ClientConfig};
use std::sync::Arc;

/// The client configuration for `params` (`skip_verify` is the request's `insecureSkipVerify`):
/// ALPN `http/1.1`, because this client speaks nothing else.
pub fn client_config(params: &TlsParams) -> Result<Arc<ClientConfig>, TlsError> {
    let ca = params.ca_cert.trim();
    if !ca.is_empty() && !ca.contains("BEGIN CERTIFICATE") {
        // Go takes a non-PEM `cacert` as a file or directory path (SSL_CERT_FILE/SSL_CERT_DIR).
        return Err(TlsError::Pem {
            what: "tls.cacert",
            message: "a file or directory path is not supported yet: give the PEM text of the CA"
                .into(),
        });
    }
    let verify = if params.skip_verify {
        Verify::Nothing
    } else {
        Verify::Full
    };
    let config =
        tls::config(params, verify, Roots::CaElseSystem, !ca.is_empty()).map_err(|e| match e {
            TlsError::NoCa => TlsError::Pem {
                what: "tls.cacert",
                message: "failed to append certificate to cert pool".into(),
            },
            other => other,
        })?;
    let mut config = Arc::unwrap_or_clone(config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Whether an I/O error is rustls refusing or being refused (not a socket error).
pub fn is_tls_error(e: &std::io::Error) -> bool {
    e.get_ref()
        .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some())
}

/// Go's wording for a failed handshake (`tls: failed to verify certificate: x509: ...`,
/// `remote error: tls: certificate required`); `host` is the name that was checked.
pub fn handshake_message(e: &std::io::Error, host: &str) -> String {
    let Some(err) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        return e.to_string();
    };
    match err {
        rustls::Error::InvalidCertificate(c) => {
            format!("tls: failed to verify certificate: {}", x509(c, host))
        }
        rustls::Error::AlertReceived(a) => format!("remote error: tls: {}", alert(*a)),
        other => format!("tls: {other}"),
    }
}

fn x509(c: &CertificateError, host: &str) -> String {
    match c {
        CertificateError::UnknownIssuer => "x509: certificate signed by unknown authority".into(),
        CertificateError::NotValidForNameContext { presented, .. } => format!(
            "x509: certificate is valid for {}, not {host}",
            presented.join(", ")
        ),
        CertificateError::NotValidForName => format!("x509: certificate is not valid for {host}"),
        CertificateError::Expired
        | CertificateError::ExpiredContext { .. }
        | CertificateError::NotValidYet
        | CertificateError::NotValidYetContext { .. } => {
            "x509: certificate has expired or is not yet valid".into()
        }
        other => format!("x509: {other}"),
    }
}

/// `CertificateRequired` → `certificate required`, as Go names alerts.
fn alert(a: AlertDescription) -> String {
    let mut out = String::new();
    for ch in format!("{a:?}").chars() {
        if ch.is_ascii_uppercase() && !out.is_empty() {
            out.push(' ');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_read_like_go() {
        assert_eq!(
            alert(AlertDescription::CertificateRequired),
            "certificate required"
        );
        assert_eq!(alert(AlertDescription::BadCertificate), "bad certificate");
    }

    #[test]
    fn unknown_authority_reads_like_go() {
        let e = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
        );
        assert_eq!(
            handshake_message(&e, "h"),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority"
        );
    }

    #[test]
    fn cacert_must_be_pem() {
        let params = TlsParams {
            ca_cert: "/etc/ssl/ca.pem".into(),
            ..TlsParams::default()
        };
        let e = client_config(&params).unwrap_err().to_string();
        assert!(e.contains("tls.cacert") && e.contains("path"), "{e}");
        let params = TlsParams {
            ca_cert: "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into(),
            ..TlsParams::default()
        };
        let e = client_config(&params).unwrap_err().to_string();
        assert!(e.contains("failed to append certificate"), "{e}");
        let ok = client_config(&TlsParams::default()).unwrap();
        assert_eq!(ok.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
