//! Image pull secrets: registry → user name of each dockerconfigjson secret, never a password.

use super::kinds::Kind;
use super::sink::{Failure, Sink, stream_versions};
use super::write_errors_object;
use crate::collect::cluster::Ctx;
use crate::collect::cluster::api::Page;
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// `image-pull-secrets/<ns>/<name>.json` for the selected namespaces.
pub(super) async fn collect(ctx: &Ctx, all: bool, names: &[String]) {
    let mut sink = PullSecrets {
        ctx,
        selected: names.iter().cloned().collect(),
        errors: BTreeMap::new(),
    };
    let secrets = Kind {
        dir: "image-pull-secrets",
        versions: &["v1"],
        plural: "secrets",
        item_kind: "Secret",
    };
    let cluster_wide = if all {
        match stream_versions(ctx, &secrets, None, &mut sink).await {
            Ok(_) => true,
            Err((Failure::Api(e), 0)) if !e.is_unreachable() => false,
            Err((e, _)) => {
                sink.errors.insert(String::new(), e.to_string());
                true
            }
        }
    } else {
        false
    };
    if !cluster_wide {
        for ns in names {
            if let Err((e, _)) = stream_versions(ctx, &secrets, Some(ns), &mut sink).await {
                sink.errors.insert(ns.clone(), e.to_string());
            }
        }
    }
    write_errors_object(
        ctx,
        "cluster-resources/image-pull-secrets-errors.json",
        &sink.errors,
    );
}

/// Keeps only dockerconfigjson secrets' registry → user names (never passwords).
struct PullSecrets<'a> {
    ctx: &'a Ctx,
    selected: HashSet<String>,
    errors: BTreeMap<String, String>,
}

impl Sink for PullSecrets<'_> {
    fn start(&mut self, _: &Page) {}

    fn item(&mut self, item: Value) -> std::io::Result<()> {
        if item["type"] != "kubernetes.io/dockerconfigjson" {
            return Ok(());
        }
        let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
        if !self.selected.contains(ns) {
            return Ok(());
        }
        let name = item["metadata"]["name"].as_str().unwrap_or("");
        match registry_users(&item) {
            Ok(users) if !users.is_empty() => {
                let rel = format!(
                    "cluster-resources/image-pull-secrets/{}/{}.json",
                    sanitize_component(ns),
                    sanitize_component(name)
                );
                let text = crate::collect::host::output::go_json(&users, None)
                    .map_err(std::io::Error::other)?;
                if let Err(e) = self.ctx.write(&rel, &text) {
                    self.errors.insert(format!("{ns}/{name}"), e.to_string());
                }
            }
            Ok(_) => {}
            Err(e) => {
                self.errors.insert(format!("{ns}/{name}"), e.to_string());
            }
        }
        Ok(())
    }
}

/// Why a dockerconfigjson secret could not be read.
#[derive(Debug, thiserror::Error)]
pub(super) enum SecretError {
    /// The secret has no `.dockerconfigjson` data key.
    #[error("no .dockerconfigjson key")]
    NoKey,
    /// The data is not base64.
    #[error(transparent)]
    Base64(#[from] base64::DecodeError),
    /// The decoded data is not JSON.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    /// One registry's `auth` is not base64.
    #[error("{registry}: {source}")]
    Auth {
        /// The registry key under `auths`.
        registry: String,
        /// The decoding error.
        source: base64::DecodeError,
    },
}

/// `{"<registry>": "<username>"}` from a dockerconfigjson secret.
pub(super) fn registry_users(secret: &Value) -> Result<BTreeMap<String, String>, SecretError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw = secret["data"][".dockerconfigjson"]
        .as_str()
        .ok_or(SecretError::NoKey)?;
    let decoded = b64.decode(raw)?;
    let config: Value = serde_json::from_slice(&decoded)?;
    let mut out = BTreeMap::new();
    for (registry, entry) in config["auths"].as_object().into_iter().flatten() {
        let user = match entry["auth"].as_str() {
            Some(auth) => {
                let pair = b64.decode(auth).map_err(|source| SecretError::Auth {
                    registry: registry.clone(),
                    source,
                })?;
                String::from_utf8_lossy(&pair)
                    .split(':')
                    .next()
                    .unwrap_or("")
                    .to_string()
            }
            None => entry["username"].as_str().unwrap_or("").to_string(),
        };
        out.insert(registry.clone(), user);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_secrets_keep_users_never_passwords() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let auth = b64.encode("robot:s3cret");
        let cfg = json!({"auths": {"quay.io": {"auth": auth}}}).to_string();
        let secret = json!({"data": {".dockerconfigjson": b64.encode(cfg)}});
        let users = registry_users(&secret).expect("parse");
        assert_eq!(users.get("quay.io").map(String::as_str), Some("robot"));
        assert!(!format!("{users:?}").contains("s3cret"));
        assert!(registry_users(&json!({"data": {}})).is_err());
    }
}
