//! `clusterVersion`: the Kubernetes version against blang semver ranges.

use super::super::outcome;
use super::super::semver::{Range, SemverError, Version};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use serde_json::Value;

const ICON: Icon = Icon(
    "kubernetes_cluster_version",
    "https://troubleshoot.sh/images/analyzer-icons/kubernetes.svg?w=16&h=16",
);
const FILE: &str = "cluster-info/cluster_version.json";

/// The version of `gitVersion`: the leading `v` trimmed and, for EKS (whose gitVersion is a
/// pre-release such as `v1.27.4-eks-2d98532`), the suffix cut so ranges compare the release.
pub(crate) fn kubernetes_version(git_version: &str) -> Result<Version, SemverError> {
    let text = if git_version.contains("-eks-") {
        git_version.split('-').next().unwrap_or(git_version)
    } else {
        git_version
    };
    Version::parse(text.trim_start_matches('v'))
}

pub(super) fn cluster_version(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let info = ctx.json(FILE)?;
    let git_version = info.get("string").and_then(Value::as_str).unwrap_or("");
    let version = kubernetes_version(git_version)
        .map_err(|e| AnalyzerError::data(FILE, format!("cannot parse the version: {e}")))?;
    let matched = outcome::first_match(&outcomes, |when| {
        Range::parse(when)
            .map(|r| r.contains(&version))
            .map_err(|e| AnalyzerError::spec(format!("when {when:?}: {e}")))
    })?;
    Ok(match matched {
        Some(o) => AnalyzeResult::new(meta.title("Required Kubernetes Version"), ICON).with(o),
        // No outcome matched: an empty result (no title, no severity), as troubleshoot gives.
        None => AnalyzeResult::default(),
    })
}
