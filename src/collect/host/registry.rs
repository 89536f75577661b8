//! Host `registryImages`: whether each image's manifest exists in its registry (registry v2 API:
//! `GET /v2/<repo>/manifests/<tag|digest>`, after the `/v2/` ping and its Basic or Bearer token
//! challenge), as troubleshoot does with go-containerregistry.
//!
//! Output: `host-collectors/registry-images/<collectorName|images>.json`, `{"images": {image:
//! {"exists": bool, "error"?: text}}}`.
//!
//! TLS: troubleshoot skips certificate verification for every registry. We verify it, except for
//! the registries go-containerregistry would also speak plain HTTP to (loopback and private
//! addresses, `localhost:`), where an unverified certificate is no weaker than no TLS at all.
//! Credentials come from the spec (`username`/`password`), else from the agent's own Docker config
//! ([`super::docker_config`]); credential helper programs are not run.

use super::output::{file_name, go_json};
use super::{Ctx, Error};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// troubleshoot's deadline per image.
const DEADLINE: Duration = Duration::from_secs(10);
const DOCKER_HUB: &str = "index.docker.io";
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v1+prettyjws";

/// A parsed image reference.
#[derive(Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port); Docker Hub is `index.docker.io`.
    pub registry: String,
    /// Repository path (`library/nginx`).
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

/// Parses `image` as go-containerregistry's `name.ParseReference` (a tag reference, else a
/// digest one; default registry Docker Hub, default tag `latest`). Any failure is its
/// "could not parse reference".
pub fn parse_image_ref(image: &str) -> Result<ImageRef, String> {
    parse_tag(image)
        .or_else(|| parse_digest(image))
        .ok_or_else(|| {
            format!("failed to parse image name {image}: could not parse reference: {image}")
        })
}

const REPOSITORY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_-./";

/// `name.NewTag`: an optional `:tag` after the last `/`.
fn parse_tag(name: &str) -> Option<ImageRef> {
    let (base, tag) = match name.rsplit_once(':') {
        Some((base, tag)) if !tag.contains('/') => {
            let ok = (1..=128).contains(&tag.len())
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
            if !ok {
                return None;
            }
            (base, tag)
        }
        _ => (name, "latest"),
    };
    repository(base, tag.to_string())
}

/// `name.NewDigest`: `<repository>[:tag]@sha256:<64 hex>` (the tag is dropped).
fn parse_digest(name: &str) -> Option<ImageRef> {
    let (base, digest) = name.split_once('@')?;
    let hex = digest.strip_prefix("sha256:")?;
    if digest.contains('@')
        || hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return None;
    }
    // A tag before the digest is dropped.
    let base = match base.rsplit_once(':') {
        Some((b, tag)) if !tag.contains('/') && parse_tag(base).is_some() => b,
        _ => base,
    };
    repository(base, digest.to_string())
}

/// `name.NewRepository`: the first component is the registry when it is `localhost` or has a
/// `.` or `:`.
fn repository(name: &str, reference: String) -> Option<ImageRef> {
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest)) if first == "localhost" || first.contains(['.', ':']) => (first, rest),
        _ => ("", name),
    };
    let ok = (2..=255).contains(&repo.chars().count())
        && repo.bytes().all(|b| REPOSITORY_CHARS.contains(&b));
    if !ok {
        return None;
    }
    let registry = match registry {
        "" | "docker.io" => DOCKER_HUB,
        r => r,
    };
    // Docker Hub's implicit namespace (`RepositoryStr`).
    let repository = if registry == DOCKER_HUB && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_string()
    };
    Some(ImageRef {
        registry: registry.to_string(),
        repository,
        reference,
    })
}

/// Whether go-containerregistry would fall back to plain HTTP for `registry` (`Scheme`): RFC 1918
/// addresses, `localhost:*`, `*.localhost`, `127.0.0.1` and `::1`.
pub fn is_local(registry: &str) -> bool {
    let host = registry.split(':').next().unwrap_or("");
    let rfc1918 = host
        .parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_private());
    let with_port = |prefix: &str| {
        registry.strip_prefix(prefix).is_some_and(|rest| {
            rest.is_empty()
                || rest.strip_prefix(':').is_some_and(|p| {
                    (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
                })
        })
    };
    let dot_localhost = registry.rsplit_once(".localhost").is_some_and(|(_, rest)| {
        rest.is_empty()
            || rest.strip_prefix(':').is_some_and(|p| {
                (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
            })
    });
    rfc1918
        || registry.starts_with("localhost:")
        || dot_localhost
        || with_port("127.0.0.1")
        || registry == "::1"
        || with_port("[::1]")
}

/// One image's entry (troubleshoot's `RegistryImage`).
#[derive(Debug, Serialize, PartialEq, Eq)]
struct RegistryImage {
    exists: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

#[derive(Serialize)]
struct RegistryInfo {
    images: BTreeMap<String, RegistryImage>,
}

/// Credentials: the spec's, or the Docker config's.
struct Basic {
    username: String,
    password: String,
}

/// The two HTTP clients: verifying, and (for local registries only) not.
struct Clients {
    strict: reqwest::Client,
    local: reqwest::Client,
}

fn clients() -> Result<Clients, Error> {
    let build = |accept_invalid: bool| {
        reqwest::Client::builder()
            .connect_timeout(DEADLINE)
            .timeout(DEADLINE)
            // reqwest drops the Authorization header when a redirect leaves the host.
            .redirect(reqwest::redirect::Policy::limited(5))
            .tls_danger_accept_invalid_certs(accept_invalid)
            .build()
            .map_err(|e| Error::Other(format!("HTTP client: {e}")))
    };
    Ok(Clients {
        strict: build(false)?,
        local: build(true)?,
    })
}

/// The registry's error body (`{"errors": [{"code", "message"}]}`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    errors: Vec<Diagnostic>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Diagnostic {
    code: String,
    message: String,
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer { realm: String, service: String },
}

fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut realm = String::new();
    let mut service = String::new();
    for part in params.split(',') {
        if let Some((k, v)) = part.trim().split_once('=') {
            let v = v.trim().trim_matches('"').to_string();
            match k.trim() {
                "realm" => realm = v,
                "service" => service = v,
                _ => {}
            }
        }
    }
    Some(Challenge::Bearer { realm, service })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Token {
    token: String,
    access_token: String,
}

/// The Authorization header for `image` after the registry's challenge, if any.
async fn authorize(
    client: &reqwest::Client,
    base: &str,
    image: &ImageRef,
    creds: Option<&Basic>,
) -> Result<Option<String>, String> {
    let ping = client
        .get(format!("{base}/v2/"))
        .send()
        .await
        .map_err(|e| format!("GET {base}/v2/: {e}"))?;
    if ping.status() != reqwest::StatusCode::UNAUTHORIZED {
        return Ok(None);
    }
    let header = ping
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    let basic = creds.map(|c| {
        use base64::Engine;
        let pair = format!("{}:{}", c.username, c.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    });
    match parse_challenge(header) {
        Some(Challenge::Basic) => Ok(basic),
        Some(Challenge::Bearer { realm, service }) => {
            let scope = format!("repository:{}:pull", image.repository);
            let mut req = client
                .get(&realm)
                .query(&[("scope", scope.as_str()), ("service", service.as_str())]);
            if let Some(b) = &basic {
                req = req.header(reqwest::header::AUTHORIZATION, b);
            }
            let resp = req.send().await.map_err(|e| format!("GET {realm}: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!(
                    "GET {realm}: unexpected status code {}",
                    resp.status()
                ));
            }
            let t: Token = resp
                .json()
                .await
                .map_err(|e| format!("GET {realm}: token response: {e}"))?;
            let token = if t.token.is_empty() {
                t.access_token
            } else {
                t.token
            };
            Ok(Some(format!("Bearer {token}")))
        }
        None => Ok(basic),
    }
}

/// `Ok(true)` when the manifest exists, `Ok(false)` when the registry says MANIFEST_UNKNOWN
/// (and not NAME_UNKNOWN), an error otherwise.
async fn manifest_exists(
    clients: &Clients,
    image: &ImageRef,
    creds: Option<&Basic>,
) -> Result<bool, String> {
    let local = is_local(&image.registry);
    let client = if local {
        &clients.local
    } else {
        &clients.strict
    };
    // As go-containerregistry's ping: https first; plain http too for local registries.
    let schemes: &[&str] = if local {
        &["https", "http"]
    } else {
        &["https"]
    };
    let mut last = String::new();
    for scheme in schemes {
        let base = format!("{scheme}://{}", image.registry);
        let auth = match authorize(client, &base, image, creds).await {
            Ok(a) => a,
            Err(e) => {
                last = e;
                continue;
            }
        };
        let url = format!(
            "{base}/v2/{}/manifests/{}",
            image.repository, image.reference
        );
        let mut req = client.get(&url).header(reqwest::header::ACCEPT, ACCEPT);
        if let Some(a) = &auth {
            req = req.header(reqwest::header::AUTHORIZATION, a);
        }
        let resp = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status();
        if status.is_success() {
            return Ok(true);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let errors = serde_json::from_slice::<ErrorBody>(&body)
            .unwrap_or_default()
            .errors;
        let has = |code: &str| errors.iter().any(|d| d.code == code);
        if status == reqwest::StatusCode::NOT_FOUND
            && has("MANIFEST_UNKNOWN")
            && !has("NAME_UNKNOWN")
        {
            return Ok(false);
        }
        let detail = match errors.as_slice() {
            [] => format!("unexpected status code {status}"),
            [d] => format!("{}: {}", d.code, d.message),
            many => format!(
                "multiple errors returned: {}",
                many.iter()
                    .map(|d| format!("{}: {}", d.code, d.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        };
        return Err(format!("GET {url}: {detail}"));
    }
    Err(last)
}

/// The `registryImages` host collector.
pub async fn registry_images(ctx: &Ctx<'_>) -> Result<(), Error> {
    let clients = clients()?;
    let username = ctx.str("username").unwrap_or("");
    let inline = (!username.is_empty()).then(|| Basic {
        username: username.to_string(),
        password: ctx.str("password").unwrap_or("").to_string(),
    });
    let mut info = RegistryInfo {
        images: BTreeMap::new(),
    };
    for image in ctx.strings("images") {
        let entry = match parse_image_ref(&image) {
            Err(e) => RegistryImage {
                exists: false,
                error: e,
            },
            Ok(r) => {
                // No inline credentials: the agent's own Docker config, as troubleshoot's
                // ambient keychain.
                let ambient = match &inline {
                    Some(_) => None,
                    None => super::docker_config::credentials(&r.registry)
                        .await
                        .map(|(username, password)| Basic { username, password }),
                };
                let creds = inline.as_ref().or(ambient.as_ref());
                let check = tokio::time::timeout(DEADLINE, manifest_exists(&clients, &r, creds));
                let result = tokio::select! {
                    r = check => r.unwrap_or_else(|_| Err("context deadline exceeded".into())),
                    () = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                };
                match result {
                    Ok(exists) => RegistryImage {
                        exists,
                        error: String::new(),
                    },
                    Err(e) => RegistryImage {
                        exists: false,
                        error: format!("failed to get image manifest: {e}"),
                    },
                }
            }
        };
        info.images.insert(image, entry);
    }
    let json = go_json(&info, Some(2))?;
    let file = file_name(ctx.name.unwrap_or("images"), ".json");
    ctx.out
        .write(
            &["host-collectors", "registry-images", &file],
            json.as_bytes(),
        )
        .await?;
    Ok(())
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
    fn references_like_go_containerregistry() {
        let ok = |s: &str| parse_image_ref(s).expect(s);
        assert_eq!(ok("nginx"), r(DOCKER_HUB, "library/nginx", "latest"));
        assert_eq!(
            ok("docker.io/nginx:1.27"),
            r(DOCKER_HUB, "library/nginx", "1.27")
        );
        assert_eq!(ok("bitnami/redis:7"), r(DOCKER_HUB, "bitnami/redis", "7"));
        assert_eq!(
            ok("127.0.0.1:5000/team/app:v1"),
            r("127.0.0.1:5000", "team/app", "v1")
        );
        assert_eq!(ok("localhost/app"), r("localhost", "app", "latest"));
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            ok(&format!("quay.io/x/y@{digest}")),
            r("quay.io", "x/y", &digest)
        );
        assert_eq!(
            ok(&format!("quay.io/x/y:v1@{digest}")),
            r("quay.io", "x/y", &digest)
        );
        assert_eq!(
            ok(&format!("nginx:1@{digest}")),
            r(DOCKER_HUB, "library/nginx", &digest)
        );
        for bad in ["Nginx", "nginx:", "nginx@sha256:xyz", "a/b:x!", "", "a"] {
            let e = parse_image_ref(bad).expect_err(bad);
            assert_eq!(
                e,
                format!("failed to parse image name {bad}: could not parse reference: {bad}")
            );
        }
    }

    #[test]
    fn local_registries() {
        for l in [
            "127.0.0.1:5000",
            "localhost:5000",
            "10.0.0.5",
            "192.168.1.2:443",
            "172.16.0.1",
            "[::1]:5000",
            "reg.localhost:80",
        ] {
            assert!(is_local(l), "{l}");
        }
        for p in [
            "quay.io",
            "index.docker.io",
            "8.8.8.8:5000",
            "registry.local.example.com",
            "localhost",
            "127.0.0.2:5000",
        ] {
            assert!(!is_local(p), "{p}");
        }
    }

    #[test]
    fn challenges() {
        assert_eq!(parse_challenge("Basic realm=\"x\""), Some(Challenge::Basic));
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://auth.test/token",service="reg.test""#),
            Some(Challenge::Bearer {
                realm: "https://auth.test/token".into(),
                service: "reg.test".into()
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
    }
}
