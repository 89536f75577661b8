//! `nodeMetrics`: the kubelet summaries the `nodeMetrics` collector wrote
//! (`node-metrics/<node>.json`), judged by `pvcUsedPercentage <op> <percent>`: it holds when
//! some PVC (after `filters.pvc.nameRegex` and `filters.pvc.namespace`, the pod's namespace) is
//! that full. First match wins; a matched message is a template over
//! `{{ .PVC.ConcatenatedNames }}` (`ns/name, ...`) and `{{ .PVC.Names }}`, used as written when
//! it does not render. Summaries are read in path order (troubleshoot's order is random).

use super::super::outcome::{self, Op, Outcome};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::{struct_template_ok, text};
use serde::Deserialize;
use serde_json::{Value, json};

const FIELDS: &[&str] = &[
    ".PVC",
    ".PVC.UsedPercentage",
    ".PVC.ConcatenatedNames",
    ".PVC.Names",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Summary {
    pods: Option<Vec<PodStats>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct PodStats {
    pod_ref: Ref,
    volume: Option<Vec<VolumeStats>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ref {
    name: String,
    namespace: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct VolumeStats {
    pvc_ref: Option<Ref>,
    used_bytes: Option<u64>,
    capacity_bytes: Option<u64>,
}

/// `(ns/name, used %)` of every PVC the filters keep.
fn pvc_usage(summaries: &[Summary], body: &Value) -> Result<Vec<(String, f64)>, AnalyzerError> {
    let filter = body.pointer("/filters/pvc");
    let field = |name: &str| filter.map(|f| text(f, name)).unwrap_or_default();
    let name_regex = field("nameRegex");
    let name_re = if name_regex.is_empty() {
        None
    } else {
        Some(regex::Regex::new(&name_regex).map_err(|e| {
            AnalyzerError::spec(format!(
                "failed to compile PVC name regex {name_regex:?}: {e}"
            ))
        })?)
    };
    let namespace = field("namespace");
    let mut out = Vec::new();
    for pod in summaries.iter().flat_map(|s| s.pods.iter().flatten()) {
        if !namespace.is_empty() && namespace != pod.pod_ref.namespace {
            continue;
        }
        for volume in pod.volume.iter().flatten() {
            let Some(pvc) = &volume.pvc_ref else { continue };
            if name_re.as_ref().is_some_and(|re| !re.is_match(&pvc.name)) {
                continue;
            }
            if let (Some(used), Some(capacity)) = (volume.used_bytes, volume.capacity_bytes) {
                let percent = used as f64 / capacity as f64 * 100.0;
                out.push((format!("{}/{}", pvc.namespace, pvc.name), percent));
            }
        }
    }
    Ok(out)
}

/// The PVCs `when` holds for (`None`: it holds for none).
fn matching(
    when: &str,
    summaries: &[Summary],
    body: &Value,
) -> Result<Option<Vec<String>>, AnalyzerError> {
    let bad = |why: &str| AnalyzerError::spec(format!("when {when:?}: {why}"));
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [metric, op, value] = parts.as_slice() else {
        return Err(bad("expected `pvcUsedPercentage <op> <percent>`"));
    };
    if *metric != "pvcUsedPercentage" {
        return Err(bad("unknown node metric (supported: pvcUsedPercentage)"));
    }
    let op = Op::parse(op).ok_or_else(|| bad(&format!("unknown operator {op:?}")))?;
    let want: f64 = value
        .parse()
        .map_err(|_| bad(&format!("{value:?} is not a number")))?;
    let names: Vec<String> = pvc_usage(summaries, body)?
        .into_iter()
        .filter(|(_, used)| op.holds(*used, want))
        .map(|(name, _)| name)
        .collect();
    Ok((!names.is_empty()).then_some(names))
}

fn render(message: &str, names: &[String]) -> String {
    let data = json!({"PVC": {
        "UsedPercentage": 0,
        "ConcatenatedNames": names.join(", "),
        "Names": names,
    }});
    if !struct_template_ok(message, FIELDS) {
        return message.to_string();
    }
    template::render(message, &data, Missing::Empty).unwrap_or_else(|_| message.to_string())
}

fn judge(
    outcomes: &[Outcome],
    summaries: &[Summary],
    body: &Value,
    title: String,
) -> Result<Option<AnalyzeResult>, AnalyzerError> {
    for o in outcomes {
        if o.severity.is_none() {
            continue;
        }
        let r = AnalyzeResult::new(title.clone(), Icon("", "")).with(o);
        if o.is_else() {
            return Ok(Some(r));
        }
        if let Some(names) = matching(&o.when, summaries, body)? {
            let mut r = r;
            r.message = render(&o.message, &names);
            return Ok(Some(r));
        }
    }
    Ok(None)
}

pub(super) fn node_metrics(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let mut summaries = Vec::new();
    for path in ctx.view.glob("node-metrics/*.json")? {
        let bytes = ctx.read(&path)?;
        let summary: Summary = serde_json::from_slice(&bytes)
            .map_err(|e| AnalyzerError::data(&path, format!("not a kubelet summary: {e}")))?;
        summaries.push(summary);
    }
    let mut title = meta.check_name.clone();
    if title.is_empty() {
        title = text(body, "collectorName");
    }
    if title.is_empty() {
        title = "Node Metrics".into();
    }
    Ok(judge(&outcomes, &summaries, body, title)?
        .into_iter()
        .collect())
}
