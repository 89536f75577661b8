//! What changed since the last run, end to end: two foreground runs of a host job with a planted
//! change between them (a file its `run` collector reads flips its analyzer from pass to fail),
//! `changes.json` and the record's summary, `history --changes`, `diff` on the two bundles, the
//! `changed` webhook with its `changedOnly` filter, and `validate` on a bad filter name.

use crate::support;

use serde_json::Value;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use support::{agent, dirs, stderr, stdout};

/// A webhook receiver on loopback: answers 204 and keeps (path, JSON body) of each request.
struct Receiver {
    addr: std::net::SocketAddr,
    got: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let got = Arc::new(Mutex::new(Vec::new()));
        let kept = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut s) = stream else { continue };
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let (head, body) = loop {
                    let n = s.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break (String::new(), Vec::new());
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..i]).into_owned();
                        let len = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        let mut body = buf[i + 4..].to_vec();
                        while body.len() < len {
                            let n = s.read(&mut chunk).unwrap_or(0);
                            if n == 0 {
                                break;
                            }
                            body.extend_from_slice(&chunk[..n]);
                        }
                        break (head, body);
                    }
                };
                let path = head.split(' ').nth(1).unwrap_or_default().to_string();
                let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
                kept.lock().expect("lock").push((path, body));
                let _ = s.write_all(
                    b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Receiver { addr, got }
    }

    fn received(&self) -> Vec<(String, Value)> {
        self.got.lock().expect("lock").clone()
    }
}

/// A job whose host `run` collector prints `watched`, and an analyzer that fails when it says
/// `broken`; two webhooks on `changed`, one for analysis changes only, one for host changes only.
fn write_job(jobs: &Path, watched: &Path, hooks: &Receiver) {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: watched
spec:
  schedule: \"0 2 * * *\"
  analyze: {{failOn: never}}
  notify:
    - webhook: {{url: \"http://{addr}/analysis\", on: [changed], changedOnly: [analysis]}}
    - webhook: {{url: \"http://{addr}/host\", on: [changed], changedOnly: [host]}}
  collect:
    supportBundle:
      hostCollectors:
        - run: {{collectorName: state, command: cat, args: [\"{file}\"]}}
      analyzers:
        - textAnalyze:
            checkName: Service state
            collectorName: host-collectors/run-host
            fileName: state.txt
            regex: broken
            outcomes:
              - fail: {{when: \"true\", message: it is broken}}
              - pass: {{when: \"false\", message: it is fine}}
",
        addr = hooks.addr,
        file = watched.display()
    );
    std::fs::write(jobs.join("watched.yaml"), text).expect("job file");
}

fn trigger(dd: &support::Dirs) -> Value {
    let out = support::trigger_foreground(
        &dd.jobs,
        &dd.state,
        "watched",
        &[],
        std::time::Duration::from_secs(120),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}

#[test]
fn a_planted_change_between_two_runs_is_recorded_shown_diffed_and_notified() {
    let dd = dirs();
    let hooks = Receiver::start();
    let watched = dd.root.path().join("state.txt");
    std::fs::write(&watched, "all good\n").expect("write");
    write_job(&dd.jobs, &watched, &hooks);

    let first = trigger(&dd);
    assert_eq!(first["status"], "succeeded", "{first:#}");
    assert_eq!(first["analysis"]["pass"], 1, "{first:#}");
    // The job's first run has nothing to compare with.
    assert!(first.get("changes").is_none(), "{first:#}");
    let first_id = first["runId"].as_str().expect("run id");
    let runs = dd.state.join("jobs/watched/runs");
    let kept = dd.state.join("jobs/watched/changes");
    let fingerprint = kept.join(format!("{first_id}.fingerprint.json"));
    assert_eq!(mode(&fingerprint), 0o600);
    let fp: Value =
        serde_json::from_slice(&std::fs::read(&fingerprint).expect("read")).expect("json");
    assert_eq!(fp["analysis"]["Service state"], "pass", "{fp:#}");
    assert!(hooks.received().is_empty(), "{:?}", hooks.received());

    std::fs::write(&watched, "broken since noon\n").expect("write");
    let second = trigger(&dd);
    assert_eq!(second["status"], "succeeded", "{second:#}");
    let second_id = second["runId"].as_str().expect("run id");
    assert_eq!(
        second["changes"],
        serde_json::json!({"summary": "1 analysis", "counts": {"analysis": 1}, "since": first_id}),
        "{second:#}"
    );
    // The record on disk says the same; changes.json beside it has every change.
    let on_disk: Value = serde_json::from_slice(
        &std::fs::read(runs.join(format!("{second_id}.json"))).expect("record"),
    )
    .expect("json");
    assert_eq!(on_disk["changes"], second["changes"]);
    let changes_file = kept.join(format!("{second_id}.json"));
    assert_eq!(mode(&changes_file), 0o600);
    let changes: Value =
        serde_json::from_slice(&std::fs::read(&changes_file).expect("read")).expect("json");
    assert_eq!(changes["since"], first_id);
    assert_eq!(
        changes["analysis"],
        serde_json::json!([{"key": "Service state", "before": "pass", "after": "fail"}]),
        "{changes:#}"
    );

    // Only the hook that wants analysis changes was called, with the summary and counts.
    let got = hooks.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "/analysis");
    let body = &got[0].1;
    assert_eq!(body["events"], serde_json::json!(["changed"]), "{body:#}");
    assert_eq!(body["changes"]["summary"], "1 analysis", "{body:#}");
    assert_eq!(body["changes"]["counts"]["analysis"], 1);
    assert_eq!(body["changes"]["since"], first_id);

    // `history --changes`: the summary per run; with -o json the counts.
    let out = agent(&dd.state)
        .arg("--jobs-dir")
        .arg(&dd.jobs)
        .args(["--listen", "127.0.0.1:1", "history", "watched", "--changes"])
        .output()
        .expect("history");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 analysis"), "{}", stdout(&out));
    let out = agent(&dd.state)
        .arg("--jobs-dir")
        .arg(&dd.jobs)
        .args([
            "--listen",
            "127.0.0.1:1",
            "-o",
            "json",
            "history",
            "watched",
            "--changes",
        ])
        .output()
        .expect("history");
    let rows: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(rows[0]["runId"], second_id, "{rows:#}");
    assert_eq!(rows[0]["changes"]["counts"]["analysis"], 1, "{rows:#}");
    assert_eq!(rows[1]["changes"], Value::Null, "{rows:#}");

    // `diff` on the two archives says the same, as JSON and as a table; exit 0.
    let (a, b) = (
        first["bundle"]["path"].as_str().expect("bundle"),
        second["bundle"]["path"].as_str().expect("bundle"),
    );
    let out = agent(&dd.state)
        .args(["-o", "json", "diff", a, b])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diff: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(diff["analysis"], changes["analysis"], "{diff:#}");
    let out = agent(&dd.state)
        .args(["diff", b, b])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "no changes\n");
    let out = agent(&dd.state)
        .args(["diff", a, "/nonexistent/bundle.tar.gz"])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot read bundle B (/nonexistent/bundle.tar.gz)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn validate_rejects_an_unknown_change_kind_with_its_location() {
    let dd = dirs();
    let file = dd.jobs.join("bad.yaml");
    std::fs::write(
        &file,
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: bad
spec:
  schedule: \"0 2 * * *\"
  notify:
    - webhook: {url: \"http://127.0.0.1:9/x\", on: [changed], changedOnly: [analysis, pods]}
  collect:
    supportBundle:
      hostCollectors:
        - cpu: {}
",
    )
    .expect("write");
    let out = agent(&dd.state)
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert!(text.contains("bad.yaml:8:"), "{text}");
    assert!(text.contains("pods"), "{text}");
}

/// A run of `job` through the troubleshoot CLI stand-in whose `analysis.json` is `results`.
fn trigger_cli(dd: &support::Dirs, results: &str) -> Value {
    let cli =
        support::fake_support_bundle(dd.root.path(), &[("FAKE_SB_ANALYZER_RESULTS", results)]);
    let config = dd.root.path().join("agent.yaml");
    std::fs::write(&config, format!("supportBundlePath: {}\n", cli.display())).expect("config");
    let out = agent(&dd.state)
        .arg("--config")
        .arg(&config)
        .args(["--listen", "127.0.0.1:1", "--jobs-dir"])
        .arg(&dd.jobs)
        .args(["--output", "json", "trigger", "cli"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out))
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", stdout(&out), stderr(&out)))
}

#[test]
fn runs_of_the_troubleshoot_cli_engine_get_changes_from_its_archive() {
    let dd = dirs();
    std::fs::write(
        dd.jobs.join("spec.yaml.txt"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: x}\nspec:\n  collectors: [{clusterInfo: {}}]\n",
    )
    .expect("spec");
    std::fs::write(
        dd.jobs.join("cli.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {name: cli}\nspec:\n  schedule: \"0 2 * * *\"\n  analyze: {failOn: never}\n  collect:\n    engine: support-bundle\n    specs: [spec.yaml.txt]\n",
    )
    .expect("job");
    let fine = r#"[{"name":"disk","severity":"debug","insight":{"name":"disk","primary":"Disk usage","detail":"plenty"}}]"#;
    let first = trigger_cli(&dd, fine);
    assert_eq!(first["status"], "succeeded", "{first:#}");
    assert!(first.get("changes").is_none(), "{first:#}");
    let first_id = first["runId"].as_str().expect("run id");
    let kept = dd.state.join("jobs/cli/changes");
    assert_eq!(
        mode(&kept.join(format!("{first_id}.fingerprint.json"))),
        0o600
    );

    let full = r#"[{"name":"disk","severity":"warn","insight":{"name":"disk","primary":"Disk usage","detail":"90% used"}}]"#;
    let second = trigger_cli(&dd, full);
    let second_id = second["runId"].as_str().expect("run id");
    assert_eq!(
        second["changes"],
        serde_json::json!({"summary": "1 analysis", "counts": {"analysis": 1}, "since": first_id}),
        "{second:#}"
    );
    let changes_file = kept.join(format!("{second_id}.json"));
    assert_eq!(mode(&changes_file), 0o600);
    let changes: Value =
        serde_json::from_slice(&std::fs::read(&changes_file).expect("read")).expect("json");
    assert_eq!(
        changes["analysis"],
        serde_json::json!([{"key": "Disk usage", "before": "pass", "after": "warn"}]),
        "{changes:#}"
    );
    // `diff` on the two archives the CLI wrote says the same.
    let bundle = |r: &Value| r["bundle"]["path"].as_str().expect("bundle").to_string();
    let out = agent(&dd.state)
        .args(["-o", "json", "diff", &bundle(&first), &bundle(&second)])
        .output()
        .expect("diff");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let diffed: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(diffed["analysis"], changes["analysis"], "{diffed:#}");
}
