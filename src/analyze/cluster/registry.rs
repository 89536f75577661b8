//! In-cluster `registryImages`: how many of the images the `registryImages` collector looked up
//! (`registry/<collectorName|images>.json`) exist, are missing or could not be checked, against
//! `verified|missing|errors <op> <n>`. Messages are used as written (no template here).

use super::super::outcome::{self, Op};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

const ICON: Icon = Icon(
    "kubernetes_registry_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/registry-analyze.svg",
);

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegistryInfo {
    images: Option<BTreeMap<String, RegistryImage>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RegistryImage {
    exists: bool,
    error: String,
}

/// `(verified, missing, errors)`: an image with an error counts as an error whatever `exists`.
fn counts(info: &RegistryInfo) -> (i64, i64, i64) {
    let mut c = (0, 0, 0);
    for image in info.images.iter().flat_map(|m| m.values()) {
        if !image.error.is_empty() {
            c.2 += 1;
        } else if image.exists {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
    }
    c
}

fn holds(when: &str, (verified, missing, errors): (i64, i64, i64)) -> Result<bool, AnalyzerError> {
    let bad = |why: String| AnalyzerError::spec(format!("when {when:?}: {why}"));
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [term, op, desired] = parts.as_slice() else {
        return Err(bad(
            "expected `verified|missing|errors <op> <number>`".into()
        ));
    };
    let actual = match *term {
        "verified" => verified,
        "missing" => missing,
        "errors" => errors,
        other => {
            return Err(bad(format!(
                "unknown term {other:?} (verified, missing or errors)"
            )));
        }
    };
    let desired: i64 = desired
        .parse()
        .map_err(|_| bad(format!("{desired:?} is not a whole number")))?;
    match Op::parse(op) {
        // troubleshoot has no `!=` here.
        Some(Op::Ne) | None => Err(bad(format!("unknown operator {op:?} (<, <=, >, >=, ==)"))),
        Some(op) => Ok(op.holds(actual, desired)),
    }
}

pub(super) fn registry_images(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let mut collector = text(body, "collectorName");
    if collector.is_empty() {
        collector = "images".into();
    }
    let path = format!("registry/{collector}.json");
    let info: RegistryInfo =
        serde_json::from_value(ctx.json(&path)?).map_err(|e| AnalyzerError::data(&path, e))?;
    let c = counts(&info);
    let r = AnalyzeResult::new(meta.title(collector), ICON);
    // An item with none of fail/warn/pass is skipped, as troubleshoot does here.
    for o in outcomes.iter().filter(|o| o.severity.is_some()) {
        if o.is_else() || holds(&o.when, c)? {
            return Ok(r.with(o));
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::super::Severity;
    use super::super::super::tests::{run, summary};

    const OUTCOMES: &str = "    outcomes:\n      - fail: {when: errors > 0, message: cannot check}\n      - fail: {when: missing >= 1, message: missing}\n      - warn: {when: verified == 0, message: none}\n      - pass: {message: all there}\n";

    #[test]
    fn counts_pass_warn_fail() {
        let yaml = format!("- registryImages:\n{OUTCOMES}");
        let got = |file: &str| summary(&run(&[("registry/images.json", file)], &yaml)).remove(0);
        let r = |s, m: &str| (Some(s), "images".to_string(), m.to_string());
        assert_eq!(
            got(r#"{"images": {"a:1": {"exists": true}, "b:2": {"exists": true}}}"#),
            r(Severity::Pass, "all there")
        );
        assert_eq!(
            got(r#"{"images": {"a:1": {"exists": true}, "b:2": {"exists": false}}}"#),
            r(Severity::Fail, "missing")
        );
        assert_eq!(
            got(r#"{"images": {"a:1": {"exists": true, "error": "401"}}}"#),
            r(Severity::Fail, "cannot check")
        );
        assert_eq!(got(r#"{"images": null}"#), r(Severity::Warn, "none"));
        let a = run(
            &[("registry/mine.json", r#"{"images": {}}"#)],
            "- registryImages:\n    collectorName: mine\n    checkName: Images\n    outcomes:\n      - fail: {when: verified < 0, message: x}\n",
        );
        assert_eq!(summary(&a), [(None, "Images".into(), String::new())]);
        assert_eq!(a.results[0].icon_key, "kubernetes_registry_analyze");
    }

    #[test]
    fn missing_malformed_and_bad_when_are_errors() {
        let yaml = format!("- registryImages:\n{OUTCOMES}");
        let a = run(&[], &yaml);
        assert!(
            a.errors[0].message.contains("registry/images.json"),
            "{a:?}"
        );
        let a = run(&[("registry/images.json", r#"{"images": [1]}"#)], &yaml);
        assert!(
            a.errors[0].message.contains("registry/images.json"),
            "{a:?}"
        );
        let files = [("registry/images.json", r#"{"images": {}}"#)];
        for when in ["missing != 1", "absent > 1", "missing > one", "missing>1"] {
            let yaml = format!(
                "- registryImages:\n    outcomes:\n      - fail: {{when: \"{when}\", message: x}}\n"
            );
            let a = run(&files, &yaml);
            assert!(a.errors[0].spec_problem, "{when}: {a:?}");
            assert!(a.errors[0].message.contains(when), "{a:?}");
        }
    }
}
