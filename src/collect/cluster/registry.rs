//! In-cluster `registryImages`: whether each image's manifest exists in its registry (the
//! registry v2 API, with the credentials of an image pull secret) →
//! `registry/<collectorName|images>.json` (`{"images": {"<image>": {"exists": ..., "error": ...}}}`).
//!
//! The registry client is [`crate::collect::registry`] (shared with the host collector, as
//! troubleshoot shares go-containerregistry's): this module reads the pull secret and writes the
//! file. Credentials never reach the output.

use super::api::{ApiError, encode};
use super::jsonout::pretty;
use super::{Ctx, Error, namespace_of};
use crate::collect::host::sanitize_component;
use crate::collect::registry::{Basic, Client, DOCKER_HUB, RegistryError, parse_image_ref};
use base64::Engine;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Why the pull secret gives no credentials (troubleshoot's texts).
#[derive(Debug, thiserror::Error)]
pub enum PullSecretError {
    /// The `.dockerconfigjson` is not JSON.
    #[error("failed to unmarshal config json: {0}")]
    Json(serde_json::Error),
    /// An `auth` that is not `user:password`.
    #[error("expected 2 parts in the auth string, but found {0}")]
    AuthParts(usize),
    /// The named Secret could not be read.
    #[error("failed to get auth from secret: failed to get secret: {0}")]
    Secret(ApiError),
    /// Neither inline `data` nor a `name`.
    #[error("image pull secret spec is not valid")]
    Spec,
    /// Not a `kubernetes.io/dockerconfigjson` secret.
    #[error("secret type is not supported: {0}")]
    Type(String),
    /// The `.dockerconfigjson` value is not base64.
    #[error("failed to decode docker config string: {0}")]
    Base64(base64::DecodeError),
}

/// Why one image has no answer (the text of its `error`).
#[derive(Debug, thiserror::Error)]
enum ImageError<'a> {
    #[error(transparent)]
    Reference(RegistryError),
    #[error("failed to get auth config: {0}")]
    Config(&'a PullSecretError),
    #[error("failed to get auth config: failed to get auth from data: {0}")]
    Auth(PullSecretError),
    #[error("failed to get image manifest: {0}")]
    Manifest(RegistryError),
}

/// The credentials for `registry` in a `.dockerconfigjson` document.
fn auth_from_docker_config(
    config: &[u8],
    registry: &str,
) -> Result<Option<Basic>, PullSecretError> {
    let doc: Value = serde_json::from_slice(config).map_err(PullSecretError::Json)?;
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
        return Ok(Some(Basic {
            username: user.into(),
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
        [u, p] => Ok(Some(Basic {
            username: u.to_string(),
            password: p.trim_matches('\0').to_string(),
        })),
        _ => Err(PullSecretError::AuthParts(parts.len())),
    }
}

/// The `.dockerconfigjson` of the collector's `imagePullSecret` (inline `data`, else the Secret
/// `name`), decoded; `None` without one.
async fn docker_config(ctx: &Ctx, body: &Value) -> Result<Option<Vec<u8>>, PullSecretError> {
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
        let secret = ctx.api.get(&path).await.map_err(PullSecretError::Secret)?;
        (
            secret["type"].as_str().unwrap_or("").to_string(),
            secret["data"][".dockerconfigjson"].clone(),
        )
    } else {
        return Err(PullSecretError::Spec);
    };
    if kind != "kubernetes.io/dockerconfigjson" {
        return Err(PullSecretError::Type(kind));
    }
    b64.decode(data.as_str().unwrap_or(""))
        .map(Some)
        .map_err(PullSecretError::Base64)
}

/// Runs in-cluster `registryImages`.
pub(super) async fn collect(
    ctx: &Ctx,
    body: &Value,
    collector_name: Option<&str>,
) -> Result<(), Error> {
    let client = Client::new()?;
    let config = docker_config(ctx, body).await;
    let mut images: BTreeMap<String, Value> = BTreeMap::new();
    for image in body["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let result = async {
            let parsed = parse_image_ref(image).map_err(ImageError::Reference)?;
            let auth = match &config {
                Ok(Some(c)) => {
                    auth_from_docker_config(c, &parsed.registry).map_err(ImageError::Auth)?
                }
                Ok(None) => None,
                Err(e) => return Err(ImageError::Config(e)),
            };
            client
                .manifest_exists(&parsed, auth.as_ref())
                .await
                .map_err(ImageError::Manifest)
        }
        .await;
        let entry = match result {
            Ok(found) => json!({"exists": found}),
            Err(e) => json!({"exists": false, "error": e.to_string()}),
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

    #[test]
    fn pull_secret_credentials() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let cfg = json!({"auths": {"docker.io": {"auth": b64.encode("bob:pw")},
                                   "r.io": {"username": "u", "password": "p"},
                                   "bad.io": {"auth": b64.encode("a:b:c")}}})
        .to_string();
        let hub = auth_from_docker_config(cfg.as_bytes(), DOCKER_HUB)
            .unwrap()
            .unwrap();
        assert_eq!(
            (hub.username.as_str(), hub.password.as_str()),
            ("bob", "pw")
        );
        let r = auth_from_docker_config(cfg.as_bytes(), "r.io")
            .unwrap()
            .unwrap();
        assert_eq!(r.username, "u");
        assert!(
            auth_from_docker_config(cfg.as_bytes(), "other.io")
                .unwrap()
                .is_none()
        );
        let bad = auth_from_docker_config(cfg.as_bytes(), "bad.io")
            .err()
            .expect("3 parts");
        assert_eq!(
            ImageError::Auth(bad).to_string(),
            "failed to get auth config: failed to get auth from data: expected 2 parts in the auth string, but found 3"
        );
    }
}
