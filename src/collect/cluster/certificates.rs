//! `certificates`: the PEM certificates in the named secrets and ConfigMaps (every key, every
//! namespace listed) described in `certificates/certificates.json`, troubleshoot's
//! `[]CertCollection` (tab-indented, Go's field order). A source that cannot be read, or a key
//! without a certificate, becomes an entry of that source's `errors`.

use super::api::encode;
use super::{Ctx, Error};
use crate::collect::x509::{self, pem_certificates};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::Value;

/// Where certificates were read from (`secret` or `configMap`, and the namespace).
#[derive(Debug, Serialize, PartialEq)]
pub struct Source {
    /// The secret's name.
    #[serde(rename = "secret", skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// The ConfigMap's name.
    #[serde(rename = "configMap", skip_serializing_if = "String::is_empty")]
    pub config_map: String,
    /// Its namespace.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

/// One certificate, as troubleshoot's ParsedCertificate.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Certificate {
    /// The data key it was found under.
    #[serde(rename = "certificate")]
    pub name: String,
    /// Subject, RFC 2253 order.
    pub subject: String,
    /// DNS names (`null` when none, as Go's nil slice).
    pub subject_alternative_names: Option<Vec<String>>,
    /// Issuer.
    pub issuer: String,
    /// Not valid after (RFC 3339).
    pub not_after: String,
    /// Not valid before (RFC 3339).
    pub not_before: String,
    /// Within its validity now.
    pub is_valid: bool,
    /// A CA certificate.
    #[serde(rename = "isCA")]
    pub is_ca: bool,
}

/// One source's certificates and problems.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Collection {
    /// Where from.
    pub source: Source,
    /// What went wrong (left out when nothing did).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The certificates found (left out when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub certificate_chain: Vec<Certificate>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Why a data entry gives no certificates (an entry of the source's `errors`).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// No CERTIFICATE PEM block under the key.
    #[error("No certificates found in {0}")]
    NoCertificates(String),
    /// A block that is no certificate.
    #[error(transparent)]
    X509(#[from] x509::X509Error),
}

/// The certificates of one data entry (troubleshoot's CertParser): all of them, or an error and
/// none when one does not parse or there is no CERTIFICATE block.
pub fn parse_entry(
    key: &str,
    data: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<Certificate>, EntryError> {
    let ders = pem_certificates(data);
    if ders.is_empty() {
        return Err(EntryError::NoCertificates(key.to_string()));
    }
    let mut out = Vec::new();
    for der in ders {
        let c = x509::parse(&der)?;
        out.push(Certificate {
            name: key.to_string(),
            subject: c.subject,
            subject_alternative_names: c.dns_names,
            issuer: c.issuer,
            not_after: rfc3339(c.not_after),
            not_before: rfc3339(c.not_before),
            is_valid: now < c.not_after && now > c.not_before,
            is_ca: c.is_ca,
        });
    }
    Ok(out)
}

/// Which kind of object a source is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Secret,
    ConfigMap,
}

/// The sources of a body's `secrets` or `configMaps`: (name, namespace) pairs in spec order.
fn sources(body: &Value, key: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for s in body[key].as_array().into_iter().flatten() {
        let name = s["name"].as_str().unwrap_or("").to_string();
        for ns in s["namespaces"].as_array().into_iter().flatten() {
            if let Some(ns) = ns.as_str() {
                out.push((name.clone(), ns.to_string()));
            }
        }
    }
    out
}

async fn one(ctx: &Ctx, kind: Kind, name: &str, ns: &str, now: DateTime<Utc>) -> Collection {
    let plural = match kind {
        Kind::Secret => "secrets",
        Kind::ConfigMap => "configmaps",
    };
    let mut source = Source {
        secret: String::new(),
        config_map: String::new(),
        namespace: ns.to_string(),
    };
    match kind {
        Kind::Secret => source.secret = name.to_string(),
        Kind::ConfigMap => source.config_map = name.to_string(),
    }
    let path = format!(
        "/api/v1/namespaces/{}/{plural}/{}",
        encode(ns),
        encode(name)
    );
    let object = match ctx.api.get(&path).await {
        Ok(o) => o,
        Err(e) => {
            return Collection {
                source,
                errors: vec![e.to_string()],
                certificate_chain: Vec::new(),
            };
        }
    };
    let mut errors = Vec::new();
    let mut chain = Vec::new();
    // Keys in order (Go ranges over a map: any order; sorted is stable).
    let mut entries: Vec<(&String, &Value)> =
        object["data"].as_object().into_iter().flatten().collect();
    entries.sort_by_key(|(k, _)| *k);
    for (key, value) in entries {
        let raw = value.as_str().unwrap_or("");
        let data = match kind {
            Kind::Secret => match base64::engine::general_purpose::STANDARD.decode(raw) {
                Ok(d) => d,
                Err(e) => {
                    errors.push(format!("{key}: {e}"));
                    continue;
                }
            },
            Kind::ConfigMap => raw.as_bytes().to_vec(),
        };
        match parse_entry(key, &data, now) {
            Ok(certs) => chain.extend(certs),
            Err(e) => errors.push(e.to_string()),
        }
    }
    Collection {
        source,
        errors,
        certificate_chain: chain,
    }
}

/// Runs one `certificates` collector.
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let now = Utc::now();
    let mut results = Vec::new();
    for (kind, key) in [(Kind::Secret, "secrets"), (Kind::ConfigMap, "configMaps")] {
        for (name, ns) in sources(body, key) {
            results.push(one(ctx, kind, &name, &ns, now).await);
        }
    }
    // json.MarshalIndent(results, "", "\t"), with Go's HTML-safe escaping.
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    results
        .serialize(&mut ser)
        .map_err(|e| Error::Other(format!("encode certificates.json: {e}")))?;
    let text = crate::collect::host::output::go_escape(&String::from_utf8_lossy(&buf));
    ctx.write("certificates/certificates.json", &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn entries_without_certificates_are_errors() {
        let now = Utc::now();
        let err = parse_entry(
            "tls.key",
            b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            now,
        )
        .expect_err("no certificate");
        assert_eq!(err.to_string(), "No certificates found in tls.key");
        let c = Collection {
            source: Source {
                secret: "s".into(),
                config_map: String::new(),
                namespace: "n".into(),
            },
            errors: Vec::new(),
            certificate_chain: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&c).expect("json"),
            json!({"source": {"secret": "s", "namespace": "n"}})
        );
        assert_eq!(
            sources(
                &json!({"secrets": [{"name": "a", "namespaces": ["x", "y"]}]}),
                "secrets"
            ),
            [
                ("a".to_string(), "x".to_string()),
                ("a".to_string(), "y".to_string())
            ]
        );
    }
}
