//! `certificates`: the `certificates` collector's `certificates/certificates.json`. Per
//! certificate of each source: a fail for each fail outcome when it is invalid; for a valid one,
//! a warn when it expires before now + N days of a warn's `notAfter < Today + N days` (which
//! drops the passes gathered so far), and the pass outcomes. As in troubleshoot, the passes
//! gathered for one source are appended again after each later certificate of that source.

use super::super::outcome::{self, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use chrono::{DateTime, Days, Utc};
use serde::Deserialize;
use serde_json::Value;

const FILE: &str = "certificates/certificates.json";

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Collection {
    source: Option<Source>,
    certificate_chain: Option<Vec<Certificate>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Source {
    secret: String,
    #[serde(rename = "configMap")]
    config_map: String,
    namespace: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Certificate {
    #[serde(default)]
    certificate: String,
    #[serde(default = "epoch")]
    not_after: DateTime<Utc>,
    #[serde(default)]
    is_valid: bool,
}

fn epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// Where the certificate came from, for messages.
fn origin(source: Option<&Source>) -> String {
    let Some(s) = source else {
        return String::new();
    };
    if !s.secret.is_empty() {
        format!(
            "obtained from {} secret within {} namespace",
            s.secret, s.namespace
        )
    } else if !s.config_map.is_empty() {
        format!(
            "obtained from {} configmap within {} namespace",
            s.config_map, s.namespace
        )
    } else {
        String::new()
    }
}

/// N of `notAfter < Today + N days`, when the `when` says so.
fn warn_days(when: &str) -> Result<Option<u64>, AnalyzerError> {
    static RX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"notAfter < Today \+ (\d+) days").expect("a valid pattern")
    });
    match RX.captures(when) {
        None => Ok(None),
        Some(c) => c[1]
            .parse()
            .map(Some)
            .map_err(|_| AnalyzerError::spec(format!("when {when:?}: {:?} is too large", &c[1]))),
    }
}

pub(super) fn certificates(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let collections: Vec<Collection> =
        serde_json::from_value(ctx.json(FILE)?).map_err(|e| AnalyzerError::data(FILE, e))?;
    let title = meta.title("Certificates Verification");
    let make = |severity, message: String| {
        let mut r = AnalyzeResult::new(title.clone(), Icon("", ""));
        r.severity = Some(severity);
        r.message = message;
        r
    };
    let mut out = Vec::new();
    for c in &collections {
        let source = origin(c.source.as_ref());
        let mut passes = Vec::new();
        for cert in c.certificate_chain.iter().flatten() {
            for o in &outcomes {
                let severity = o
                    .severity
                    .ok_or_else(|| AnalyzerError::spec("empty outcome"))?;
                let plain = || format!("{} {}, {source}", cert.certificate, o.message);
                match severity {
                    Severity::Pass if cert.is_valid => passes.push(make(severity, plain())),
                    Severity::Fail if !cert.is_valid => out.push(make(severity, plain())),
                    Severity::Warn if cert.is_valid => {
                        let Some(days) = warn_days(&o.when)? else {
                            continue;
                        };
                        let limit = ctx.now.checked_add_days(Days::new(days));
                        if limit.is_none_or(|t| t > cert.not_after) {
                            passes.clear();
                            out.push(make(
                                severity,
                                format!(
                                    "{} {} in {days} days, {source}",
                                    cert.certificate, o.message
                                ),
                            ));
                        }
                    }
                    _ => {}
                }
            }
            out.extend(passes.iter().cloned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::super::Severity;
    use super::super::super::tests::{run, summary};

    const OUTCOMES: &str = "    outcomes:\n      - fail: {message: is invalid}\n      - warn: {when: notAfter < Today + 30 days, message: expires}\n      - pass: {message: is valid}\n";

    #[test]
    fn invalid_expiring_and_valid_certificates() {
        let file = r#"[
          {"source": {"secret": "tls", "namespace": "web"}, "certificateChain": [
            {"certificate": "tls.crt", "notAfter": "2999-01-01T00:00:00Z", "isValid": true},
            {"certificate": "ca.crt", "notAfter": "2000-01-01T00:00:00Z", "isValid": false}]},
          {"source": {"configMap": "ca", "namespace": "kube-system"}, "certificateChain": [
            {"certificate": "soon.crt", "notAfter": "2000-01-01T00:00:00Z", "isValid": true}]}
        ]"#;
        let a = run(
            &[("certificates/certificates.json", file)],
            &format!("- certificates:\n{OUTCOMES}"),
        );
        let t = "Certificates Verification";
        let s = |sev, m: &str| (Some(sev), t.to_string(), m.to_string());
        let from_secret = "obtained from tls secret within web namespace";
        assert_eq!(
            summary(&a),
            [
                s(Severity::Pass, &format!("tls.crt is valid, {from_secret}")),
                s(Severity::Fail, &format!("ca.crt is invalid, {from_secret}")),
                // The pass of tls.crt again, after the next certificate of the source.
                s(Severity::Pass, &format!("tls.crt is valid, {from_secret}")),
                s(
                    Severity::Warn,
                    "soon.crt expires in 30 days, obtained from ca configmap within kube-system namespace"
                ),
                // The warn drops the passes gathered before it; the pass outcome comes after.
                s(
                    Severity::Pass,
                    "soon.crt is valid, obtained from ca configmap within kube-system namespace"
                ),
            ]
        );
    }

    #[test]
    fn missing_malformed_and_empty_outcome() {
        let yaml = format!("- certificates:\n    checkName: Certs\n{OUTCOMES}");
        let a = run(&[], &yaml);
        assert!(
            a.errors[0]
                .message
                .contains("certificates/certificates.json"),
            "{a:?}"
        );
        let a = run(&[("certificates/certificates.json", "{}")], &yaml);
        assert!(
            a.errors[0]
                .message
                .contains("certificates/certificates.json"),
            "{a:?}"
        );
        let file = r#"[{"certificateChain": [{"certificate": "x", "isValid": true}]}]"#;
        let a = run(
            &[("certificates/certificates.json", file)],
            "- certificates:\n    outcomes:\n      - {}\n",
        );
        assert!(a.errors[0].message.contains("empty outcome"), "{a:?}");
    }
}
