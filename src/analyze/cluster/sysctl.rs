//! In-cluster `sysctl`: the kernel parameters the `sysctl` collector read on each node
//! (`sysctl/<node>`, lines `/proc/sys/net/ipv4/ip_forward = 1`), judged by
//! `<parameter> <op> <value>` meaning "on some node": `=` compares text and skips nodes without
//! the parameter, `<`, `<=`, `>`, `>=` compare integers and need the parameter on every node.
//! The first outcome that holds wins; its message is prefixed with the nodes it holds on
//! (`Node a: ` or `Nodes a, b: `). No collected files: no result.

use super::super::outcome;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

type Params = BTreeMap<String, String>;

/// Go's `\s` is ASCII whitespace.
const SPACE: &str = r"[\t\n\f\r ]";

fn param_line() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(&format!(r"(^[^\t\n\f\r ]+){SPACE}={SPACE}(.+)"))
            .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
    })
}

fn when_form() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(&format!(r"([^\t\n\f\r ]+){SPACE}+([><=]=*){SPACE}+(.+)"))
            .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
    })
}

/// `net.ipv4.ip_forward -> 1` from the collected lines.
fn parse_params(text: &str) -> Params {
    let mut out = Params::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let Some(caps) = param_line().captures(line) else {
            continue;
        };
        let key = caps[1].strip_prefix("/proc/sys/").unwrap_or(&caps[1]);
        out.insert(key.replace('/', "."), caps[2].to_string());
    }
    out
}

/// The nodes `when` holds on, sorted.
fn holds_on(nodes: &BTreeMap<String, Params>, when: &str) -> Result<Vec<String>, AnalyzerError> {
    let bad = || {
        AnalyzerError::spec(format!(
            "failed to parse when {when:?} (expected `<parameter> <op> <value>`, e.g. `net.ipv4.ip_forward = 0`)"
        ))
    };
    let caps = when_form().captures(when).ok_or_else(bad)?;
    let (key, op, value) = (&caps[1], &caps[2], caps[3].trim());
    let mut out = Vec::new();
    if matches!(op, "=" | "==" | "===") {
        for (node, params) in nodes {
            if params.get(key).is_some_and(|v| v == value) {
                out.push(node.clone());
            }
        }
        return Ok(out);
    }
    if !matches!(op, "<" | "<=" | ">" | ">=") {
        return Err(AnalyzerError::spec(format!(
            "when {when:?}: unknown operator {op:?}"
        )));
    }
    let op = outcome::Op::parse(op).ok_or_else(bad)?;
    let want: i64 = value.parse().map_err(|_| bad())?;
    for (node, params) in nodes {
        let have: i64 = params
            .get(key)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| {
                AnalyzerError::spec(format!(
                    "failed to parse when {when:?}: node {node} has no integer {key}"
                ))
            })?;
        if op.holds(have, want) {
            out.push(node.clone());
        }
    }
    Ok(out)
}

pub(super) fn sysctl(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let mut nodes = BTreeMap::new();
    for path in ctx.view.glob("sysctl/*")? {
        let node = path.rsplit('/').next().unwrap_or(&path).to_string();
        let bytes = ctx.read(&path)?;
        nodes.insert(node, parse_params(&String::from_utf8_lossy(&bytes)));
    }
    if nodes.is_empty() {
        return Ok(Vec::new());
    }
    for o in &outcomes {
        if o.severity.is_none() {
            // troubleshoot crashes on an item with none of fail, warn, pass.
            return Err(AnalyzerError::spec("empty outcome"));
        }
        let mut r = AnalyzeResult::new(meta.title("Sysctl"), Icon("", ""));
        r.severity = o.severity;
        if o.is_else() {
            r.message = o.message.clone();
            return Ok(vec![r]);
        }
        let hit = holds_on(&nodes, o.when.trim_start())?;
        r.message = match hit.as_slice() {
            [] => continue,
            [one] => format!("Node {one}: {}", o.message),
            many => format!("Nodes {}: {}", many.join(", "), o.message),
        };
        r.uri = o.uri.clone();
        return Ok(vec![r]);
    }
    Ok(Vec::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_whens_parse_like_troubleshoot() {
        let p = parse_params(
            "/proc/sys/net/ipv4/ip_forward = 1\r\nkernel.pid_max = 4194304\nbad line\nx =  y\n",
        );
        assert_eq!(p["net.ipv4.ip_forward"], "1");
        assert_eq!(p["kernel.pid_max"], "4194304");
        assert_eq!(p["x"], " y");
        assert_eq!(p.len(), 3);
        let nodes = BTreeMap::from([
            ("b".to_string(), p.clone()),
            ("a".to_string(), parse_params("net.ipv4.ip_forward = 0\n")),
        ]);
        assert_eq!(
            holds_on(&nodes, "net.ipv4.ip_forward = 0").expect("eq"),
            ["a"]
        );
        assert_eq!(
            holds_on(&nodes, "net.ipv4.ip_forward >= 0").expect("ge"),
            ["a", "b"]
        );
        assert!(
            holds_on(&nodes, "kernel.pid_max > 1").is_err(),
            "missing on a"
        );
        assert!(holds_on(&nodes, "net.ipv4.ip_forward != 0").is_err());
        assert!(holds_on(&nodes, "net.ipv4.ip_forward >== 0").is_err());
        assert!(holds_on(&nodes, "net.ipv4.ip_forward = ").is_err());
    }
}
