//! `cpu`, `time` and `hostOS`: facts about the host itself, from `host-collectors/system/`.

use super::super::outcome::Op;
use super::super::semver::{Range, SemverError, Version};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde::Deserialize;
use serde_json::Value;

/// `system/cpu.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct CpuInfo {
    #[serde(rename = "logicalCount")]
    logical: i64,
    #[serde(rename = "physicalCount")]
    physical: i64,
    flags: Option<Vec<String>>,
    #[serde(rename = "machineArch")]
    machine_arch: String,
}

/// The flags each x86-64 micro-architecture level adds to the one below (the psABI levels).
const X86_64_LEVELS: [(&str, &[&str]); 4] = [
    (
        "x86-64",
        &[
            "cmov", "cx8", "fpu", "fxsr", "mmx", "syscall", "sse", "sse2",
        ],
    ),
    (
        "x86-64-v2",
        &["cx16", "lahf_lm", "popcnt", "ssse3", "sse4_1", "sse4_2"],
    ),
    (
        "x86-64-v3",
        &[
            "avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave",
        ],
    ),
    (
        "x86-64-v4",
        &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"],
    ),
];

/// Whether `flags` has every flag of `level` and of the levels below it.
fn supports(level: &str, flags: &[String]) -> Result<bool, AnalyzerError> {
    let top = X86_64_LEVELS
        .iter()
        .position(|(name, _)| *name == level)
        .ok_or_else(|| {
            AnalyzerError::spec(format!(
                "troubleshoot does not yet support microarchitecture {level:?} \
                 (known: x86-64, x86-64-v2, x86-64-v3, x86-64-v4)"
            ))
        })?;
    Ok(X86_64_LEVELS[..=top]
        .iter()
        .flat_map(|(_, needed)| needed.iter())
        .all(|f| flags.iter().any(|have| have == f)))
}

fn int_compare(op: &str, desired: &str, actual: i64) -> Result<bool, AnalyzerError> {
    let desired: i64 = desired
        .parse()
        .map_err(|_| AnalyzerError::spec(format!("failed to parse {desired:?} as an integer")))?;
    let op = Op::parse(op).ok_or_else(|| AnalyzerError::spec("unknown operator"))?;
    Ok(op.holds(actual, desired))
}

/// The `cpu` grammar: `[logical|physical|count] <op> <n>`, `machineArch <op> <arch>`,
/// `supports <level>`, `hasFlags a,b,c`.
fn cpu_holds(when: &str, cpu: &CpuInfo) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let (subject, op, desired) = match parts.as_slice() {
        [subject, op, desired] => (Some(subject.to_lowercase()), *op, *desired),
        [op, desired] => (None, *op, *desired),
        _ => return Err(AnalyzerError::spec("unable to parse conditional")),
    };
    let flags = cpu.flags.as_deref().unwrap_or(&[]);
    match op.to_lowercase().as_str() {
        "supports" => return supports(desired, flags),
        "hasflags" => {
            return Ok(desired.split(',').all(|f| flags.iter().any(|h| h == f)));
        }
        _ => {}
    }
    match subject.as_deref() {
        Some("logical") => int_compare(op, desired, cpu.logical),
        Some("physical") => int_compare(op, desired, cpu.physical),
        None | Some("count") => int_compare(op, desired, cpu.logical.max(cpu.physical)),
        Some("machinearch") => match Op::parse(op) {
            Some(Op::Eq) => Ok(cpu.machine_arch == desired),
            Some(Op::Ne) => Ok(cpu.machine_arch != desired),
            _ => Err(AnalyzerError::spec("unknown operator")),
        },
        Some(_) => Err(AnalyzerError::spec("unable to parse conditional")),
    }
}

pub(super) fn cpu(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        ("host-collectors/system/cpu.json", SYSTEM_DIR, "cpu.json"),
        (&meta.title("Number of CPUs"), NO_ICON, "CPUInfo"),
        cpu_holds,
    )
}

/// `system/time.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TimeInfo {
    timezone: String,
    ntp_synchronized: bool,
    ntp_active: bool,
}

const NTP_STATES: [&str; 4] = [
    "synchronized+active",
    "synchronized+inactive",
    "unsynchronized+active",
    "unsynchronized+inactive",
];

/// The `time` grammar: `timezone ==|!= <TZ>`, `ntp == <synchronized|unsynchronized>+<active|inactive>`.
fn time_holds(when: &str, t: &TimeInfo) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [subject, op, value] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "Expected exactly 3 parts, got {}",
            parts.len()
        )));
    };
    match *subject {
        "timezone" => match *op {
            "=" | "==" | "===" => Ok(*value == t.timezone),
            "!=" => Ok(*value != t.timezone),
            _ => Err(AnalyzerError::spec(
                r#"Only supported operators are "==" and "!=""#,
            )),
        },
        "ntp" => {
            if !matches!(*op, "=" | "==" | "===") {
                return Err(AnalyzerError::spec(r#"Only supported operator is "==""#));
            }
            let state = NTP_STATES.iter().position(|s| s == value).ok_or_else(|| {
                AnalyzerError::spec(format!(
                    "Unknown status {value:?}. Allowed values are {}",
                    NTP_STATES.join(", ")
                ))
            })?;
            let want_sync = state < 2;
            let want_active = state % 2 == 0;
            Ok(t.ntp_synchronized == want_sync && t.ntp_active == want_active)
        }
        other => Err(AnalyzerError::spec(format!("Unknown keyword: {other}"))),
    }
}

pub(super) fn time(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        ("host-collectors/system/time.json", SYSTEM_DIR, "time.json"),
        (&meta.title("Time"), NO_ICON, "TimeInfo"),
        time_holds,
    )
}

/// `system/hostos_info.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HostOsInfo {
    #[serde(rename = "kernelVersion")]
    kernel_version: String,
    #[serde(rename = "platformVersion")]
    platform_version: String,
    platform: String,
    #[serde(rename = "platformFamily")]
    platform_family: String,
}

/// A distro or kernel version made comparable: a leading zero dropped from each dot part
/// (`20.04` → `20.4`), then only the leading `N[.N[.N]]` kept (`5.15.0-91-generic` → `5.15.0`).
fn fix_version(text: &str) -> String {
    let unpadded: Vec<&str> = text
        .split('.')
        .map(|p| {
            if p == "0" {
                p
            } else {
                p.strip_prefix('0').unwrap_or(p)
            }
        })
        .collect();
    let joined = unpadded.join(".");
    let mut out = String::new();
    let mut dots = 0;
    for c in joined.chars() {
        if c.is_ascii_digit() {
            out.push(c);
        } else if c == '.' && dots < 2 && !out.is_empty() {
            dots += 1;
            out.push(c);
        } else {
            break;
        }
    }
    out.trim_end_matches('.').to_string()
}

/// A `hostOS` version that does not parse even tolerantly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse version {text:?}: {source}")]
struct BadVersion {
    text: String,
    source: SemverError,
}

impl From<BadVersion> for AnalyzerError {
    fn from(e: BadVersion) -> AnalyzerError {
        AnalyzerError::spec(e.to_string())
    }
}

/// blang's tolerant parse of an already fixed version: missing parts are zero, leading zeros go;
/// the canonical `MAJOR.MINOR.PATCH` text and the version.
fn tolerant(text: &str) -> Result<(String, Version), BadVersion> {
    let mut parts: Vec<String> = text
        .split('.')
        .map(|p| {
            let t = p.trim_start_matches('0');
            if p.len() > 1 && t.is_empty() {
                "0".to_string()
            } else if p.len() > 1 {
                t.to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    while parts.len() < 3 {
        parts.push("0".into());
    }
    let canonical = parts.join(".");
    Version::parse(&canonical)
        .map(|v| (canonical, v))
        .map_err(|source| BadVersion {
            text: text.to_string(),
            source,
        })
}

/// The range of a `hostOS` `when` (after its first word): `<op> <ver> [&&|\|\| <op> <ver>]...`.
fn os_range(parts: &[&str]) -> Result<Range, AnalyzerError> {
    let spec = |e: String| AnalyzerError::spec(e);
    let ver = |p: &str| -> Result<String, AnalyzerError> { Ok(tolerant(&fix_version(p))?.0) };
    let mut range = format!("{} {}", parts[1], ver(parts[2])?);
    for triple in parts[3..].chunks(3) {
        let v = ver(triple[2])?;
        match triple[0] {
            "||" => range = format!("{range} || {} {v}", triple[1]),
            "&&" => range = format!("{range} {} {v}", triple[1]),
            other => {
                return Err(spec(format!(
                    "invalid conditional, expected either && or ||, got {other:?}"
                )));
            }
        }
    }
    Range::parse(&range).map_err(|e| spec(format!("failed to parse version range: {e}")))
}

/// The `hostOS` grammar: `<platform|platformFamily|kernelVersion|<platform>-<ver>-kernel> <range>`.
fn os_holds(when: &str, os: &HostOsInfo) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    if parts.len() < 3 {
        return Err(AnalyzerError::spec(
            "when condition must have at least 3 parts",
        ));
    }
    if !parts.len().is_multiple_of(3) {
        return Err(AnalyzerError::spec(
            "when condition must have a multiple of 3 parts, such as 'ubuntu == 20.04' or 'rhel >= 8 && < 9'",
        ));
    }
    let range = os_range(&parts)?;
    let in_range = |text: &str| -> Result<bool, AnalyzerError> {
        let (_, v) = tolerant(&fix_version(text))?;
        Ok(range.contains(&v))
    };
    let subject = parts[0];
    if subject == "kernelVersion" && in_range(&os.kernel_version)? {
        return Ok(true);
    }
    let pieces: Vec<&str> = subject.split('-').collect();
    if pieces.len() == 3 && pieces[2] == "kernel" {
        let this = format!("{}-{}-kernel", os.platform, os.platform_version);
        return Ok(subject == this && in_range(&os.kernel_version)?);
    }
    if subject == os.platform || subject == os.platform_family {
        return in_range(&os.platform_version);
    }
    Ok(false)
}

pub(super) fn host_os(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/hostos_info.json",
            SYSTEM_DIR,
            "hostos_info.json",
        ),
        (&meta.title("Host OS Info"), NO_ICON, "HostOSInfo"),
        os_holds,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_made_tolerant_like_troubleshoot() {
        assert_eq!(fix_version("20.04"), "20.4");
        // As troubleshoot: the `0` of `0-91-generic` is taken for a leading zero.
        assert_eq!(fix_version("5.15.0-91-generic"), "5.15");
        assert_eq!(fix_version("5.15.3-91-generic"), "5.15.3");
        assert_eq!(fix_version("8"), "8");
        assert_eq!(fix_version("7.9.2009"), "7.9.2009");
        assert_eq!(fix_version("4.18.0-477.el8.x86_64"), "4.18");
        assert_eq!(fix_version("abc"), "");
        assert!(tolerant("").is_err());
        assert_eq!(tolerant("20.4").map(|(t, _)| t), Ok("20.4.0".into()));
    }
}
