//! A bundle reduced to keys and hashes ([`Fingerprint`]), computed in one streaming pass: each
//! file that carries facts is parsed on its own and dropped, so a bundle is never held whole (a
//! `.tar.gz` is read entry by entry, a directory file by file).
//!
//! Symlinks inside a bundle are never followed: every file that carries facts is a regular file
//! in troubleshoot's layout, and a collected link must not make the agent (root) read elsewhere.

use crate::digest::sha256_hex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The fingerprint format version (`version`).
pub const FINGERPRINT_VERSION: u32 = 1;

/// Hex digits of sha256 kept per hash: 64 bits tell two versions of one object apart.
const HASH_LEN: usize = 16;

/// What a bundle says, reduced to keys and hashes. Every map is sorted, so the JSON is stable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fingerprint {
    /// [`FINGERPRINT_VERSION`].
    pub version: u32,
    /// Kubernetes objects: `Kind/namespace/name` (`Kind/name` when cluster-scoped) → hash of
    /// the object without `status`, `resourceVersion`, `managedFields` and `generation` (what
    /// changes on its own is left to the restart, event and condition sections).
    #[serde(default)]
    pub objects: BTreeMap<String, String>,
    /// Restart counts: `namespace/pod/container` → `restartCount`.
    #[serde(default)]
    pub restarts: BTreeMap<String, u64>,
    /// Warning events: `namespace/Kind/name/reason/<message hash>` → count (summed).
    #[serde(default)]
    pub events: BTreeMap<String, u64>,
    /// Node conditions: node → condition type → status.
    #[serde(default)]
    pub nodes: BTreeMap<String, BTreeMap<String, String>>,
    /// Host facts: `kernel`, `os`, `package:<name>`, `service:<unit>`, `disk:<name>` (prefixed
    /// with `<node>/` for per-node files) → value (a version or a short description).
    #[serde(default)]
    pub host: BTreeMap<String, String>,
    /// Analyzer results: title → `pass`, `warn` or `fail` (a repeated title gets ` #2`, ...).
    #[serde(default)]
    pub analysis: BTreeMap<String, String>,
}

/// Why a bundle could not be fingerprinted.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// The bundle (or one of its files) could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The bundle, or the file in it.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Neither a directory nor a `.tar.gz` with a bundle in it.
    #[error(
        "{0}: not a support bundle (no version.yaml found); give a bundle directory or .tar.gz"
    )]
    NotABundle(PathBuf),
}

fn short_hash(bytes: &[u8]) -> String {
    let mut h = sha256_hex(bytes);
    h.truncate(HASH_LEN);
    h
}

/// Which files carry facts, by bundle-relative path.
fn wanted(rel: &str) -> bool {
    if !rel.ends_with(".json") || rel.ends_with("-errors.json") {
        return false;
    }
    if rel == "analysis.json" {
        return true;
    }
    if let Some(rest) = rel.strip_prefix("cluster-resources/") {
        return !(rest.starts_with("pods/logs/")
            || rest.starts_with("auth-cani-list/")
            || rest == "groups.json"
            || rest == "resources.json");
    }
    if rel.starts_with("custom-resources/") {
        return true;
    }
    rel.strip_prefix("host-collectors/").is_some_and(|rest| {
        let name = rest.rsplit('/').next().unwrap_or(rest);
        name.ends_with("-packages.json")
            || matches!(
                name,
                "hostos_info.json" | "systemctl_services.json" | "block_devices.json"
            )
    })
}

impl Fingerprint {
    /// Fingerprints the bundle at `path`: a directory (its root, or the folder above it) or a
    /// `.tar.gz`.
    pub fn of_path(path: &Path) -> Result<Fingerprint, FingerprintError> {
        let meta = std::fs::metadata(path).map_err(|source| FingerprintError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            Fingerprint::of_dir(path)
        } else {
            Fingerprint::of_tar_gz(path)
        }
    }

    /// Fingerprints a bundle directory: `dir` itself when it holds `version.yaml`, else its
    /// first sub-directory (as troubleshoot finds the root).
    pub fn of_dir(dir: &Path) -> Result<Fingerprint, FingerprintError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FingerprintError::Io { path, source }
        };
        let root = if dir.join("version.yaml").is_file() {
            dir.to_path_buf()
        } else {
            let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                .map(|e| e.path())
                .collect();
            subdirs.sort();
            match subdirs.into_iter().next() {
                Some(d) if d.join("version.yaml").is_file() => d,
                _ => return Err(FingerprintError::NotABundle(dir.to_path_buf())),
            }
        };
        Fingerprint::of_root(&root)
    }

    /// Fingerprints the bundle whose root is `root` (a staged bundle, before `version.yaml`).
    pub fn of_root(root: &Path) -> Result<Fingerprint, FingerprintError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| FingerprintError::Io { path, source }
        };
        let mut fp = Fingerprint::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((here, rel)) = stack.pop() {
            for entry in std::fs::read_dir(&here).map_err(io(&here))? {
                let entry = entry.map_err(io(&here))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                // `file_type` does not follow links: links are neither descended nor read.
                let kind = entry.file_type().map_err(io(&entry.path()))?;
                if kind.is_dir() {
                    stack.push((entry.path(), child));
                } else if kind.is_file() && wanted(&child) {
                    let bytes = std::fs::read(entry.path()).map_err(io(&entry.path()))?;
                    fp.add_file(&child, &bytes);
                }
            }
        }
        Ok(fp)
    }

    /// Fingerprints a `.tar.gz` bundle in one pass over its entries, as troubleshoot writes
    /// them: every entry under one top folder. An archive with `version.yaml` at its root (no
    /// top folder) is read a second time without stripping one.
    pub fn of_tar_gz(path: &Path) -> Result<Fingerprint, FingerprintError> {
        let mut file = std::fs::File::open(path).map_err(|source| FingerprintError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Fingerprint::of_tar_gz_file(&mut file, path)
    }

    /// [`Fingerprint::of_tar_gz`] over `file`, already open (the agent opens its own archives
    /// without following a symlink); `path` names it in errors. It is read from its start, a
    /// second time when the archive has no top folder.
    pub fn of_tar_gz_file(
        file: &mut std::fs::File,
        path: &Path,
    ) -> Result<Fingerprint, FingerprintError> {
        use std::io::{Seek as _, SeekFrom};
        let mut pass = |strip_top| {
            file.seek(SeekFrom::Start(0))
                .map_err(|source| FingerprintError::Io {
                    path: path.to_path_buf(),
                    source,
                })?;
            Fingerprint::tar_pass_over(&mut *file, path, strip_top)
        };
        match pass(true)? {
            (fp, true, _) => Ok(fp),
            (_, false, true) => Ok(pass(false)?.0),
            _ => Err(FingerprintError::NotABundle(path.to_path_buf())),
        }
    }

    /// One pass over the gzip stream `file` (`path` names it in errors); says whether
    /// `version.yaml` was found under a top folder, and at the root.
    fn tar_pass_over(
        file: impl std::io::Read,
        path: &Path,
        strip_top: bool,
    ) -> Result<(Fingerprint, bool, bool), FingerprintError> {
        let io = |source| FingerprintError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
        let mut fp = Fingerprint::new();
        let (mut under_top, mut at_root) = (false, false);
        for entry in archive.entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let Ok(name) = entry.path().map(|p| p.to_string_lossy().into_owned()) else {
                continue;
            };
            let name = name.trim_start_matches("./");
            at_root |= name == "version.yaml";
            let rel = if strip_top {
                match name.split_once('/') {
                    Some((_, rest)) => rest,
                    None => continue,
                }
            } else {
                name
            };
            under_top |= strip_top && rel == "version.yaml";
            if !wanted(rel) {
                continue;
            }
            let rel = rel.to_string();
            let mut bytes = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0));
            entry.read_to_end(&mut bytes).map_err(io)?;
            fp.add_file(&rel, &bytes);
        }
        Ok((fp, under_top || !strip_top, at_root))
    }

    /// An empty fingerprint of the current version.
    pub fn new() -> Fingerprint {
        Fingerprint {
            version: FINGERPRINT_VERSION,
            ..Fingerprint::default()
        }
    }

    /// Adds what the file at bundle-relative `rel` says. A file that does not parse adds
    /// nothing (the comparison reports what bundles say, and a truncated file says nothing).
    pub fn add_file(&mut self, rel: &str, bytes: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
            tracing::debug!(file = rel, "not JSON; left out of the fingerprint");
            return;
        };
        if rel == "analysis.json" {
            self.add_analysis(&value);
        } else if let Some(rest) = rel.strip_prefix("host-collectors/") {
            self.add_host(rest, &value);
        } else {
            self.add_objects(&value);
        }
    }

    fn add_analysis(&mut self, value: &Value) {
        for r in value.as_array().into_iter().flatten() {
            let Some(title) = r.pointer("/insight/primary").and_then(Value::as_str) else {
                continue;
            };
            let severity = match r.get("severity").and_then(Value::as_str) {
                Some("error") => "fail",
                Some("warn") => "warn",
                Some("debug") => "pass",
                _ => continue,
            };
            let mut key = title.to_string();
            let mut n = 1;
            while self.analysis.contains_key(&key) {
                n += 1;
                key = format!("{title} #{n}");
            }
            self.analysis.insert(key, severity.to_string());
        }
    }

    /// Kubernetes objects: a List (`items`), an array of objects, or one object.
    fn add_objects(&mut self, value: &Value) {
        let list_kind = value
            .get("kind")
            .and_then(Value::as_str)
            .and_then(|k| k.strip_suffix("List"))
            .unwrap_or_default()
            .to_string();
        match value {
            Value::Array(items) => items.iter().for_each(|o| self.add_object(o, "")),
            Value::Object(map) => match map.get("items") {
                Some(Value::Array(items)) => {
                    items.iter().for_each(|o| self.add_object(o, &list_kind));
                }
                Some(_) => {}
                None => self.add_object(value, ""),
            },
            _ => {}
        }
    }

    fn add_object(&mut self, object: &Value, list_kind: &str) {
        let text = |p: &str| object.pointer(p).and_then(Value::as_str).unwrap_or("");
        let kind = match text("/kind") {
            "" => list_kind,
            k => k,
        };
        let name = text("/metadata/name");
        if kind.is_empty() || name.is_empty() {
            return;
        }
        let namespace = text("/metadata/namespace");
        let key = if namespace.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{kind}/{namespace}/{name}")
        };
        let mut bytes = Vec::with_capacity(4096);
        super::stable::write(object, &mut bytes);
        self.objects.insert(key, short_hash(&bytes));
        match kind {
            "Pod" => self.add_restarts(object, namespace, name),
            "Node" => self.add_conditions(object, name),
            "Event" if text("/type") == "Warning" => self.add_event(object, namespace),
            _ => {}
        }
    }

    fn add_restarts(&mut self, pod: &Value, namespace: &str, name: &str) {
        for list in ["initContainerStatuses", "containerStatuses"] {
            let statuses = pod.pointer(&format!("/status/{list}"));
            for s in statuses.and_then(Value::as_array).into_iter().flatten() {
                let (Some(container), Some(count)) = (
                    s.get("name").and_then(Value::as_str),
                    s.get("restartCount").and_then(Value::as_u64),
                ) else {
                    continue;
                };
                self.restarts
                    .insert(format!("{namespace}/{name}/{container}"), count);
            }
        }
    }

    fn add_conditions(&mut self, node: &Value, name: &str) {
        let conditions = node.pointer("/status/conditions").and_then(Value::as_array);
        let mut out = BTreeMap::new();
        for c in conditions.into_iter().flatten() {
            if let (Some(kind), Some(status)) = (
                c.get("type").and_then(Value::as_str),
                c.get("status").and_then(Value::as_str),
            ) {
                out.insert(kind.to_string(), status.to_string());
            }
        }
        self.nodes.insert(name.to_string(), out);
    }

    fn add_event(&mut self, event: &Value, namespace: &str) {
        let text = |p: &str| event.pointer(p).and_then(Value::as_str).unwrap_or("");
        let key = format!(
            "{namespace}/{}/{}/{}/{}",
            text("/involvedObject/kind"),
            text("/involvedObject/name"),
            text("/reason"),
            short_hash(text("/message").as_bytes()),
        );
        let count = event.get("count").and_then(Value::as_u64).unwrap_or(1);
        *self.events.entry(key).or_default() += count;
    }

    /// Host facts from `host-collectors/<rest>`.
    fn add_host(&mut self, rest: &str, value: &Value) {
        let (dir, file) = rest.rsplit_once('/').unwrap_or(("", rest));
        // `system/x.json` is this host; `<node>/system/x.json` (collected in pods) a node.
        let prefix = match dir.strip_suffix("/system").or(dir.strip_suffix("system")) {
            Some(node) if !node.is_empty() => format!("{}/", node.trim_end_matches('/')),
            _ => String::new(),
        };
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let mut put = |key: String, value: String| {
            self.host.insert(format!("{prefix}{key}"), value);
        };
        match file {
            "hostos_info.json" => {
                put("kernel".into(), text(value, "kernelVersion"));
                put(
                    "os".into(),
                    format!(
                        "{} {}",
                        text(value, "platform"),
                        text(value, "platformVersion")
                    )
                    .trim()
                    .to_string(),
                );
            }
            "systemctl_services.json" => {
                for s in value.as_array().into_iter().flatten() {
                    let unit = text(s, "Unit");
                    if !unit.is_empty() {
                        put(
                            format!("service:{unit}"),
                            format!("{}/{}", text(s, "Active"), text(s, "Sub")),
                        );
                    }
                }
            }
            "block_devices.json" => {
                for d in value.as_array().into_iter().flatten() {
                    let name = text(d, "name");
                    if name.is_empty() {
                        continue;
                    }
                    let size = d.get("size").map(|s| s.to_string()).unwrap_or_default();
                    put(
                        format!("disk:{name}"),
                        format!(
                            "{} size={size} fs={} mount={}",
                            text(d, "type"),
                            text(d, "filesystem_type"),
                            text(d, "mountpoint")
                        ),
                    );
                }
            }
            _ => {
                for p in value
                    .get("packages")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let name = text(p, "name");
                    if !name.is_empty() {
                        put(
                            format!("package:{name}"),
                            package_version(&text(p, "details")),
                        );
                    }
                }
            }
        }
    }
}

/// The version in `dpkg -s` / `rpm -qi` output (`Version: 1.2` plus `Release:` for rpm); a
/// hash of the details when there is none (a package that is not installed says so).
fn package_version(details: &str) -> String {
    let field = |name: &str| {
        details.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            (k.trim() == name).then(|| v.trim().to_string())
        })
    };
    match (field("Version"), field("Release")) {
        (Some(v), Some(r)) => format!("{v}-{r}"),
        (Some(v), None) => v,
        _ if details.trim().is_empty() => "not installed".to_string(),
        _ => format!("details {}", short_hash(details.as_bytes())),
    }
}
