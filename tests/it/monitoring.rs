//! `deploy/monitoring/`: the Prometheus alert rules pass `promtool check rules` and their unit
//! tests (`promtool test rules`); a real agent's `/metrics` passes `promtool check metrics`; and
//! every metric name (and label) the rules and the Grafana dashboard query is one the running
//! agent exports after a run that analyzed, uploaded and notified.
//!
//! promtool comes from Debian's `prometheus` package (scripts/test installs it).

use crate::support::daemon::{Daemon, http_with, wait_until};
use crate::support::ports::ClosedPort;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn monitoring_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring")
}

const RULES: &str = "troubleshoot-agent.rules.yml";
const RULE_TESTS: &str = "tests/troubleshoot-agent.rules.test.yml";
const DASHBOARD: &str = "grafana-dashboard.json";

/// promtool, or a failure that says how to get it (never a skip).
fn promtool() -> Command {
    let found = Command::new("promtool")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "promtool is not installed: `apt-get install -y prometheus` (scripts/test does it)"
    );
    let mut cmd = Command::new("promtool");
    cmd.current_dir(monitoring_dir());
    cmd
}

fn run_ok(mut cmd: Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{text}",
        out.status
    );
    text
}

#[test]
fn the_alert_rules_pass_promtool_check_and_their_unit_tests() {
    let mut check = promtool();
    check.args(["check", "rules", RULES]);
    let text = run_ok(check, "promtool check rules");
    assert!(text.contains("SUCCESS"), "{text}");
    let mut test = promtool();
    test.args(["test", "rules", RULE_TESTS]);
    let text = run_ok(test, "promtool test rules");
    assert!(text.contains("SUCCESS"), "{text}");
}

/// Every alert of the rules file has a unit test and a runbook section.
#[test]
fn every_alert_has_a_unit_test_and_a_runbook() {
    let rules = std::fs::read_to_string(monitoring_dir().join(RULES)).expect("rules");
    let tests = std::fs::read_to_string(monitoring_dir().join(RULE_TESTS)).expect("rule tests");
    let runbooks =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/monitoring.md"))
            .expect("docs/monitoring.md");
    let alerts: Vec<&str> = rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .collect();
    assert!(alerts.len() >= 8, "{alerts:?}");
    for alert in alerts {
        assert!(
            tests.contains(&format!("alertname: {alert}\n")),
            "{alert} has no `promtool test rules` case in {RULE_TESTS}"
        );
        let anchor = alert.to_lowercase();
        assert!(
            rules.contains(&format!("docs/monitoring.md#{anchor}"))
                || alert == "TroubleshootDiskFull",
            "{alert} does not link its runbook"
        );
        assert!(
            runbooks.contains(&format!("### {alert}")) || alert == "TroubleshootDiskFull",
            "docs/monitoring.md has no runbook section `### {alert}`"
        );
    }
}

/// A job that analyzes (an analyzer that fails), uploads to a closed port (the upload stays
/// pending in the queue) and notifies a closed port (the notification fails).
fn busy_job(upload: &str, webhook: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: watched
spec:
  schedule: \"0 2 * * *\"
  collect:
    supportBundle:
      hostCollectors:
        - memory: {{}}
      hostAnalyzers:
        - memory:
            checkName: Memory
            outcomes:
              - fail: {{when: \">= 1Mi\", message: Any memory fails this check.}}
              - pass: {{message: No memory.}}
  upload:
    - http: {{url: \"{upload}\"}}
  notify:
    - webhook: {{url: \"{webhook}\", on: [succeeded, failed, analysisFailed], attempts: 1}}
"
    )
}

/// `name{labels}` of every sample line of a scrape, with the label names of each metric.
fn scraped(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let series = line.rsplit_once(' ').map_or(line, |(s, _)| s);
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let entry = out.entry(name.to_string()).or_default();
        for pair in labels.split(',').filter(|p| !p.is_empty()) {
            if let Some((label, _)) = pair.split_once('=') {
                entry.insert(label.to_string());
            }
        }
    }
    out
}

#[test]
fn a_real_scrape_passes_promtool_and_has_every_metric_the_rules_and_dashboard_use() {
    let (upload, webhook) = (ClosedPort::new(), ClosedPort::new());
    let d = Daemon::builder().start();
    std::fs::write(
        d.jobs_dir.join("watched.yaml"),
        busy_job(
            &format!("http://{}/in/{{runId}}", upload.addr()),
            &format!("http://{}/hook", webhook.addr()),
        ),
    )
    .expect("write job");
    // And a job that succeeds (its last success).
    crate::support::JobFile::new("fine").write(&d.jobs_dir);
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    let fine = d.trigger("fine")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let run_id = d.trigger("watched")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let record = d.wait_run("fine", &fine, Duration::from_secs(120));
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let record = d.wait_run("watched", &run_id, Duration::from_secs(120));
    assert_eq!(record["status"], "analysisFailed", "{record:#}");
    assert_eq!(record["uploads"][0]["status"], "pending", "{record:#}");
    wait_until(Duration::from_secs(30), "the failed notification", || {
        let text = d.get("/metrics").body;
        if text.contains("troubleshoot_scheduler_notifications_total{status=\"failed\"} 1") {
            Ok(())
        } else {
            Err(text)
        }
    });
    let text = d.get("/metrics").body;
    assert_eq!(
        d.metric("troubleshoot_scheduler_upload_queue_entries"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        d.metric("troubleshoot_scheduler_last_analysis_outcome{job=\"watched\"}"),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        d.metric("troubleshoot_scheduler_schedule_interval_seconds{job=\"watched\"}"),
        Some(86400.0),
        "{text}"
    );
    assert!(
        d.metric("troubleshoot_scheduler_state_dir_free_bytes")
            .is_some_and(|free| free > 0.0),
        "{text}"
    );
    assert_eq!(
        d.metric("troubleshoot_scheduler_state_dir_min_free_bytes"),
        Some(1024.0 * 1024.0),
        "the harness sets minFreeDisk: 1Mi\n{text}"
    );

    // Prometheus asks for OpenMetrics and gets it; curl and promtool get the text format.
    let prometheus_accept = "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let om = http_with(d.addr(), "GET", "/metrics", &[prometheus_accept]).expect("scrape");
    assert!(om.body.ends_with("# EOF\n"), "{}", om.body);
    assert!(!text.contains("# EOF"), "{text}");
    assert_eq!(scraped(&om.body), scraped(&text));
    promtool_check_metrics(&text);

    let exported = scraped(&text);
    let mut checked = 0;
    for (source, expr) in queries() {
        for (name, labels) in promql::selectors(&expr) {
            checked += 1;
            if name == "up" {
                // Prometheus writes `up` for every scrape target itself.
                continue;
            }
            let Some(has) = exported.get(&name) else {
                panic!(
                    "{source} queries `{name}`, which the agent does not export:\n{expr}\n--- scrape:\n{text}"
                );
            };
            for label in labels {
                // Target labels Prometheus adds; the agent's own `job` is stored as `exported_job`.
                let label = match label.as_str() {
                    "instance" | "job" => continue,
                    "exported_job" => "job".to_string(),
                    other => other.to_string(),
                };
                assert!(
                    has.contains(&label),
                    "{source} matches label `{label}` of `{name}`, which has only {has:?}:\n{expr}"
                );
            }
        }
    }
    assert!(checked >= 30, "only {checked} selectors found");
}

/// The one finding `promtool check metrics` may report: the product requirements name the
/// gauge of scheduled jobs `troubleshoot_scheduler_jobs_total`, against Prometheus' convention
/// that only counters end in `_total` (docs/monitoring.md says so).
const KNOWN_LINT: &str =
    "troubleshoot_scheduler_jobs_total non-counter metrics should not have \"_total\" suffix";

/// `promtool check metrics` on a scrape: it parses, and lints clean but for [`KNOWN_LINT`]
/// (exit 3 is "lint problems", 1 a scrape it cannot parse).
fn promtool_check_metrics(text: &str) {
    let mut check = promtool();
    check
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = check.spawn().expect("promtool check metrics");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), text.as_bytes())
        .expect("feed the scrape");
    let out = child.wait_with_output().expect("promtool check metrics");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let unknown: Vec<&str> = findings
        .lines()
        .filter(|l| !l.trim().is_empty() && l.trim() != KNOWN_LINT)
        .collect();
    let code = out.status.code();
    assert!(
        unknown.is_empty() && (code == Some(0) || code == Some(3)),
        "promtool check metrics on the agent's /metrics (exit {code:?}):\n{findings}\n--- scrape:\n{text}"
    );
}

/// Every PromQL expression of the rules file and the dashboard (panels and variables), named.
fn queries() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let rules = std::fs::read_to_string(monitoring_dir().join(RULES)).expect("rules");
    let rules: Value = serde_saphyr::from_str(&rules).expect("rules are YAML");
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("alert name");
            out.push((
                format!("{RULES} {name}"),
                rule["expr"].as_str().expect("expr").to_string(),
            ));
        }
    }
    let dashboard = std::fs::read_to_string(monitoring_dir().join(DASHBOARD)).expect("dashboard");
    let dashboard: Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    let mut panels = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            panels += 1;
            let title = panel["title"].as_str().unwrap_or("?");
            out.push((
                format!("{DASHBOARD} panel \"{title}\""),
                target["expr"].as_str().expect("expr").to_string(),
            ));
        }
    }
    assert!(panels >= 20, "only {panels} dashboard queries");
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if var["type"] == "query" {
            let q = &var["query"];
            let q = q["query"].as_str().or(q.as_str()).expect("variable query");
            // `label_values(METRIC, LABEL)`: the metric is what must exist.
            let inner = q
                .strip_prefix("label_values(")
                .and_then(|r| r.split_once(','))
                .map_or(q, |(m, _)| m);
            out.push((
                format!("{DASHBOARD} variable {}", var["name"]),
                inner.into(),
            ));
        }
    }
    out
}

/// Enough of PromQL's lexical structure to find the metric selectors of an expression.
mod promql {
    /// Words that are not metric names: operators, modifiers, keywords.
    const KEYWORDS: &[&str] = &[
        "sum",
        "avg",
        "min",
        "max",
        "count",
        "group",
        "stddev",
        "stdvar",
        "topk",
        "bottomk",
        "quantile",
        "count_values",
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
    ];

    /// Every `name{label..}` selector: the metric name and the label names it matches.
    pub fn selectors(expr: &str) -> Vec<(String, Vec<String>)> {
        let chars: Vec<char> = expr.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '"' || c == '\'' || c == '`' {
                i = skip_string(&chars, i);
            } else if c == '[' {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            } else if c == '$' {
                // A Grafana variable ($__rate_interval, ${x}).
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_{}".contains(chars[i])) {
                    i += 1;
                }
            } else if c.is_ascii_digit() || c == '.' {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut j = i;
                while j < chars.len() && chars[j].is_whitespace() {
                    j += 1;
                }
                let next = chars.get(j).copied();
                let lower = word.to_lowercase();
                if [
                    "by",
                    "without",
                    "on",
                    "ignoring",
                    "group_left",
                    "group_right",
                ]
                .contains(&lower.as_str())
                {
                    // `by (a, b)` and friends: a list of label names, not selectors.
                    if next == Some('(') {
                        i = skip_parens(&chars, j);
                    }
                } else if KEYWORDS.contains(&lower.as_str()) || next == Some('(') {
                    // An operator, an aggregation, or a function call: its arguments are scanned as they come.
                } else if next == Some('{') {
                    let end = skip_braces(&chars, j);
                    let labels = label_names(&chars[j + 1..end - 1]);
                    out.push((word, labels));
                    i = end;
                } else {
                    out.push((word, Vec::new()));
                }
            } else if c == '{' {
                // A selector without a name (`{__name__=...}`): not used here.
                i = skip_braces(&chars, i);
            } else {
                i += 1;
            }
        }
        out
    }

    fn skip_string(chars: &[char], start: usize) -> usize {
        let quote = chars[start];
        let mut i = start + 1;
        while i < chars.len() && chars[i] != quote {
            if chars[i] == '\\' {
                i += 1;
            }
            i += 1;
        }
        i + 1
    }

    fn skip_parens(chars: &[char], start: usize) -> usize {
        let mut i = start;
        while i < chars.len() && chars[i] != ')' {
            i += 1;
        }
        i + 1
    }

    fn skip_braces(chars: &[char], start: usize) -> usize {
        let mut i = start;
        while i < chars.len() && chars[i] != '}' {
            if chars[i] == '"' {
                i = skip_string(chars, i);
                continue;
            }
            i += 1;
        }
        i + 1
    }

    /// The label names of the matchers between `{` and `}`.
    fn label_names(inner: &[char]) -> Vec<String> {
        let mut names = Vec::new();
        let mut i = 0;
        while i < inner.len() {
            while i < inner.len() && (inner[i].is_whitespace() || inner[i] == ',') {
                i += 1;
            }
            let start = i;
            while i < inner.len() && (inner[i].is_ascii_alphanumeric() || inner[i] == '_') {
                i += 1;
            }
            if i > start {
                names.push(inner[start..i].iter().collect());
            }
            while i < inner.len() && inner[i] != '"' {
                i += 1;
            }
            if i < inner.len() {
                i = skip_string(inner, i);
            }
        }
        names
    }

    #[test]
    fn finds_selectors_and_skips_the_rest() {
        let got = selectors(
            r#"sum by (le) (rate(a_bucket{instance=~"$instance", x="}"}[$__rate_interval])) / b > 2 * c_total offset 5m or on(job) up{job="t"} == bool 1e3"#,
        );
        let names: Vec<(&str, Vec<&str>)> = got
            .iter()
            .map(|(n, l)| (n.as_str(), l.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            names,
            [
                ("a_bucket", vec!["instance", "x"]),
                ("b", vec![]),
                ("c_total", vec![]),
                ("up", vec!["job"]),
            ]
        );
    }
}

/// A real Prometheus (Debian's `prometheus` package) scraping a real agent with the rules loaded:
/// the agent's `job` label arrives as `exported_job` (what the rules and dashboard use), every
/// rule evaluates without error, and every dashboard query is PromQL Prometheus accepts.
#[test]
fn a_real_prometheus_scrapes_the_agent_evaluates_the_rules_and_every_dashboard_query() {
    let d = Daemon::builder().start();
    crate::support::JobFile::new("fine").write(&d.jobs_dir);
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    let run = d.trigger("fine")["runId"]
        .as_str()
        .expect("run id")
        .to_string();
    let record = d.wait_run("fine", &run, Duration::from_secs(120));
    assert_eq!(record["status"], "succeeded", "{record:#}");

    let prometheus = Prometheus::start(&d.listen());
    wait_until(
        Duration::from_secs(60),
        "the agent's series with exported_job",
        || {
            let r = prometheus.query(
            "troubleshoot_scheduler_last_run_outcome{exported_job=\"fine\",outcome=\"succeeded\",job=\"troubleshoot-agent\"} == 1",
        )?;
            match r["data"]["result"].as_array() {
                Some(series) if series.len() == 1 => Ok(()),
                _ => Err(r.to_string()),
            }
        },
    );
    wait_until(
        Duration::from_secs(60),
        "every rule evaluated, healthy",
        || {
            let r = prometheus.get("/api/v1/rules")?;
            let rules: Vec<&Value> = r["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                .collect();
            let evaluated = rules.len() >= 8
                && rules.iter().all(|rule| {
                    rule["health"] == "ok"
                        && rule["lastEvaluation"]
                            .as_str()
                            .is_some_and(|t| !t.starts_with("0001"))
                });
            if evaluated {
                Ok(())
            } else {
                Err(r.to_string())
            }
        },
    );
    for (source, expr) in queries() {
        let expr = expr
            .replace("$__rate_interval", "1m")
            .replace("$instance", ".*");
        let r = prometheus
            .query(&expr)
            .unwrap_or_else(|e| panic!("{source}: {expr}\n{e}"));
        assert_eq!(r["status"], "success", "{source}: {expr}\n{r}");
    }
}

/// A Prometheus server on a loopback port it picked, scraping `target` every second with the
/// rules file loaded; killed on drop.
struct Prometheus {
    child: std::process::Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: &str) -> Prometheus {
        promtool(); // the same package: fails with how to install it
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nrule_files: [\"{}\"]\nscrape_configs:\n  - job_name: troubleshoot-agent\n    static_configs: [{{targets: [\"{target}\"]}}]\n",
                monitoring_dir().join(RULES).display()
            ),
        )
        .expect("write prometheus.yml");
        let log = std::fs::File::create(dir.path().join("prometheus.log")).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg("--web.listen-address=127.0.0.1:0")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start prometheus");
        let log = dir.path().join("prometheus.log");
        let mut p = Prometheus {
            addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
            _dir: dir,
        };
        let pid = p.child.id();
        let port = crate::support::ports::wait_listening(
            pid,
            Duration::from_secs(60),
            "prometheus",
            || {
                p.child.try_wait().ok().flatten().map(|status| {
                    format!(
                        "{status}: {}",
                        std::fs::read_to_string(&log).unwrap_or_default()
                    )
                })
            },
        );
        p.addr.set_port(port);
        p
    }

    /// An API answer; `Err` while Prometheus is not ready (503) or on anything but JSON.
    fn get(&self, path: &str) -> Result<Value, String> {
        let r = http_with(self.addr, "GET", path, &[]).map_err(|e| e.to_string())?;
        serde_json::from_str(&r.body).map_err(|e| format!("{e}: HTTP {} {}", r.status, r.body))
    }

    fn query(&self, expr: &str) -> Result<Value, String> {
        self.get(&format!("/api/v1/query?query={}", percent_encode(expr)))
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A query string value: everything but unreserved characters percent-encoded.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
