//! `plan` shows every relation of the jobs it adds or changes (`after`, the jobs that run after
//! them, alert triggers, ScheduleSet membership), and `plan --graph` draws the job chains as a
//! tree, as Graphviz DOT (`-o dot`) and as nodes and edges (`-o json`), through the real binary
//! against an `applied.json` written the way the agent writes it.

use crate::support;

use serde_json::Value;
use std::collections::BTreeSet;
use support::plan::{FROM, apply, assert_has_line};
use support::{Dirs, JobFile, dirs};

/// `plan --from FROM ARGS...` against the jobs dir: (exit code, stdout, stderr).
fn run_plan(d: &Dirs, args: &[&str]) -> (i32, String, String) {
    let args: Vec<&str> = ["--from", FROM].iter().chain(args).copied().collect();
    support::plan::run_plan(d, &args)
}

fn after(parent: &str, on: &str) -> String {
    format!("after: [{{job: {parent}, on: [{on}]}}]")
}

/// collect-db (alert-triggered) → on failed: collect-db-logs → on any: page;
/// collect-db → on succeeded: analyze-db; and `lonely`, in no chain.
fn chain(d: &Dirs) {
    (JobFile::new("collect-db").spec_line(
        r#"triggers: [{alertmanager: {matchers: ['alertname="DiskFull"'], cooldown: 15m}}]"#,
    ))
    .write(&d.jobs);
    (JobFile::new("collect-db-logs").spec_line(&after("collect-db", "failed"))).write(&d.jobs);
    (JobFile::new("analyze-db").spec_line(&after("collect-db", "succeeded"))).write(&d.jobs);
    (JobFile::new("page").spec_line(&after("collect-db-logs", "any"))).write(&d.jobs);
    JobFile::new("lonely").write(&d.jobs);
}

#[test]
fn graph_draws_the_chains_as_a_tree_with_the_plan_markers() {
    let d = dirs();
    chain(&d);
    let (code, out, err) = run_plan(&d, &["--graph"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        out,
        "+ collect-db\n\
         + ├─ on succeeded → analyze-db\n\
         + └─ on failed → collect-db-logs\n\
         +    └─ on any → page\n\
         \n\
         Not in a chain:\n\
         + lonely\n\
         Plan: 5 to add, 0 to change, 0 to remove, 0 files rejected.\n"
    );

    // Applied, then one job removed and one re-parented: the graph shows both.
    apply(&d);
    std::fs::remove_file(d.jobs.join("analyze-db.yaml")).expect("rm");
    (JobFile::new("page").spec_line(&after("collect-db", "any"))).write(&d.jobs);
    let (code, out, err) = run_plan(&d, &["--graph", "--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        out,
        "  collect-db\n\
         - ├─ on succeeded → analyze-db\n\
         \x20 ├─ on failed → collect-db-logs\n\
         ~ │  └─ on any [edge removed] → page\n\
         ~ └─ on any [new edge] → page (same job as above)\n\
         \n\
         Not in a chain:\n\
         \x20 1 unchanged job\n\
         Plan: 0 to add, 1 to change, 1 to remove, 0 files rejected.\n"
    );
}

/// The statements of a DOT digraph as this agent writes it (one per line), checked for shape:
/// a `digraph "..." {` header, quoted ids, `[...]` attribute lists with quoted or bare values,
/// `;` at the end of each statement, and `}`. Returns (node ids, (from, to) edges, attribute
/// lists by statement). A structural check in the test instead of `dot -Tsvg`: graphviz is
/// not on a fresh machine, and the format written is this small subset.
type Dot = (BTreeSet<String>, Vec<(String, String)>, Vec<String>);

fn parse_dot(text: &str) -> Dot {
    let mut lines = text.lines();
    let header = lines.next().expect("a header line");
    let rest = header
        .strip_prefix("digraph ")
        .expect("starts with digraph");
    let (_name, rest) = quoted(rest).expect("a quoted graph name");
    assert_eq!(rest, " {", "header: {header}");
    let body: Vec<&str> = lines.collect();
    assert_eq!(body.last(), Some(&"}"), "ends with }}:\n{text}");
    let (mut nodes, mut edges, mut attrs) = (BTreeSet::new(), Vec::new(), Vec::new());
    for line in &body[..body.len() - 1] {
        let stmt = line.trim().strip_suffix(';').unwrap_or_else(|| {
            panic!("statement without `;`: {line}");
        });
        if let Some(list) = stmt.strip_prefix("node ") {
            attrs.push(attr_list(list));
            continue;
        }
        let (from, rest) = quoted(stmt).unwrap_or_else(|| panic!("unquoted id: {line}"));
        let rest = match rest.strip_prefix(" -> ") {
            Some(r) => {
                let (to, rest) = quoted(r).unwrap_or_else(|| panic!("unquoted edge end: {line}"));
                edges.push((from, to));
                rest
            }
            None => {
                nodes.insert(from);
                rest
            }
        };
        attrs.push(attr_list(rest.strip_prefix(' ').expect("space before [")));
    }
    for (from, to) in &edges {
        assert!(
            nodes.contains(from) && nodes.contains(to),
            "edge {from} -> {to} names an undeclared node"
        );
    }
    (nodes, edges, attrs)
}

/// `"..."` at the start of `s` (with `\"` and `\\` escapes): (unescaped, rest).
fn quoted(s: &str) -> Option<(String, &str)> {
    let inner = s.strip_prefix('"')?;
    let mut out = String::new();
    let mut chars = inner.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, &inner[i + 1..])),
            '\\' => out.push(chars.next()?.1),
            c => out.push(c),
        }
    }
    None
}

/// `[k=v, k="v"]`: checks the shape, returns it with quoted values unescaped.
fn attr_list(s: &str) -> String {
    let mut rest = (s.strip_prefix('[')).unwrap_or_else(|| panic!("no [ in {s}"));
    let mut out = Vec::new();
    loop {
        let eq = rest.find('=').unwrap_or_else(|| panic!("no = in {s}"));
        let key = &rest[..eq];
        assert!(
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphabetic()),
            "attribute name `{key}` in {s}"
        );
        let after = &rest[eq + 1..];
        let (value, tail) = match quoted(after) {
            Some((v, tail)) => (v, tail),
            None => {
                let end = after.find([',', ']']).expect("value end");
                (after[..end].to_string(), &after[end..])
            }
        };
        out.push(format!("{key}={value}"));
        if let Some(t) = tail.strip_prefix(", ") {
            rest = t;
        } else {
            assert_eq!(tail, "]", "attribute list {s}");
            return out.join(", ");
        }
    }
}

#[test]
fn dot_output_is_a_well_formed_digraph_with_removed_jobs_dashed() {
    let d = dirs();
    chain(&d);
    apply(&d);
    std::fs::remove_file(d.jobs.join("page.yaml")).expect("rm");
    let (code, out, err) = run_plan(&d, &["--graph", "-o", "dot"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let (nodes, edges, attrs) = parse_dot(&out);
    let names = [
        "analyze-db",
        "collect-db",
        "collect-db-logs",
        "lonely",
        "page",
    ];
    assert_eq!(nodes, names.iter().map(|s| s.to_string()).collect());
    assert_eq!(edges.len(), 3, "{edges:?}");
    assert!(
        attrs.contains(&"label=- page, style=dashed".to_string()),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&"label=any, style=dashed".to_string()),
        "the removed edge: {attrs:?}"
    );
    assert!(attrs.contains(&"label=failed".to_string()), "{attrs:?}");
}

#[test]
fn dot_without_graph_is_a_clear_error() {
    let d = dirs();
    chain(&d);
    let (code, out, err) = run_plan(&d, &["-o", "dot"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("`-o dot`") && err.contains("plan --graph"),
        "{err}"
    );
}

#[test]
fn editing_after_is_a_change_with_the_relation_line() {
    let d = dirs();
    chain(&d);
    let (_, out, _) = run_plan(&d, &[]);
    assert_has_line(&out, "      after: collect-db (on failed)");
    assert_has_line(
        &out,
        "      starts: analyze-db (on succeeded), collect-db-logs (on failed)",
    );
    assert_has_line(
        &out,
        "      triggers: alertmanager {alertname=\"DiskFull\"} (cooldown 15m)",
    );
    apply(&d);
    (JobFile::new("collect-db-logs")
        .spec_line("after: [{job: collect-db, on: [failed, analysisFailed]}]"))
    .write(&d.jobs);
    let (code, out, err) = run_plan(&d, &[]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let path = d.jobs.join("collect-db-logs.yaml");
    assert_has_line(
        &out,
        &format!("~ change   collect-db-logs ({})", path.display()),
    );
    assert_has_line(
        &out,
        "      after: collect-db (on failed) → collect-db (on failed, analysisFailed)",
    );
    assert_has_line(&out, "      starts: page (on any)");
    assert_has_line(
        &out,
        "Plan: 0 to add, 1 to change, 0 to remove, 0 files rejected.",
    );
    let (_, out, _) = run_plan(&d, &["-o", "json"]);
    let v: Value = serde_json::from_str(&out).expect("json");
    let change = &v["plan"]["change"][0];
    assert_eq!(
        change["relationsBefore"],
        serde_json::json!({"after": [{"job": "collect-db", "on": ["failed"]}]}),
        "{change}"
    );
    assert_eq!(
        change["relations"]["after"],
        serde_json::json!([{"job": "collect-db", "on": ["failed", "analysisFailed"]}])
    );
}

#[test]
fn json_output_has_the_relation_fields_and_the_graph_nodes_and_edges() {
    let d = dirs();
    chain(&d);
    std::fs::write(
        d.jobs.join("set.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleScheduleSet
metadata: {name: ns}
spec:
  matrix:
    namespace: [prod]
  template:
    schedule: \"0 3 * * *\"
    after: [{job: lonely}]
    collect:
      supportBundle:
        hostCollectors: [{cpu: {}}]
",
    )
    .expect("write set");
    let (code, out, err) = run_plan(&d, &["-o", "json"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    let add = |name: &str| -> Value {
        (v["plan"]["add"].as_array().expect("add"))
            .iter()
            .find(|a| a["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} in {v}"))
    };
    let logs = add("collect-db-logs")["relations"].clone();
    assert_eq!(
        logs["after"],
        serde_json::json!([{"job": "collect-db", "on": ["failed"]}])
    );
    assert_eq!(
        logs["starts"],
        serde_json::json!([{"job": "page", "on": ["any"]}])
    );
    let db = add("collect-db")["relations"].clone();
    assert_eq!(
        db["triggers"][0]["alertmanager"]["matchers"],
        serde_json::json!(["alertname=\"DiskFull\""])
    );
    let member = add("ns-prod")["relations"].clone();
    assert_eq!(
        member["set"],
        serde_json::json!({"name": "ns", "combination": "prod"})
    );
    assert_eq!(
        member["after"],
        serde_json::json!([{"job": "lonely", "on": ["succeeded"]}])
    );

    let (code, out, err) = run_plan(&d, &["--graph", "-o", "json"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let g: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(g["graph"]["nodes"].as_array().map(Vec::len), Some(6), "{g}");
    assert_eq!(
        g["graph"]["nodes"][0],
        serde_json::json!({"name": "analyze-db", "change": "added"})
    );
    assert!(
        (g["graph"]["edges"].as_array().expect("edges")).contains(&serde_json::json!({
            "parent": "lonely", "child": "ns-prod", "on": ["succeeded"], "change": "added"
        })),
        "{g}"
    );
}

#[test]
fn a_removed_parent_still_named_rejects_the_child_file_and_keeps_it() {
    let d = dirs();
    chain(&d);
    apply(&d);
    std::fs::remove_file(d.jobs.join("collect-db-logs.yaml")).expect("rm");
    let (code, out, err) = run_plan(&d, &[]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let page = d.jobs.join("page.yaml");
    assert_has_line(&out, &format!("! reject   {} (1 error)", page.display()));
    assert!(
        out.contains("`after` names job `collect-db-logs`, which is not defined"),
        "{out}"
    );
    assert_has_line(&out, "      kept at last good version: page");
    assert!(out.contains("- remove   collect-db-logs"), "{out}");

    // The graph: the parent goes, its child keeps running at its last good version.
    let (code, out, err) = run_plan(&d, &["--graph"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.starts_with(
            "  collect-db\n\
             \x20 ├─ on succeeded → analyze-db\n\
             - └─ on failed → collect-db-logs\n\
             !    └─ on any → page\n"
        ),
        "{out}"
    );
    assert!(err.contains("which is not defined"), "{err}");
}
