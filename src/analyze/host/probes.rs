//! `http` (host), `certificatesCollection` and `networkNamespaceConnectivity`: the results of
//! probes the collectors ran.

use super::super::outcome::{self, Op, Severity};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use chrono::{DateTime, Days, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// `http/<name>.json`: a response or an error.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::analyze) struct HttpResult {
    #[serde(alias = "Error")]
    error: Option<Value>,
    #[serde(alias = "Response")]
    response: Option<HttpResponse>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct HttpResponse {
    status: i64,
}

/// One `statusCode <op> <n>` comparison.
fn status_compare(text: &str, status: i64) -> Result<bool, AnalyzerError> {
    let bad = || {
        AnalyzerError::spec(format!(
            "failed to create evaluable expression: {text:?} is not `statusCode <op> <number>`"
        ))
    };
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [name, op, value] = parts.as_slice() else {
        return Err(bad());
    };
    if *name != "statusCode" {
        return Err(AnalyzerError::spec(format!(
            "failed to evaluate expression: no parameter {name:?} (only statusCode)"
        )));
    }
    let op = Op::parse(op).filter(|_| *op != "===").ok_or_else(bad)?;
    let value: f64 = value.parse().map_err(|_| bad())?;
    Ok(op.holds(status as f64, value))
}

/// The `http` grammar: `error` (the request failed), or comparisons of `statusCode` joined by
/// `&&` and `||` (`&&` binds tighter), as the expression language troubleshoot uses reads them.
pub(in crate::analyze) fn http_holds(when: &str, r: &HttpResult) -> Result<bool, AnalyzerError> {
    if when == "error" {
        return Ok(r.error.is_some());
    }
    let when = when.replace(" = ", " == ").replace(" === ", " == ");
    // Parse everything before looking at the response, so a bad expression is always an error.
    let mut ors = Vec::new();
    for alt in when.split("||") {
        let mut ands = Vec::new();
        for term in alt.split("&&") {
            let term = term.trim().trim_start_matches('(').trim_end_matches(')');
            ands.push(term.to_string());
        }
        ors.push(ands);
    }
    let Some(response) = &r.response else {
        for term in ors.iter().flatten() {
            status_compare(term, 0)?;
        }
        return Ok(false);
    };
    for ands in &ors {
        let mut all = true;
        for term in ands {
            all &= status_compare(term, response.status)?;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Host `http`: `host-collectors/http/<collectorName|result>.json`.
pub(super) fn http(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/http";
    let file = format!("{}.json", common::collector_name(body, "result"));
    common::simple(
        ctx,
        body,
        (&format!("{BASE}/{file}"), BASE, &file),
        (&meta.title("HTTP Request"), NO_ICON, "httpResult"),
        http_holds,
    )
}

/// One entry of `certificatesCollection/<name>.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct CertificateSource {
    certificate_path: String,
    certificate_chain: Option<Vec<Certificate>>,
    message: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Certificate {
    #[serde(default = "epoch")]
    not_after: DateTime<Utc>,
    #[serde(default)]
    is_valid: bool,
}

fn epoch() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH
}

/// `notAfter < Today + <n> days` in a warn's `when`.
fn warn_days(when: &str) -> Result<Option<u64>, AnalyzerError> {
    static RX: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"notAfter < Today \+ (\d+) days").expect("a valid pattern")
    });
    match RX.captures(when) {
        None => Ok(None),
        Some(c) => c[1].parse().map(Some).map_err(|_| {
            AnalyzerError::spec(format!("failed to convert {:?} to an integer", &c[1]))
        }),
    }
}

/// The results of one certificate file: per certificate, a fail for each fail outcome when it
/// is invalid, a warn when a valid one expires within a warn's `notAfter < Today + N days`
/// (which drops the passes gathered so far), then the passes of valid ones.
fn chain_results(
    chain: &[Certificate],
    outcomes: &[outcome::Outcome],
    source: &str,
    title: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut out = Vec::new();
    let mut passes: Vec<AnalyzeResult> = Vec::new();
    for cert in chain {
        for o in outcomes {
            let severity = o
                .severity
                .ok_or_else(|| AnalyzerError::spec("empty outcome"))?;
            let mut r = AnalyzeResult::new(title, NO_ICON);
            r.severity = Some(severity);
            r.uri = o.uri.clone();
            match severity {
                Severity::Pass if cert.is_valid => {
                    r.message = format!("{}, {source}", o.message);
                    passes.push(r);
                }
                Severity::Fail if !cert.is_valid => {
                    r.message = format!("{}, {source}", o.message);
                    out.push(r);
                }
                Severity::Warn if cert.is_valid => {
                    if let Some(days) = warn_days(&o.when)? {
                        let horizon = now.checked_add_days(Days::new(days)).unwrap_or(now);
                        if horizon > cert.not_after {
                            r.message = format!("{} in {days} days, {source}", o.message);
                            passes.clear();
                            out.push(r);
                        }
                    }
                }
                _ => {}
            }
        }
        // As troubleshoot: the passes gathered so far are added after every certificate.
        out.extend(passes.iter().cloned());
    }
    Ok(out)
}

/// `certificatesCollection`: every certificate file the collector read, judged against "now".
pub(super) fn certificates_collection(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let title = meta.title("Host Certificates Collection");
    let path = format!(
        "host-collectors/certificatesCollection/{}.json",
        common::collector_name(body, "certificatesCollection")
    );
    let outcomes = outcome::parse(body)?;
    let data = ctx.read(&path).map_err(|e| {
        AnalyzerError::spec(format!(
            "failed to get contents of certificatesCollection.json: {e}"
        ))
    })?;
    let sources: Option<Vec<CertificateSource>> = serde_json::from_slice(&data).map_err(|e| {
        AnalyzerError::data(
            &path,
            format!("failed to parse certificatesCollection.json: {e}"),
        )
    })?;
    let mut out = Vec::new();
    for s in sources.unwrap_or_default() {
        let source = if s.certificate_path.is_empty() {
            String::new()
        } else {
            format!("obtained from {}", s.certificate_path)
        };
        if s.message == "cert-missing" {
            let mut r = AnalyzeResult::new(title.clone(), NO_ICON);
            r.severity = Some(Severity::Fail);
            r.message = format!("Certificate is missing, cannot be {source}");
            out.push(r);
        } else {
            let chain = s.certificate_chain.unwrap_or_default();
            out.extend(chain_results(&chain, &outcomes, &source, &title, ctx.now)?);
        }
    }
    if out.is_empty() {
        let mut r = AnalyzeResult::new(title, NO_ICON);
        r.severity = Some(Severity::Warn);
        r.message = "no results".into();
        out.push(r);
    }
    Ok(out)
}

/// `system/<name>.json` of the networkNamespaceConnectivity collector.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Connectivity {
    from_cidr: String,
    to_cidr: String,
    errors: ConnectivityErrors,
    success: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ConnectivityErrors {
    from_cidr_creation: String,
    to_cidr_creation: String,
    udp_client: String,
    udp_server: String,
    tcp_client: String,
    tcp_server: String,
}

impl ConnectivityErrors {
    /// One line per error, in the collector's order.
    fn text(&self) -> String {
        [
            (
                "Failed to create 'from' namespace: ",
                &self.from_cidr_creation,
            ),
            ("Failed to create 'to' namespace: ", &self.to_cidr_creation),
            ("UDP connection failed with: ", &self.udp_client),
            ("UDP server failed with: ", &self.udp_server),
            ("TCP connection failed with: ", &self.tcp_client),
            ("TCP server failed with: ", &self.tcp_server),
        ]
        .iter()
        .filter(|(_, e)| !e.is_empty())
        .map(|(what, e)| format!("{what}{e}\n"))
        .collect()
    }
}

/// `networkNamespaceConnectivity`: the first pass outcome when the probe succeeded, the first
/// fail when it did not (`when` is not read); messages are templates over the probe
/// (`{{ .FromCIDR }}`, `{{ .ToCIDR }}`, `{{ .ErrorMessage }}`). Every result carries the plain
/// title, per node too, as troubleshoot.
pub(super) fn network_namespace_connectivity(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let title = meta.title("Network Namespace Connectivity");
    let file = format!(
        "{}.json",
        common::collector_name(body, "networkNamespaceConnectivity")
    );
    let outcomes = outcome::parse(body)?;
    let files = common::collected(ctx, &format!("{SYSTEM_DIR}/{file}"), SYSTEM_DIR, &file)?;
    let mut out = Vec::new();
    for f in &files {
        let info: Connectivity = f.decode("NetworkNamespaceConnectivityInfo")?;
        let data = json!({
            "FromCIDR": info.from_cidr,
            "ToCIDR": info.to_cidr,
            "Success": info.success,
            "ErrorMessage": info.errors.text(),
        });
        let wanted = if info.success {
            Severity::Pass
        } else {
            Severity::Fail
        };
        if let Some(o) = outcomes.iter().find(|o| o.severity == Some(wanted)) {
            let mut r = common::result_of(&title, NO_ICON, o);
            r.message = template::render(&o.message, &data, Missing::Empty)?;
            out.push(r);
        }
    }
    Ok(out)
}
