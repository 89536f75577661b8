//! One Docker registry v2 client for both `registryImages` collectors (host and in-cluster):
//! whether an image's manifest exists (`GET /v2/<repo>/manifests/<tag|digest>`), after the `/v2/`
//! ping and its Basic or Bearer token challenge, as troubleshoot does with go-containerregistry
//! (one code path for both collectors there too). The collectors differ only in where the
//! credentials come from (the spec or the agent's Docker config, a pull secret) and in their
//! output: both are the caller's.
//!
//! Schemes: go-containerregistry speaks plain HTTP to local registries (loopback, RFC 1918,
//! `localhost:`); it tries HTTPS first there, then HTTP. TLS: troubleshoot skips certificate
//! verification for every registry. We verify it, except for those local registries, where an
//! unverified certificate is no weaker than no TLS at all. Credentials go in clear text only
//! where the registry itself would be spoken to in clear text: a token realm elsewhere must be
//! HTTPS. Credentials never reach an error message.

use base64::Engine;
use serde::Deserialize;
use std::time::Duration;

/// Docker Hub as go-containerregistry names it.
pub const DOCKER_HUB: &str = "index.docker.io";

/// troubleshoot's deadline per request (and per image in the host collector).
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The manifest media types asked for (go-containerregistry's, the v1 signed one included).
const ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json,application/vnd.oci.image.manifest.v1+json,application/vnd.oci.image.index.v1+json,application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Why a manifest could not be checked. The texts are go-containerregistry's, for the output.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Not an image reference.
    #[error("failed to parse image name {0}: could not parse reference: {0}")]
    Reference(String),
    /// A request that got no answer.
    #[error("GET {url}: {source}")]
    Request {
        /// What was asked.
        url: String,
        /// Why it failed.
        source: reqwest::Error,
    },
    /// An answer that is not a success (for a manifest: not MANIFEST_UNKNOWN either).
    #[error("GET {url}: {detail}")]
    Status {
        /// What was asked.
        url: String,
        /// The status, or the registry's error codes and messages.
        detail: String,
    },
    /// A token endpoint whose answer is no token.
    #[error("GET {url}: token response: {detail}")]
    Token {
        /// The token endpoint.
        url: String,
        /// What is wrong with the answer.
        detail: String,
    },
    /// A token realm that may not receive the credentials.
    #[error("token realm {realm:?}: {reason}")]
    Realm {
        /// The realm the registry named.
        realm: String,
        /// Why the credentials are not sent there.
        reason: RealmProblem,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(reqwest::Error),
}

/// Why a token realm does not get the credentials.
#[derive(Debug, thiserror::Error)]
pub enum RealmProblem {
    /// Not a URL.
    #[error("{0}")]
    Url(String),
    /// A URL without a host.
    #[error("it has no host")]
    NoHost,
    /// Plain HTTP to a registry that is not local.
    #[error("not HTTPS: the registry credentials are not sent to it")]
    NotHttps,
}

/// A parsed image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (and port); Docker Hub is `index.docker.io`.
    pub registry: String,
    /// Repository path (`library/nginx`).
    pub repository: String,
    /// Tag or digest.
    pub reference: String,
}

/// Parses `image` as go-containerregistry's `name.ParseReference` (a tag reference, else a
/// digest one; default registry Docker Hub, default tag `latest`).
pub fn parse_image_ref(image: &str) -> Result<ImageRef, RegistryError> {
    parse_tag(image)
        .or_else(|| parse_digest(image))
        .ok_or_else(|| RegistryError::Reference(image.to_string()))
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
    let port_ok = |rest: &str| {
        rest.is_empty()
            || rest.strip_prefix(':').is_some_and(|p| {
                (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
            })
    };
    let with_port = |prefix: &str| registry.strip_prefix(prefix).is_some_and(port_ok);
    let dot_localhost = registry
        .rsplit_once(".localhost")
        .is_some_and(|(_, rest)| port_ok(rest));
    rfc1918
        || registry.starts_with("localhost:")
        || dot_localhost
        || with_port("127.0.0.1")
        || registry == "::1"
        || with_port("[::1]")
}

/// Registry credentials (never written anywhere).
#[derive(Clone)]
pub struct Basic {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl Basic {
    fn header(&self) -> String {
        let pair = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    }
}

/// The client: verifying, and (for local registries only) not.
pub struct Client {
    strict: reqwest::Client,
    local: reqwest::Client,
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

/// The challenge of a 401 answer, if it is one.
fn challenge_of(resp: &reqwest::Response) -> Option<Option<Challenge>> {
    (resp.status() == reqwest::StatusCode::UNAUTHORIZED).then(|| {
        resp.headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_challenge)
    })
}

/// A realm may get the credentials when it is HTTPS or a local registry's address.
fn realm_may_get_credentials(realm: &str) -> Result<(), RegistryError> {
    let refuse = |reason: RealmProblem| RegistryError::Realm {
        realm: realm.to_string(),
        reason,
    };
    // The URL crate's error type is not re-exported by reqwest: its text is kept.
    let parsed =
        reqwest::Url::parse(realm).map_err(|e| refuse(RealmProblem::Url(e.to_string())))?;
    let host = match (parsed.host_str(), parsed.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(refuse(RealmProblem::NoHost)),
    };
    if parsed.scheme() != "https" && !is_local(&host) {
        return Err(refuse(RealmProblem::NotHttps));
    }
    Ok(())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Token {
    token: String,
    access_token: String,
}

impl Client {
    /// A client with troubleshoot's per-request deadline.
    pub fn new() -> Result<Client, RegistryError> {
        let build = |accept_invalid: bool| {
            reqwest::Client::builder()
                .connect_timeout(DEADLINE)
                .timeout(DEADLINE)
                // reqwest drops the Authorization header when a redirect leaves the host.
                .redirect(reqwest::redirect::Policy::limited(5))
                .tls_danger_accept_invalid_certs(accept_invalid)
                .build()
                .map_err(RegistryError::Client)
        };
        Ok(Client {
            strict: build(false)?,
            local: build(true)?,
        })
    }

    /// The Authorization header a challenge asks for (`None`: none to give).
    async fn answer(
        &self,
        client: &reqwest::Client,
        challenge: Option<Challenge>,
        image: &ImageRef,
        creds: Option<&Basic>,
    ) -> Result<Option<String>, RegistryError> {
        let basic = creds.map(Basic::header);
        let Some(Challenge::Bearer { realm, service }) = challenge else {
            return Ok(basic);
        };
        let scope = format!("repository:{}:pull", image.repository);
        let mut req = client
            .get(&realm)
            .query(&[("scope", scope.as_str()), ("service", service.as_str())]);
        if let Some(b) = &basic {
            realm_may_get_credentials(&realm)?;
            req = req.header(reqwest::header::AUTHORIZATION, b);
        }
        let resp = req.send().await.map_err(|source| RegistryError::Request {
            url: realm.clone(),
            source,
        })?;
        if !resp.status().is_success() {
            return Err(RegistryError::Status {
                detail: format!("unexpected status code {}", resp.status()),
                url: realm,
            });
        }
        let t: Token = resp.json().await.map_err(|e| RegistryError::Token {
            url: realm.clone(),
            detail: e.to_string(),
        })?;
        let token = if t.token.is_empty() {
            t.access_token
        } else {
            t.token
        };
        if token.is_empty() {
            return Err(RegistryError::Token {
                url: realm,
                detail: "the answer has no token".into(),
            });
        }
        Ok(Some(format!("Bearer {token}")))
    }

    /// The `/v2/` ping: the Authorization header its challenge asks for, if any.
    async fn ping(
        &self,
        client: &reqwest::Client,
        base: &str,
        image: &ImageRef,
        creds: Option<&Basic>,
    ) -> Result<Option<String>, RegistryError> {
        let url = format!("{base}/v2/");
        let ping = client
            .get(&url)
            .send()
            .await
            .map_err(|source| RegistryError::Request { url, source })?;
        match challenge_of(&ping) {
            Some(challenge) => self.answer(client, challenge, image, creds).await,
            None => Ok(None),
        }
    }

    /// `Ok(true)` when the manifest exists, `Ok(false)` when the registry says MANIFEST_UNKNOWN
    /// (and not NAME_UNKNOWN), an error otherwise. A registry that challenges the manifest
    /// request itself (not the ping) is answered once.
    pub async fn manifest_exists(
        &self,
        image: &ImageRef,
        creds: Option<&Basic>,
    ) -> Result<bool, RegistryError> {
        let local = is_local(&image.registry);
        let client = if local { &self.local } else { &self.strict };
        // As go-containerregistry's ping: https first; plain http too for local registries.
        let schemes: &[&str] = if local {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut last = None;
        for scheme in schemes {
            let base = format!("{scheme}://{}", image.registry);
            match self.ping(client, &base, image, creds).await {
                Ok(auth) => return self.manifest(client, &base, image, creds, auth).await,
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one scheme"))
    }

    async fn manifest(
        &self,
        client: &reqwest::Client,
        base: &str,
        image: &ImageRef,
        creds: Option<&Basic>,
        mut auth: Option<String>,
    ) -> Result<bool, RegistryError> {
        let url = format!(
            "{base}/v2/{}/manifests/{}",
            image.repository, image.reference
        );
        let mut answered = false;
        let resp = loop {
            let mut req = client.get(&url).header(reqwest::header::ACCEPT, ACCEPT);
            if let Some(a) = &auth {
                req = req.header(reqwest::header::AUTHORIZATION, a);
            }
            let resp = req.send().await.map_err(|source| RegistryError::Request {
                url: url.clone(),
                source,
            })?;
            match challenge_of(&resp) {
                Some(challenge) if !answered && auth.is_none() => {
                    auth = self.answer(client, challenge, image, creds).await?;
                    answered = true;
                    if auth.is_none() {
                        break resp;
                    }
                }
                _ => break resp,
            }
        };
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
        Err(RegistryError::Status { url, detail })
    }
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
                e.to_string(),
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
    fn challenges_and_realms() {
        assert_eq!(parse_challenge("Basic realm=\"x\""), Some(Challenge::Basic));
        assert_eq!(
            parse_challenge(r#"Bearer realm="https://auth.test/token",service="reg.test""#),
            Some(Challenge::Bearer {
                realm: "https://auth.test/token".into(),
                service: "reg.test".into()
            })
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert!(realm_may_get_credentials("https://auth.example.com/token").is_ok());
        assert!(realm_may_get_credentials("http://127.0.0.1:5000/token").is_ok());
        let refused = realm_may_get_credentials("http://evil.example.com/token")
            .expect_err("plain HTTP elsewhere");
        assert_eq!(
            refused.to_string(),
            "token realm \"http://evil.example.com/token\": not HTTPS: the registry credentials are not sent to it"
        );
    }
}
