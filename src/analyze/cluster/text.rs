//! `textAnalyze`: a regular expression over every file matching `collectorName/fileName`, one
//! result per file (in path order).
//!
//! With `regex`, `when` is `"true"`/`"false"` compared with "the pattern matched", every outcome
//! is evaluated, and the last matching outcome's message stands; a matched fail wins over warn
//! and pass, a matched warn over pass (default `when`: fail/warn false, pass true). With
//! `regexGroups`, `when` is `<group> <op> <value>` and the first match wins, messages being
//! templates over the named groups.

use super::super::ViewError;
use super::super::outcome::{self, Op, Outcome, Severity};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text as field;
use serde_json::{Map, Value};

const ICON: Icon = Icon(
    "kubernetes_text_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/text-analyze.svg",
);
const GROUPS_ICON: Icon = Icon(
    "kubernetes_text_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/text-analyze.svg?w=13&h=16",
);

/// `filepath.Join(collectorName, name)`, cleaned; exec output names (`-stdout.txt`, ...)
/// without wildcards are looked for in the exec layout `<collector>/<ns>/<pod>/<name>`.
fn file_pattern(collector: &str, name: &str) -> String {
    let joined = clean_join(&[collector, name]);
    let wild = |s: &str| s.contains(['*', '?', '[']);
    let exec = name.ends_with("-stdout.txt")
        || name.ends_with("-stderr.txt")
        || name.ends_with("-errors.json");
    if exec && !wild(name) && !wild(&joined) {
        clean_join(&[collector, "*", "*", name])
    } else {
        joined
    }
}

pub(super) fn clean_join(parts: &[&str]) -> String {
    let mut segs: Vec<&str> = Vec::new();
    for part in parts {
        for seg in part.split('/') {
            match seg {
                "" | "." => {}
                ".." => {
                    segs.pop();
                }
                s => segs.push(s),
            }
        }
    }
    segs.join("/")
}

pub(in crate::analyze) fn text_analyze(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let collector = field(body, "collectorName");
    let title = meta.title(collector.clone());
    let pattern = file_pattern(&collector, &field(body, "fileName"));
    let mut excluded = Vec::new();
    if let Some(list) = body.get("excludeFiles").and_then(Value::as_array) {
        for ex in list.iter().filter_map(Value::as_str) {
            excluded.extend(ctx.view.glob(&file_pattern(&collector, ex))?);
        }
    }
    let files: Vec<String> = ctx
        .view
        .glob(&pattern)?
        .into_iter()
        .filter(|f| !excluded.contains(f))
        .collect();
    // troubleshoot reads every match, so a directory the pattern reaches (`fileName: "*"` at
    // the bundle root, say) is an error: dropped for an in-cluster analyzer, a fail on a host.
    if let Some(dir) = ctx
        .view
        .glob_dirs(&pattern)?
        .into_iter()
        .find(|d| !excluded.contains(d))
    {
        return Err(ViewError::Io {
            path: dir,
            source: std::io::Error::other("is a directory"),
        }
        .into());
    }
    if files.is_empty() {
        if body.get("ignoreIfNoFiles").and_then(Value::as_bool) == Some(true) {
            return Ok(Vec::new());
        }
        let mut r = AnalyzeResult::new(title, ICON);
        r.severity = Some(Severity::Warn);
        r.message = "No matching files".into();
        return Ok(vec![r]);
    }
    let regex = field(body, "regex");
    let groups = field(body, "regexGroups");
    let compile = |p: &str| {
        regex::bytes::Regex::new(p)
            .map_err(|e| AnalyzerError::spec(format!("failed to compile regex {p:?}: {e}")))
    };
    let mut results = Vec::new();
    if !regex.is_empty() {
        let re = compile(&regex)?;
        for file in &files {
            let bytes = ctx.read(file)?;
            results.push(regex_result(&title, re.is_match(&bytes), &outcomes)?);
        }
    }
    if !groups.is_empty() {
        let re = compile(&groups)?;
        for file in &files {
            let bytes = ctx.read(file)?;
            results.push(groups_result(&title, &re, &bytes, &outcomes)?);
        }
    }
    if results.is_empty() {
        let mut r = AnalyzeResult::new(title, ICON);
        r.severity = Some(Severity::Fail);
        r.message = "Invalid analyzer".into();
        results.push(r);
    }
    Ok(results)
}

pub(super) fn regex_result(
    title: &str,
    matched: bool,
    outcomes: &[Outcome],
) -> Result<AnalyzeResult, AnalyzerError> {
    let mut r = AnalyzeResult::new(title, ICON);
    let mut last: Option<&Outcome> = None;
    let mut severity: Option<Severity> = None;
    for o in outcomes {
        let Some(s) = o.severity else { continue };
        let when = if o.when.is_empty() {
            if s == Severity::Pass { "true" } else { "false" }
        } else {
            o.when.as_str()
        };
        let want = outcome::parse_bool(when).ok_or_else(|| {
            AnalyzerError::spec(format!("when {when:?}: expected \"true\" or \"false\""))
        })?;
        if matched == want {
            last = Some(o);
            severity = severity.max(Some(s));
        }
    }
    if let Some(o) = last {
        r.message = o.message.clone();
        r.uri = o.uri.clone();
    }
    r.severity = severity;
    Ok(r)
}

pub(super) fn groups_result(
    title: &str,
    re: &regex::bytes::Regex,
    bytes: &[u8],
    outcomes: &[Outcome],
) -> Result<AnalyzeResult, AnalyzerError> {
    let mut found = Map::new();
    if let Some(caps) = re.captures(bytes) {
        for name in re.capture_names().flatten() {
            if let Some(m) = caps.name(name) {
                found.insert(
                    name.to_string(),
                    String::from_utf8_lossy(m.as_bytes()).into(),
                );
            } else {
                // A group that did not take part in the match is an empty string in Go.
                found.insert(name.to_string(), "".into());
            }
        }
    }
    let r = AnalyzeResult::new(title, GROUPS_ICON);
    for o in outcomes {
        if o.severity.is_none() {
            continue;
        }
        if compare_group(&o.when, &found)? {
            let mut r = r.with(o);
            r.message = template::render(&o.message, &Value::Object(found), Missing::NoValue)?;
            return Ok(r);
        }
    }
    Ok(r)
}

fn compare_group(when: &str, found: &Map<String, Value>) -> Result<bool, AnalyzerError> {
    if when.is_empty() {
        return Ok(true);
    }
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [name, op, value] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "when {when:?}: expected `<group> <op> <value>`"
        )));
    };
    let value = if matches!(*value, "''" | "\"\"") {
        ""
    } else {
        value
    };
    let Some(have) = found.get(*name).and_then(Value::as_str) else {
        // The group was not matched: no error, no match.
        return Ok(false);
    };
    if let Ok(want) = value.parse::<i64>() {
        let Ok(have) = have.parse::<i64>() else {
            return Ok(false);
        };
        return Ok(match Op::parse(op) {
            Some(Op::Ne) | None => false,
            Some(op) => op.holds(have, want),
        });
    }
    match Op::parse(op) {
        Some(Op::Eq) => Ok(have == value),
        _ => Err(AnalyzerError::spec(format!(
            "when {when:?}: text is compared with `==` only"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::file_pattern;

    #[test]
    fn exec_output_names_are_looked_for_in_the_exec_layout() {
        assert_eq!(file_pattern("", "/static-hi.log"), "static-hi.log");
        assert_eq!(
            file_pattern("mysql", "mysql-stdout.txt"),
            "mysql/*/*/mysql-stdout.txt"
        );
        assert_eq!(
            file_pattern("mysql", "*/x/mysql-stdout.txt"),
            "mysql/*/x/mysql-stdout.txt"
        );
        assert_eq!(file_pattern("logs", "./a.log"), "logs/a.log");
    }
}
