//! Which jobs an agent runs, by its mode: a node-mode agent (one per node, a DaemonSet) runs the
//! jobs that collect from the host, the cluster-mode leader the others. A job another mode runs
//! is left out of [`super::Desired`] with a warning, so `validate`, `plan` and the daemon agree.

use super::Job;
use super::model::Target;
use crate::diagnostic::{Diagnostic, SourceText};
use crate::yaml::Node;
use std::path::Path;

/// The jobs an agent runs (from its mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Selection {
    /// Host mode: every job (one agent collects from this host and, when asked, the cluster).
    #[default]
    All,
    /// Cluster mode: every job but `spec.target: host` (those belong to the node agents).
    Cluster,
    /// Node mode: `spec.target: host`, and `auto` jobs with only host collectors.
    Node,
}

impl Selection {
    /// The mode's name, as `run --mode` spells it.
    fn mode(self) -> &'static str {
        match self {
            Selection::All => "host",
            Selection::Cluster => "cluster",
            Selection::Node => "node",
        }
    }

    /// Why an agent with this selection does not run `job`, or `None` when it does.
    pub fn excludes(self, job: &Job) -> Option<String> {
        let target = job.document.spec.target;
        match (self, target) {
            (Selection::All, _) => None,
            (Selection::Cluster, Target::Host) => Some(
                "`spec.target: host` asks for the node agents (`run --mode node`), one per node"
                    .into(),
            ),
            (Selection::Cluster, _) | (Selection::Node, Target::Host) => None,
            (Selection::Node, Target::Cluster) => {
                Some("`spec.target: cluster` asks for the cluster-mode leader".into())
            }
            (Selection::Node, Target::Auto) => cluster_collection(job),
        }
    }

    /// A warning at `spec.target` (else `spec.collect`) of `node` when this selection leaves
    /// `job` out.
    pub fn warning(
        self,
        job: &Job,
        file: &Path,
        node: &Node,
        text: &SourceText<'_>,
    ) -> Option<Diagnostic> {
        let why = self.excludes(job)?;
        let (at, path): (&[&str], &str) = if job.document.spec.target.is_auto() {
            (&["spec", "collect"], "spec.collect")
        } else {
            (&["spec", "target"], "spec.target")
        };
        let hint = match self {
            Selection::Node => {
                "node mode runs `spec.target: host` jobs and jobs with only host collectors; run this job from the cluster-mode Deployment, or set `spec.target: host` to run it on every node"
            }
            _ => {
                "run it from the node agents (the DaemonSet), or set `spec.target` to `auto` or `cluster`"
            }
        };
        Some(
            Diagnostic::warning(
                file,
                node.locate(at).loc,
                format!(
                    "job `{}` is not run in {} mode: {why}",
                    job.name,
                    self.mode()
                ),
            )
            .with_path(path)
            .with_source(text)
            .with_hint(hint),
        )
    }
}

/// Node mode: an error for each bucket target whose keys do not name the node. Every node's agent
/// runs the job for the same slots, so such keys are the same on every node, and as uploads are
/// create-only, all but the first node's upload would fail.
pub fn shared_key_errors(
    job: &Job,
    file: &Path,
    node: &Node,
    text: &SourceText<'_>,
) -> Vec<Diagnostic> {
    use crate::upload::target::{HttpMethod, UploadTarget};
    let mut out = Vec::new();
    for (i, target) in job.document.spec.upload.iter().enumerate() {
        // A PUT is create-only too, and its 412 counts as delivered: a shared URL would lose
        // every node's bundle but the first, silently. A POST leaves naming to the server.
        let (kind, field, key) = match target {
            UploadTarget::S3(t) => ("s3", "key", t.key.as_deref()),
            UploadTarget::Gcs(t) => ("gcs", "key", t.key.as_deref()),
            UploadTarget::Http(t) if t.method == HttpMethod::Put => ("http", "url", Some(&*t.url)),
            UploadTarget::Http(_) => continue,
        };
        let Some(key) = key else { continue };
        let names_host = crate::upload::key::parse_parts(key)
            .is_ok_and(|parts| crate::upload::key::names_host(&parts));
        if names_host {
            continue;
        }
        let index = i.to_string();
        let at = ["spec", "upload", index.as_str(), kind, field];
        out.push(
            Diagnostic::error(
                file,
                node.locate(&at).loc,
                format!(
                    "{field} template `{key}` is the same on every node: in node mode every node's agent uploads job `{}` for the same slots, and uploads are create-only, so all but one node's bundle would be refused",
                    job.name
                ),
            )
            .with_path(format!("spec.upload[{i}].{kind}.{field}"))
            .with_source(text)
            .with_hint(format!("put `{{node}}` in the {field}, e.g. `{{node}}/{{job}}/{{runId}}.tar.gz`")),
        );
    }
    out
}

/// Why an `auto` job is a cluster job: its cluster collectors, `autoDiscovery`, or no host
/// collector at all; `None` when it collects from the host only.
fn cluster_collection(job: &Job) -> Option<String> {
    let spec = &job.collection;
    let mut kinds: Vec<&str> = (spec.collectors.iter())
        .filter(|e| !e.exclude)
        .map(|e| e.kind.as_str())
        .collect();
    kinds.dedup();
    if !kinds.is_empty() {
        let shown = kinds.iter().take(4).copied().collect::<Vec<_>>().join(", ");
        let more = if kinds.len() > 4 { ", ..." } else { "" };
        return Some(format!(
            "it has cluster collectors ({shown}{more}) and `spec.target` is `auto`"
        ));
    }
    if job.document.spec.collect.auto_discovery {
        return Some("`collect.autoDiscovery` collects from the cluster".into());
    }
    if job.document.spec.collect.cluster_specs.is_some() {
        return Some("`collect.clusterSpecs` reads specs from the cluster".into());
    }
    if !spec.host_collectors.iter().any(|e| !e.exclude) {
        return Some("it has no host collectors".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Context, load_dir};

    const HOST_ONLY: &str = "hostCollectors: [{cpu: {}}]";
    const CLUSTER: &str = "collectors: [{clusterResources: {}}, {logs: {selector: [app=x]}}]";
    const BOTH: &str = "hostCollectors: [{cpu: {}}]\n      collectors: [{clusterInfo: {}}]";

    fn job(name: &str, target: Option<&str>, body: &str, upload: &str) -> String {
        let target = target.map_or(String::new(), |t| format!("  target: {t}\n"));
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n  schedule: \"0 2 * * *\"\n{target}  collect:\n    supportBundle:\n      {body}\n{upload}"
        )
    }

    /// Loads the files in `mode`: the job names it runs, and its findings as `(error, message)`.
    fn load(selection: Selection, files: &[(&str, String)]) -> (Vec<String>, Vec<(bool, String)>) {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let ctx = Context {
            selection,
            ..Context::default()
        };
        let desired = load_dir(dir.path(), &ctx).expect("load");
        let names = desired.jobs.keys().cloned().collect();
        let findings = desired
            .diagnostics()
            .map(|d| (d.is_error(), d.message.clone()))
            .collect();
        (names, findings)
    }

    fn files() -> Vec<(&'static str, String)> {
        vec![
            ("a.yaml", job("host-auto", None, HOST_ONLY, "")),
            ("b.yaml", job("cluster-auto", None, CLUSTER, "")),
            ("c.yaml", job("both-host", Some("host"), BOTH, "")),
            (
                "d.yaml",
                job("host-only-cluster", Some("cluster"), HOST_ONLY, ""),
            ),
        ]
    }

    #[test]
    fn node_mode_runs_host_jobs_and_says_why_it_leaves_the_others_out() {
        let (names, findings) = load(Selection::Node, &files());
        assert_eq!(names, ["both-host", "host-auto"]);
        assert!(findings.iter().all(|(error, _)| !error), "{findings:?}");
        let messages: Vec<&str> = findings.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            messages.contains(&"job `cluster-auto` is not run in node mode: it has cluster collectors (clusterResources, logs) and `spec.target` is `auto`"),
            "{messages:?}"
        );
        assert!(
            messages.contains(
                &"job `host-only-cluster` is not run in node mode: `spec.target: cluster` asks for the cluster-mode leader"
            ),
            "{messages:?}"
        );
    }

    #[test]
    fn cluster_mode_leaves_out_only_host_targets_and_host_mode_nothing() {
        let (names, findings) = load(Selection::Cluster, &files());
        assert_eq!(names, ["cluster-auto", "host-auto", "host-only-cluster"]);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert!(
            findings[0]
                .1
                .starts_with("job `both-host` is not run in cluster mode"),
            "{findings:?}"
        );
        let (names, findings) = load(Selection::All, &files());
        assert_eq!(names.len(), 4);
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn node_mode_refuses_keys_that_are_the_same_on_every_node() {
        let shared = "  upload:\n    - s3: {bucket: bundles, key: \"{job}/{runId}.tar.gz\"}\n";
        let per_node = "  upload:\n    - s3: {bucket: bundles, key: \"{node}/{runId}.tar.gz\"}\n    - gcs: {bucket: bundles}\n    - http: {url: \"https://x.example/{hostname}/{runId}\"}\n    - http: {url: \"https://x.example/in\", method: POST}\n";
        let put = "  upload:\n    - http: {url: \"https://x.example/{job}/{runId}\"}\n";
        let files = vec![
            ("a.yaml", job("shared", None, HOST_ONLY, shared)),
            ("b.yaml", job("per-node", None, HOST_ONLY, per_node)),
            ("c.yaml", job("put", None, HOST_ONLY, put)),
        ];
        let (names, findings) = load(Selection::Node, &files);
        assert_eq!(names, ["per-node"], "{findings:?}");
        assert_eq!(findings.len(), 2, "{findings:?}");
        assert!(findings.iter().all(|(error, _)| *error));
        assert!(
            findings[1].1.starts_with(
                "url template `https://x.example/{job}/{runId}` is the same on every node"
            ),
            "{findings:?}"
        );
        assert!(
            findings[0]
                .1
                .starts_with("key template `{job}/{runId}.tar.gz` is the same on every node"),
            "{findings:?}"
        );
        // Elsewhere the same key is fine (one agent writes it).
        let (names, _) = load(Selection::All, &files);
        assert_eq!(names, ["per-node", "put", "shared"]);
    }
}
