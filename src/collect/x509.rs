//! The few X.509 fields troubleshoot reports of a certificate (the in-cluster `certificates` and
//! the host `certificatesCollection` collectors), read from DER without a crypto crate: subject
//! and issuer (as Go's `pkix.Name.ToRDNSequence().String()` prints them), DNS subject alternative
//! names, validity and the CA flag. Signatures are not checked: the collectors describe
//! certificates, they do not trust them (troubleshoot checks none either).

use chrono::{DateTime, NaiveDate, Utc};

/// What is wrong with a certificate's DER.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum X509Error {
    /// The bytes end inside an element.
    #[error("x509: malformed certificate: truncated")]
    Truncated,
    /// An element has an unexpected tag.
    #[error("x509: malformed certificate: expected tag {expected:#04x}, found {found:#04x}")]
    Tag {
        /// The tag wanted.
        expected: u8,
        /// The tag found.
        found: u8,
    },
    /// A time that is not UTCTime/GeneralizedTime `...Z`.
    #[error("x509: malformed validity")]
    Time,
    /// Bytes follow the certificate (Go's `x509.ParseCertificate` refuses them too).
    #[error("x509: trailing data")]
    TrailingData,
}

/// The reported fields of one certificate.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The subject, RFC 2253 order (most specific first).
    pub subject: String,
    /// The issuer, likewise.
    pub issuer: String,
    /// DNS names of the subjectAltName extension (`None`: none).
    pub dns_names: Option<Vec<String>>,
    /// Not valid before.
    pub not_before: DateTime<Utc>,
    /// Not valid after.
    pub not_after: DateTime<Utc>,
    /// basicConstraints cA.
    pub is_ca: bool,
}

/// One DER element: its tag and its content.
struct Tlv<'a> {
    tag: u8,
    body: &'a [u8],
}

/// Reads one element off the front of `input`.
fn next<'a>(input: &mut &'a [u8]) -> Result<Tlv<'a>, X509Error> {
    let data = *input;
    let (&tag, rest) = data.split_first().ok_or(X509Error::Truncated)?;
    let (&first, mut rest) = rest.split_first().ok_or(X509Error::Truncated)?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return Err(X509Error::Truncated);
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[n..];
        len
    };
    if rest.len() < len {
        return Err(X509Error::Truncated);
    }
    let (body, after) = rest.split_at(len);
    *input = after;
    Ok(Tlv { tag, body })
}

fn expect<'a>(input: &mut &'a [u8], tag: u8) -> Result<&'a [u8], X509Error> {
    let t = next(input)?;
    if t.tag != tag {
        return Err(X509Error::Tag {
            expected: tag,
            found: t.tag,
        });
    }
    Ok(t.body)
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// Dotted form of an OID's content.
fn oid_string(body: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc = 0u64;
    for &b in body {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (a, b) = if acc < 80 {
                    (acc / 40, acc % 40)
                } else {
                    (2, acc - 80)
                };
                parts.push(a);
                parts.push(b);
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

/// The parsed parts of a Name, as Go's `pkix.Name` keeps them (unknown attributes dropped).
#[derive(Default)]
struct Name {
    country: Vec<String>,
    province: Vec<String>,
    locality: Vec<String>,
    street: Vec<String>,
    postal: Vec<String>,
    org: Vec<String>,
    org_unit: Vec<String>,
    common_name: String,
    serial: String,
}

fn parse_name(body: &[u8]) -> Result<Name, X509Error> {
    let mut name = Name::default();
    let mut rdns = body;
    while !rdns.is_empty() {
        let mut set = expect(&mut rdns, SET)?;
        while !set.is_empty() {
            let mut atv = expect(&mut set, SEQUENCE)?;
            let oid = oid_string(expect(&mut atv, OID)?);
            let value = next(&mut atv)?;
            // Go keeps string values only (UTF8, Printable, IA5, T61, BMP...).
            let text = match value.tag {
                0x0c | 0x13 | 0x16 | 0x14 | 0x1a => {
                    String::from_utf8_lossy(value.body).into_owned()
                }
                0x1e => String::from_utf16_lossy(
                    &value
                        .body
                        .chunks(2)
                        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
                        .collect::<Vec<_>>(),
                ),
                _ => continue,
            };
            match oid.as_str() {
                "2.5.4.6" => name.country.push(text),
                "2.5.4.8" => name.province.push(text),
                "2.5.4.7" => name.locality.push(text),
                "2.5.4.9" => name.street.push(text),
                "2.5.4.17" => name.postal.push(text),
                "2.5.4.10" => name.org.push(text),
                "2.5.4.11" => name.org_unit.push(text),
                "2.5.4.3" => name.common_name = text,
                "2.5.4.5" => name.serial = text,
                _ => {}
            }
        }
    }
    Ok(name)
}

/// Go's RDN value escaping.
fn escape(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::new();
    for (k, &c) in chars.iter().enumerate() {
        let esc = match c {
            ',' | '+' | '"' | '\\' | '<' | '>' | ';' => true,
            ' ' => k == 0 || k == chars.len() - 1,
            '#' => k == 0,
            _ => false,
        };
        if esc {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Name {
    /// `ToRDNSequence().String()`: the RDNs in reverse of Go's build order.
    fn to_go_string(&self) -> String {
        let cn = [self.common_name.clone()];
        let serial = [self.serial.clone()];
        let rdns: [(&str, &[String]); 9] = [
            ("C", &self.country),
            ("ST", &self.province),
            ("L", &self.locality),
            ("STREET", &self.street),
            ("POSTALCODE", &self.postal),
            ("O", &self.org),
            ("OU", &self.org_unit),
            (
                "CN",
                if self.common_name.is_empty() {
                    &[]
                } else {
                    &cn
                },
            ),
            (
                "SERIALNUMBER",
                if self.serial.is_empty() { &[] } else { &serial },
            ),
        ];
        rdns.iter()
            .rev()
            .filter(|(_, values)| !values.is_empty())
            .map(|(t, values)| {
                values
                    .iter()
                    .map(|v| format!("{t}={}", escape(v)))
                    .collect::<Vec<_>>()
                    .join("+")
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_time(t: &Tlv<'_>) -> Result<DateTime<Utc>, X509Error> {
    let s = std::str::from_utf8(t.body).map_err(|_| X509Error::Time)?;
    let s = s.strip_suffix('Z').ok_or(X509Error::Time)?;
    let full = match t.tag {
        0x17 if s.len() == 12 => {
            let yy: i32 = s[..2].parse().map_err(|_| X509Error::Time)?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        0x18 if s.len() == 14 => s.to_string(),
        _ => return Err(X509Error::Time),
    };
    let num = |r: std::ops::Range<usize>| -> Result<u32, X509Error> {
        full[r].parse().map_err(|_| X509Error::Time)
    };
    let year: i32 = full[..4].parse().map_err(|_| X509Error::Time)?;
    let (month, day) = (num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(8..10)?, num(10..12)?, num(12..14)?);
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|d| d.and_hms_opt(hour, minute, second))
        .map(|t| t.and_utc())
        .ok_or(X509Error::Time)
}

/// Parses one DER certificate.
pub fn parse(der: &[u8]) -> Result<Parsed, X509Error> {
    let mut input = der;
    let mut cert = expect(&mut input, SEQUENCE)?;
    if !input.is_empty() {
        return Err(X509Error::TrailingData);
    }
    let mut tbs = expect(&mut cert, SEQUENCE)?;
    let mut t = next(&mut tbs)?;
    if t.tag == 0xa0 {
        t = next(&mut tbs)?; // the serial number follows the version
    }
    if t.tag != 0x02 {
        return Err(X509Error::Tag {
            expected: 0x02,
            found: t.tag,
        });
    }
    expect(&mut tbs, SEQUENCE)?; // signature algorithm
    let issuer = parse_name(expect(&mut tbs, SEQUENCE)?)?;
    let mut validity = expect(&mut tbs, SEQUENCE)?;
    let not_before = parse_time(&next(&mut validity)?)?;
    let not_after = parse_time(&next(&mut validity)?)?;
    let subject = parse_name(expect(&mut tbs, SEQUENCE)?)?;
    expect(&mut tbs, SEQUENCE)?; // subject public key info
    let mut dns_names = None;
    let mut is_ca = false;
    while !tbs.is_empty() {
        let t = next(&mut tbs)?;
        if t.tag != 0xa3 {
            continue;
        }
        let mut body = t.body;
        let mut exts = expect(&mut body, SEQUENCE)?;
        while !exts.is_empty() {
            let mut ext = expect(&mut exts, SEQUENCE)?;
            let oid = oid_string(expect(&mut ext, OID)?);
            let mut v = next(&mut ext)?;
            if v.tag == 0x01 {
                v = next(&mut ext)?; // critical
            }
            let mut value = v.body;
            match oid.as_str() {
                "2.5.29.17" => {
                    let mut names = expect(&mut value, SEQUENCE)?;
                    let mut found = Vec::new();
                    while !names.is_empty() {
                        let n = next(&mut names)?;
                        if n.tag == 0x82 {
                            found.push(String::from_utf8_lossy(n.body).into_owned());
                        }
                    }
                    if !found.is_empty() {
                        dns_names = Some(found);
                    }
                }
                "2.5.29.19" => {
                    let mut bc = expect(&mut value, SEQUENCE)?;
                    if !bc.is_empty() {
                        let first = next(&mut bc)?;
                        is_ca = first.tag == 0x01 && first.body.first().is_some_and(|&b| b != 0);
                    }
                }
                _ => {}
            }
        }
    }
    Ok(Parsed {
        subject: subject.to_go_string(),
        issuer: issuer.to_go_string(),
        dns_names,
        not_before,
        not_after,
        is_ca,
    })
}

/// The DER of every `CERTIFICATE` PEM block in `text` (other blocks are skipped).
pub fn pem_certificates(text: &[u8]) -> Vec<Vec<u8>> {
    use base64::Engine;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let text = String::from_utf8_lossy(text);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let Some(end) = after.find(END) else {
            break;
        };
        let b64: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(b64) {
            out.push(der);
        }
        rest = &after[end + END.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_as_go_does() {
        let n = Name {
            country: vec!["US".into()],
            org: vec!["Acme, Inc".into(), "B".into()],
            common_name: " x".into(),
            ..Name::default()
        };
        assert_eq!(n.to_go_string(), "CN=\\ x,O=Acme\\, Inc+O=B,C=US");
        assert_eq!(oid_string(&[0x55, 0x04, 0x03]), "2.5.4.3");
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]),
            "1.2.840.113549.1.9.1"
        );
    }

    /// `openssl req -x509` with an EC key, `subjectAltName=DNS:test.example.com,DNS:*.example.com,
    /// IP:10.0.0.1` and `basicConstraints=critical,CA:TRUE`.
    pub const TEST_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIICAjCCAaegAwIBAgIUVbe1lhrk94z/rmacYudrkxDPegIwCgYIKoZIzj0EAwIw\nPDELMAkGA1UEBhMCVVMxEjAQBgNVBAoMCUFjbWUsIEluYzEZMBcGA1UEAwwQdGVz\ndC5leGFtcGxlLmNvbTAeFw0yNjEyMDcxNTA1NTVaFw0zNjEyMDQxNTA1NTVaMDwx\nCzAJBgNVBAYTAlVTMRIwEAYDVQQKDAlBY21lLCBJbmMxGTAXBgNVBAMMEHRlc3Qu\nZXhhbXBsZS5jb20wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARukf0t7f50zQSU\ng9NvrjgSMkv3ZM0jf7Gy4vt0kV0qHKpSOsCZyH9/nPW27JMZSkn5BjWt65n0Ozkw\nxKSAsGSko4GGMIGDMB0GA1UdDgQWBBRRyYubOy2VCacWmZqx8j2HOvBg2jAfBgNV\nHSMEGDAWgBRRyYubOy2VCacWmZqx8j2HOvBg2jAwBgNVHREEKTAnghB0ZXN0LmV4\nYW1wbGUuY29tgg0qLmV4YW1wbGUuY29thwQKAAABMA8GA1UdEwEB/wQFMAMBAf8w\nCgYIKoZIzj0EAwIDSQAwRgIhANq/+Mq7gxbNPjbiF8AqsLzaD33RRAfmIZWnGQK1\nP5sSAiEAwsloFn/cnu7cQbfssfAawctlkU2bGXeuS5gTdxLq9JY=\n-----END CERTIFICATE-----\n";

    #[test]
    fn an_openssl_certificate_parses() {
        let ders = pem_certificates(format!("junk\n{TEST_PEM}").as_bytes());
        assert_eq!(ders.len(), 1);
        let c = parse(&ders[0]).expect("parse");
        assert_eq!(c.subject, "CN=test.example.com,O=Acme\\, Inc,C=US");
        assert_eq!(c.issuer, c.subject);
        assert_eq!(
            c.dns_names,
            Some(vec!["test.example.com".into(), "*.example.com".into()])
        );
        assert!(c.is_ca);
        assert_eq!(c.not_before.to_rfc3339(), "2026-12-07T15:05:55+00:00");
        assert_eq!(c.not_after.to_rfc3339(), "2036-12-04T15:05:55+00:00");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse(&[]).is_err());
        assert!(parse(&[0x30, 0x82, 0xff]).is_err());
        assert!(parse(&[0x30, 0x03, 0x02, 0x01, 0x00]).is_err());
        assert!(pem_certificates(b"no pem here").is_empty());
    }

    #[test]
    fn escapes_like_go() {
        assert_eq!(escape(" a,b+c "), "\\ a\\,b\\+c\\ ");
        assert_eq!(escape("#a#"), "\\#a#");
        assert_eq!(escape("x<y>;\"z\""), "x\\<y\\>\\;\\\"z\\\"");
    }
}
