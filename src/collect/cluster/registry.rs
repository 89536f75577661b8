//! In-cluster `registryImages`: whether each image's manifest exists in its registry (the
//! registry v2 API, with the credentials of an image pull secret) →
//! `registry/<collectorName|images>.json` (`{"images": {"<image>": {"exists": ..., "error": ...}}}`).
//!
//! As troubleshoot (go-containerregistry): plain HTTP for loopback and private-network registries,
//! HTTPS otherwise; Bearer tokens from the registry's `WWW-Authenticate` realm, else Basic. Unlike
//! troubleshoot, TLS certificates are verified: pull-secret credentials are never sent to a server
//! that did not prove who it is. Credentials never reach the output.

use super::api::encode;
use super::jsonout::pretty;
use super::{Ctx, Error, namespace_of};
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

/// Docker Hub as go-containerregistry names it.
const DOCKER_HUB: &str = "index.docker.io";

/// One image reference, split as go-containerregistry does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `index.docker.io`, `registry.example.com:5000`.
    pub registry: String,
    /// `library/nginx`.
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

/// Parses `[registry/]repo[:tag][@digest]` (default registry Docker Hub, tag `latest`).
pub fn parse_image(image: &str) -> Result<ImageRef, String> {
    let bad = || format!("failed to parse image name {image}");
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(bad());
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) if !d.is_empty() => (r, Some(d.to_string())),
        Some(_) => return Err(bad()),
        None => (image, None),
    };
    let (first, remainder) = match rest.split_once('/') {
        Some((f, r)) if f.contains('.') || f.contains(':') || f == "localhost" => {
            (Some(f.to_string()), r)
        }
        _ => (None, rest),
    };
    let (repo, tag) = match remainder.rsplit_once(':') {
        Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
        _ => (remainder, None),
    };
    if repo.is_empty()
        || repo
            .chars()
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._-/".contains(c)))
    {
        return Err(bad());
    }
    let registry = match first.as_deref() {
        None | Some("docker.io") => DOCKER_HUB.to_string(),
        Some(r) => r.to_string(),
    };
    let repository = if registry == DOCKER_HUB && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_string()
    };
    let reference = digest.or(tag).unwrap_or_else(|| "latest".to_string());
    Ok(ImageRef {
        registry,
        repository,
        reference,
    })
}

/// go-containerregistry's scheme: HTTP for localhost, loopback and RFC 1918 addresses.
fn scheme(registry: &str) -> &'static str {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let plain = host == "localhost"
        || match host.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => ip.is_loopback() || ip.is_private(),
            Ok(IpAddr::V6(ip)) => ip.is_loopback(),
            Err(_) => false,
        };
    if plain { "http" } else { "https" }
}

/// Registry credentials (never written anywhere).
#[derive(Clone)]
struct Auth {
    user: String,
    password: String,
}

/// The credentials for `registry` in a `.dockerconfigjson` document.
fn auth_from_docker_config(config: &[u8], registry: &str) -> Result<Option<Auth>, String> {
    let doc: Value = serde_json::from_slice(config)
        .map_err(|e| format!("failed to unmarshal config json: {e}"))?;
    let auths = &doc["auths"];
    let entry = match (&auths[registry], registry) {
        (Value::Null, DOCKER_HUB) => &auths["docker.io"],
        (e, _) => e,
    };
    if entry.is_null() {
        return Ok(None);
    }
    let user = entry["username"].as_str().unwrap_or("");
    let password = entry["password"].as_str().unwrap_or("");
    if !user.is_empty() && !password.is_empty() {
        return Ok(Some(Auth {
            user: user.into(),
            password: password.into(),
        }));
    }
    let raw = entry["auth"].as_str().unwrap_or("");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|_| raw.to_string());
    let parts: Vec<&str> = decoded.split(':').collect();
    match parts.as_slice() {
        [u, p] => Ok(Some(Auth {
            user: u.to_string(),
            password: p.trim_matches('\0').to_string(),
        })),
        _ => Err(format!(
            "expected 2 parts in the auth string, but found {}",
            parts.len()
        )),
    }
}

/// The `.dockerconfigjson` of the collector's `imagePullSecret` (inline `data`, else the Secret
/// `name`), decoded; `None` without one.
async fn docker_config(ctx: &Ctx, body: &Value) -> Result<Option<Vec<u8>>, String> {
    let spec = &body["imagePullSecret"];
    if spec.is_null() {
        return Ok(None);
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let (kind, data) = if spec["data"].is_object() {
        (
            spec["type"].as_str().unwrap_or("").to_string(),
            spec["data"][".dockerconfigjson"].clone(),
        )
    } else if let Some(name) = spec["name"].as_str().filter(|n| !n.is_empty()) {
        let ns = namespace_of(ctx, body);
        let path = format!(
            "/api/v1/namespaces/{}/secrets/{}",
            encode(&ns),
            encode(name)
        );
        let secret =
            ctx.api.get(&path).await.map_err(|e| {
                format!("failed to get auth from secret: failed to get secret: {e}")
            })?;
        (
            secret["type"].as_str().unwrap_or("").to_string(),
            secret["data"][".dockerconfigjson"].clone(),
        )
    } else {
        return Err("image pull secret spec is not valid".into());
    };
    if kind != "kubernetes.io/dockerconfigjson" {
        return Err(format!("secret type is not supported: {kind}"));
    }
    b64.decode(data.as_str().unwrap_or(""))
        .map(Some)
        .map_err(|e| format!("failed to decode docker config string: {e}"))
}

/// The value of `key` in a `WWW-Authenticate: Bearer k="v",...` header.
fn challenge_param(header: &str, key: &str) -> Option<String> {
    let rest = header.split_once(' ')?.1;
    rest.split(',').find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k.eq_ignore_ascii_case(key)).then(|| v.trim_matches('"').to_string())
    })
}

const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json,\
application/vnd.docker.distribution.manifest.list.v2+json,\
application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json";

/// Whether the manifest of `image` exists: `Ok(false)` only for the registry's MANIFEST_UNKNOWN.
async fn exists(
    http: &reqwest::Client,
    image: &ImageRef,
    auth: Option<&Auth>,
) -> Result<bool, String> {
    let url = format!(
        "{}://{}/v2/{}/manifests/{}",
        scheme(&image.registry),
        image.registry,
        image.repository,
        image.reference
    );
    let failed = |e: String| format!("failed to get image manifest: GET {url}: {e}");
    let send = |bearer: Option<&str>, basic: bool| {
        let mut req = http.get(&url).header("Accept", ACCEPT);
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        } else if let (true, Some(a)) = (basic, auth) {
            req = req.basic_auth(&a.user, Some(&a.password));
        }
        req.send()
    };
    let mut resp = send(None, false).await.map_err(|e| failed(e.to_string()))?;
    if resp.status() == reqwest::StatusCode::UNAUTHORIZED {
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
            .to_string();
        resp = if challenge.to_ascii_lowercase().starts_with("bearer") {
            let token = token(http, &challenge, image, auth).await.map_err(failed)?;
            send(Some(&token), false).await
        } else {
            send(None, true).await
        }
        .map_err(|e| failed(e.to_string()))?;
    }
    let status = resp.status();
    if status.is_success() {
        return Ok(true);
    }
    let body = resp.bytes().await.unwrap_or_default();
    let codes: Vec<String> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["errors"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e["code"].as_str().map(str::to_string))
        .collect();
    if status == reqwest::StatusCode::NOT_FOUND
        && codes.iter().any(|c| c == "MANIFEST_UNKNOWN")
        && !codes.iter().any(|c| c == "NAME_UNKNOWN")
    {
        return Ok(false);
    }
    let detail = if codes.is_empty() {
        format!("unexpected status code {status}")
    } else {
        format!("{status}: {}", codes.join("; "))
    };
    Err(failed(detail))
}

/// The realm is the registry's to choose: credentials go in clear text only where the registry
/// itself would be spoken to in clear text (loopback, private addresses).
fn realm_may_get_credentials(realm: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(realm).map_err(|e| format!("token realm {realm:?}: {e}"))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(format!("token realm {realm:?} has no host")),
    };
    if parsed.scheme() != "https" && scheme(&host) != "http" {
        return Err(format!(
            "token realm {realm:?} is not HTTPS: the pull secret's credentials are not sent to it"
        ));
    }
    Ok(())
}

/// A pull token from the challenge's realm (with Basic credentials when there are some).
async fn token(
    http: &reqwest::Client,
    challenge: &str,
    image: &ImageRef,
    auth: Option<&Auth>,
) -> Result<String, String> {
    let realm =
        challenge_param(challenge, "realm").ok_or("the registry's challenge has no realm")?;
    let mut url = format!(
        "{realm}?scope={}",
        encode(&format!("repository:{}:pull", image.repository))
    );
    if let Some(service) = challenge_param(challenge, "service") {
        url.push_str(&format!("&service={}", encode(&service)));
    }
    let mut req = http.get(&url);
    if let Some(a) = auth {
        realm_may_get_credentials(&realm)?;
        req = req.basic_auth(&a.user, Some(&a.password));
    }
    let resp = req.send().await.map_err(|e| format!("token: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("token: {e}"))?;
    if !status.is_success() {
        return Err(format!("token: unexpected status code {status}"));
    }
    let v: Value = serde_json::from_slice(&body).map_err(|e| format!("token: not JSON: {e}"))?;
    v["token"]
        .as_str()
        .or(v["access_token"].as_str())
        .map(str::to_string)
        .ok_or_else(|| "token: the answer has no token".to_string())
}

/// Runs in-cluster `registryImages`.
pub(super) async fn collect(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Other(format!("HTTP client: {e}")))?;
    let config = docker_config(ctx, body).await;
    let mut images: BTreeMap<String, Value> = BTreeMap::new();
    for image in body["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let result = async {
            let parsed = parse_image(image)?;
            let auth = match &config {
                Ok(Some(c)) => auth_from_docker_config(c, &parsed.registry).map_err(|e| {
                    format!("failed to get auth config: failed to get auth from data: {e}")
                })?,
                Ok(None) => None,
                Err(e) => return Err(format!("failed to get auth config: {e}")),
            };
            exists(&http, &parsed, auth.as_ref()).await
        }
        .await;
        let entry = match result {
            Ok(found) => json!({"exists": found}),
            Err(e) => json!({"exists": false, "error": e}),
        };
        images.insert(image.to_string(), entry);
    }
    let images: Map<String, Value> = images.into_iter().collect();
    let name = collector_name.filter(|n| !n.is_empty()).unwrap_or("images");
    ctx.write(
        &format!("registry/{}.json", sanitize_component(name)),
        &pretty(&json!({"images": images})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(registry: &str, repository: &str, reference: &str) -> ImageRef {
        ImageRef {
            registry: registry.into(),
            repository: repository.into(),
            reference: reference.into(),
        }
    }

    #[test]
    fn image_references_parse_as_go_containerregistry() {
        assert_eq!(
            parse_image("nginx").unwrap(),
            r(DOCKER_HUB, "library/nginx", "latest")
        );
        assert_eq!(
            parse_image("docker.io/bitnami/redis:7").unwrap(),
            r(DOCKER_HUB, "bitnami/redis", "7")
        );
        assert_eq!(
            parse_image("127.0.0.1:5000/app/web:1.0").unwrap(),
            r("127.0.0.1:5000", "app/web", "1.0")
        );
        assert_eq!(
            parse_image("quay.io/x/y@sha256:abc").unwrap(),
            r("quay.io", "x/y", "sha256:abc")
        );
        assert!(parse_image("UPPER/case").is_err());
        assert!(parse_image("").is_err());
    }

    #[test]
    fn schemes_and_credentials() {
        assert_eq!(scheme("127.0.0.1:5000"), "http");
        assert_eq!(scheme("10.1.2.3"), "http");
        assert_eq!(scheme("localhost:5000"), "http");
        assert_eq!(scheme("quay.io"), "https");
        let b64 = base64::engine::general_purpose::STANDARD;
        let cfg = json!({"auths": {"docker.io": {"auth": b64.encode("bob:pw")},
                                   "r.io": {"username": "u", "password": "p"}}})
        .to_string();
        let hub = auth_from_docker_config(cfg.as_bytes(), DOCKER_HUB)
            .unwrap()
            .unwrap();
        assert_eq!((hub.user.as_str(), hub.password.as_str()), ("bob", "pw"));
        let r = auth_from_docker_config(cfg.as_bytes(), "r.io")
            .unwrap()
            .unwrap();
        assert_eq!(r.user, "u");
        assert!(
            auth_from_docker_config(cfg.as_bytes(), "other.io")
                .unwrap()
                .is_none()
        );
        assert_eq!(
            challenge_param(r#"Bearer realm="http://h/token",service="reg""#, "service").as_deref(),
            Some("reg")
        );
        assert!(realm_may_get_credentials("https://auth.example.com/token").is_ok());
        assert!(realm_may_get_credentials("http://127.0.0.1:5000/token").is_ok());
        assert!(realm_may_get_credentials("http://evil.example.com/token").is_err());
    }
}
