//! `certificatesCollection`: every PEM certificate in each listed file, described as troubleshoot
//! describes it (subject and issuer in Go's RFC 2253 form, DNS SANs, validity, CA flag).
//!
//! The certificates are read with a small DER reader here: only the fields troubleshoot writes are
//! decoded, no signature is checked (troubleshoot checks none either).

use super::output::go_escape;
use super::{Ctx, Error};
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
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

/// One DER element: its tag and contents.
#[derive(Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads the element at the start of `input`; returns it and the rest.
fn tlv(input: &[u8]) -> Option<(Tlv<'_>, &[u8])> {
    let tag = *input.first()?;
    let first = *input.get(1)?;
    let (len, header) = if first & 0x80 == 0 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in input.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let end = header.checked_add(len)?;
    let body = input.get(header..end)?;
    Some((Tlv { tag, body }, &input[end..]))
}

/// All elements of a constructed body.
fn children(body: &[u8]) -> Option<Vec<Tlv<'_>>> {
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (t, r) = tlv(rest)?;
        out.push(t);
        rest = r;
    }
    Some(out)
}

fn oid_string(body: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc = 0u64;
    for b in body {
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (first, second) = if acc < 80 {
                    (acc / 40, acc % 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(first);
                parts.push(second);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// The attributes Go's `pkix.Name` keeps, in the order `ToRDNSequence` rebuilds them, with their
/// short names. Any other attribute (emailAddress, DC, UID...) is dropped by that round trip.
const NAME_FIELDS: &[(&str, &str)] = &[
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

/// Go's RFC 2253 escaping of a value (`pkix.RDNSequence.String`).
fn escape_value(v: &str) -> String {
    let count = v.chars().count();
    let mut out = String::with_capacity(v.len());
    for (k, c) in v.chars().enumerate() {
        let escape = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k + 1 == count,
            '#' => k == 0,
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A directory string's text (BMPString is UTF-16BE; the others are read as UTF-8).
fn string_value(value: Tlv<'_>) -> String {
    if value.tag == 0x1E {
        let units: Vec<u16> = value
            .body
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(value.body).into_owned()
}

/// A Name as troubleshoot prints it: Go parses it into a `pkix.Name` and prints
/// `Name.ToRDNSequence().String()`, so the known attributes come in a fixed order (last first
/// once printed), several values of one type form one multi-valued RDN (`OU=a+OU=b`), CN and
/// SERIALNUMBER keep their last value, and other attributes are gone.
fn name_string(name: &[u8]) -> Option<String> {
    let mut values: Vec<Vec<String>> = vec![Vec::new(); NAME_FIELDS.len()];
    for set in children(name)? {
        for atv in children(set.body)? {
            let f = children(atv.body)?;
            let (oid, value) = (oid_string(f.first()?.body), *f.get(1)?);
            if let Some(i) = NAME_FIELDS.iter().position(|(o, _)| *o == oid) {
                let text = string_value(value);
                if matches!(NAME_FIELDS[i].1, "CN" | "SERIALNUMBER") {
                    values[i] = vec![text];
                } else {
                    values[i].push(text);
                }
            }
        }
    }
    let rdns: Vec<String> = NAME_FIELDS
        .iter()
        .zip(&values)
        .filter(|(_, v)| !v.is_empty())
        .map(|((_, short), v)| {
            v.iter()
                .map(|x| format!("{short}={}", escape_value(x)))
                .collect::<Vec<_>>()
                .join("+")
        })
        .rev()
        .collect();
    Some(rdns.join(","))
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`).
fn der_time(t: Tlv<'_>) -> Option<DateTime<Utc>> {
    let s = std::str::from_utf8(t.body).ok()?.strip_suffix('Z')?;
    let (year, rest) = match t.tag {
        0x17 => {
            let yy: i32 = s.get(..2)?.parse().ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..)?)
        }
        0x18 => (s.get(..4)?.parse().ok()?, s.get(4..)?),
        _ => return None,
    };
    if rest.len() != 10 || !rest.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |i: usize| rest[i..i + 2].parse::<u32>().ok();
    let dt = NaiveDate::from_ymd_opt(year, n(0)?, n(2)?)?.and_hms_opt(n(4)?, n(6)?, n(8)?)?;
    Some(dt.and_utc())
}

/// Parses one DER certificate; `None` when it is not a well-formed X.509 certificate.
pub fn parse_certificate(der: &[u8], now: DateTime<Utc>) -> Option<ParsedCertificate> {
    let (cert, rest) = tlv(der)?;
    if cert.tag != 0x30 || !rest.is_empty() {
        return None;
    }
    let top = children(cert.body)?;
    let tbs = children(top.first().filter(|t| t.tag == 0x30)?.body)?;
    // The optional explicit [0] version comes first.
    let f = if tbs.first()?.tag == 0xA0 {
        &tbs[1..]
    } else {
        &tbs[..]
    };
    // serial, signature algorithm, issuer, validity, subject, public key, then optionals.
    let (issuer, validity, subject) = (f.get(2)?, f.get(3)?, f.get(4)?);
    let times = children(validity.body)?;
    let not_before = der_time(*times.first()?)?;
    let not_after = der_time(*times.get(1)?)?;
    let mut sans: Option<Vec<String>> = None;
    let mut is_ca = false;
    for t in f.iter().skip(6).filter(|t| t.tag == 0xA3) {
        let (exts, _) = tlv(t.body)?;
        for ext in children(exts.body)? {
            let e = children(ext.body)?;
            let oid = oid_string(e.first()?.body);
            // The value is the last element (an optional `critical` boolean sits between).
            let value = tlv(e.last()?.body)?.0;
            match oid.as_str() {
                "2.5.29.17" => {
                    for g in children(value.body)? {
                        if g.tag == 0x82 {
                            sans.get_or_insert_with(Vec::new)
                                .push(String::from_utf8_lossy(g.body).into_owned());
                        }
                    }
                }
                "2.5.29.19" => {
                    is_ca = children(value.body)?
                        .first()
                        .is_some_and(|b| b.tag == 0x01 && b.body.first().is_some_and(|v| *v != 0));
                }
                _ => {}
            }
        }
    }
    Some(ParsedCertificate {
        cert_name: String::new(),
        subject: name_string(subject.body)?,
        subject_alternative_names: sans,
        issuer: name_string(issuer.body)?,
        not_after,
        not_before,
        is_valid: now < not_after && now > not_before,
        is_ca,
    })
}

/// The DER of each `CERTIFICATE` PEM block of `text` (other blocks are skipped, as Go does).
pub fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else { break };
        let b64: String = after[..end].split_whitespace().collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &after[end + END.len()..];
    }
    out
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
    let ders = pem_certificates(&String::from_utf8_lossy(&bytes));
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
        let ders = pem_certificates(&text);
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

    #[test]
    fn escapes_like_go() {
        assert_eq!(escape_value(" a,b+c "), "\\ a\\,b\\+c\\ ");
        assert_eq!(escape_value("#a#"), "\\#a#");
        assert_eq!(escape_value("x<y>;\"z\""), "x\\<y\\>\\;\\\"z\\\"");
    }
}
