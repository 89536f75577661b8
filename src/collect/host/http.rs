//! `http` (host) and `httpLoadBalancer`, over a small HTTP/1.1 client on tokio's TcpStream.
//! Only `http://` URLs: this build has no TLS stack, and `https://` is reported as such.

use super::network::{NetworkStatus, connect, token};
use super::output::file_name;
use super::{Ctx, Error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The message recorded for `https://` URLs.
pub const HTTPS_UNSUPPORTED: &str = "https is not supported by the builtin engine in this build";

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this are cut (the body is evidence, not a download).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// A parsed `http://host[:port]/path` URL.
#[derive(Debug, PartialEq)]
pub struct Url {
    /// Host name or IP (IPv6 keeps its brackets).
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Parses an `http://` URL; `https://` and other schemes are errors with a clear message.
pub fn parse_url(url: &str) -> Result<Url, String> {
    let rest = if let Some(r) = url.strip_prefix("http://") {
        r
    } else if url.starts_with("https://") {
        return Err(HTTPS_UNSUPPORTED.to_string());
    } else {
        return Err(format!(
            "unsupported URL {url:?}: only http:// is supported"
        ));
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let path = if path.starts_with('?') {
        format!("/{path}")
    } else {
        path
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            let p = authority[i + 1..]
                .parse()
                .map_err(|_| format!("invalid port in {url:?}"))?;
            (&authority[..i], p)
        }
        _ => (authority, 80),
    };
    if host.is_empty() {
        return Err(format!("no host in {url:?}"));
    }
    Ok(Url {
        host: host.to_string(),
        port,
        path,
    })
}

/// A parsed response.
#[derive(Debug, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header values per canonical name, in arrival order.
    pub headers: BTreeMap<String, Vec<String>>,
    /// The (de-chunked) body.
    pub body: Vec<u8>,
}

/// Go's `CanonicalMIMEHeaderKey` (`content-type` → `Content-Type`).
pub fn canonical_header(name: &str) -> String {
    let mut up = true;
    name.chars()
        .map(|c| {
            let out = if up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            up = c == '-';
            out
        })
        .collect()
}

/// Parses raw response bytes (status line, headers, body by chunked/Content-Length/EOF).
pub fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("malformed HTTP response: no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("malformed HTTP status line {status_line:?}"))?;
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            headers
                .entry(canonical_header(k.trim()))
                .or_default()
                .push(v.trim().to_string());
        }
    }
    let rest = &raw[end + 4..];
    let chunked = headers
        .get("Transfer-Encoding")
        .is_some_and(|v| v.iter().any(|x| x.eq_ignore_ascii_case("chunked")));
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(len) = headers
        .get("Content-Length")
        .and_then(|v| v.first())
        .and_then(|v| v.parse::<usize>().ok())
    {
        rest[..len.min(rest.len())].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(out); // truncated stream: keep what arrived
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("malformed chunk size {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        let take = size.min(data.len());
        out.extend_from_slice(&data[..take]);
        data = &data[take..];
        data = data.strip_prefix(b"\r\n").unwrap_or(data);
    }
}

/// Sends one request and reads the whole response (up to the cap).
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    let u = parse_url(url)?;
    let fut = async {
        let (status, stream) = connect(&format!("{}:{}", u.host, u.port), timeout).await;
        let mut s = stream
            .ok_or_else(|| format!("{method} {url}: {} {}", status.status, status.message))?;
        let mut req = format!(
            "{method} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: troubleshoot-agent\r\nConnection: close\r\n",
            u.path,
            if u.port == 80 {
                u.host.clone()
            } else {
                format!("{}:{}", u.host, u.port)
            }
        );
        for (k, v) in headers {
            if k.contains(['\r', '\n']) || v.contains(['\r', '\n']) {
                return Err(format!("header {k:?} contains a line break"));
            }
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            req.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        s.write_all(body).await.map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.take(MAX_RESPONSE)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| e.to_string())?;
        parse_response(&raw)
    };
    tokio::time::timeout(timeout, fut)
        .await
        .map_err(|_| format!("{method} {url}: timed out after {}s", timeout.as_secs()))?
}

#[derive(Serialize)]
struct ResponseDoc {
    status: u16,
    body: String,
    headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_json: Option<serde_json::Value>,
}

/// The in-cluster/host http result document.
pub fn result_json(result: &Result<Response, String>) -> serde_json::Value {
    match result {
        Ok(r) => {
            let body = String::from_utf8_lossy(&r.body).into_owned();
            let doc = ResponseDoc {
                status: r.status,
                raw_json: serde_json::from_str(&body).ok(),
                body,
                headers: r
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), v.join(",")))
                    .collect(),
            };
            serde_json::json!({ "response": doc })
        }
        Err(message) => serde_json::json!({ "error": { "message": message } }),
    }
}

/// The `http` host collector. A transport error is data (the `error` shape, as upstream); an
/// `https://` URL also fails the collector, because it is a limit of this build, not of the host.
pub async fn http(ctx: &Ctx<'_>) -> Result<(), Error> {
    let (method, spec) = ["get", "post", "put"]
        .iter()
        .find_map(|m| ctx.body.get(*m).map(|s| (m.to_uppercase(), s)))
        .ok_or_else(|| Error::Spec("one of `get`, `post` or `put` is required".into()))?;
    let url = spec
        .get("url")
        .and_then(|v| v.as_str())
        .ok_or_else(|| Error::Spec("`url` is required".into()))?;
    let headers: Vec<(String, String)> = spec
        .get("headers")
        .and_then(|h| h.as_object())
        .map(|m| {
            m.iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_string),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let body = spec.get("body").and_then(|b| b.as_str()).unwrap_or("");
    let timeout = match spec.get("timeout").and_then(|t| t.as_str()) {
        Some(t) if !t.is_empty() => super::parse_go_duration(t)
            .ok_or_else(|| Error::Spec(format!("`timeout`: {t:?} is not a duration")))?,
        _ => DEFAULT_TIMEOUT,
    };
    let result = request(&method, url, &headers, body.as_bytes(), timeout).await;
    let file = file_name(ctx.name.unwrap_or("result"), ".json");
    ctx.out
        .write_json(&["host-collectors", "http", &file], &result_json(&result))
        .await?;
    match result {
        Err(m) if m == HTTPS_UNSUPPORTED => Err(Error::Other(format!("{url}: {m}"))),
        _ => Ok(()),
    }
}

/// The `httpLoadBalancer` host collector: serves a token on `port` and fetches `address` + `path`
/// through the load balancer, expecting the token back.
pub async fn http_load_balancer(ctx: &Ctx<'_>) -> Result<(), Error> {
    let port = ctx
        .int("port")
        .and_then(|p| u16::try_from(p).ok())
        .filter(|p| *p > 0)
        .ok_or_else(|| Error::Spec("`port` must be a number from 1 to 65535".into()))?;
    let address = ctx.required("address")?;
    let path = ctx.str("path").unwrap_or("/");
    let timeout = ctx.duration("timeout")?.unwrap_or(Duration::from_secs(10));
    let file = file_name(ctx.name.unwrap_or("httpLoadBalancer"), ".json");
    let dest = ["host-collectors", "httpLoadBalancer", file.as_str()];
    let listener = match tokio::net::TcpListener::bind(("0.0.0.0", port)).await {
        Ok(l) => l,
        Err(e) => {
            ctx.out
                .write_json(&dest, &super::network::bind_status(&e))
                .await?;
            return Ok(());
        }
    };
    let token = token();
    let body = token.clone();
    let server = tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let _ = s.read(&mut buf).await;
            let resp = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes()).await;
        }
    });
    let base = if address.contains("://") {
        address.to_string()
    } else {
        format!("http://{address}")
    };
    let url = format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    let status = match request("GET", &url, &[], b"", timeout).await {
        Ok(r) if r.body == token.as_bytes() => NetworkStatus::new("connected", ""),
        Ok(r) => NetworkStatus::new(
            "error",
            format!("unexpected response from {url}: status {}", r.status),
        ),
        Err(m) if m.contains("connection-refused") => NetworkStatus::new("connection-refused", m),
        Err(m) if m.contains("timed out") || m.contains("connection-timeout") => {
            NetworkStatus::new("connection-timeout", m)
        }
        Err(m) if m.contains("invalid-address") => NetworkStatus::new("invalid-address", m),
        Err(m) => NetworkStatus::new("error", m),
    };
    server.abort();
    ctx.out.write_json(&dest, &status).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://example.com:8080/a?b=1").unwrap(),
            Url {
                host: "example.com".into(),
                port: 8080,
                path: "/a?b=1".into()
            }
        );
        assert_eq!(parse_url("http://h").unwrap().path, "/");
        assert_eq!(parse_url("http://h?x").unwrap().path, "/?x");
        assert_eq!(parse_url("https://h/").unwrap_err(), HTTPS_UNSUPPORTED);
        assert!(parse_url("ftp://h").is_err());
    }

    #[test]
    fn responses() {
        let raw = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nX-A: 1\r\nx-a: 2\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"a\"\r\n3\r\n:1}\r\n0\r\n\r\n";
        let r = parse_response(raw).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body, b"{\"a\":1}");
        let doc = result_json(&Ok(r));
        assert_eq!(
            serde_json::to_string(&doc).unwrap(),
            r#"{"response":{"status":200,"body":"{\"a\":1}","headers":{"Content-Type":"application/json","Transfer-Encoding":"chunked","X-A":"1,2"},"raw_json":{"a":1}}}"#
        );
        let r =
            parse_response(b"HTTP/1.0 404 Not Found\r\nContent-Length: 3\r\n\r\nabcdef").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abc"[..]));
        assert!(!result_json(&Ok(r)).to_string().contains("raw_json"));
        assert_eq!(
            result_json(&Err("boom".into())).to_string(),
            r#"{"error":{"message":"boom"}}"#
        );
    }
}
