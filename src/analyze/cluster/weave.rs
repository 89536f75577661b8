//! `weaveReport`: weave's `/report` JSON in the files matching `reportFileGlob`, one per node
//! (keyed by `Router.NickName`). Fixed checks, no outcomes: a warn when a node has assigned 85%
//! or more of its IP range, one when allocations are pending, one for the first connection that
//! is not established or not `fastdp`; else one pass. Field names match in any case, as Go's
//! JSON decoding matches them. Nodes are judged in name order (troubleshoot's order is random).
//! No matching file: no result.

use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta, Severity};
use super::text;
use serde_json::Value;
use std::collections::BTreeMap;

fn result(severity: Severity, title: &str, message: impl Into<String>) -> AnalyzeResult {
    let mut r = AnalyzeResult::new(title, Icon("", ""));
    r.severity = Some(severity);
    r.message = message.into();
    r
}

/// The field `name` of an object, matched as Go matches JSON keys (exactly, else in any case).
fn get<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let map = v.as_object()?;
    map.get(name)
        .or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
        .filter(|v| !v.is_null())
}

fn path<'a>(v: &'a Value, names: &[&str]) -> Option<&'a Value> {
    names.iter().try_fold(v, |v, n| get(v, n))
}

fn int(v: &Value, names: &[&str], file: &str) -> Result<i64, AnalyzerError> {
    match path(v, names) {
        None => Ok(0),
        Some(n) => n.as_i64().ok_or_else(|| {
            AnalyzerError::data(file, format!("{} is not a whole number", names.join(".")))
        }),
    }
}

fn string<'a>(v: &'a Value, names: &[&str]) -> &'a str {
    path(v, names).and_then(Value::as_str).unwrap_or("")
}

/// The peer's host name in a connection's info (`... 1a:5b:a9:53:2b:11(host-a)`).
fn peer(info: &str) -> &str {
    // The leftmost `(` followed by no `)` up to the final one, as `\(([^)]+)\)$` finds it.
    let Some(inner) = info.strip_suffix(')') else {
        return "peer";
    };
    inner
        .match_indices('(')
        .map(|(i, _)| &inner[i + 1..])
        .find(|p| !p.is_empty() && !p.contains(')'))
        .unwrap_or("peer")
}

struct Report {
    range: i64,
    active: i64,
    pending: usize,
    connections: Vec<Value>,
}

fn read(v: &Value, file: &str) -> Result<Report, AnalyzerError> {
    let list = |names: &[&str]| -> Result<Vec<Value>, AnalyzerError> {
        match path(v, names) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => Ok(items.clone()),
            Some(_) => Err(AnalyzerError::data(
                file,
                format!("{} is not a list", names.join(".")),
            )),
        }
    };
    Ok(Report {
        range: int(v, &["IPAM", "RangeNumIPs"], file)?,
        active: int(v, &["IPAM", "ActiveIPs"], file)?,
        pending: list(&["IPAM", "PendingAllocates"])?.len(),
        connections: list(&["Router", "Connections"])?,
    })
}

fn connection_problem(host: &str, report: &Report) -> Option<String> {
    for c in &report.connections {
        let info = string(c, &["Info"]);
        if info.starts_with("cannot connect to ourself") {
            continue;
        }
        let peer = peer(info);
        let state = string(c, &["State"]);
        if state != "established" {
            return Some(format!("Connection from {host} to {peer} is {state}"));
        }
        let protocol = string(c, &["Attrs", "name"]);
        if !protocol.is_empty() && protocol != "fastdp" {
            return Some(format!(
                "Connection from {host} to {peer} protocol is {protocol:?}, not fastdp"
            ));
        }
    }
    None
}

pub(super) fn weave_report(
    ctx: &Ctx<'_>,
    body: &Value,
    _meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let glob = text(body, "reportFileGlob");
    if glob.is_empty() {
        return Err(AnalyzerError::spec(
            "reportFileGlob is required (e.g. kots/kurl/weave/kube-system/*/weave-report-stdout.txt)",
        ));
    }
    let files = ctx.view.glob(&glob)?;
    if files.is_empty() {
        return Ok(Vec::new());
    }
    let mut reports = BTreeMap::new();
    for file in &files {
        let v = ctx.json(file)?;
        if !(v.is_object() || v.is_null()) {
            return Err(AnalyzerError::data(file, "not a weave report object"));
        }
        let host = string(&v, &["Router", "NickName"]).to_string();
        reports.insert(host, read(&v, file)?);
    }
    let mut results = Vec::new();
    if let Some(r) = reports
        .values()
        .find(|r| r.range != 0 && r.active as f64 / r.range as f64 >= 0.85)
    {
        results.push(result(
            Severity::Warn,
            "Available Pod IPs",
            format!(
                "{} of {} total available IPs have been assigned",
                r.active, r.range
            ),
        ));
    }
    if reports.values().any(|r| r.pending > 0) {
        results.push(result(
            Severity::Warn,
            "Pending IP Allocation",
            "Waiting for IPs to become available",
        ));
    }
    if let Some(message) = reports
        .iter()
        .find_map(|(host, r)| connection_problem(host, r))
    {
        results.push(result(
            Severity::Warn,
            "Weave Inter-Node Connections",
            message,
        ));
    }
    if results.is_empty() {
        results.push(result(
            Severity::Pass,
            "Weave Report",
            "No issues detected in weave report",
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::peer;

    #[test]
    fn peers_come_from_the_trailing_parentheses() {
        assert_eq!(
            peer("encrypted   fastdp 1a:5b:a9:53:2b:11(areed-aka-kkz0)"),
            "areed-aka-kkz0"
        );
        assert_eq!(peer("sleeve 1a:5b"), "peer");
        assert_eq!(peer("x()"), "peer");
        assert_eq!(peer("a(b(c)"), "b(c");
    }
}
