//! Differential test against Python's `croniter` on random valid expressions.
//!
//! Run it after `python3 -m venv .venv && .venv/bin/pip install croniter` in the crate root (or
//! with `TSA_PYTHON` naming an interpreter that has croniter). A missing oracle fails the test:
//! skipping silently would let parser bugs through unnoticed.
//!
//! Semantics alignment: croniter ORs day-of-month and day-of-week when `day_or=True`, even for
//! `*/2`; Vixie ANDs whenever either field starts with `*`. Passing
//! `day_or = !(dom starts with '*' || dow starts with '*')` gives croniter exactly Vixie's rule,
//! so the star-step quirk stays in the generator instead of being excluded.
//!
//! DST: the two implementations deliberately differ in repeated hours (croniter fires
//! fixed-time jobs twice) and in gaps; those are covered by the golden tests. Here UTC cases
//! compare all fires, and America/New_York cases start in January or July and compare only the
//! fires within 45 days of the start, a window that contains no transition.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use troubleshoot_agent::schedule::{Schedule, ScheduleError};

const CASES_PER_ZONE: usize = 2_000;
const FIRES_PER_CASE: usize = 5;
const DST_SAFE_WINDOW_DAYS: i64 = 45;

/// xorshift64*: a few lines, deterministic across platforms and releases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi - lo + 1)) as u32
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// A value, sometimes spelled as a name where the field has names.
fn value(rng: &mut Rng, v: u32, lo: u32, names: &[&str]) -> String {
    let index = (v - lo) as usize;
    if !names.is_empty() && index < names.len() && rng.chance(30) {
        names[index].to_string()
    } else {
        v.to_string()
    }
}

/// A range `a-b` with `a < b`. Degenerate ranges (`16-16`, `21-21/24`) are valid Vixie (the
/// single value) but croniter 7.0.0 mis-expands them (`16-16` becomes `*`, `7-7/3` becomes
/// 0,3,6), so the generator leaves them out.
fn range_bounds(rng: &mut Rng, lo: u32, hi: u32) -> (u32, u32) {
    let a = rng.range(lo, hi - 1);
    (a, rng.range(a + 1, hi))
}

/// One list item: a value, a range, a stepped range or a stepped star.
fn item(rng: &mut Rng, lo: u32, hi: u32, names: &[&str]) -> String {
    match rng.below(5) {
        0 | 1 => {
            let v = rng.range(lo, hi);
            value(rng, v, lo, names)
        }
        2 => {
            let (a, b) = range_bounds(rng, lo, hi);
            format!("{}-{}", value(rng, a, lo, names), value(rng, b, lo, names))
        }
        3 => {
            let (a, b) = range_bounds(rng, lo, hi);
            let step = rng.range(1, hi - lo + 2);
            format!("{a}-{b}/{step}")
        }
        _ => format!("*/{}", rng.range(1, hi - lo + 1)),
    }
}

fn field(rng: &mut Rng, lo: u32, hi: u32, names: &[&str], star_percent: u64) -> String {
    if rng.chance(star_percent) {
        return "*".to_string();
    }
    let count = 1 + rng.below(3);
    (0..count)
        .map(|_| item(rng, lo, hi, names))
        .collect::<Vec<_>>()
        .join(",")
}

/// Hours for the DST zone avoid 01:00-02:59, where New York's transitions happen.
fn dst_safe_hours(rng: &mut Rng) -> String {
    if rng.chance(20) {
        return "*".to_string();
    }
    let count = 1 + rng.below(3);
    (0..count)
        .map(|_| match rng.below(3) {
            0 => rng.range(3, 23).to_string(),
            1 => {
                let (a, b) = range_bounds(rng, 3, 23);
                format!("{a}-{b}")
            }
            _ => format!("{}-23/{}", rng.range(3, 22), rng.range(1, 8)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The values a generated field selects (test-side expansion, independent of the crate).
fn expand(field: &str, lo: u32, hi: u32, names: &[&str]) -> Vec<u32> {
    let value = |t: &str| -> u32 {
        t.parse()
            .unwrap_or_else(|_| lo + names.iter().position(|n| *n == t).unwrap() as u32)
    };
    let mut out = Vec::new();
    for item in field.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, s.parse::<u32>().unwrap()),
            None => (item, 1),
        };
        let (a, b) = match base.split_once('-') {
            _ if base == "*" => (lo, hi),
            Some((a, b)) => (value(a), value(b)),
            None => (value(base), value(base)),
        };
        out.extend((a..=b).step_by(step as usize));
    }
    out
}

/// A day field that does not start with `*` yet selects every value. Vixie still treats it as
/// restricted (OR with the other day field, so every day matches); croniter 7.0.0 collapses it
/// to `*` and then uses only the other field. Left out of the generator.
fn covers_whole_range(field: &str, lo: u32, hi: u32, names: &[&str], days: u32) -> bool {
    if field.starts_with('*') {
        return false;
    }
    let mut values: Vec<u32> = expand(field, lo, hi, names)
        .into_iter()
        .map(|v| if days == 7 { v % 7 } else { v })
        .collect();
    values.sort_unstable();
    values.dedup();
    values.len() as u32 == days
}

fn expression(rng: &mut Rng, dst_zone: bool) -> String {
    loop {
        let expr = candidate_expression(rng, dst_zone);
        let fields: Vec<&str> = expr.split_whitespace().collect();
        if !covers_whole_range(fields[2], 1, 31, &[], 31)
            && !covers_whole_range(fields[4], 0, 7, &DAYS, 7)
        {
            return expr;
        }
    }
}

fn candidate_expression(rng: &mut Rng, dst_zone: bool) -> String {
    let minute = field(rng, 0, 59, &[], 25);
    let hour = if dst_zone {
        dst_safe_hours(rng)
    } else {
        field(rng, 0, 23, &[], 30)
    };
    let dom = field(rng, 1, 31, &[], 50);
    let month = field(rng, 1, 12, &MONTHS, 60);
    let dow = field(rng, 0, 7, &DAYS, 50);
    format!("{minute} {hour} {dom} {month} {dow}")
}

fn python() -> PathBuf {
    if let Ok(path) = std::env::var("TSA_PYTHON") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python")
}

fn require_croniter(python: &Path) {
    let ok = Command::new(python)
        .args(["-c", "import croniter"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(
        ok,
        "croniter is not importable with {}.\nRun in the crate root:\n    python3 -m venv .venv && .venv/bin/pip install croniter\n\
         or set TSA_PYTHON to an interpreter that has croniter, then rerun:\n    cargo test --test schedule_croniter",
        python.display()
    );
}

struct Case {
    expr: String,
    tz: &'static str,
    start: DateTime<Utc>,
    ours: Vec<DateTime<Utc>>,
}

#[test]
fn agrees_with_croniter_on_random_expressions() {
    let python = python();
    require_croniter(&python);

    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let mut cases = Vec::new();
    let mut never_firing = 0;
    for (tz, dst_zone) in [("UTC", false), ("America/New_York", true)] {
        let mut made = 0;
        while made < CASES_PER_ZONE {
            let expr = expression(&mut rng, dst_zone);
            let schedule = match Schedule::parse(&expr, tz) {
                Ok(s) => s,
                Err(ScheduleError::NeverFires { .. }) => {
                    never_firing += 1;
                    continue;
                }
                Err(e) => panic!("generator produced a rejected expression {expr:?}: {e}"),
            };
            let start = if dst_zone {
                // January or July 5-20, 2025: 45 days on, no transition yet.
                let month = if rng.chance(50) { 1 } else { 7 };
                let base = format!("2025-{month:02}-05T00:00:00Z")
                    .parse::<DateTime<Utc>>()
                    .unwrap();
                base + TimeDelta::seconds(rng.below(15 * 86_400) as i64)
            } else {
                let base = "2020-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
                base + TimeDelta::seconds(rng.below(10 * 365 * 86_400) as i64)
            };
            // Some starts sit exactly on a minute, to exercise "strictly after".
            let start = if rng.chance(30) {
                start - TimeDelta::seconds(i64::from(start.timestamp() as u32 % 60))
            } else {
                start
            };
            let ours = schedule
                .fires_after(start)
                .take(FIRES_PER_CASE)
                .map(|f| f.at)
                .collect();
            cases.push(Case {
                expr,
                tz,
                start,
                ours,
            });
            made += 1;
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("cases.json");
    let output = dir.path().join("results.json");
    let payload: Vec<Value> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let fields: Vec<&str> = c.expr.split_whitespace().collect();
            json!({
                "id": i.to_string(),
                "expr": c.expr,
                "tz": c.tz,
                "start": c.start.timestamp(),
                "n": FIRES_PER_CASE,
                "day_or": !(fields[2].starts_with('*') || fields[4].starts_with('*')),
            })
        })
        .collect();
    std::fs::write(&input, serde_json::to_vec(&payload).unwrap()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/croniter_oracle.py");
    let status = Command::new(&python)
        .arg(&script)
        .arg(&input)
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success(), "the croniter oracle failed: {status}");
    let results: BTreeMap<String, Value> =
        serde_json::from_slice(&std::fs::read(&output).unwrap()).unwrap();

    let mut disagreements = Vec::new();
    let mut compared_fires = 0;
    for (i, case) in cases.iter().enumerate() {
        let theirs: Vec<DateTime<Utc>> = match &results[&i.to_string()] {
            Value::Array(list) => list
                .iter()
                .map(|v| v.as_str().unwrap().parse().unwrap())
                .collect(),
            other => {
                disagreements.push(format!(
                    "{:?} in {} from {}: croniter said {other}",
                    case.expr, case.tz, case.start
                ));
                continue;
            }
        };
        let (ours, theirs) = if case.tz == "UTC" {
            (case.ours.clone(), theirs)
        } else {
            let cutoff = case.start + TimeDelta::days(DST_SAFE_WINDOW_DAYS);
            let within = |v: &[DateTime<Utc>]| {
                v.iter()
                    .copied()
                    .filter(|t| *t < cutoff)
                    .collect::<Vec<_>>()
            };
            (within(&case.ours), within(&theirs))
        };
        compared_fires += ours.len();
        if ours != theirs {
            disagreements.push(format!(
                "{:?} in {} from {}:\n    ours:     {:?}\n    croniter: {:?}",
                case.expr, case.tz, case.start, ours, theirs
            ));
        }
    }
    println!(
        "croniter differential: {} cases ({} fires) compared, {} disagreements, {} never-firing expressions regenerated",
        cases.len(),
        compared_fires,
        disagreements.len(),
        never_firing
    );
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree; first ones:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
