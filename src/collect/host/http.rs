//! `http` (host) and `httpLoadBalancer`, over a small HTTP/1.1 client on tokio's TcpStream;
//! `https://` runs the same exchange over tokio-rustls (see `http_tls` for the trust options).

use super::http_tls::{TlsParams, client_config, handshake_message, is_tls_error};
use super::network::{NetworkStatus, connect, token};
use super::output::file_name;
use super::{Ctx, Error};
use crate::collect::cluster::db::tls::{TlsError, server_name};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Responses larger than this are cut (the body is evidence, not a download).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Why an HTTP request got no response; its message is the `error.message` of the result file.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Another scheme than `http://` or `https://`.
    #[error("unsupported URL {0:?}: only http:// and https:// are supported")]
    Scheme(String),
    /// The port is not a number.
    #[error("invalid port in {0:?}")]
    Port(String),
    /// The authority is empty.
    #[error("no host in {0:?}")]
    NoHost(String),
    /// The response has no blank line after its headers.
    #[error("malformed HTTP response: no end of headers")]
    NoEndOfHeaders,
    /// The status line has no status code.
    #[error("malformed HTTP status line {0:?}")]
    StatusLine(String),
    /// A chunk size is not hexadecimal.
    #[error("malformed chunk size {0:?}")]
    ChunkSize(String),
    /// A header would split the request.
    #[error("header {0:?} contains a line break")]
    HeaderLineBreak(String),
    /// The connection failed; `status` is the tcpConnect-style outcome (`connection-refused`...).
    #[error("{method} {url}: {status} {message}")]
    Connect {
        /// The request method.
        method: String,
        /// The URL.
        url: String,
        /// The connection outcome.
        status: &'static str,
        /// Its detail.
        message: String,
    },
    /// The TLS options cannot be used (bad PEM, a CA that does not parse).
    #[error("{url}: {source}")]
    TlsConfig {
        /// The URL.
        url: String,
        /// Why.
        source: TlsError,
    },
    /// The TLS options could not be read (an in-cluster `tls.secret`, a `valueFrom`).
    #[error("{0}")]
    TlsOptions(String),
    /// The TLS handshake failed; worded as Go's client (`Get "url": tls: failed to verify ...`).
    #[error("{op} {url:?}: {message}")]
    Handshake {
        /// Go's operation name (`Get`, `Post`).
        op: String,
        /// The URL.
        url: String,
        /// The Go-style reason.
        message: String,
    },
    /// Sending or receiving failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// No complete response in time.
    #[error("{method} {url}: timed out after {}s", .timeout.as_secs())]
    Timeout {
        /// The request method.
        method: String,
        /// The URL.
        url: String,
        /// The limit.
        timeout: Duration,
    },
}

/// A parsed `http(s)://host[:port]/path` URL.
#[derive(Debug, PartialEq)]
pub struct Url {
    /// `https://`.
    pub tls: bool,
    /// Host name or IP (IPv6 keeps its brackets).
    pub host: String,
    /// Port (80, or 443 for https, by default).
    pub port: u16,
    /// Path and query, at least `/`.
    pub path: String,
}

/// Parses an `http://` or `https://` URL; other schemes are errors with a clear message.
pub fn parse_url(url: &str) -> Result<Url, HttpError> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else {
        return Err(HttpError::Scheme(url.to_string()));
    };
    let default_port = if tls { 443 } else { 80 };
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
                .map_err(|_| HttpError::Port(url.to_string()))?;
            (&authority[..i], p)
        }
        _ => (authority, default_port),
    };
    if host.is_empty() {
        return Err(HttpError::NoHost(url.to_string()));
    }
    Ok(Url {
        tls,
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
pub fn parse_response(raw: &[u8]) -> Result<Response, HttpError> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpError::NoEndOfHeaders)?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| HttpError::StatusLine(status_line.to_string()))?;
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

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, HttpError> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return Ok(out); // truncated stream: keep what arrived
        };
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| HttpError::ChunkSize(size_text.to_string()))?;
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

/// One request to send.
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`.
    pub method: &'a str,
    /// The URL (`http://` or `https://`).
    pub url: &'a str,
    /// Extra headers.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
    /// The whole exchange's limit.
    pub timeout: Duration,
    /// TLS options for `https://` (`skip_verify` is `insecureSkipVerify`).
    pub tls: &'a TlsParams,
}

/// Sends one request and reads the whole response (up to the cap).
pub async fn request(r: &Request<'_>) -> Result<Response, HttpError> {
    let u = parse_url(r.url)?;
    let tls = match u.tls {
        true => Some(client_config(r.tls).map_err(|source| HttpError::TlsConfig {
            url: r.url.to_string(),
            source,
        })?),
        false => None,
    };
    let fut = async {
        let (status, stream) = connect(&format!("{}:{}", u.host, u.port), r.timeout).await;
        let s = stream.ok_or_else(|| HttpError::Connect {
            method: r.method.to_string(),
            url: r.url.to_string(),
            status: status.status,
            message: status.message.clone(),
        })?;
        let Some(config) = tls else {
            return exchange(s, &u, r).await;
        };
        let host = u.host.trim_start_matches('[').trim_end_matches(']');
        let name = server_name(host).map_err(|source| HttpError::TlsConfig {
            url: r.url.to_string(),
            source,
        })?;
        let s = tokio_rustls::TlsConnector::from(config)
            .connect(name, s)
            .await
            .map_err(|e| handshake(r, &e, host))?;
        // TLS 1.3: a server's refusal of the client certificate arrives after the handshake.
        exchange(s, &u, r).await.map_err(|e| match e {
            HttpError::Io(io) if is_tls_error(&io) => handshake(r, &io, host),
            other => other,
        })
    };
    tokio::time::timeout(r.timeout, fut)
        .await
        .map_err(|_| HttpError::Timeout {
            method: r.method.to_string(),
            url: r.url.to_string(),
            timeout: r.timeout,
        })?
}

fn handshake(r: &Request<'_>, e: &std::io::Error, host: &str) -> HttpError {
    HttpError::Handshake {
        op: go_op(r.method),
        url: r.url.to_string(),
        message: handshake_message(e, host),
    }
}

/// Go's `url.Error` operation: `GET` → `Get`.
fn go_op(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    chars.next().map_or_else(String::new, |c| {
        c.to_ascii_uppercase().to_string() + chars.as_str()
    })
}

/// The HTTP/1.1 exchange on a plain or TLS stream: the request, then the response to EOF.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    u: &Url,
    r: &Request<'_>,
) -> Result<Response, HttpError> {
    let default_port = if u.tls { 443 } else { 80 };
    let mut req = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: troubleshoot-agent\r\nConnection: close\r\n",
        r.method,
        u.path,
        if u.port == default_port {
            u.host.clone()
        } else {
            format!("{}:{}", u.host, u.port)
        }
    );
    for (k, v) in r.headers {
        if k.contains(['\r', '\n']) || v.contains(['\r', '\n']) {
            return Err(HttpError::HeaderLineBreak(k.clone()));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !r.body.is_empty() || r.method != "GET" {
        req.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await?;
    s.write_all(r.body).await?;
    s.flush().await?;
    let mut raw = Vec::new();
    match (&mut s).take(MAX_RESPONSE).read_to_end(&mut raw).await {
        Ok(_) => {}
        // Many TLS servers close without close_notify; the response has arrived by then.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e.into()),
    }
    parse_response(&raw)
}

/// The TLS options of a `get`/`post`/`put` body on the host: `insecureSkipVerify` and
/// `tls.{cacert,clientCert,clientKey}` (PEM text). A `tls.secret` needs the cluster.
pub fn host_tls(spec: &Value) -> Result<TlsParams, String> {
    let tls = &spec["tls"];
    if tls.get("secret").is_some_and(|s| !s.is_null()) {
        return Err(
            "`tls.secret` is not supported by the host http collector: give `tls.cacert` (and `clientCert`/`clientKey`) as PEM text".into(),
        );
    }
    let text = |k: &str| tls[k].as_str().unwrap_or("").to_string();
    Ok(TlsParams {
        skip_verify: spec["insecureSkipVerify"].as_bool().unwrap_or(false),
        ca_cert: text("cacert"),
        client_cert: text("clientCert"),
        client_key: text("clientKey"),
    })
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
pub fn result_json(result: &Result<Response, HttpError>) -> serde_json::Value {
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
        Err(e) => serde_json::json!({ "error": { "message": e.to_string() } }),
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
    let file = file_name(ctx.name.unwrap_or("result"), ".json");
    let dest = ["host-collectors", "http", file.as_str()];
    let tls = match host_tls(spec) {
        Ok(t) => t,
        Err(message) => {
            // Not a fact about the host: written in upstream's error shape, and the collector fails.
            let doc = serde_json::json!({ "error": { "message": message } });
            ctx.out.write_json(&dest, &doc).await?;
            return Err(Error::Spec(message));
        }
    };
    let result = request(&Request {
        method: &method,
        url,
        headers: &headers,
        body: body.as_bytes(),
        timeout,
        tls: &tls,
    })
    .await;
    ctx.out.write_json(&dest, &result_json(&result)).await?;
    Ok(())
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
    let req = Request {
        method: "GET",
        url: &url,
        headers: &[],
        body: b"",
        timeout,
        tls: &TlsParams::default(),
    };
    let status = match request(&req).await {
        Ok(r) if r.body == token.as_bytes() => NetworkStatus::new("connected", ""),
        Ok(r) => NetworkStatus::new(
            "error",
            format!("unexpected response from {url}: status {}", r.status),
        ),
        Err(e) => NetworkStatus::new(failure_status(&e), e.to_string()),
    };
    server.abort();
    ctx.out.write_json(&dest, &status).await?;
    Ok(())
}

/// The tcpConnect-style status of a failed request through the load balancer.
fn failure_status(e: &HttpError) -> &'static str {
    match e {
        HttpError::Connect { status, .. }
            if matches!(
                *status,
                "connection-refused" | "connection-timeout" | "invalid-address"
            ) =>
        {
            status
        }
        HttpError::Timeout { .. } => "connection-timeout",
        HttpError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => "connection-timeout",
        _ => "error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("http://example.com:8080/a?b=1").unwrap(),
            Url {
                tls: false,
                host: "example.com".into(),
                port: 8080,
                path: "/a?b=1".into()
            }
        );
        assert_eq!(parse_url("http://h").unwrap().path, "/");
        assert_eq!(parse_url("http://h?x").unwrap().path, "/?x");
        let https = parse_url("https://h/x").unwrap();
        assert!(https.tls);
        assert_eq!((https.port, https.path.as_str()), (443, "/x"));
        assert_eq!(parse_url("https://[::1]:8443").unwrap().port, 8443);
        assert_eq!(go_op("POST"), "Post");
        assert!(parse_url("ftp://h").is_err());
    }

    #[test]
    fn host_tls_options() {
        let spec = serde_json::json!({"url": "https://h", "insecureSkipVerify": true,
            "tls": {"cacert": "C", "clientCert": "A", "clientKey": "K"}});
        let t = host_tls(&spec).unwrap();
        assert!(t.skip_verify);
        assert_eq!((t.ca_cert.as_str(), t.client_cert.as_str()), ("C", "A"));
        assert_eq!(t.client_key, "K");
        let secret = serde_json::json!({"tls": {"secret": {"name": "s", "namespace": "n"}}});
        assert!(host_tls(&secret).unwrap_err().contains("not supported"));
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
            result_json(&Err(HttpError::Io(std::io::Error::other("boom")))).to_string(),
            r#"{"error":{"message":"boom"}}"#
        );
    }
}
