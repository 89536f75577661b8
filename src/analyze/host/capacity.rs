//! `memory` and `diskUsage`: sizes compared with Kubernetes quantities (`8Gi`, `500G`), disk
//! shares with percentages or fractions (`80%`, `0.8`).

use super::super::outcome::Op;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde::Deserialize;
use serde_json::Value;

/// A quantity as a whole number, as Kubernetes' `Quantity.AsInt64` gives it: only quantities
/// its parser keeps as a scaled 64-bit integer convert. So `8Gi`, `10Ti`, `1.5G`, `0.5k` and
/// `8e9` do, while a binary suffix with a fraction (`8.5Gi`), a large binary number (`100Ti`,
/// `1Pi`), a negative scale (`500m`, `1.0`) or more than 18 digits do not, and are errors
/// ("could not parse quantity"), exactly as troubleshoot reports them (checked against
/// troubleshoot v0.133, tests/data/analyze/host/PROVENANCE.md).
fn whole_quantity(text: &str) -> Result<i64, AnalyzerError> {
    let bad = || AnalyzerError::spec(format!("could not parse quantity {text:?}"));
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        Some(_) => (false, text),
        None => return Err(bad()),
    };
    let rest = rest.trim_start_matches('0');
    let num_end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (mut num, rest) = rest.split_at(num_end);
    if num.is_empty() {
        num = "0";
    }
    let (denom, suffix) = match rest.strip_prefix('.') {
        Some(after) => {
            let end = after
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(after.len());
            after.split_at(end)
        }
        None => ("", rest),
    };
    // (binary, exponent): 10^exponent, or 2^exponent for the binary suffixes.
    let (binary, exponent): (bool, i32) = match suffix {
        "" => (false, 0),
        "n" => (false, -9),
        "u" => (false, -6),
        "m" => (false, -3),
        "k" => (false, 3),
        "M" => (false, 6),
        "G" => (false, 9),
        "T" => (false, 12),
        "P" => (false, 15),
        "E" => (false, 18),
        "Ki" => (true, 10),
        "Mi" => (true, 20),
        "Gi" => (true, 30),
        "Ti" => (true, 40),
        "Pi" => (true, 50),
        "Ei" => (true, 60),
        other => {
            let e = other.strip_prefix(['e', 'E']).ok_or_else(bad)?;
            let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            (false, e.parse().map_err(|_| bad())?)
        }
    };
    let digits = i32::try_from(num.len() + denom.len()).map_err(|_| bad())?;
    let (mut scale, mantissa, precision) = if binary {
        if denom.is_empty() {
            let digits_in = i32::try_from(num.len()).map_err(|_| bad())?;
            (0, 1i64 << exponent, 15 - digits_in - exponent * 3 / 10 - 1)
        } else {
            (0, 1, -1)
        }
    } else {
        (exponent, 1, 18 - digits)
    };
    if precision < 0 {
        return Err(bad());
    }
    scale -= i32::try_from(denom.len()).map_err(|_| bad())?;
    if scale < 0 {
        // A fraction of a unit: no int64 form (and below nano, not the fast form at all).
        return Err(bad());
    }
    let value: i64 = format!("{num}{denom}").parse().map_err(|_| bad())?;
    let mut result = value.checked_mul(mantissa).ok_or_else(bad)?;
    if negative {
        result = -result;
    }
    let factor = 10i64
        .checked_pow(u32::try_from(scale).map_err(|_| bad())?)
        .ok_or_else(bad)?;
    result.checked_mul(factor).ok_or_else(bad)
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
