//! `goldpinger`: goldpinger's `/check_all` output (`goldpinger/check_all.json`, or `filePath` for
//! older bundles). For each host's pod: a warn per source pod with no result for it, a fail per
//! source pod whose ping failed, else one pass. Outcomes are not used, as in troubleshoot.

use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta, Severity};
use super::text;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// troubleshoot's results carry the key only, no URI.
const ICON: Icon = Icon("kubernetes", "");
const FILE: &str = "goldpinger/check_all.json";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CheckAll {
    hosts: Option<Vec<Host>>,
    // Sorted by source pod, so results come in a stable order (troubleshoot's is random).
    responses: Option<BTreeMap<String, SourceResponse>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Host {
    pod_name: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SourceResponse {
    response: Pings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Pings {
    pod_results: Option<BTreeMap<String, Ping>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Ping {
    #[serde(rename = "OK")]
    ok: bool,
    error: String,
}

fn result(severity: Severity, title: String, message: String) -> AnalyzeResult {
    let mut r = AnalyzeResult::new(title, ICON);
    r.severity = Some(severity);
    r.message = message;
    r
}

pub(super) fn goldpinger(
    ctx: &Ctx<'_>,
    body: &Value,
    _meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut path = text(body, "filePath");
    if path.is_empty() {
        path = FILE.into();
    }
    let all: CheckAll =
        serde_json::from_value(ctx.json(&path)?).map_err(|e| AnalyzerError::data(&path, e))?;
    let responses = all.responses.unwrap_or_default();
    let mut out = Vec::new();
    for host in all.hosts.unwrap_or_default() {
        let target = &host.pod_name;
        let mut all_ok = true;
        for (source, resp) in &responses {
            match resp
                .response
                .pod_results
                .as_ref()
                .and_then(|m| m.get(target))
            {
                None => {
                    all_ok = false;
                    out.push(result(
                        Severity::Warn,
                        format!("Missing ping results for {target:?} pod"),
                        format!("Ping result for {target:?} pod from {source:?} pod is missing"),
                    ));
                }
                Some(ping) if !ping.ok => {
                    all_ok = false;
                    out.push(result(
                        Severity::Fail,
                        format!("Ping from {source:?} pod to {target:?} pod failed"),
                        format!("Ping error: {}", ping.error),
                    ));
                }
                Some(_) => {}
            }
        }
        if all_ok {
            out.push(result(
                Severity::Pass,
                format!("Pings to {target:?} pod succeeded"),
                format!("Pings to {target:?} pod from all other pods in the cluster succeeded"),
            ));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::super::Severity;
    use super::super::super::tests::{run, summary};

    const CHECK_ALL: &str = r#"{
      "hosts": [{"hostIP": "10.0.0.1", "podIP": "10.1.0.1", "podName": "gp-a"},
                {"hostIP": "10.0.0.2", "podIP": "10.1.0.2", "podName": "gp-b"},
                {"hostIP": "10.0.0.3", "podIP": "10.1.0.3", "podName": "gp-c"}],
      "responses": {
        "gp-a": {"OK": true, "response": {"podResults": {
          "gp-a": {"OK": true}, "gp-b": {"OK": false, "error": "timeout"}}}},
        "gp-b": {"OK": true, "response": {"podResults": {
          "gp-a": {"OK": true}, "gp-b": {"OK": true}, "gp-c": {"OK": true}}}}
      }
    }"#;

    #[test]
    fn pass_fail_and_missing_per_pod() {
        let a = run(
            &[("goldpinger/check_all.json", CHECK_ALL)],
            "- goldpinger: {}\n",
        );
        let s = |sev, t: &str, m: &str| (Some(sev), t.to_string(), m.to_string());
        assert_eq!(
            summary(&a),
            [
                s(
                    Severity::Pass,
                    "Pings to \"gp-a\" pod succeeded",
                    "Pings to \"gp-a\" pod from all other pods in the cluster succeeded"
                ),
                s(
                    Severity::Fail,
                    "Ping from \"gp-a\" pod to \"gp-b\" pod failed",
                    "Ping error: timeout"
                ),
                s(
                    Severity::Warn,
                    "Missing ping results for \"gp-c\" pod",
                    "Ping result for \"gp-c\" pod from \"gp-a\" pod is missing"
                ),
            ]
        );
        assert_eq!(a.results[0].icon_key, "kubernetes");
    }

    #[test]
    fn file_path_missing_and_malformed() {
        let a = run(
            &[("old/gp.json", CHECK_ALL)],
            "- goldpinger:\n    filePath: old/gp.json\n",
        );
        assert_eq!(a.results.len(), 3, "{a:?}");
        let a = run(&[], "- goldpinger: {}\n");
        assert!(
            a.errors[0].message.contains("goldpinger/check_all.json"),
            "{a:?}"
        );
        let a = run(
            &[("goldpinger/check_all.json", r#"{"hosts": {}}"#)],
            "- goldpinger: {}\n",
        );
        assert!(
            a.errors[0].message.contains("goldpinger/check_all.json"),
            "{a:?}"
        );
        let a = run(&[("goldpinger/check_all.json", "{}")], "- goldpinger: {}\n");
        assert!(a.results.is_empty() && a.errors.is_empty(), "{a:?}");
    }
}
