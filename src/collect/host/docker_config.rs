//! Registry credentials from the Docker client's config, as go-containerregistry's default
//! keychain finds them when a `registryImages` spec gives no `username`: `auths.<registry>.auth`
//! (base64 `user:password`) or `username`/`password` of `$DOCKER_CONFIG/config.json`, else
//! `$HOME/.docker/config.json`.
//!
//! Trust: the file is used only when it belongs to the agent's own user and no one else can write
//! it (the agent runs as root; a file another user controls must not choose where root's
//! credentials go). Credential helpers (`credsStore`, `credHelpers`) name programs to run and are
//! not used.

use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

/// The Docker Hub key the docker CLI writes.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

#[derive(Deserialize, Default)]
#[serde(default)]
struct Config {
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AuthEntry {
    auth: String,
    username: String,
    password: String,
}

/// Where the config is: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
fn path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker/config.json"))
}

/// The host part of an `auths` key (`https://reg.example.com/v1/` is `reg.example.com`).
fn key_host(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The (username, password) `text` (a config.json) holds for `registry`.
pub fn lookup(text: &str, registry: &str) -> Option<(String, String)> {
    let config: Config = serde_json::from_str(text).ok()?;
    let wanted: &[&str] = if registry == "index.docker.io" {
        &["index.docker.io", "docker.io"]
    } else {
        &[registry]
    };
    let entry = config
        .auths
        .get(DOCKER_HUB_KEY)
        .filter(|_| registry == "index.docker.io")
        .or_else(|| {
            config
                .auths
                .iter()
                .find(|(k, _)| wanted.contains(&key_host(k)))
                .map(|(_, v)| v)
        })?;
    if !entry.auth.is_empty() {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(entry.auth.trim())
            .ok()?;
        let pair = String::from_utf8(raw).ok()?;
        let (user, pass) = pair.split_once(':')?;
        return Some((user.to_string(), pass.to_string()));
    }
    (!entry.username.is_empty()).then(|| (entry.username.clone(), entry.password.clone()))
}

/// The credentials of the agent's Docker config for `registry`, if any and if trusted.
pub async fn credentials(registry: &str) -> Option<(String, String)> {
    let path = path()?;
    let file = tokio::fs::File::open(&path).await.ok()?;
    let meta = file.metadata().await.ok()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if meta.uid() != euid || meta.mode() & 0o022 != 0 || !meta.is_file() {
        tracing::warn!(
            "registryImages: not using {}: it must belong to uid {euid} and be writable by no one else",
            path.display()
        );
        return None;
    }
    let mut text = String::new();
    use tokio::io::AsyncReadExt;
    let mut file = file.take(1024 * 1024);
    file.read_to_string(&mut text).await.ok()?;
    lookup(&text, registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_credentials_by_registry() {
        let cfg = r#"{"auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"},
            "reg.example.com:5000": {"username": "u", "password": "p"},
            "https://other.example.com/v2/": {"auth": "bzpwdw=="}
        }, "credsStore": "desktop"}"#;
        let got = |r: &str| lookup(cfg, r);
        assert_eq!(got("index.docker.io"), Some(("hub".into(), "hubpw".into())));
        assert_eq!(got("reg.example.com:5000"), Some(("u".into(), "p".into())));
        assert_eq!(got("other.example.com"), Some(("o".into(), "pw".into())));
        assert_eq!(got("reg.example.com"), None);
        assert_eq!(lookup("not json", "x"), None);
    }
}
