//! `cephStatus`: `ceph status` as the `ceph` collector saved it
//! (`[<collectorName>/][<namespace>/]ceph/status.json`, the namespace left out when it is
//! `rook-ceph`), judged by `[<op>] HEALTH_OK|HEALTH_WARN|HEALTH_ERR` (OK > WARN > ERR; an empty
//! `when` means the outcome's own level). First match wins; fail and warn messages get the
//! OSD, fullness, placement-group usage and health-check details appended, one per line
//! (checks sorted by name; troubleshoot's order is random). Without outcomes: pass on OK, warn
//! on WARN, fail on ERR. No collected file: no result.

use super::super::outcome::{self, Op, Outcome, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text;
use serde::Deserialize;
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

const ICON: Icon = Icon(
    "rook",
    "https://troubleshoot.sh/images/analyzer-icons/rook.svg?w=11&h=16",
);
const DOCS: &str = "https://rook.io/docs/rook/v1.4/ceph-common-issues.html";

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Status {
    health: Health,
    osdmap: OsdMapOuter,
    pgmap: PgMap,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Health {
    status: String,
    checks: Option<BTreeMap<String, Check>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Check {
    summary: CheckSummary,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CheckSummary {
    message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OsdMapOuter {
    osdmap: OsdMap,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct OsdMap {
    num_osds: i64,
    num_up_osds: i64,
    full: bool,
    nearfull: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PgMap {
    bytes_used: u64,
    bytes_total: u64,
}

/// How `actual` ranks against `other`: OK above WARN above ERR; an unknown status ranks below
/// everything, and anything ranks above an unknown one (troubleshoot's table).
fn rank(actual: &str, other: &str) -> Ordering {
    if actual == other {
        return Ordering::Equal;
    }
    match (actual, other) {
        ("HEALTH_OK", _) => Ordering::Greater,
        ("HEALTH_WARN", "HEALTH_OK") => Ordering::Less,
        ("HEALTH_WARN", _) => Ordering::Greater,
        ("HEALTH_ERR", "HEALTH_OK" | "HEALTH_WARN") => Ordering::Less,
        ("HEALTH_ERR", _) => Ordering::Greater,
        _ => Ordering::Less,
    }
}

fn holds(actual: &str, when: &str) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.trim().split(' ').collect();
    match parts.as_slice() {
        [value] => Ok(value.trim() == actual),
        [op, value] => {
            let order = rank(actual, value.trim());
            match Op::parse(op.trim()) {
                Some(Op::Ne) | None => Err(AnalyzerError::spec(format!(
                    "when {when:?}: unknown operator (use =, <, <=, >, >=)"
                ))),
                Some(op) => Ok(op.holds(order, Ordering::Equal)),
            }
        }
        _ => Err(AnalyzerError::spec(format!(
            "when {when:?}: expected `[<op>] HEALTH_OK|HEALTH_WARN|HEALTH_ERR`"
        ))),
    }
}

fn details(message: &str, s: &Status) -> String {
    let mut lines = Vec::new();
    if !message.is_empty() {
        lines.push(message.to_string());
    }
    let osd = &s.osdmap.osdmap;
    if osd.num_osds > 0 {
        lines.push(format!("{}/{} OSDs up", osd.num_up_osds, osd.num_osds));
    }
    if osd.full {
        lines.push("OSD disk is full".into());
    } else if osd.nearfull {
        lines.push("OSD disk is nearly full".into());
    }
    if s.pgmap.bytes_total > 0 {
        let usage = 100.0 * s.pgmap.bytes_used as f64 / s.pgmap.bytes_total as f64;
        lines.push(format!("PG storage usage is {usage:.1}%"));
    }
    for (name, check) in s.health.checks.iter().flatten() {
        lines.push(format!("{name}: {}", check.summary.message));
    }
    lines.join("\n")
}

fn defaults() -> Vec<Outcome> {
    let one = |severity, message: &str, uri: &str| Outcome {
        severity: Some(severity),
        message: message.into(),
        uri: uri.into(),
        ..Outcome::default()
    };
    vec![
        one(Severity::Pass, "Ceph is healthy", ""),
        one(Severity::Warn, "Ceph status is HEALTH_WARN", DOCS),
        one(Severity::Fail, "Ceph status is HEALTH_ERR", DOCS),
    ]
}

pub(super) fn ceph_status(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut outcomes = outcome::parse(body)?;
    let mut parts = Vec::new();
    let collector = text(body, "collectorName");
    if !collector.is_empty() {
        parts.push(collector);
    }
    let namespace = text(body, "namespace");
    if !namespace.is_empty() && namespace != "rook-ceph" {
        parts.push(namespace);
    }
    parts.push("ceph/status.json".into());
    let path = super::text::clean_join(&parts.iter().map(String::as_str).collect::<Vec<_>>());
    let bytes = match ctx.read(&path) {
        Ok(bytes) => bytes,
        Err(AnalyzerError::File(e)) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let status: Status = serde_json::from_slice(&bytes)
        .map_err(|e| AnalyzerError::data(&path, format!("not a ceph status: {e}")))?;
    if outcomes.is_empty() {
        outcomes = defaults();
    }
    let mut r = AnalyzeResult::new(meta.title("Ceph Status"), ICON);
    for o in &outcomes {
        let Some(severity) = o.severity else { continue };
        let when = if o.is_else() {
            match severity {
                Severity::Fail => "HEALTH_ERR",
                Severity::Warn => "HEALTH_WARN",
                Severity::Pass => "HEALTH_OK",
            }
        } else {
            o.when.as_str()
        };
        if holds(&status.health.status, when)? {
            r = r.with(o);
            if severity != Severity::Pass {
                r.message = details(&o.message, &status);
            }
            return Ok(vec![r]);
        }
    }
    Ok(vec![r])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_ranks_and_whens_follow_troubleshoot() {
        assert!(holds("HEALTH_WARN", "HEALTH_WARN").expect("eq"));
        assert!(holds("HEALTH_WARN", "< HEALTH_OK").expect("lt"));
        assert!(holds("HEALTH_WARN", ">= HEALTH_ERR").expect("ge"));
        assert!(!holds("HEALTH_ERR", "> HEALTH_WARN").expect("gt"));
        assert!(holds("HEALTH_OK", "> NONSENSE").expect("unknown other"));
        assert!(holds("NONSENSE", "< HEALTH_ERR").expect("unknown actual"));
        assert!(holds("HEALTH_OK", "!= HEALTH_ERR").is_err());
        assert!(holds("HEALTH_OK", "== HEALTH_OK x").is_err());
    }
}
