//! One job run through `trigger` in the foreground (clean HOME, no ambient Kubernetes
//! configuration), with its bundle unpacked for the test to look at.

use super::{agent, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A finished run: its record and the unpacked bundle's top folder.
pub struct Triggered {
    /// The run record `trigger --output json` printed.
    pub record: Value,
    /// The bundle's top folder, unpacked.
    pub bundle: PathBuf,
    /// Holds the jobs, state and unpacked bundle.
    pub dir: tempfile::TempDir,
    /// What the agent logged.
    pub stderr: String,
}

impl Triggered {
    /// Runs `trigger kube` on the job files already in `<dir>/jobs`, with `env` added.
    pub fn run(dir: tempfile::TempDir, env: &[(&str, &str)], timeout: Duration) -> Triggered {
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).expect("home");
        let mut cmd = agent(&dir.path().join("state"));
        cmd.env("HOME", &home)
            .env_remove("KUBECONFIG")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .args(["--listen", "127.0.0.1:1", "--output", "json", "--jobs-dir"])
            .arg(dir.path().join("jobs"))
            .args(["trigger", "kube"])
            .timeout(timeout);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("trigger runs");
        let record: Value = serde_json::from_str(&stdout(&out)).unwrap_or_else(|e| {
            panic!(
                "no run record ({e}); stdout: {}\nstderr: {}",
                stdout(&out),
                stderr(&out)
            )
        });
        let archive = record["bundle"]["path"]
            .as_str()
            .unwrap_or_else(|| panic!("no bundle in {record:#}"));
        let extract = dir.path().join("bundle");
        std::fs::create_dir_all(&extract).expect("extract dir");
        let file = std::fs::File::open(archive).expect("open bundle");
        tar::Archive::new(flate2::read::GzDecoder::new(file))
            .unpack(&extract)
            .expect("unpack bundle");
        let bundle = std::fs::read_dir(&extract)
            .expect("read")
            .next()
            .expect("one top folder")
            .expect("entry")
            .path();
        Triggered {
            record,
            bundle,
            dir,
            stderr: stderr(&out),
        }
    }

    /// A bundle file parsed as JSON.
    pub fn json(&self, rel: &str) -> Value {
        let text = self.text(rel);
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel} is not JSON: {e}"))
    }

    /// A bundle file's text.
    pub fn text(&self, rel: &str) -> String {
        std::fs::read_to_string(self.bundle.join(rel))
            .unwrap_or_else(|e| panic!("{rel}: {e}\nfiles: {:#?}", self.paths()))
    }

    /// Whether the bundle has `rel` (a link counts, even a dangling one).
    pub fn exists(&self, rel: &str) -> bool {
        self.bundle.join(rel).symlink_metadata().is_ok()
    }

    /// Every file of the bundle, relative to its top folder.
    pub fn paths(&self) -> BTreeSet<String> {
        files_under(&self.bundle)
    }

    /// The record's collector whose `field` is `value` (e.g. `kind`, `title`).
    pub fn collector(&self, field: &str, value: &str) -> &Value {
        self.record["collectors"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c[field] == value))
            .unwrap_or_else(|| panic!("no collector with {field} {value} in {:#}", self.record))
    }
}

/// Every file below `root`, as `/`-separated relative paths.
pub fn files_under(root: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("read dir") {
            let e = e.expect("entry");
            if e.file_type().expect("file type").is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(root)
                    .expect("under root")
                    .to_path_buf();
                out.insert(rel.to_string_lossy().into_owned());
            }
        }
    }
    out
}
