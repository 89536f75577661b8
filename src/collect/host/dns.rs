//! Host `dns`: each hostname queried (A, then AAAA, then CNAME; the first answer wins) at every
//! nameserver of `/etc/resolv.conf`, for every name its search list makes, as troubleshoot does
//! with miekg/dns. The queries are plain UDP DNS messages built here; nothing is run.
//!
//! Output: `host-collectors/dns/<title with spaces as _>/result.json` and a copy of resolv.conf.

use super::output::go_json;
use super::{Ctx, Error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

const RESOLV_CONF: &str = "/etc/resolv.conf";
/// miekg/dns's `Exchange` waits this long for an answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(2);

/// What the collector uses from resolv.conf (miekg/dns `ClientConfig`).
#[derive(Debug, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` values, as written.
    pub servers: Vec<String>,
    /// `search` (or `domain`) suffixes.
    pub search: Vec<String>,
    /// `options ndots:N` (default 1, at most 15).
    pub ndots: usize,
}

/// Parses resolv.conf the way miekg/dns's `ClientConfigFromReader` does.
pub fn parse_resolv_conf(text: &str) -> ResolvConf {
    let mut c = ResolvConf {
        servers: Vec::new(),
        search: Vec::new(),
        ndots: 1,
    };
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["nameserver", server, ..] => c.servers.push((*server).to_string()),
            ["domain", domain, ..] => c.search = vec![(*domain).to_string()],
            ["search", rest @ ..] => c.search = rest.iter().map(|s| (*s).to_string()).collect(),
            ["options", opts @ ..] => {
                for o in opts {
                    if let Some(n) = o.strip_prefix("ndots:").and_then(|n| n.parse().ok()) {
                        c.ndots = usize::min(n, 15);
                    }
                }
            }
            _ => {}
        }
    }
    c
}

fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    }
}

/// The names to query for `name` (miekg/dns `NameList`): a fully qualified name alone; else the
/// name itself first when it has more labels than ndots, then each search suffix, else last.
pub fn name_list(name: &str, conf: &ResolvConf) -> Vec<String> {
    if name.ends_with('.') {
        return vec![name.to_string()];
    }
    let labels = name.split('.').filter(|l| !l.is_empty()).count();
    let has_ndots = labels > conf.ndots;
    let name = fqdn(name);
    let mut names = Vec::new();
    if has_ndots {
        names.push(name.clone());
    }
    for s in &conf.search {
        names.push(fqdn(&format!("{name}{s}")));
    }
    if !has_ndots {
        names.push(name);
    }
    names
}

/// The search suffix `query` added to `name` (`foo.test.com.` for `foo` is `test.com`).
fn search_of(query: &str, name: &str) -> String {
    if query == name {
        return String::new();
    }
    let s = query.strip_prefix(&format!("{name}.")).unwrap_or(query);
    s.strip_suffix('.').unwrap_or(s).to_string()
}

/// One query's result (troubleshoot's `DNSEntry`).
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct DnsEntry {
    server: String,
    search: String,
    name: String,
    answer: String,
    record: String,
}

#[derive(Serialize)]
struct DnsResult {
    query: BTreeMap<String, Vec<DnsEntry>>,
    #[serde(rename = "resolvedFromSearch")]
    resolved_from_search: String,
}

/// Record types queried, in order.
const A: u16 = 1;
const CNAME: u16 = 5;
const AAAA: u16 = 28;

/// A standard query for `name` (fully qualified) of `qtype`, recursion desired.
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + name.len());
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.').filter(|l| !l.is_empty()) {
        let bytes = &label.as_bytes()[..label.len().min(63)];
        m.push(u8::try_from(bytes.len()).unwrap_or(63));
        m.extend_from_slice(bytes);
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m
}

/// The first answer record of a response, in miekg/dns's text form, and its record detail
/// when it is of the queried type.
#[derive(Debug, PartialEq, Eq)]
pub struct FirstAnswer {
    /// `name.\tTTL\tIN\tTYPE\tRDATA`.
    pub text: String,
    /// The address (A, AAAA) or target (CNAME), when the record is of the queried type.
    pub record: Option<String>,
}

/// Reads a (possibly compressed) name at `pos`; returns it fully qualified and the position after
/// it in the original stream.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    for _ in 0..128 {
        let len = *msg.get(pos)?;
        match len {
            0 => {
                if name.is_empty() {
                    name.push('.');
                }
                return Some((name, end.unwrap_or(pos + 1)));
            }
            l if l & 0xC0 == 0xC0 => {
                let ptr = (usize::from(l & 0x3F) << 8) | usize::from(*msg.get(pos + 1)?);
                end.get_or_insert(pos + 2);
                pos = ptr;
            }
            l => {
                let label = msg.get(pos + 1..pos + 1 + usize::from(l))?;
                for &b in label {
                    match b {
                        b'.' | b'\\' => {
                            name.push('\\');
                            name.push(char::from(b));
                        }
                        0x21..=0x7E => name.push(char::from(b)),
                        _ => name.push_str(&format!("\\{b:03}")),
                    }
                }
                name.push('.');
                pos += 1 + usize::from(l);
            }
        }
    }
    None
}

fn u16_at(msg: &[u8], pos: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(pos)?, *msg.get(pos + 1)?]))
}

fn type_name(t: u16) -> String {
    match t {
        A => "A".into(),
        CNAME => "CNAME".into(),
        AAAA => "AAAA".into(),
        2 => "NS".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        33 => "SRV".into(),
        39 => "DNAME".into(),
        other => format!("TYPE{other}"),
    }
}

/// Why a DNS exchange gave no answer to read (logged, and then no answer, as troubleshoot).
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// A reply to another query.
    #[error("DNS response does not match the query id")]
    Id,
    /// A reply that does not parse.
    #[error("malformed DNS response")]
    Malformed,
    /// No reply in time.
    #[error("i/o timeout")]
    Timeout,
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Parses a response to the query with `id`: `Ok(None)` when it answers nothing.
pub fn first_answer(msg: &[u8], id: u16, qtype: u16) -> Result<Option<FirstAnswer>, DnsError> {
    let bad = || DnsError::Malformed;
    if msg.len() < 12 || u16_at(msg, 0) != Some(id) {
        return Err(DnsError::Id);
    }
    let qd = u16_at(msg, 4).ok_or_else(bad)?;
    let an = u16_at(msg, 6).ok_or_else(bad)?;
    if an == 0 {
        return Ok(None);
    }
    let mut pos = 12;
    for _ in 0..qd {
        pos = read_name(msg, pos).ok_or_else(bad)?.1 + 4;
    }
    let (owner, p) = read_name(msg, pos).ok_or_else(bad)?;
    let rtype = u16_at(msg, p).ok_or_else(bad)?;
    let class = u16_at(msg, p + 2).ok_or_else(bad)?;
    let ttl = msg
        .get(p + 4..p + 8)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(bad)?;
    let rdlen = usize::from(u16_at(msg, p + 8).ok_or_else(bad)?);
    let rdata = msg.get(p + 10..p + 10 + rdlen).ok_or_else(bad)?;
    let detail = match (rtype, rdata.len()) {
        (A, 4) => Some(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]).to_string()),
        (AAAA, 16) => {
            let b: [u8; 16] = rdata.try_into().map_err(|_| bad())?;
            Some(Ipv6Addr::from(b).to_string())
        }
        (CNAME, _) => Some(read_name(msg, p + 10).ok_or_else(bad)?.0),
        // RFC 3597's generic form, as miekg/dns prints types it does not know.
        _ => None,
    };
    let rdata_text = detail.clone().unwrap_or_else(|| {
        let hex: String = rdata.iter().map(|b| format!("{b:02x}")).collect();
        format!("\\# {} {hex}", rdata.len())
    });
    let class = if class == 1 {
        "IN".to_string()
    } else {
        format!("CLASS{class}")
    };
    Ok(Some(FirstAnswer {
        text: format!(
            "{owner}\t{ttl}\t{class}\t{}\t{rdata_text}",
            type_name(rtype)
        ),
        record: detail.filter(|_| rtype == qtype),
    }))
}

/// A query id from the kernel's random source (an unpredictable id makes spoofed answers harder).
fn query_id() -> u16 {
    let mut b = [0u8; 2];
    // SAFETY: getrandom writes at most `b.len()` bytes into the buffer it is given.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != 2 {
        b = std::process::id().to_le_bytes()[..2]
            .try_into()
            .unwrap_or([0, 0]);
    }
    u16::from_ne_bytes(b)
}

/// One UDP exchange with `server`; errors are logged and count as no answer, as troubleshoot.
async fn exchange(server: SocketAddr, name: &str, qtype: u16) -> Result<(u16, Vec<u8>), DnsError> {
    let bind: SocketAddr = if server.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = tokio::net::UdpSocket::bind(bind).await?;
    sock.connect(server).await?;
    let id = query_id();
    sock.send(&encode_query(id, name, qtype)).await?;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(QUERY_TIMEOUT, sock.recv(&mut buf))
        .await
        .map_err(|_| DnsError::Timeout)??;
    buf.truncate(n);
    Ok((id, buf))
}

/// troubleshoot's `queryDNS`: A, AAAA, then CNAME until one has an answer.
async fn query(name: &str, query: &str, server: &str) -> DnsEntry {
    let mut entry = DnsEntry {
        server: format!("{server}:53"),
        name: query.to_string(),
        ..DnsEntry::default()
    };
    let Ok(ip) = server.parse::<IpAddr>() else {
        tracing::debug!("dns: nameserver {server} is not an IP address");
        return entry;
    };
    let addr = SocketAddr::new(ip, 53);
    for qtype in [A, AAAA, CNAME] {
        let (id, reply) = match exchange(addr, query, qtype).await {
            Ok(r) => r,
            Err(e) => {
                tracing::debug!("dns: query {query} at {addr}: {e}");
                continue;
            }
        };
        match first_answer(&reply, id, qtype) {
            Ok(Some(ans)) => {
                entry.answer = ans.text;
                entry.search = search_of(query, name);
                entry.record = ans.record.unwrap_or_default();
                break;
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("dns: query {query} at {addr}: {e}"),
        }
    }
    entry
}

/// The `dns` host collector.
pub async fn dns(ctx: &Ctx<'_>) -> Result<(), Error> {
    let names = ctx.strings("hostnames");
    if names.is_empty() {
        return Err(Error::Spec("hostnames is required".into()));
    }
    let text = tokio::fs::read(RESOLV_CONF)
        .await
        .map_err(|e| Error::io("failed to read DNS resolve config", e))?;
    let conf = parse_resolv_conf(&String::from_utf8_lossy(&text));
    let mut result = DnsResult {
        query: BTreeMap::new(),
        resolved_from_search: String::new(),
    };
    let mut searches: Vec<String> = Vec::new();
    for name in &names {
        let mut entries = Vec::new();
        for q in name_list(name, &conf) {
            for server in &conf.servers {
                let entry = tokio::select! {
                    e = query(name, &q, server) => e,
                    () = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                };
                if !entry.search.is_empty() && !searches.contains(&entry.search) {
                    searches.push(entry.search.clone());
                }
                entries.push(entry);
            }
        }
        result.query.insert(name.clone(), entries);
    }
    result.resolved_from_search = searches.join(", ");
    let title = ctx.name.unwrap_or("dns").replace(' ', "_");
    let json = go_json(&result, Some(2))?;
    ctx.out
        .write(
            &["host-collectors", "dns", &title, "result.json"],
            json.as_bytes(),
        )
        .await?;
    ctx.out
        .write(&["host-collectors", "dns", &title, "resolv.conf"], &text)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_like_miekg() {
        let c = parse_resolv_conf(
            "# comment\nnameserver 10.0.0.2\nnameserver ::1\nsearch a.test b.test\noptions ndots:5 timeout:1\n",
        );
        assert_eq!(c.servers, ["10.0.0.2", "::1"]);
        assert_eq!(c.search, ["a.test", "b.test"]);
        assert_eq!(c.ndots, 5);
        assert_eq!(parse_resolv_conf("domain x.test\n").search, ["x.test"]);
        assert_eq!(parse_resolv_conf("options ndots:99").ndots, 15);
    }

    #[test]
    fn name_lists_like_miekg() {
        let c = parse_resolv_conf("search a.test b.test\n");
        assert_eq!(name_list("db", &c), ["db.a.test.", "db.b.test.", "db."]);
        assert_eq!(
            name_list("db.corp", &c),
            ["db.corp.", "db.corp.a.test.", "db.corp.b.test."]
        );
        assert_eq!(name_list("db.corp.", &c), ["db.corp."]);
        assert_eq!(search_of("db.a.test.", "db"), "a.test");
        assert_eq!(search_of("db.", "db"), "");
    }

    #[test]
    fn answers_in_miekg_text_form() {
        let q = encode_query(0x1234, "www.test.", A);
        // A response: the question, then CNAME www.test. -> web.test. (compressed), then an A.
        let mut r = q.clone();
        r[2] = 0x81;
        r[3] = 0x80;
        r[7] = 2;
        r.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 6, 3, b'w', b'e', b'b']);
        r.extend_from_slice(&[0xC0, 16]);
        r.extend_from_slice(&[0xC0, 30, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 10, 1, 2, 3]);
        let a = first_answer(&r, 0x1234, A).expect("parse").expect("answer");
        assert_eq!(a.text, "www.test.\t60\tIN\tCNAME\tweb.test.");
        // The first record is not an A: no record detail, as troubleshoot.
        assert_eq!(a.record, None);
        let c = first_answer(&r, 0x1234, CNAME)
            .expect("parse")
            .expect("answer");
        assert_eq!(c.record.as_deref(), Some("web.test."));
        assert!(first_answer(&r, 0x9999, A).is_err());
        assert!(matches!(first_answer(&q, 0x1234, A), Ok(None)));
        assert!(first_answer(&r[..40], 0x1234, A).is_err());
    }
}
