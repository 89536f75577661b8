//! `sysctl` and `kernelConfigs`: kernel parameters and build options.

use super::super::outcome::{Op, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::LazyLock;

/// `<param> <op> <value>`, found anywhere in `when` (as troubleshoot, not anchored).
static SYSCTL_WHEN: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"([^\s]+)\s+([><=]=*)\s+(.+)").expect("a valid pattern"));

/// The `sysctl` grammar: `<param> ==|<|<=|>|>= <value>`; `==` compares text, the others
/// integers. A parameter the host does not have is an error.
fn sysctl_holds(when: &str, values: &HashMap<String, String>) -> Result<bool, AnalyzerError> {
    let caps = SYSCTL_WHEN
        .captures(when)
        .ok_or_else(|| AnalyzerError::spec(format!("expected 3 parts in when {when:?}")))?;
    let (param, op_text, expected) = (&caps[1], &caps[2], &caps[3]);
    let op = Op::parse(op_text).ok_or_else(|| {
        AnalyzerError::spec(format!("failed to parse comparison operator {op_text:?}"))
    })?;
    let actual = values.get(param).ok_or_else(|| {
        AnalyzerError::spec(format!(
            "kernel parameter {param:?} does not exist on collected sysctl output"
        ))
    })?;
    if op == Op::Eq {
        return Ok(expected == actual);
    }
    let actual: i64 = actual.parse().map_err(|_| {
        AnalyzerError::spec(format!(
            "collected sysctl param {param:?} has value {actual:?}, cannot be used with provided operator {op_text:?}"
        ))
    })?;
    let wanted: i64 = expected.parse().map_err(|_| {
        AnalyzerError::spec(format!(
            "expected value for sysctl param {param:?} has value {expected:?}, cannot be used with provided operator {op_text:?}"
        ))
    })?;
    Ok(op.holds(actual, wanted))
}

pub(super) fn sysctl(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/sysctl.json",
            SYSTEM_DIR,
            "sysctl.json",
        ),
        (&meta.title("Sysctl"), NO_ICON, "a map of sysctl values"),
        |when, values: &Option<HashMap<String, String>>| {
            sysctl_holds(when, values.as_ref().unwrap_or(&HashMap::new()))
        },
    )
}

/// A `selectedConfigs` item: `CONFIG_X=<one or more of y, m, n>`.
static KCONFIG: LazyLock<regex::Regex> = LazyLock::new(|| {
    regex::Regex::new(r"^(CONFIG_[A-Z0-9_]+)=([ymn]+)$").expect("a valid pattern")
});

/// The selected configs the host does not have with one of the wanted values.
fn configs_not_found(
    selected: &[String],
    configs: &HashMap<String, String>,
) -> Result<Vec<String>, AnalyzerError> {
    let mut missing = Vec::new();
    for config in selected {
        let caps = KCONFIG
            .captures(config)
            .ok_or_else(|| AnalyzerError::spec(format!("invalid kernel config: {config}")))?;
        let ok = configs
            .get(&caps[1])
            .is_some_and(|value| caps[2].contains(value.as_str()));
        if !ok {
            missing.push(config.clone());
        }
    }
    Ok(missing)
}

/// `kernelConfigs`: pass when every selected config is there, else fail; the first pass or fail
/// outcome that fits wins (`when` is not read), and `{{ .ConfigsNotFound }}` in a fail message
/// lists the missing ones.
pub(super) fn kernel_configs(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let title = meta.title("Kernel Configs");
    let outcomes = super::super::outcome::parse(body)?;
    let selected: Vec<String> = match body.get("selectedConfigs") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::from_value(v.clone())
            .map_err(|_| AnalyzerError::spec("`selectedConfigs` must be a list of CONFIG_X=y"))?,
    };
    let files = common::collected(
        ctx,
        "host-collectors/system/kernel-configs.json",
        SYSTEM_DIR,
        "kernel-configs.json",
    )?;
    common::judged_per_file(
        &files,
        &title,
        |f| {
            let configs: Option<HashMap<String, String>> = f.decode("kernel configs")?;
            let missing = configs_not_found(&selected, &configs.unwrap_or_default())?;
            let hit = outcomes.iter().find(|o| match o.severity {
                Some(Severity::Pass) => missing.is_empty(),
                Some(Severity::Fail) => !missing.is_empty(),
                _ => false,
            });
            Ok(hit.map(|o| (o, missing)))
        },
        |o, missing| match o.severity {
            Some(Severity::Fail) => o
                .message
                .replace("{{ .ConfigsNotFound }}", &missing.join(", ")),
            _ => o.message.clone(),
        },
    )
}
