use super::*;
use crate::yaml;

fn expand_text(text: &str) -> (Vec<Node>, Vec<Diagnostic>) {
    let source = SourceText::new(text);
    let docs = yaml::parse_documents(&source).expect("yaml");
    let mut out = Vec::new();
    let expansion = expand(Path::new("set.yaml"), &source, &docs[0], &mut out);
    assert_eq!(expansion.jobs.is_empty(), expansion.probe.is_some());
    (expansion.jobs, out)
}

const SET: &str = "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata:
  name: ns
  labels: {team: sre}
spec:
  matrix:
    namespace: [prod, staging]
    tier: [web, db]
  template:
    schedule: \"0 2 * * *\"
    collect:
      namespaces: [\"${matrix.namespace}\"]
      supportBundle:
        collectors:
          - logs: {name: \"${matrix.tier}-logs\", selector: [\"tier=${matrix.tier}\"], namespace: \"${matrix.namespace}\"}
";

#[test]
fn a_matrix_renders_one_job_per_combination_first_key_slowest() {
    let (jobs, findings) = expand_text(SET);
    assert!(findings.is_empty(), "{findings:?}");
    let names: Vec<String> = (jobs.iter())
        .map(|j| j.locate(&["metadata", "name"]).scalar_text())
        .collect();
    assert_eq!(
        names,
        [
            "ns-prod-web",
            "ns-prod-db",
            "ns-staging-web",
            "ns-staging-db"
        ]
    );
    let second = &jobs[1];
    assert_eq!(
        second.get("kind").and_then(Node::as_str),
        Some("SupportBundleSchedule")
    );
    assert_eq!(
        second
            .locate(&["spec", "collect", "namespaces", "0"])
            .as_str(),
        Some("prod")
    );
    let logs = second.locate(&[
        "spec",
        "collect",
        "supportBundle",
        "collectors",
        "0",
        "logs",
    ]);
    assert_eq!(logs.get("name").and_then(Node::as_str), Some("db-logs"));
    assert_eq!(logs.locate(&["selector", "0"]).as_str(), Some("tier=db"));
    let labels = second.locate(&["metadata", "labels"]);
    assert_eq!(labels.get("team").and_then(Node::as_str), Some("sre"));
    assert_eq!(labels.get(SET_LABEL).and_then(Node::as_str), Some("ns"));
    // Locations stay the template's, so findings in a generated job point at the set's lines.
    assert_eq!(second.locate(&["spec", "schedule"]).loc.line, 11);
}

#[test]
fn values_stay_text_and_dollar_dollar_is_a_literal() {
    assert_eq!(
        replace(
            "a ${matrix.x} $${matrix.x} ${matrix.y}",
            &[("x", "{evil: [1]}")]
        ),
        "a {evil: [1]} ${matrix.x} ${matrix.y}"
    );
    assert_eq!(
        references("${matrix.a}-$${b}-${other}"),
        vec![Ok("a"), Err("${other}")]
    );
}

#[test]
fn every_mistake_is_located_in_one_pass() {
    let text = "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata: {name: s}
spec:
  matrx: {}
  matrix:
    namespace: [prod, prod, \"Bad_Name\"]
    bad-key: [a]
    empty: []
  template:
    schedule: \"0 2 * * *\"
    collect: {namespaces: [\"${matrix.namespce}\", \"${nope}\"]}
";
    let (jobs, findings) = expand_text(text);
    assert!(jobs.is_empty());
    let lines: Vec<(u32, &str)> = (findings.iter())
        .map(|d| (d.line, d.message.as_str()))
        .collect();
    let has = |line: u32, needle: &str| lines.iter().any(|(l, m)| *l == line && m.contains(needle));
    assert!(has(5, "unknown field `spec.matrx`"), "{lines:?}");
    assert!(has(7, "`prod` is listed twice"), "{lines:?}");
    assert!(has(8, "matrix key `bad-key`"), "{lines:?}");
    assert!(has(9, "`matrix.empty` is an empty list"), "{lines:?}");
    assert!(has(12, "`${matrix.namespce}` names no key"), "{lines:?}");
    assert!(has(12, "`${nope}` is not a matrix reference"), "{lines:?}");
    let suggestion = findings.iter().find(|d| d.message.contains("namespce"));
    assert!(
        suggestion
            .and_then(|d| d.hint.as_deref())
            .is_some_and(|h| h.contains("${matrix.namespace}")),
        "{suggestion:?}"
    );
}

#[test]
fn a_value_that_makes_an_invalid_job_name_is_an_error_at_the_value() {
    let text = "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata: {name: s}
spec:
  matrix:
    ns: [ok, \"Not/OK\"]
  template: {schedule: \"0 2 * * *\"}
";
    let (jobs, findings) = expand_text(text);
    assert!(jobs.is_empty());
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!((findings[0].line, findings[0].column), (6, 14));
    assert!(
        findings[0].message.contains("`s-Not/OK`"),
        "{}",
        findings[0].message
    );
}

#[test]
fn a_matrix_past_the_cap_is_refused() {
    let values: Vec<String> = (0..40).map(|i| format!("v{i}")).collect();
    let list = values.join(", ");
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleScheduleSet\nmetadata: {{name: s}}\nspec:\n  matrix: {{a: [{list}], b: [{list}]}}\n  template: {{schedule: \"0 2 * * *\"}}\n"
    );
    let (jobs, findings) = expand_text(&text);
    assert!(jobs.is_empty());
    assert!(
        findings[0].message.contains("makes 1600 jobs"),
        "{findings:?}"
    );
}
