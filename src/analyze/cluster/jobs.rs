//! `jobStatus`: by name, `succeeded|failed <op> <int>` (first match wins; no outcomes: the
//! default check); without a name, every job that is not complete and has failed pods.

use super::super::outcome::{self, Outcome, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon};
use super::workload::compare_int;
use super::{items, meta_str, text};
use serde_json::Value;

// troubleshoot has no job icon yet and uses the deployment one.
const ICON: Icon = Icon(
    "kubernetes_deployment_status",
    "https://troubleshoot.sh/images/analyzer-icons/deployment-status.svg?w=17&h=17",
);

fn int_at(v: &Value, pointer: &str) -> i64 {
    v.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn job_status(ctx: &Ctx<'_>, body: &Value) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "name");
    let namespace = text(body, "namespace");
    if name.is_empty() {
        let mut patterns: Vec<String> = Vec::new();
        if !namespace.is_empty() {
            patterns.push(namespace);
        }
        if let Some(list) = body.get("namespaces").and_then(Value::as_array) {
            patterns.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        // troubleshoot also adds `*` when only `namespace` is set, listing that namespace's
        // failures twice; here each namespace is read once.
        if patterns.is_empty() {
            patterns.push("*".into());
        }
        let mut results = Vec::new();
        for ns in patterns {
            for path in ctx
                .view
                .glob(&format!("cluster-resources/jobs/{ns}.json"))?
            {
                let list = ctx.json(&path)?;
                results.extend(items(&list, &path)?.iter().filter_map(default_result));
            }
        }
        return Ok(results);
    }
    let path = format!("cluster-resources/jobs/{namespace}.json");
    if ctx.view.glob(&path)?.is_empty() {
        return Ok(Vec::new());
    }
    let list = ctx.json(&path)?;
    let Some(job) = items(&list, &path)?
        .iter()
        .find(|j| meta_str(j, "name") == name)
    else {
        let mut r = AnalyzeResult::new(format!("{name} Job Status"), ICON);
        r.severity = Some(Severity::Fail);
        r.message = format!("The job {name:?} was not found");
        return Ok(vec![r]);
    };
    if outcomes.is_empty() {
        return Ok(default_result(job).into_iter().collect());
    }
    Ok(vec![judge(job, &outcomes)?])
}

fn judge(job: &Value, outcomes: &[Outcome]) -> Result<AnalyzeResult, AnalyzerError> {
    let r = AnalyzeResult::new(format!("{} Status", meta_str(job, "name")), ICON);
    let hit = outcome::first_match(outcomes, |when| {
        let parts: Vec<&str> = when.split(' ').collect();
        let [field, op, value] = parts.as_slice() else {
            return Err(AnalyzerError::spec(format!(
                "when {when:?}: expected `succeeded|failed <op> <number>`"
            )));
        };
        let actual = match *field {
            "succeeded" => int_at(job, "/status/succeeded"),
            "failed" => int_at(job, "/status/failed"),
            other => {
                return Err(AnalyzerError::spec(format!(
                    "when {when:?}: unknown field {other:?} (succeeded or failed)"
                )));
            }
        };
        compare_int(&format!("{op} {value}"), actual)
    })?;
    Ok(match hit {
        Some(o) => r.with(o),
        None => r,
    })
}

/// A fail for a job that is not complete and has failed pods.
fn default_result(job: &Value) -> Option<AnalyzeResult> {
    let succeeded = int_at(job, "/status/succeeded");
    let complete = match job.pointer("/spec/completions").and_then(Value::as_i64) {
        None => succeeded > 1,
        Some(want) => want == succeeded,
    };
    if complete || int_at(job, "/status/failed") == 0 {
        return None;
    }
    let (ns, name) = (meta_str(job, "namespace"), meta_str(job, "name"));
    let mut r = AnalyzeResult::new(format!("{ns}/{name} Job Status"), ICON);
    r.severity = Some(Severity::Fail);
    r.message = format!("The job {ns}/{name} is not complete");
    Some(r)
}
