//! The HTTP sink (reqwest, rustls): the archive as the request body, streamed from disk.
//!
//! It follows troubleshoot's `afterCollection.uploadResultsTo` convention, so endpoints written
//! for `support-bundle` (vendor portals, presigned URLs) take our bundles unchanged: the body is
//! the raw `.tar.gz` with a fixed `Content-Length`; a `Content-Type` query parameter in the URL
//! names the content type to send, and only `application/tar+gzip` is accepted; without it no
//! content type is sent (a presigned URL may have signed its absence). On top of that: a PUT
//! carries `If-None-Match: *` (create-only: a server that honours it answers 412 for a key that
//! exists, which counts as already delivered), and every request carries the bundle's sha256 as
//! `Repr-Digest` (RFC 9530).
//!
//! [`Object::key`] is the URL with its placeholders filled in. The URL kept in records and logs
//! has no query string: presigned URLs carry their signature there.

use super::target::{HttpMethod, HttpTarget};
use super::{Delivered, Object, UploadError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use std::time::Duration;

/// The only content type troubleshoot uploads, when the URL asks for one.
const TAR_GZIP: &str = "application/tar+gzip";

/// Delivers one object to the target.
pub async fn upload(target: &HttpTarget, object: &Object<'_>) -> Result<Delivered, UploadError> {
    let url = reqwest::Url::parse(&object.key).map_err(|e| {
        UploadError::Permanent(format!(
            "invalid upload URL {}: {e}",
            public_url(&object.key)
        ))
    })?;
    let shown = public_url(url.as_str());
    let content_type = url
        .query_pairs()
        .find(|(k, _)| k == "Content-Type")
        .map(|(_, v)| v.into_owned());
    if let Some(ct) = &content_type
        && ct != TAR_GZIP
    {
        return Err(UploadError::Permanent(format!(
            "{shown}: the URL asks for content type `{ct}`; bundles are `{TAR_GZIP}`"
        )));
    }
    let client = client(target).await?;
    let file = tokio::fs::File::open(object.path).await.map_err(|e| {
        UploadError::Permanent(format!("cannot read {}: {e}", object.path.display()))
    })?;
    let method = match target.method {
        HttpMethod::Put => reqwest::Method::PUT,
        HttpMethod::Post => reqwest::Method::POST,
    };
    let mut request = client
        .request(method.clone(), url)
        .headers(headers(target)?)
        .header(reqwest::header::CONTENT_LENGTH, object.size)
        .header("Repr-Digest", repr_digest(&object.sha256))
        .body(reqwest::Body::from(file));
    if let Some(ct) = content_type {
        request = request.header(reqwest::header::CONTENT_TYPE, ct);
    }
    if method == reqwest::Method::PUT {
        request = request.header(reqwest::header::IF_NONE_MATCH, "*");
    }
    let response = request.send().await.map_err(|e| transport(&e, &shown))?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(Delivered {
            url: shown,
            bytes: object.size,
        });
    }
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(public_url);
    let body = snippet(response).await;
    Err(match status {
        412 => UploadError::AlreadyExists(format!(
            "{shown}: HTTP 412 to a create-only PUT: the object exists (an earlier attempt delivered it)"
        )),
        300..=399 => UploadError::Permanent(format!(
            "{shown}: HTTP {status} redirect{}; the body is streamed and not resent, so point `url` at the final address",
            location.map(|l| format!(" to {l}")).unwrap_or_default()
        )),
        401 | 403 => UploadError::Permanent(format!(
            "{shown}: HTTP {status}: the server refused the credentials{body}; check `headers` / `bearerToken`"
        )),
        408 | 429 => UploadError::Transient(format!("{shown}: HTTP {status}{body}")),
        400..=499 => UploadError::Permanent(format!("{shown}: HTTP {status}{body}")),
        _ => UploadError::Transient(format!("{shown}: HTTP {status}{body}")),
    })
}

/// A real, harmless reachability check of `url` (the target's URL with its placeholders filled
/// in): `HEAD` with the target's headers proves DNS, TCP, TLS (custom CA, client certificate) and
/// that a server answers. 401/407 and 5xx fail; other answers pass, since the upload method
/// (PUT/POST) is not what a HEAD can authorise.
pub async fn check_url(target: &HttpTarget, url: &str) -> Result<(), UploadError> {
    let shown = public_url(url);
    let client = client(target).await?;
    let response = client
        .head(url)
        .headers(headers(target)?)
        .send()
        .await
        .map_err(|e| transport(&e, &shown))?;
    let status = response.status().as_u16();
    match status {
        401 | 407 => Err(UploadError::Permanent(format!(
            "{shown}: HTTP {status}: the server refused the credentials"
        ))),
        500..=599 => Err(UploadError::Transient(format!("{shown}: HTTP {status}"))),
        _ => Ok(()),
    }
}

/// A sent callback (`afterCollection.callback`): a bare request, no body.
pub async fn callback(method: &str, url: &str) -> Result<(), UploadError> {
    let shown = public_url(url);
    let method = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .map_err(|_| UploadError::Permanent(format!("{shown}: invalid method `{method}`")))?;
    let client = base_builder()
        .build()
        .map_err(|e| UploadError::Permanent(format!("{shown}: {e}")))?;
    let response = client
        .request(method, url)
        .send()
        .await
        .map_err(|e| transport(&e, &shown))?;
    let status = response.status().as_u16();
    match status {
        200..=299 => Ok(()),
        408 | 429 | 500..=599 => Err(UploadError::Transient(format!("{shown}: HTTP {status}"))),
        _ => Err(UploadError::Permanent(format!("{shown}: HTTP {status}"))),
    }
}

fn base_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // A stalled server fails the attempt instead of holding it forever; a slow but moving
        // upload is fine (this bounds each read, not the whole request).
        .read_timeout(Duration::from_secs(300))
        .redirect(reqwest::redirect::Policy::none())
}

async fn client(target: &HttpTarget) -> Result<reqwest::Client, UploadError> {
    match build_client(target, false).await {
        // The platform verifier cannot take extra roots where the system has no CA store of
        // its own; then the `caFile` CAs are the trust anchors.
        Err(_) if target.ca_file.is_some() => build_client(target, true).await,
        other => other,
    }
}

async fn build_client(target: &HttpTarget, ca_only: bool) -> Result<reqwest::Client, UploadError> {
    let mut builder = base_builder();
    if let Some(ca) = &target.ca_file {
        let pem = read(ca, "caFile").await?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            UploadError::Permanent(format!("caFile {ca}: not PEM certificates: {e}"))
        })?;
        builder = if ca_only {
            builder.tls_certs_only(certs)
        } else {
            builder.tls_certs_merge(certs)
        };
    }
    match (&target.client_cert_file, &target.client_key_file) {
        (Some(cert), Some(key)) => {
            let mut pem = read(cert, "clientCertFile").await?;
            pem.push(b'\n');
            pem.extend(read(key, "clientKeyFile").await?);
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
                UploadError::Permanent(format!(
                    "clientCertFile {cert} / clientKeyFile {key}: not a PEM certificate and key: {e}"
                ))
            })?;
            builder = builder.identity(identity);
        }
        (None, None) => {}
        _ => {
            return Err(UploadError::Permanent(
                "give both `clientCertFile` and `clientKeyFile` for mTLS".into(),
            ));
        }
    }
    builder.build().map_err(|e| {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        UploadError::Permanent(format!("cannot set up the HTTP client: {text}"))
    })
}

async fn read(path: &str, field: &str) -> Result<Vec<u8>, UploadError> {
    tokio::fs::read(path)
        .await
        .map_err(|e| UploadError::Permanent(format!("{field} {path}: {e}")))
}

/// The target's headers, secrets read now; an unset secret is permanent (a person must act).
fn headers(target: &HttpTarget) -> Result<HeaderMap, UploadError> {
    let mut map = HeaderMap::new();
    for (name, secret) in &target.headers {
        let value = secret
            .resolve()
            .map_err(|e| UploadError::Permanent(format!("header `{name}`: {e}")))?;
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| UploadError::Permanent(format!("`{name}` is not a header name")))?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            UploadError::Permanent(format!(
                "header `{name}`: the secret is not a valid header value"
            ))
        })?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    if let Some(token) = &target.bearer_token {
        let token = token
            .resolve()
            .map_err(|e| UploadError::Permanent(format!("bearerToken: {e}")))?;
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| UploadError::Permanent("bearerToken: not a valid header value".into()))?;
        value.set_sensitive(true);
        map.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(map)
}

/// `sha-256=:<base64>:`.
fn repr_digest(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    format!("sha-256=:{}:", aws_smithy_types::base64::encode(bytes))
}

/// The URL without query or fragment (presigned URLs carry credentials there).
pub fn public_url(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or(url).to_string()
}

fn transport(e: &reqwest::Error, shown: &str) -> UploadError {
    let text = crate::diagnostic::error_chain(e);
    // Strip the query a reqwest error message may echo.
    let text = text.replace(e.url().map(reqwest::Url::as_str).unwrap_or("\u{0}"), shown);
    let lower = text.to_ascii_lowercase();
    if e.is_builder() {
        UploadError::Permanent(format!("{shown}: {text}"))
    } else if lower.contains("certificate") || lower.contains("unknownissuer") {
        // A certificate the client refuses (or one the server refuses) stays refused until
        // someone changes `caFile` / `clientCertFile`: retrying cannot help.
        UploadError::Permanent(format!(
            "{shown}: TLS: {text}; check `caFile` (the server's CA) and `clientCertFile`/`clientKeyFile`"
        ))
    } else {
        UploadError::Transient(format!("{shown}: {text}"))
    }
}

/// The start of an error answer's body, for the message (`: <text>`), or nothing.
async fn snippet(response: reqwest::Response) -> String {
    let Ok(bytes) = response.bytes().await else {
        return String::new();
    };
    let text = super::scrub::body_excerpt(&bytes);
    if text.is_empty() {
        String::new()
    } else {
        format!(": {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_drops_query_and_fragment() {
        assert_eq!(
            public_url("https://x.example/b/k.tgz?X-Amz-Signature=abc&Content-Type=a#f"),
            "https://x.example/b/k.tgz"
        );
    }

    #[test]
    fn repr_digest_is_base64_of_the_bytes() {
        assert_eq!(
            repr_digest("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            "sha-256=:ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=:"
        );
    }
}
