//! `certificatesCollection`: every PEM certificate in each listed file, described as troubleshoot
//! describes it (subject and issuer in Go's RFC 2253 form, DNS SANs, validity, CA flag).
//!
//! The certificates are read with `collect::x509` (shared with the in-cluster `certificates`).

use super::output::go_escape;
use super::{Ctx, Error};
use crate::collect::x509::{self, pem_certificates};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One certificate (troubleshoot's `ParsedCertificate`, field order as Go writes it).
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ParsedCertificate {
    #[serde(rename = "certificate")]
    cert_name: String,
    subject: String,
    subject_alternative_names: Option<Vec<String>>,
    issuer: String,
    not_after: DateTime<Utc>,
    not_before: DateTime<Utc>,
    is_valid: bool,
    #[serde(rename = "isCA")]
    is_ca: bool,
}

/// One file's result (troubleshoot's `HostCertificatesCollection`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileResult {
    #[serde(skip_serializing_if = "String::is_empty")]
    certificate_path: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    certificate_chain: Vec<ParsedCertificate>,
    #[serde(skip_serializing_if = "str::is_empty")]
    message: &'static str,
}

/// Parses one DER certificate; `None` when it is not a well-formed X.509 certificate.
fn parse_certificate(der: &[u8], now: DateTime<Utc>) -> Option<ParsedCertificate> {
    let c = x509::parse(der).ok()?;
    Some(ParsedCertificate {
        cert_name: String::new(),
        is_valid: now < c.not_after && now > c.not_before,
        subject: c.subject,
        subject_alternative_names: c.dns_names,
        issuer: c.issuer,
        not_after: c.not_after,
        not_before: c.not_before,
        is_ca: c.is_ca,
    })
}

/// troubleshoot's `HostCertsParser` for one path.
async fn describe(path: &str, now: DateTime<Utc>) -> FileResult {
    let result = |chain, message| FileResult {
        certificate_path: path.to_string(),
        certificate_chain: chain,
        message,
    };
    // Through tokio::fs: the paths come from the spec and may be on a slow mount. A directory
    // or unreadable file is "missing", as troubleshoot's ReadFile error makes it.
    let Ok(bytes) = tokio::fs::read(path).await else {
        return result(Vec::new(), "cert-missing");
    };
    let ders = pem_certificates(&bytes);
    let chain: Option<Vec<ParsedCertificate>> =
        ders.iter().map(|d| parse_certificate(d, now)).collect();
    match chain {
        Some(chain) if !chain.is_empty() => result(chain, "cert-valid"),
        _ => result(Vec::new(), "cert-invalid"),
    }
}

/// JSON indented with one tab per level, with Go's escaping.
fn tab_indented<T: Serialize>(value: &T) -> Result<String, Error> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    value
        .serialize(&mut ser)
        .map_err(|e| Error::Other(format!("encode JSON: {e}")))?;
    Ok(go_escape(&String::from_utf8_lossy(&buf)))
}

/// The `certificatesCollection` host collector:
/// `host-collectors/certificatesCollection/<collectorName|certificatesCollection>.json`.
pub async fn certificates_collection(ctx: &Ctx<'_>) -> Result<(), Error> {
    let now = Utc::now();
    let mut results = Vec::new();
    for path in ctx.strings("paths") {
        results.push(describe(&path, now).await);
    }
    // Go marshals a nil slice (no paths) as `null`, indented with tabs (MarshalIndent "\t").
    let json = if results.is_empty() {
        "null".to_string()
    } else {
        tab_indented(&results)?
    };
    let file = super::output::file_name(ctx.name.unwrap_or("certificatesCollection"), ".json");
    ctx.out
        .write(
            &["host-collectors", "certificatesCollection", &file],
            json.as_bytes(),
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// openssl req -x509 -newkey ec -subj "/C=US/O=Acme, Inc./OU=Ops\+Dev/CN=#test ca/emailAddress=a@b.test"
    /// -addext "subjectAltName=DNS:a.test,DNS:b.test,IP:10.0.0.1" -addext "basicConstraints=critical,CA:TRUE"
    const CA: &str = "-----BEGIN CERTIFICATE-----
MIICNjCCAdygAwIBAgIUT1OQQs50GTCdAR6eaEDPSgtNhcswCgYIKoZIzj0EAwIw
YDELMAkGA1UEBhMCVVMxEzARBgNVBAoMCkFjbWUsIEluYy4xEDAOBgNVBAsMB09w
cytEZXYxETAPBgNVBAMMCCN0ZXN0IGNhMRcwFQYJKoZIhvcNAQkBFghhQGIudGVz
dDAeFw0yNjEyMDcxNDI0MTJaFw0zNjEyMDQxNDI0MTJaMGAxCzAJBgNVBAYTAlVT
MRMwEQYDVQQKDApBY21lLCBJbmMuMRAwDgYDVQQLDAdPcHMrRGV2MREwDwYDVQQD
DAgjdGVzdCBjYTEXMBUGCSqGSIb3DQEJARYIYUBiLnRlc3QwWTATBgcqhkjOPQIB
BggqhkjOPQMBBwNCAARPGACQCxFnnKGJ91Z9rmRZiObUkCT6bWDtvShmnGdpKPWw
oqrEES2DWRANg0uft7In8/l33IQBlwEU0ZJ4ivWro3QwcjAdBgNVHQ4EFgQUM+re
lmq4REaR2cCJcF8TM0K9C/swHwYDVR0jBBgwFoAUM+relmq4REaR2cCJcF8TM0K9
C/swHwYDVR0RBBgwFoIGYS50ZXN0ggZiLnRlc3SHBAoAAAEwDwYDVR0TAQH/BAUw
AwEB/zAKBggqhkjOPQQDAgNIADBFAiAsIRefTD4MTqTHPzHotROXJi2YMmTrEn0o
lt1vLN0SaQIhAOjYvfwcEDkZeexp0whYjRwbaQDw2XXGmbX7ljAZKWzw
-----END CERTIFICATE-----
";

    #[test]
    fn describes_a_certificate_as_go_does() {
        let text =
            format!("junk\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n{CA}");
        let ders = pem_certificates(text.as_bytes());
        assert_eq!(ders.len(), 1);
        let now = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z")
            .expect("time")
            .to_utc();
        let c = parse_certificate(&ders[0], now).expect("parse");
        // As troubleshoot v0.133's support-bundle wrote it for this certificate: the
        // emailAddress attribute is dropped by Go's pkix.Name round trip.
        let name = "CN=\\#test ca,OU=Ops\\+Dev,O=Acme\\, Inc.,C=US";
        assert_eq!(c.subject, name);
        assert_eq!(c.issuer, name);
        assert_eq!(
            c.subject_alternative_names,
            Some(vec!["a.test".into(), "b.test".into()])
        );
        assert!(c.is_ca);
        assert!(c.is_valid);
        let json = serde_json::to_value(&c).expect("json");
        assert_eq!(json["notBefore"], "2026-12-07T14:24:12Z");
        assert_eq!(json["notAfter"], "2036-12-04T14:24:12Z");
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        assert_eq!(
            keys,
            [
                "certificate",
                "subject",
                "subjectAlternativeNames",
                "issuer",
                "notAfter",
                "notBefore",
                "isValid",
                "isCA"
            ]
        );
        let later = DateTime::parse_from_rfc3339("2040-01-01T00:00:00Z")
            .expect("time")
            .to_utc();
        assert!(!parse_certificate(&ders[0], later).expect("parse").is_valid);
        // Truncated or trailing bytes are not a certificate.
        assert!(parse_certificate(&ders[0][..ders[0].len() - 1], now).is_none());
        let mut longer = ders[0].clone();
        longer.push(0);
        assert!(parse_certificate(&longer, now).is_none());
    }
}
