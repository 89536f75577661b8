//! `hostServices`, `kernelModules` and `systemPackages`: what is running, loaded and installed.

use super::super::outcome::{self, Outcome, Severity};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// One row of `system/systemctl_services.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Service {
    #[serde(rename = "Unit")]
    unit: String,
    #[serde(rename = "Load")]
    load: String,
    #[serde(rename = "Active")]
    active: String,
    #[serde(rename = "Sub")]
    sub: String,
}

/// The `hostServices` grammar: `<unit prefix> ==|!= <active>[,<sub>[,<load>]]`, `*` or empty
/// for "any"; only the first unit whose name starts with the prefix is judged.
fn services_hold(when: &str, services: &[Service]) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [name, op, wanted] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "expected exactly 3 parts, got {}",
            parts.len()
        )));
    };
    let mut wanted = wanted.split(',');
    type Field = fn(&Service) -> &str;
    let checks: Vec<(&str, Field)> = vec![
        (wanted.next().unwrap_or(""), |s| &s.active),
        (wanted.next().unwrap_or(""), |s| &s.sub),
        (wanted.next().unwrap_or(""), |s| &s.load),
    ];
    let checks: Vec<_> = checks
        .into_iter()
        .filter(|(w, _)| !w.is_empty() && *w != "*")
        .collect();
    let equal = match *op {
        "=" | "==" => true,
        "!=" | "<>" => false,
        other => {
            return Err(AnalyzerError::spec(format!(
                "unexpected operator {other:?}"
            )));
        }
    };
    let Some(service) = services.iter().find(|s| s.unit.starts_with(name)) else {
        return Ok(false);
    };
    Ok(if equal {
        checks.iter().all(|(w, field)| *w == field(service))
    } else {
        checks.iter().any(|(w, field)| *w != field(service))
    })
}

pub(super) fn host_services(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/systemctl_services.json",
            SYSTEM_DIR,
            "systemctl_services.json",
        ),
        (&meta.title("Host Services"), NO_ICON, "ServiceInfo"),
        |when, services: &Option<Vec<Service>>| {
            services_hold(when, services.as_deref().unwrap_or(&[]))
        },
    )
}

/// One module of `system/kernel_modules.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Module {
    status: String,
}

/// The `kernelModules` grammar: `<m1,m2> ==|!= <status1,status2>`. `==`: every module is
/// present with one of the statuses. `!=`: some module is absent, or has none of them.
fn modules_hold(when: &str, modules: &HashMap<String, Module>) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [names, op, statuses] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "Expected exactly 3 parts in conditional, got {}",
            parts.len()
        )));
    };
    let statuses: Vec<&str> = statuses.split(',').collect();
    let has_status = |m: &Module| statuses.contains(&m.status.as_str());
    match *op {
        "=" | "==" => Ok(names
            .split(',')
            .all(|n| modules.get(n).is_some_and(has_status))),
        "!=" | "<>" => Ok(names
            .split(',')
            .any(|n| modules.get(n).is_none_or(|m| !has_status(m)))),
        other => Err(AnalyzerError::spec(format!(
            "unexpected operator {other:?}"
        ))),
    }
}

/// `kernelModules` reads only this host's file and, unlike most analyzers, gives every matching
/// conditional outcome, then the first unconditional one that agrees with them (an else-fail only
/// when nothing passed, an else-warn only when nothing passed or failed, an else-pass only when
/// nothing failed); with no result at all, a warn "no results".
pub(super) fn kernel_modules(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const FILE: &str = "host-collectors/system/kernel_modules.json";
    let title = meta.title("Kernel Modules");
    let outcomes = outcome::parse(body)?;
    let data = ctx
        .read(FILE)
        .map_err(|e| AnalyzerError::spec(format!("failed to get collected file: {e}")))?;
    let modules: Option<HashMap<String, Module>> = serde_json::from_slice(&data).map_err(|e| {
        AnalyzerError::data(FILE, format!("failed to unmarshal kernel modules: {e}"))
    })?;
    let modules = modules.unwrap_or_default();
    let mut out = Vec::new();
    let (mut passed, mut failed) = (false, false);
    for o in outcomes.iter().filter(|o| !o.is_else()) {
        let Some(severity) = o.severity else { continue };
        let hit = modules_hold(&o.when, &modules).map_err(|e| common::compare_error(&o.when, e))?;
        if hit {
            passed |= severity == Severity::Pass;
            failed |= severity == Severity::Fail;
            out.push(common::result_of(&title, NO_ICON, o));
        }
    }
    let fallback = outcomes
        .iter()
        .filter(|o| o.is_else())
        .find(|o| match o.severity {
            Some(Severity::Fail) => !passed,
            Some(Severity::Warn) => !passed && !failed,
            Some(Severity::Pass) => !failed,
            None => false,
        });
    if let Some(o) = fallback {
        out.push(common::result_of(&title, NO_ICON, o));
    }
    if out.is_empty() {
        let mut r = AnalyzeResult::new(title, NO_ICON);
        r.severity = Some(Severity::Warn);
        r.message = "no results".into();
        out.push(r);
    }
    Ok(out)
}

/// `system/<name>-packages.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PackagesInfo {
    os: String,
    #[serde(rename = "osVersion")]
    os_version: String,
    packages: Option<Vec<Package>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Package {
    name: String,
    details: String,
    #[serde(rename = "exitCode")]
    exit_code: String,
    error: String,
}

impl Package {
    fn installed(&self) -> bool {
        self.error.is_empty()
            && self.exit_code == "0"
            && !self.details.contains("not installed")
            && !self.details.contains("No matching Packages")
    }
}

/// What `when` and `message` templates see for one package: the OS, the package, whether it is
/// installed, and every `Key: value` line of `dpkg -s` / `rpm -qi` (key without spaces or `-`).
fn package_data(pkg: &Package, os: &str, os_version: &str) -> Value {
    let mut versions = os_version.split('.');
    let number = |p: Option<&str>| p.and_then(|p| p.parse::<i64>().ok()).unwrap_or(0);
    let major = number(versions.next());
    let minor = number(versions.next());
    let mut m = match json!({
        "OS": os,
        "OSVersion": os_version,
        "OSVersionMajor": major,
        "OSVersionMinor": minor,
        "Name": pkg.name,
        "Error": pkg.error,
        "ExitCode": pkg.exit_code,
        "IsInstalled": pkg.installed(),
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    // A details line overrides a field of the same name (`Name : lvm2` of rpm -qi), as in
    // troubleshoot.
    for line in pkg.details.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        if !key.chars().next().is_some_and(char::is_uppercase) {
            continue;
        }
        let key: String = key.chars().filter(|c| *c != ' ' && *c != '-').collect();
        let value = value.trim();
        if !key.is_empty() && !value.is_empty() {
            m.insert(key, value.into());
        }
    }
    Value::Object(m)
}

/// A `systemPackages` `when`: a template rendering to a Go bool. Besides what the shared
/// renderer knows, `{{ not .Field }}` is evaluated here (the common "not installed" check).
fn package_when(when: &str, data: &Value) -> Result<bool, AnalyzerError> {
    if when.is_empty() {
        return Ok(true);
    }
    let inner = when
        .trim()
        .strip_prefix("{{")
        .and_then(|w| w.strip_suffix("}}"))
        .map(|w| w.trim_matches(|c: char| c == '-' || c.is_whitespace()));
    let rendered = match inner.and_then(|w| w.strip_prefix("not ")) {
        Some(field) => {
            let value = template::render(
                &format!("{{{{ {} }}}}", field.trim()),
                data,
                Missing::NoValue,
            )?;
            let truthy = !matches!(value.as_str(), "" | "false" | "0" | "<no value>");
            (!truthy).to_string()
        }
        None => template::render(when, data, Missing::NoValue)?,
    };
    outcome::parse_bool(rendered.trim()).ok_or_else(|| {
        AnalyzerError::spec(format!(
            "failed to parse templated when expression as a boolean: {rendered:?}"
        ))
    })
}

/// One result per package: its first matching outcome, message rendered over the package.
fn packages_of(
    info: &PackagesInfo,
    outcomes: &[Outcome],
    title: &str,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut out = Vec::new();
    for pkg in info.packages.as_deref().unwrap_or(&[]) {
        let data = package_data(pkg, &info.os, &info.os_version);
        for o in outcomes {
            common::severity_of(o)?;
            let hit =
                package_when(&o.when, &data).map_err(|e| common::compare_error(&o.when, e))?;
            if hit {
                let mut r = common::result_of(title, NO_ICON, o);
                r.message = template::render(&o.message, &data, Missing::NoValue)?;
                out.push(r);
                break;
            }
        }
    }
    Ok(out)
}

pub(super) fn system_packages(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let title = meta.title("System Packages");
    let file = format!("{}-packages.json", common::collector_name(body, "packages"));
    let outcomes = outcome::parse(body)?;
    let files = common::collected(ctx, &format!("{SYSTEM_DIR}/{file}"), SYSTEM_DIR, &file)?;
    let mut out = Vec::new();
    for f in &files {
        let title = f.title(&title);
        let info: PackagesInfo = f.decode("SystemPackagesInfo")?;
        out.extend(packages_of(&info, &outcomes, &title)?);
    }
    Ok(out)
}
