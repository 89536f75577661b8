//! `longhorn`: the Longhorn objects the `longhorn` collector saved under
//! `longhorn/<namespace|longhorn-system>/` (`nodes/*`, `replicas/*`, `engines/*`,
//! `volumes/*.yaml`, and `volumes/<volume>/replicachecksums/*`). Fixed checks, no outcomes:
//! warns for unschedulable nodes, failed or not-yet-running replicas and engines, volumes with
//! fewer than two replicas and replicas whose checksums differ; when nothing warns and something
//! passed, one pass "Longhorn is healthy".
//!
//! The collector writes the objects with Go's yaml.v2, which names fields in lower case and does
//! not flatten embedded structs: `objectmeta.name`, `spec.instancespec.desirestate`,
//! `status.instancestatus.currentstate`, `spec.numberofreplicas`. Redacted values
//! (`***HIDDEN***`) are read as `HIDDEN`. Files are read in path order (troubleshoot's order is
//! random).

use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta, Severity};
use super::text;
use serde_json::Value;
use std::collections::BTreeMap;

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

/// Text at `pointer`: any scalar as written, else "".
fn str_at(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(super::super::outcome::scalar_text)
        .unwrap_or_default()
}

/// The YAML objects of the files matching `pattern`.
fn objects(ctx: &Ctx<'_>, pattern: &str) -> Result<Vec<Value>, AnalyzerError> {
    let mut out = Vec::new();
    for path in ctx.view.glob(pattern)? {
        let bytes = ctx.read(&path)?;
        let text: String = String::from_utf8_lossy(&bytes)
            .lines()
            .map(|l| l.replace("***HIDDEN***", "HIDDEN") + "\n")
            .collect();
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_saphyr::from_str(&text)
                .map_err(|e| AnalyzerError::data(&path, format!("not YAML: {e}")))?
        };
        if !(value.is_object() || value.is_null()) {
            return Err(AnalyzerError::data(&path, "not a Longhorn object"));
        }
        out.push(value);
    }
    Ok(out)
}

fn node(n: &Value) -> AnalyzeResult {
    let title = format!(
        "Longhorn Node Schedulable: {}",
        str_at(n, "/objectmeta/name")
    );
    match str_at(n, "/status/conditions/Schedulable/status").as_str() {
        "False" => result(Severity::Warn, title, "Longhorn node is not schedulable"),
        "True" => result(Severity::Pass, title, "Longhorn node is schedulable"),
        _ => result(Severity::Warn, title, "Node schedulable status not found"),
    }
}

/// A replica (`replica`) or an engine: failed, not in its desired state, or fine.
fn instance(o: &Value, replica: bool) -> AnalyzeResult {
    let name = str_at(o, "/objectmeta/name");
    let (word, lower) = if replica {
        ("Replica", "replica")
    } else {
        ("Engine", "engine")
    };
    let title = format!("Longhorn {word}: {name}");
    let failed_at = str_at(o, "/spec/failedat");
    if replica && !failed_at.is_empty() {
        return result(
            Severity::Warn,
            title,
            format!("Longhorn replica {name} failed at {failed_at}"),
        );
    }
    let desired = str_at(o, "/spec/instancespec/desirestate");
    let actual = str_at(o, "/status/instancestatus/currentstate");
    if desired != actual {
        return result(
            Severity::Warn,
            title,
            format!("Longhorn {lower} {name} current status {actual:?}, should be {desired:?}"),
        );
    }
    result(Severity::Pass, title, format!("{word} is {actual}"))
}

/// `file name -> checksum` from `sha512sum`-style lines.
fn checksums(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let mut words = line
            .split([' ', '\t', '\n', '\x0c', '\r'])
            .filter(|w| !w.is_empty());
        if let (Some(sum), Some(file)) = (words.next(), words.next()) {
            let base = file
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or(file);
            out.insert(base.to_string(), sum.to_string());
        }
    }
    out
}

fn volume(ctx: &Ctx<'_>, dir: &str, v: &Value) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let name = str_at(v, "/objectmeta/name");
    let mut out = Vec::new();
    let mut sums = Vec::new();
    for path in ctx.view.glob(&format!("{dir}/{name}/replicachecksums/*"))? {
        sums.push(checksums(&String::from_utf8_lossy(&ctx.read(&path)?)));
    }
    if sums.len() > 1 {
        let title = format!("Longhorn Volume Replica Corruption: {name}");
        out.push(if sums.windows(2).all(|w| w[0] == w[1]) {
            result(Severity::Pass, title, "No replica corruption detected")
        } else {
            result(Severity::Warn, title, "Replica corruption detected")
        });
    }
    let replicas = match v.pointer("/spec/numberofreplicas") {
        None | Some(Value::Null) => 0,
        Some(n) => n.as_i64().ok_or_else(|| {
            AnalyzerError::data(
                dir,
                format!("volume {name}: numberofreplicas {n} is not a number"),
            )
        })?,
    };
    if replicas < 2 {
        out.push(result(
            Severity::Warn,
            "Longhorn volume with low replicas",
            format!(
                "Longhorn volume {name} has less than two replicas, this could lead to issues with volume availability"
            ),
        ));
    }
    Ok(out)
}

pub(super) fn longhorn(
    ctx: &Ctx<'_>,
    body: &Value,
    _meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut namespace = text(body, "namespace");
    if namespace.is_empty() {
        namespace = "longhorn-system".into();
    }
    let base = format!("longhorn/{namespace}");
    let nodes = objects(ctx, &format!("{base}/nodes/*"))?;
    let replicas = objects(ctx, &format!("{base}/replicas/*"))?;
    let engines = objects(ctx, &format!("{base}/engines/*"))?;
    let volumes_dir = format!("{base}/volumes");
    let volumes = objects(ctx, &format!("{volumes_dir}/*.yaml"))?;
    let mut results: Vec<AnalyzeResult> = nodes.iter().map(node).collect();
    results.extend(replicas.iter().map(|r| instance(r, true)));
    results.extend(engines.iter().map(|e| instance(e, false)));
    for v in &volumes {
        results.extend(volume(ctx, &volumes_dir, v)?);
    }
    let passed = results.iter().any(AnalyzeResult::is_pass);
    results.retain(|r| !r.is_pass());
    if passed && results.is_empty() {
        results.push(result(
            Severity::Pass,
            "Longhorn Health Status",
            "Longhorn is healthy",
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::checksums;

    #[test]
    fn checksum_lines_map_file_names_to_sums() {
        let sums = checksums("abc  /host/var/lib/longhorn/replicas/r1/volume-head-000.img\nonly\n");
        assert_eq!(sums.len(), 1);
        assert_eq!(sums["volume-head-000.img"], "abc");
    }
}
