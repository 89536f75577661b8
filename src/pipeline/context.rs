//! What a run needs besides its job: the environment every run of one agent shares (settings,
//! and the agent's own in-memory registries) and the run's own identity and progress.

use super::progress::Progress;
use crate::state::RunId;
use crate::upload::queue::UploadQueue;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What every run of one agent (the daemon, or a foreground `trigger`) shares. Built once per
/// agent and shared by `Arc`: the registries in it are that agent's, never the process's.
#[derive(Clone, Debug)]
pub struct RunEnv {
    /// The state directory.
    pub state_dir: PathBuf,
    /// This host's name.
    pub host: String,
    /// Skip the run when the state directory's file system has less free space than this.
    pub min_free_disk: u64,
    /// The troubleshoot CLI for `collect.engine: support-bundle`.
    pub support_bundle_path: Option<PathBuf>,
    /// Cap per file of host `copy` collectors.
    pub copy_max_file_size: u64,
    /// HMAC key file for stable tokens (`redact.tokenize`); random per run without it.
    pub token_key_file: Option<PathBuf>,
    /// AES key file for the token map; without it no map is written.
    pub token_map_key_file: Option<PathBuf>,
    /// The agent's `kubeconfig` setting (a job's `collect.kubeconfig` wins).
    pub kubeconfig: Option<PathBuf>,
    /// The agent's `context` setting (a job's `collect.context` wins).
    pub kube_context: Option<String>,
    /// Timeout of each Kubernetes API call.
    pub kube_request_timeout: Duration,
    /// How long fetching a spec's `uri:` may take (`collect.followSpecURI`).
    pub spec_uri_timeout: Duration,
    /// The agent's `defaultResources` (a job's `spec.resources` wins field by field).
    pub default_resources: crate::jobs::model::Resources,
    /// The agent's upload queue: runs claim the entries they attempt and wake its driver.
    pub uploads: UploadQueue,
    /// Bundle names the agent's runs have reserved.
    pub bundle_names: BundleNames,
    /// Node mode: the node's name, in bundle names (`<job>-<node>-<time>.tar.gz`), so bundles of
    /// one slot from several nodes keep apart wherever they are gathered.
    pub node: Option<String>,
}

impl RunEnv {
    /// The archive's base name for a run of `job` started at `at` (before [`BundleNames::claim`]
    /// makes it unique).
    pub(crate) fn bundle_base(&self, job: &str, at: DateTime<Utc>) -> String {
        let prefix = match &self.node {
            // A node name is a DNS subdomain; anything else is reduced to a safe file name.
            Some(node) => format!("{job}-{}", file_safe(node)),
            None => job.to_string(),
        };
        crate::bundle::archive_name(&prefix, at.naive_utc())
    }
}

/// `value` with anything but `[A-Za-z0-9._-]` as `_` (never empty, never `.` or `..`).
fn file_safe(value: &str) -> String {
    let s: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.chars().all(|c| c == '.') {
        format!("_{s}")
    } else {
        s
    }
}

/// One run: the agent's environment plus what is the run's own.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// What every run of the agent shares.
    pub env: Arc<RunEnv>,
    /// Run id.
    pub run_id: RunId,
    /// When the run started (names the bundle).
    pub started_at: DateTime<Utc>,
    /// Where the run reports its phases as they start and end.
    pub progress: Progress,
}

/// Bundle paths claimed by runs of one agent that have not written their archive yet.
#[derive(Clone, Debug, Default)]
pub struct BundleNames(Arc<Mutex<BTreeSet<PathBuf>>>);

/// A bundle name reserved for one run until it is dropped (after archiving).
pub(crate) struct Claim {
    /// The reserved base name.
    pub(crate) top: String,
    path: PathBuf,
    names: BundleNames,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.names.lock().remove(&self.path);
    }
}

impl BundleNames {
    /// A poisoned lock only means another run panicked while holding it; the set is still usable.
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<PathBuf>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The archive's base name, made unique among existing bundles and among runs in progress:
    /// two runs that start in the same second (manual triggers, `Allow`) would otherwise both
    /// write `<job>-<second>.tar.gz` and one of them would fail.
    pub(crate) fn claim(&self, dir: &Path, base: &str) -> Claim {
        let mut claimed = self.lock();
        let staged = staged_tops(dir);
        let mut name = base.to_string();
        let mut n = 1;
        loop {
            let path = dir.join(format!("{name}.tar.gz"));
            if !path.exists() && !claimed.contains(&path) && !staged.contains(&name) {
                claimed.insert(path.clone());
                return Claim {
                    top: name,
                    path,
                    names: self.clone(),
                };
            }
            name = format!("{base}-{n}");
            n += 1;
        }
    }
}

/// Bundle names staged by any run of the job (`<bundles>/../staging/<run-id>/<name>`): a run cut
/// off by a crash still owns its name until start-up recovery has archived it, so no newer run may
/// take it (after a fast restart, a new run can start within the same second).
fn staged_tops(bundles: &Path) -> BTreeSet<String> {
    let Some(job_dir) = bundles.parent() else {
        return Default::default();
    };
    let Ok(runs) = std::fs::read_dir(job_dir.join("staging")) else {
        return Default::default();
    };
    runs.filter_map(Result::ok)
        .filter_map(|run| std::fs::read_dir(run.path()).ok())
        .flat_map(|tops| tops.filter_map(Result::ok))
        .filter_map(|top| top.file_name().to_str().map(str::to_string))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_agents_reserve_names_each_for_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let bundles = dir.path().join("jobs/j/bundles");
        let (one, two) = (BundleNames::default(), BundleNames::default());
        let a = one.claim(&bundles, "j-x");
        let b = one.claim(&bundles, "j-x");
        assert_eq!((a.top.as_str(), b.top.as_str()), ("j-x", "j-x-1"));
        // Another agent's reservations are its own (its runs use another state directory).
        assert_eq!(two.claim(&bundles, "j-x").top, "j-x");
        drop(a);
        assert_eq!(one.claim(&bundles, "j-x").top, "j-x", "freed when dropped");
    }
}
