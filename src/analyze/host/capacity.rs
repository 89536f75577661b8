//! `memory` and `diskUsage`: sizes compared with Kubernetes quantities (`8Gi`, `500G`), disk
//! shares with percentages or fractions (`80%`, `0.8`).

use super::super::outcome::Op;
use super::super::quantity::Quantity;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde::Deserialize;
use serde_json::Value;

/// A quantity as a whole number of bytes, as Kubernetes' `AsInt64` gives it: `1.5Ki` is 1536,
/// `500m` or `0.5` is no whole number and an error.
fn whole_quantity(text: &str) -> Result<i64, AnalyzerError> {
    let bad = || AnalyzerError::spec(format!("could not parse quantity {text:?}"));
    let q = Quantity::parse(text).map_err(|_| bad())?;
    q.to_string().parse::<i64>().map_err(|_| bad())
}

/// The comparison operators these analyzers accept (`!=` is not one of them).
fn size_op(op: &str) -> Result<Op, AnalyzerError> {
    match Op::parse(op) {
        Some(Op::Ne) | None => Err(AnalyzerError::spec(format!(
            "unsupported operator: {op:?} (use <, <=, >, >= or ==)"
        ))),
        Some(op) => Ok(op),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct MemoryInfo {
    total: u64,
}

/// The `memory` grammar: `<op> <quantity>` on the total.
fn memory_holds(when: &str, m: &MemoryInfo) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [op, desired] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "Expected 2 parts in conditional, got {}",
            parts.len()
        )));
    };
    let desired = whole_quantity(desired)?;
    let desired = u64::try_from(desired).map_err(|_| {
        AnalyzerError::spec(format!(
            "desired value must be a positive integer, got {desired}"
        ))
    })?;
    Ok(size_op(op)?.holds(m.total, desired))
}

pub(super) fn memory(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/memory.json",
            SYSTEM_DIR,
            "memory.json",
        ),
        (&meta.title("Amount of Memory"), NO_ICON, "MemoryInfo"),
        memory_holds,
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DiskUsageInfo {
    total_bytes: u64,
    used_bytes: u64,
}

/// `80%` → 0.8, `0.8` → 0.8.
fn share(text: &str) -> Result<f64, AnalyzerError> {
    let (number, percent) = match text.strip_suffix('%') {
        Some(n) => (n, true),
        None => (text, false),
    };
    let value: f64 = number.parse().map_err(|_| {
        AnalyzerError::spec(format!("cannot parse {text:?} as a share (80% or 0.8)"))
    })?;
    Ok(if percent { value / 100.0 } else { value })
}

/// The `diskUsage` grammar: `total|used|available <op> <quantity>`,
/// `used/total|available/total <op> <percent or fraction>`.
fn disk_holds(when: &str, d: &DiskUsageInfo) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [stat, op, desired] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "conditional must have exactly 3 parts, got {}",
            parts.len()
        )));
    };
    let stat = stat.to_lowercase();
    // As troubleshoot: a used size above the total wraps around rather than failing.
    let available = d.total_bytes.wrapping_sub(d.used_bytes);
    let bytes = |actual: u64| -> Result<bool, AnalyzerError> {
        let op = size_op(op)?;
        // A negative quantity compares as its two's complement, as troubleshoot's uint64 cast.
        let desired = whole_quantity(desired)? as u64;
        Ok(op.holds(actual, desired))
    };
    let ratio = |part: u64| -> Result<bool, AnalyzerError> {
        let op = size_op(op)?;
        let actual = part as f64 / d.total_bytes as f64;
        Ok(op.holds(actual, share(desired)?))
    };
    match stat.as_str() {
        "total" => bytes(d.total_bytes),
        "used" => bytes(d.used_bytes),
        "available" => bytes(available),
        "used/total" => ratio(d.used_bytes),
        "available/total" => ratio(available),
        _ => Err(AnalyzerError::spec(format!(
            "unknown disk usage statistic {stat:?} (total, used, available, used/total, available/total)"
        ))),
    }
}

pub(super) fn disk_usage(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/diskUsage";
    let title = meta.title(format!(
        "Disk Usage {}",
        common::text(body, "collectorName")
    ));
    let file = format!("{}.json", common::collector_name(body, "diskUsage"));
    common::simple(
        ctx,
        body,
        (&format!("{BASE}/{file}"), BASE, &file),
        (&title, NO_ICON, "DiskUsageInfo"),
        disk_holds,
    )
}
