//! In-cluster `http`: the response the `http` collector saved, judged with the host `http`
//! grammar (`error`, `statusCode <op> <n>` joined by `&&`/`||`). troubleshoot reads
//! `<collectorName|result>.json` at the bundle root, which is where the collector writes it when
//! its `name` is empty; the title is `checkName`, else the collector name (possibly empty).

use super::super::host::probes::{HttpResult, http_holds};
use super::super::outcome;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text;
use serde_json::Value;

pub(super) fn http(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let collector = text(body, "collectorName");
    let path = if collector.is_empty() {
        "result.json".to_string()
    } else {
        format!("{collector}.json")
    };
    let data: HttpResult =
        serde_json::from_value(ctx.json(&path)?).map_err(|e| AnalyzerError::data(&path, e))?;
    let r = AnalyzeResult::new(meta.title(collector), Icon("", ""));
    // An item with none of fail/warn/pass is skipped, as troubleshoot does here.
    for o in outcomes.iter().filter(|o| o.severity.is_some()) {
        if o.is_else() || http_holds(o.when.trim(), &data)? {
            return Ok(r.with(o));
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::super::super::Severity;
    use super::super::super::tests::{run, summary};

    const OUTCOMES: &str = "    outcomes:\n      - fail: {when: error, message: unreachable}\n      - warn: {when: statusCode >= 500, message: server error}\n      - pass: {when: statusCode == 200, message: ok}\n";

    #[test]
    fn status_error_default_file_and_title() {
        let ok = r#"{"response": {"status": 200, "body": "{}", "headers": {}}}"#;
        let bad = r#"{"response": {"status": 503, "body": "", "headers": {}}}"#;
        let err = r#"{"error": {"message": "dial tcp: refused"}}"#;
        let yaml = format!("- http:\n    collectorName: api\n{OUTCOMES}");
        let got = |file: &str| summary(&run(&[("api.json", file)], &yaml)).remove(0);
        assert_eq!(got(ok), (Some(Severity::Pass), "api".into(), "ok".into()));
        assert_eq!(
            got(bad),
            (Some(Severity::Warn), "api".into(), "server error".into())
        );
        assert_eq!(
            got(err),
            (Some(Severity::Fail), "api".into(), "unreachable".into())
        );
        // No collectorName: `result.json`, an empty title; nothing matched: no severity.
        let yaml =
            "- http:\n    outcomes:\n      - fail: {when: statusCode == 404, message: gone}\n";
        let a = run(&[("result.json", ok)], yaml);
        assert_eq!(summary(&a), [(None, String::new(), String::new())]);
    }

    #[test]
    fn missing_malformed_and_bad_when_are_errors() {
        let yaml = format!("- http:\n    collectorName: api\n{OUTCOMES}");
        let a = run(&[], &yaml);
        assert!(
            a.results.is_empty() && a.errors[0].message.contains("api.json"),
            "{a:?}"
        );
        let a = run(&[("api.json", "{nope")], &yaml);
        assert!(a.errors[0].message.contains("api.json"), "{a:?}");
        let a = run(&[("api.json", r#"{"response": "x"}"#)], &yaml);
        assert!(a.errors[0].message.contains("api.json"), "{a:?}");
        let files = [("api.json", r#"{"response": {"status": 200}}"#)];
        let a = run(
            &files,
            "- http:\n    collectorName: api\n    outcomes:\n      - pass: {when: code is 200, message: x}\n",
        );
        assert!(a.errors[0].spec_problem, "{a:?}");
    }
}
