//! `filesystemPerformance`: write+sync latency of fio's `fsperf` job, compared with Go
//! durations (`p99 < 10ms`, `average <= 1.5ms`).

use super::super::outcome::{self, Op};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The `when` of a first outcome that applies when the file could not be gathered.
const FILE_NOT_COLLECTED: &str = "fileNotCollected";

/// The percentile keywords, with fio's keys for them.
const PERCENTILES: [(&str, &str, &str); 17] = [
    ("p1", "P1", "1.000000"),
    ("p5", "P5", "5.000000"),
    ("p10", "P10", "10.000000"),
    ("p20", "P20", "20.000000"),
    ("p30", "P30", "30.000000"),
    ("p40", "P40", "40.000000"),
    ("p50", "P50", "50.000000"),
    ("p60", "P60", "60.000000"),
    ("p70", "P70", "70.000000"),
    ("p80", "P80", "80.000000"),
    ("p90", "P90", "90.000000"),
    ("p95", "P95", "95.000000"),
    ("p99", "P99", "99.000000"),
    ("p995", "P995", "99.500000"),
    ("p999", "P999", "99.900000"),
    ("p9995", "P9995", "99.950000"),
    ("p9999", "P9999", "99.990000"),
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FioResult {
    jobs: Option<Vec<FioJob>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FioJob {
    jobname: String,
    sync: FioStats,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FioStats {
    lat_ns: FioNs,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FioNs {
    min: i64,
    max: i64,
    mean: f32,
    percentile: std::collections::HashMap<String, i64>,
}

/// Latencies in nanoseconds by keyword (`min`, `max`, `average`, `p1` ... `p9999`).
fn latencies(ns: &FioNs) -> Vec<(&'static str, &'static str, i64)> {
    // Go converts the float mean to a Duration by truncation.
    let mut out = vec![
        ("min", "Min", ns.min),
        ("max", "Max", ns.max),
        ("average", "Average", ns.mean as i64),
    ];
    for (key, field, fio) in PERCENTILES {
        out.push((key, field, ns.percentile.get(fio).copied().unwrap_or(0)));
    }
    out
}

/// Why a duration does not parse, in Go's words.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum DurationError {
    #[error("time: invalid duration {0:?}")]
    Invalid(String),
    #[error("time: missing unit in duration {0:?}")]
    MissingUnit(String),
    #[error("time: unknown unit {unit:?} in duration {text:?}")]
    UnknownUnit { unit: String, text: String },
}

/// Go's `time.ParseDuration`: `300ms`, `1.5h`, `2h45m`, `-1.5us`, `0`.
fn parse_duration(text: &str) -> Result<i64, DurationError> {
    let bad = || DurationError::Invalid(text.to_string());
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::MissingUnit(text.to_string()))?;
        let (number, after) = rest.split_at(end);
        if number.is_empty() || number == "." {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(DurationError::MissingUnit(text.to_string())),
            other => {
                return Err(DurationError::UnknownUnit {
                    unit: other.to_string(),
                    text: text.to_string(),
                });
            }
        };
        total += value * scale;
        rest = after;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let ns = total.round() as i64;
    Ok(if negative { -ns } else { ns })
}

/// Go's `Duration.String()`: `0s`, `850ns`, `1.5µs`, `2.25ms`, `1m30s`, `1h0m0s`.
fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |value: u64, unit: u64| -> String {
        let whole = value / unit;
        let rest = value % unit;
        if rest == 0 {
            return whole.to_string();
        }
        let digits = unit.to_string().len() - 1;
        let text = format!("{rest:0digits$}");
        format!("{whole}.{}", text.trim_end_matches('0'))
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000));
    }
    let hours = u / 3_600_000_000_000;
    let minutes = (u / 60_000_000_000) % 60;
    let seconds = frac(u % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// `<min|max|average|pNN> <op> <duration>`; `fileNotCollected` never holds for a file.
fn latency_holds(when: &str, lat: &[(&str, &str, i64)]) -> Result<bool, AnalyzerError> {
    if when == FILE_NOT_COLLECTED {
        return Ok(false);
    }
    let parts: Vec<&str> = when.split(' ').collect();
    let [keyword, op, desired] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "conditional must have exactly 3 parts, got {}",
            parts.len()
        )));
    };
    let desired = parse_duration(desired)
        .map_err(|e| AnalyzerError::spec(format!("failed to parse duration {desired:?}: {e}")))?;
    let keyword = keyword.to_lowercase();
    let actual = lat
        .iter()
        .find(|(k, _, _)| *k == keyword)
        .map(|(_, _, ns)| *ns)
        .ok_or_else(|| {
            AnalyzerError::spec(format!(
                "unknown filesystem performance keyword {keyword:?}"
            ))
        })?;
    match Op::parse(op) {
        Some(Op::Ne) | None => Err(AnalyzerError::spec(format!(
            "unknown filesystem performance operator {op:?}"
        ))),
        Some(op) => Ok(op.holds(actual, desired)),
    }
}

/// A message rendered over the latencies (`{{ .P99 }}` prints `1.5ms`); left as written when it
/// does not render, as troubleshoot.
fn render(message: &str, lat: &[(&str, &str, i64)]) -> String {
    let data: Map<String, Value> = lat
        .iter()
        .map(|(_, field, ns)| ((*field).to_string(), Value::String(go_duration(*ns))))
        .collect();
    template::render(message, &Value::Object(data), Missing::Empty)
        .unwrap_or_else(|_| message.to_string())
}

pub(super) fn filesystem_performance(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/filesystemPerformance";
    let title = meta.title("Filesystem Performance");
    let file = format!(
        "{}.json",
        common::collector_name(body, "filesystemPerformance")
    );
    let local = format!("{BASE}/{file}");
    let outcomes = outcome::parse(body)?;
    let files = match common::collected(ctx, &local, BASE, &file) {
        Ok(files) => files,
        Err(e) => {
            // A first outcome `when: fileNotCollected` turns a file that cannot be read into
            // that outcome.
            return match outcomes.first() {
                Some(o) if o.when == FILE_NOT_COLLECTED && o.severity.is_some() => {
                    let mut r = common::result_of(&title, NO_ICON, o);
                    r.message = render(&o.message, &latencies(&FioNs::default()));
                    Ok(vec![r])
                }
                Some(_) => Err(AnalyzerError::spec(format!(
                    "failed to get collected file {local}: {e}"
                ))),
                None => Ok(Vec::new()),
            };
        }
    };
    let mut out = Vec::new();
    for f in &files {
        let title = f.title(&title);
        let fio: FioResult = f.decode("fio results")?;
        let job = fio
            .jobs
            .unwrap_or_default()
            .into_iter()
            .find(|j| j.jobname == "fsperf")
            .ok_or_else(|| {
                AnalyzerError::data(
                    &f.path,
                    format!("no job named 'fsperf' found in fio results from {title}"),
                )
            })?;
        let lat = latencies(&job.sync.lat_ns);
        let hit = outcome::first_match(&outcomes, |when| {
            latency_holds(when, &lat).map_err(|e| common::compare_error(when, e))
        })?;
        // No outcome matched: a result with the title and no severity, as troubleshoot.
        let mut r = AnalyzeResult::new(title, NO_ICON);
        if let Some(o) = hit {
            r = r.with(o);
            r.message = render(&o.message, &lat);
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_go() {
        for (text, ns) in [
            ("10ms", 10_000_000),
            ("1.5s", 1_500_000_000),
            ("100us", 100_000),
            ("100µs", 100_000),
            ("2h45m", 9_900_000_000_000),
            ("-3ns", -3),
            ("0", 0),
        ] {
            assert_eq!(parse_duration(text), Ok(ns), "{text}");
        }
        for bad in ["", "10", "ms", "1x", "1.2.3s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for (ns, text) in [
            (0, "0s"),
            (850, "850ns"),
            (1_500, "1.5µs"),
            (2_250_000, "2.25ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
        ] {
            assert_eq!(go_duration(ns), text, "{ns}");
        }
    }
}
