//! Names and small text files of the troubleshoot bundle layout (TROUBLESHOOT-FORMAT.md §1.1-1.2).
//!
//! Everything here is a pure function of its arguments: the clock is never read, so callers
//! decide the timestamp (local time, as `support-bundle` does) and tests are exact.

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::time::Duration;

use chrono::NaiveDateTime;

use super::{StepTiming, TimingStatus};

/// Go layout `2006-01-02T15_04_05` written as a chrono format string.
const NAME_TIME_FORMAT: &str = "%Y-%m-%dT%H_%M_%S";

/// The archive base name (no `.tar.gz`), e.g. `nightly-2025-12-10T17_26_38`; it is also the top folder.
pub fn archive_name(job: &str, at: NaiveDateTime) -> String {
    format!("{job}-{}", at.format(NAME_TIME_FORMAT))
}

/// `version.yaml` as Go `yaml.v2` writes it: three top-level keys and a 2-space nested `versionNumber`.
pub fn version_yaml(tool_version: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  versionNumber: {}\n",
        yaml_scalar(tool_version)
    )
}

/// Renders a plain YAML string scalar, quoting it only when yaml.v2 would (so `v0.1.0` stays bare).
fn yaml_scalar(s: &str) -> String {
    if needs_quotes(s) {
        let mut out = String::with_capacity(s.len() + 2);
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => {
                    let _ = write!(out, "\\u{:04x}", u32::from(c));
                }
                c => out.push(c),
            }
        }
        out.push('"');
        out
    } else {
        s.to_owned()
    }
}

/// True when a bare scalar would not read back as the same string (empty, number, bool, null,
/// leading indicator, `: ` or ` #`, surrounding spaces, control characters).
fn needs_quotes(s: &str) -> bool {
    if s.is_empty() || s.trim() != s {
        return true;
    }
    let lower = s.to_ascii_lowercase();
    // YAML 1.1 booleans and nulls, which yaml.v2 resolves to non-strings.
    const SPECIAL: &[&str] = &[
        "y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", ".nan", ".inf", "-.inf",
        "+.inf",
    ];
    if SPECIAL.contains(&lower.as_str()) {
        return true;
    }
    if looks_numeric(s) {
        return true;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x`, `?x`, `:x` are legal plain scalars, but yaml.v2 quotes them; quoting is always safe.
        return true;
    }
    s.contains(": ") || s.contains(" #") || s.ends_with(':') || s.chars().any(char::is_control)
}

/// Integers (with `_`, hex, octal) and floats in YAML 1.1 spelling.
fn looks_numeric(s: &str) -> bool {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return false;
    }
    if let Some(hex) = body.strip_prefix("0x") {
        return !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() || c == '_');
    }
    let mut digits = 0;
    let mut dots = 0;
    let mut exp = false;
    for (i, c) in body.char_indices() {
        match c {
            '0'..='9' => digits += 1,
            '_' => {}
            '.' => dots += 1,
            'e' | 'E' if digits > 0 && !exp => {
                exp = true;
                // an exponent needs a sign or digit after it
                if body[i + 1..].is_empty() {
                    return false;
                }
            }
            '+' | '-' if exp => {}
            _ => return false,
        }
    }
    digits > 0 && dots <= 1
}

/// Header line of a section, exactly as upstream prints it (the widths differ per section).
const COLLECTORS_HEADER: &str = "============ Collectors summary =============";
const REDACTORS_HEADER: &str = "============ Redactors summary =============";
const ANALYZERS_HEADER: &str = "============= Analyzers summary =============";
const LEGEND: &str = "Succeeded (S), eXcluded (X), Failed (F)";
const RULE: &str = "=============================================";

/// `execution-data/summary.txt`: per-phase timings, slowest first, and the total duration.
///
/// The layout copies the baseline bundle's file: names padded to the widest label, ` : `, the
/// duration in whole milliseconds with thousands separators. Collectors and analyzers carry an
/// S/X/F marker; redactors are listed without one, as upstream does. Ties keep input order.
pub fn summary_txt(
    collectors: &[StepTiming],
    redactors: &[StepTiming],
    analyzers: &[StepTiming],
    total: Duration,
) -> String {
    summary_txt_with_redaction(collectors, redactors, &[], analyzers, total)
}

/// [`summary_txt`] with lines about what redaction did (which redactors ran, how many
/// replacements) in the redactors section: the agent redacts the whole tree in one pass, so it
/// has no per-redactor timings, and "No redactors executed" would not be true.
pub fn summary_txt_with_redaction(
    collectors: &[StepTiming],
    redactors: &[StepTiming],
    redaction: &[String],
    analyzers: &[StepTiming],
    total: Duration,
) -> String {
    let mut out = String::new();
    out.push_str(COLLECTORS_HEADER);
    out.push('\n');
    out.push_str(LEGEND);
    out.push('\n');
    out.push_str(RULE);
    out.push('\n');
    push_timings(&mut out, collectors, true, "No collectors executed");
    out.push('\n');

    out.push_str(REDACTORS_HEADER);
    out.push('\n');
    // Upstream's wording for an empty redactor list is not in the corpus; this mirrors the others.
    if redaction.is_empty() || !redactors.is_empty() {
        push_timings(&mut out, redactors, false, "No redactors executed");
    }
    for line in redaction {
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');

    out.push_str(ANALYZERS_HEADER);
    out.push('\n');
    out.push_str(LEGEND);
    out.push('\n');
    out.push_str(RULE);
    out.push('\n');
    push_timings(&mut out, analyzers, true, "No analyzers executed");
    out.push('\n');

    let _ = writeln!(out, "Duration: {}ms", comma_ms(total));
    out
}

/// Appends one line per timing, slowest first, or `empty` when there is none.
fn push_timings(out: &mut String, items: &[StepTiming], marker: bool, empty: &str) {
    if items.is_empty() {
        out.push_str(empty);
        out.push('\n');
        return;
    }
    let mut sorted: Vec<&StepTiming> = items.iter().collect();
    // Stable sort: equal durations keep the order the caller ran them in.
    sorted.sort_by_key(|t| std::cmp::Reverse(t.duration));
    let labels: Vec<String> = sorted
        .iter()
        .map(|t| {
            if marker {
                format!("{} ({})", t.name, t.status.marker())
            } else {
                t.name.clone()
            }
        })
        .collect();
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    for (label, t) in labels.iter().zip(&sorted) {
        let _ = writeln!(out, "{label:<width$} : {}ms", comma_ms(t.duration));
    }
}

/// Whole milliseconds (truncated, like Go's `Duration.Milliseconds`) with `,` every three digits.
fn comma_ms(d: Duration) -> String {
    let digits = d.as_millis().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl TimingStatus {
    /// The one-letter marker used in summary.txt.
    pub fn marker(self) -> char {
        match self {
            TimingStatus::Succeeded => 'S',
            TimingStatus::Skipped => 'X',
            TimingStatus::Failed => 'F',
        }
    }
}

/// Why a top-folder name is unusable, or `None` when it is a single plain path component.
pub(crate) fn top_problem(top: &str) -> Option<&'static str> {
    if top.is_empty() {
        Some("it is empty")
    } else if top == "." || top == ".." {
        Some("it is `.` or `..`")
    } else if top.contains('/') || top.contains('\\') {
        Some("it contains a path separator")
    } else if top.contains('\0') {
        Some("it contains a NUL byte")
    } else {
        None
    }
}

/// Marker between the final name and the pid in a temp file name.
const TEMP_MARK: &str = ".tmp-";

/// The temp name `.<name>.tmp-<pid>` used while `name` is being written.
pub(crate) fn temp_name(name: &OsStr, pid: u32) -> std::ffi::OsString {
    let mut s = std::ffi::OsString::from(".");
    s.push(name);
    s.push(format!("{TEMP_MARK}{pid}"));
    s
}

/// The pid in a temp name made by [`temp_name`], or `None` for any other name.
pub(crate) fn temp_pid(name: &OsStr) -> Option<u32> {
    let s = name.to_str()?;
    let rest = s.strip_prefix('.')?;
    let idx = rest.rfind(TEMP_MARK)?;
    if idx == 0 {
        return None;
    }
    let pid = &rest[idx + TEMP_MARK.len()..];
    if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, s)
            .unwrap()
    }

    #[test]
    fn archive_name_uses_the_go_layout() {
        assert_eq!(
            archive_name("support-bundle", at(2025, 12, 10, 17, 26, 38)),
            "support-bundle-2025-12-10T17_26_38"
        );
        assert_eq!(
            archive_name("nightly", at(2026, 1, 2, 3, 4, 5)),
            "nightly-2026-01-02T03_04_05"
        );
    }

    #[test]
    fn version_yaml_matches_the_baseline_bytes() {
        // The baseline bundle's version.yaml, byte for byte (101 bytes).
        let baseline = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  versionNumber: v0.123.14-14-gf6c4386\n";
        assert_eq!(version_yaml("v0.123.14-14-gf6c4386"), baseline);
        assert_eq!(baseline.len(), 101);
        assert!(version_yaml("0.1.0").ends_with("versionNumber: 0.1.0\n"));
    }

    #[test]
    fn version_yaml_quotes_what_would_not_read_back_as_a_string() {
        assert!(version_yaml("").ends_with("versionNumber: \"\"\n"));
        assert!(version_yaml("1.0").ends_with("versionNumber: \"1.0\"\n"));
        assert!(version_yaml("2").ends_with("versionNumber: \"2\"\n"));
        assert!(version_yaml("true").ends_with("versionNumber: \"true\"\n"));
        assert!(version_yaml("a: b").ends_with("versionNumber: \"a: b\"\n"));
        assert!(version_yaml("v1 #x").ends_with("versionNumber: \"v1 #x\"\n"));
        assert!(version_yaml("1.2.3").ends_with("versionNumber: 1.2.3\n"));
        assert!(version_yaml("dev").ends_with("versionNumber: dev\n"));
    }

    fn t(name: &str, status: TimingStatus, ms: u64) -> StepTiming {
        StepTiming {
            name: name.into(),
            status,
            duration: Duration::from_millis(ms),
        }
    }

    /// The baseline bundle's execution-data/summary.txt (1925 bytes), regenerated from its own numbers.
    #[test]
    fn summary_reproduces_the_baseline_file() {
        use TimingStatus::{Failed as F, Succeeded as S};
        let collectors = [
            t("goldpinger", S, 11128),
            t("dns", S, 4896),
            t("run/run-example", S, 4047),
            t("sysctl/sysctl-example", S, 3222),
            t("run-pod/run-pod-example", S, 3027),
            t("run-daemonset/run-daemonset-example", S, 2022),
            t("collectd/collectd-example", S, 1068),
            t("copy-from-host/copy-from-host-example", S, 1066),
            t("registry-images/registry-images-example", S, 475),
            t("cluster-resources", S, 354),
            t("http/http-get-example", S, 148),
            t("node-metrics", S, 14),
            t("ceph/ceph-example", S, 5),
            t("helm", S, 4),
            t("exec/exec-example", S, 2),
            t("sonobuoy", F, 2),
            t("copy/copy-example", S, 2),
            t("etcd", F, 2),
            t("logs/example-logs", S, 2),
            t("certificates", S, 1),
            t("configmap/example-configmap", S, 1),
            t("secret/example-secret", S, 1),
            t("longhorn/longhorn-example", S, 1),
            t("cluster-info", S, 1),
            t("postgres/postgres-example", S, 1),
            t("mysql/mysql-example", S, 0),
            t("mssql/mssql-example", S, 0),
            t("redis/redis-example", S, 0),
            t("custom-metrics/custom-metrics", S, 0),
            t("data/static-data", S, 0),
        ];
        let redactors = [t("In-cluster collectors", S, 1108)];
        let got = summary_txt(&collectors, &redactors, &[], Duration::from_millis(32635));
        let expected = include_str!("testdata/baseline-summary.txt");
        assert_eq!(got, expected);
        assert_eq!(got.len(), 1925);
    }

    #[test]
    fn summary_sorts_slowest_first_and_truncates_to_ms() {
        use TimingStatus::*;
        let got = summary_txt(
            &[t("a", Succeeded, 1), t("bbbb", Skipped, 2500)],
            &[],
            &[t("x", Failed, 1_234_567)],
            Duration::from_micros(1999),
        );
        assert!(
            got.contains("bbbb (X) : 2,500ms\na (S)    : 1ms\n"),
            "{got}"
        );
        assert!(got.contains("No redactors executed\n"));
        assert!(got.contains("x (F) : 1,234,567ms\n"));
        assert!(got.ends_with("\nDuration: 1ms\n"));
        let empty = summary_txt(&[], &[], &[], Duration::ZERO);
        assert!(empty.contains("No collectors executed\n"));
        assert!(empty.contains("No analyzers executed\n"));
    }

    #[test]
    fn comma_grouping() {
        assert_eq!(comma_ms(Duration::from_millis(0)), "0");
        assert_eq!(comma_ms(Duration::from_millis(999)), "999");
        assert_eq!(comma_ms(Duration::from_millis(1000)), "1,000");
        assert_eq!(comma_ms(Duration::from_millis(123_456)), "123,456");
        assert_eq!(comma_ms(Duration::from_millis(1_234_567)), "1,234,567");
    }

    #[test]
    fn top_names() {
        assert!(top_problem("support-bundle-2025-12-10T17_26_38").is_none());
        for bad in ["", ".", "..", "a/b", "a\\b", "a\0b"] {
            assert!(top_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn temp_names_round_trip() {
        let n = temp_name(OsStr::new("x.tar.gz"), 42);
        assert_eq!(n, ".x.tar.gz.tmp-42");
        assert_eq!(temp_pid(&n), Some(42));
        for other in [
            "x.tar.gz",
            ".x.tar.gz",
            ".tmp-4",
            ".x.tmp-",
            ".x.tmp-4a",
            "a.tmp-4",
        ] {
            assert_eq!(temp_pid(OsStr::new(other)), None, "{other}");
        }
    }
}
