//! `velero`: Velero's state from the bundle: the `velero` container's image tag in
//! `cluster-resources/deployments/velero.json` (which must be a valid `vX.Y.Z` version), its
//! custom resources under `cluster-resources/custom-resources/<plural>.velero.io/*.json`, and
//! the pod logs under `velero/logs/{node-agent,velero}*/*.log`. Fixed checks, no outcomes: a
//! result per unhealthy object, summaries, and a closing "Velero Status" (warn when anything
//! failed).
//!
//! troubleshoot v0.133.0 compares the version with an invalid one, so it always checks
//! BackupRepositories (never the ResticRepositories of Velero before 1.10); so does this.

use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta, Severity};
use serde::Deserialize;
use serde_json::Value;

const CR_DIR: &str = "cluster-resources/custom-resources";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Object {
    metadata: Named,
    status: Phase,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Phase {
    phase: String,
}

fn result(
    severity: Severity,
    title: impl Into<String>,
    message: impl Into<String>,
) -> AnalyzeResult {
    let mut r = AnalyzeResult::new(title, Icon("", ""));
    r.severity = Some(severity);
    r.message = message.into();
    r
}

/// Every object of the custom resource `plural` (`backups`), in path order.
fn objects(ctx: &Ctx<'_>, plural: &str) -> Result<Vec<Object>, AnalyzerError> {
    let mut out = Vec::new();
    for path in ctx
        .view
        .glob(&format!("{CR_DIR}/{plural}.velero.io/*.json"))?
    {
        let bytes = ctx.read(&path)?;
        let list: Option<Vec<Object>> = serde_json::from_slice(&bytes)
            .map_err(|e| AnalyzerError::data(&path, format!("not a list of {plural}: {e}")))?;
        out.extend(list.unwrap_or_default());
    }
    Ok(out)
}

/// Go's `golang.org/x/mod/semver.IsValid`: `v1`, `v1.2`, `v1.2.3[-pre][+build]`.
fn semver_valid(v: &str) -> bool {
    fn number(s: &str) -> bool {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    }
    fn idents(s: &str, numeric_rule: bool) -> bool {
        s.split('.').all(|id| {
            !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && (!numeric_rule || !id.bytes().all(|b| b.is_ascii_digit()) || number(id))
        })
    }
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let (core, build) = match rest.split_once('+') {
        Some((c, b)) => (c, Some(b)),
        None => (rest, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || !parts.iter().all(|p| number(p)) {
        return false;
    }
    // The short forms take no pre-release or build.
    if parts.len() < 3 && (pre.is_some() || build.is_some()) {
        return false;
    }
    pre.is_none_or(|p| idents(p, true)) && build.is_none_or(|b| idents(b, false))
}

fn velero_version(ctx: &Ctx<'_>) -> Result<String, AnalyzerError> {
    let path = "cluster-resources/deployments/velero.json";
    let list = ctx.json(path)?;
    if list.is_null() {
        return Err(AnalyzerError::data(
            path,
            "could not find Velero deployment",
        ));
    }
    let items = super::items(&list, path)?;
    for deployment in items {
        let containers = deployment
            .pointer("/spec/template/spec/containers")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for c in containers {
            if c.get("name").and_then(Value::as_str) == Some("velero") {
                let image = c.get("image").and_then(Value::as_str).unwrap_or("");
                let Some(tag) = image.split(':').nth(1) else {
                    return Err(AnalyzerError::data(
                        path,
                        format!("the velero image {image:?} has no tag"),
                    ));
                };
                if !semver_valid(tag) {
                    return Err(AnalyzerError::data(
                        path,
                        format!("Invalid velero semver: {tag}"),
                    ));
                }
                return Ok(tag.to_string());
            }
        }
    }
    Err(AnalyzerError::data(
        path,
        "could not find Velero container in deployment",
    ))
}

fn repositories(repos: &[Object]) -> Vec<AnalyzeResult> {
    let title = "At least 1 Backup Repository configured";
    if repos.is_empty() {
        return vec![result(
            Severity::Fail,
            title,
            "No backup repositories configured",
        )];
    }
    let mut out = Vec::new();
    for r in repos.iter().filter(|r| r.status.phase != "Ready") {
        out.push(result(
            Severity::Warn,
            format!("Backup Repository {}", r.metadata.name),
            format!(
                "Backup Repository [{}] is in phase {}",
                r.metadata.name, r.status.phase
            ),
        ));
    }
    let ready = repos.len() - out.len();
    out.push(if ready > 0 {
        result(
            Severity::Pass,
            title,
            format!(
                "Found {} backup repositories configured and {ready} Ready",
                repos.len()
            ),
        )
    } else {
        result(
            Severity::Warn,
            title,
            format!(
                "Found {} configured backup repositories, but none are ready",
                repos.len()
            ),
        )
    });
    out
}

fn storage_locations(locations: &[Object]) -> Vec<AnalyzeResult> {
    let title = "At least 1 Backup Storage Location configured";
    if locations.is_empty() {
        return vec![result(
            Severity::Fail,
            title,
            "No backup storage locations configured",
        )];
    }
    let mut out = Vec::new();
    for l in locations.iter().filter(|l| l.status.phase != "Available") {
        out.push(result(
            Severity::Warn,
            format!("Backup Storage Location {}", l.metadata.name),
            format!(
                "Backup Storage Location [{}] is in phase {}",
                l.metadata.name, l.status.phase
            ),
        ));
    }
    let available = locations.len() - out.len();
    out.push(if available > 0 {
        result(
            Severity::Pass,
            title,
            format!(
                "Found {} backup storage locations configured and {available} Available",
                locations.len()
            ),
        )
    } else {
        result(
            Severity::Warn,
            title,
            format!(
                "Found {} configured backup storage locations, but none are available",
                locations.len()
            ),
        )
    });
    out
}

/// A fail per object in one of `failed` phases titled `<word> <name>`, then (when there are
/// objects, and, unless `always_summary`, none failed) a pass `summary_title`.
fn phases(
    objects: &[Object],
    failed: &[&str],
    word: &str,
    summary: (&str, &str),
    always_summary: bool,
) -> Vec<AnalyzeResult> {
    let mut out: Vec<AnalyzeResult> = objects
        .iter()
        .filter(|o| failed.contains(&o.status.phase.as_str()))
        .map(|o| {
            result(
                Severity::Fail,
                format!("{word} {}", o.metadata.name),
                format!("{word} {} phase is {}", o.metadata.name, o.status.phase),
            )
        })
        .collect();
    if !objects.is_empty() && (always_summary || out.is_empty()) {
        out.push(result(
            Severity::Pass,
            summary.0,
            format!("Found {} {}", objects.len(), summary.1),
        ));
    }
    out
}

fn logs(ctx: &Ctx<'_>, kind: &str) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let files = ctx.view.glob(&format!("velero/logs/{kind}/*.log"))?;
    let mut out = Vec::new();
    if files.is_empty() {
        return Ok(out);
    }
    for path in &files {
        let text = String::from_utf8_lossy(&ctx.read(path)?).into_owned();
        let title = format!("Velero logs for pod [{path}]");
        if text.contains("permission denied") {
            out.push(result(
                Severity::Warn,
                title,
                format!("Found 'permission denied' in {kind} pod log file(s)"),
            ));
        } else if text.contains("error") || text.contains("panic") || text.contains("fatal") {
            out.push(result(
                Severity::Warn,
                title,
                format!("Found error|panic|fatal in {kind} pod log file(s)"),
            ));
        }
    }
    out.push(result(
        Severity::Pass,
        format!("Velero Logs analysis for kind [{kind}]"),
        format!("Found {} log files", files.len()),
    ));
    Ok(out)
}

pub(super) fn velero(
    ctx: &Ctx<'_>,
    _body: &Value,
    _meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    velero_version(ctx)?;
    let failed_run = ["Failed", "PartiallyFailed", "FailedValidation"];
    let repos = objects(ctx, "backuprepositories")?;
    let backups = objects(ctx, "backups")?;
    let locations = objects(ctx, "backupstoragelocations")?;
    let deletes = objects(ctx, "deletebackuprequests")?;
    let pod_backups = objects(ctx, "podvolumebackups")?;
    let pod_restores = objects(ctx, "podvolumerestores")?;
    let restores = objects(ctx, "restores")?;
    let schedules = objects(ctx, "schedules")?;
    // Read (a malformed file drops the analyzer, as in troubleshoot) but not judged.
    objects(ctx, "serverstatusrequests")?;
    let snapshot_locations = objects(ctx, "volumesnapshotlocations")?;

    let mut results = repositories(&repos);
    results.extend(logs(ctx, "node-agent*")?);
    results.extend(logs(ctx, "velero*")?);
    results.extend(phases(
        &backups,
        &failed_run,
        "Backup",
        ("Velero Backups", "backups"),
        true,
    ));
    results.extend(storage_locations(&locations));
    let in_progress = deletes
        .iter()
        .filter(|d| d.status.phase == "InProgress")
        .count();
    if in_progress > 0 {
        results.push(result(
            Severity::Warn,
            "Delete Backup Requests summary",
            format!("Found {in_progress} delete backup requests in progress"),
        ));
    }
    results.extend(phases(
        &pod_backups,
        &["Failed"],
        "Pod Volume Backup",
        ("Pod Volume Backups", "pod volume backups"),
        false,
    ));
    results.extend(phases(
        &pod_restores,
        &["Failed"],
        "Pod Volume Restore",
        ("Pod Volume Restores", "pod volume restores"),
        false,
    ));
    results.extend(phases(
        &restores,
        &failed_run,
        "Restore",
        ("Velero Restores", "restores"),
        false,
    ));
    results.extend(phases(
        &schedules,
        &["FailedValidation"],
        "Schedule",
        ("Velero Schedules", "schedules"),
        false,
    ));
    results.extend(phases(
        &snapshot_locations,
        &["Unavailable"],
        "Volume Snapshot Location",
        (
            "Velero Volume Snapshot Locations",
            "volume snapshot locations",
        ),
        false,
    ));
    let failed = results.iter().any(AnalyzeResult::is_fail);
    results.push(if failed {
        result(
            Severity::Warn,
            "Velero Status",
            "Velero setup is not entirely healthy",
        )
    } else {
        result(Severity::Pass, "Velero Status", "Velero setup is healthy")
    });
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::semver_valid;

    #[test]
    fn versions_are_valid_as_go_semver_says() {
        for ok in [
            "v1",
            "v1.10",
            "v1.12.3",
            "v1.2.3-rc.1",
            "v1.2.3+build.5",
            "v0.0.0",
        ] {
            assert!(semver_valid(ok), "{ok}");
        }
        for bad in [
            "1.12.3",
            "v01.2.3",
            "v1.2.3.4",
            "v1.2-rc.1",
            "v1.2.3-01",
            "v",
            "v1.2.3-",
        ] {
            assert!(!semver_valid(bad), "{bad}");
        }
    }
}
