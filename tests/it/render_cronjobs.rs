//! `render cronjobs`: golden output, valid batch/v1 CronJobs (k8s-openapi), the pod spec of
//! deploy/kubernetes, a pod command that really runs the job, and refusals.

use crate::deploy_manifests::{find, kustomize, openapi_problems, parse_docs};
use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};

const IMAGE: &str = "registry.example.com/troubleshoot-agent:1.2.3";

const PROD: &str = r#"apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: prod-daily
spec:
  schedule: "0 2 * * 7"
  timeZone: America/New_York
  jitter: 10m
  concurrencyPolicy: Replace
  startingDeadline: 1h
  retry: {limit: 2, backoff: 1m}
  collect:
    supportBundle:
      hostCollectors:
        - memory: {}
"#;

const WEEKLY: &str = r#"apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: cluster-weekly
spec:
  schedule: "@weekly"
  suspend: true
  jitter: 0s
  concurrencyPolicy: Allow
  startingDeadline: 5m
  collect:
    autoDiscovery: true
"#;

/// 60 characters: longer than a CronJob's name may be.
const LONG_NAME: &str = "payments-eu-central-cluster-resources-and-logs-every-2nd-day";

fn long_job() -> String {
    format!(
        r#"apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: {LONG_NAME}
spec:
  schedule: "30 4 */2 * 1"
  timeZone: Europe/Berlin
  collect:
    supportBundle:
      collectors:
        - clusterInfo: {{}}
"#
    )
}

fn golden_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/render/cronjobs.yaml")
}

/// A jobs directory with the three jobs.
fn jobs_dir() -> support::Dirs {
    let dirs = support::dirs();
    std::fs::write(dirs.jobs.join("prod.yaml"), PROD).expect("write");
    std::fs::write(dirs.jobs.join("weekly.yaml"), WEEKLY).expect("write");
    std::fs::write(dirs.jobs.join("long.yaml"), long_job()).expect("write");
    dirs
}

fn render(dirs: &support::Dirs, flags: &[&str]) -> std::process::Output {
    support::agent(&dirs.state)
        .args(["render", "cronjobs"])
        .arg(&dirs.jobs)
        .args(flags)
        .output()
        .expect("run render cronjobs")
}

fn rendered(dirs: &support::Dirs, flags: &[&str]) -> (String, Vec<Value>) {
    let out = render(dirs, flags);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = support::stdout(&out);
    let docs = parse_docs(&text, "render cronjobs");
    (text, docs)
}

/// The output for the three jobs, byte for byte (`TSA_UPDATE_GOLDEN=1` rewrites the file).
#[test]
fn golden_output() {
    let dirs = jobs_dir();
    let (text, _) = rendered(&dirs, &["--image", IMAGE]);
    if std::env::var_os("TSA_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_path().parent().expect("parent")).expect("mkdir");
        std::fs::write(golden_path(), &text).expect("write golden");
    }
    let golden =
        std::fs::read_to_string(golden_path()).expect("read tests/data/render/cronjobs.yaml");
    assert_eq!(
        text, golden,
        "render cronjobs changed: check the difference, then rerun with TSA_UPDATE_GOLDEN=1"
    );
}

fn cronjob<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    find(docs, "CronJob", name).unwrap_or_else(|| panic!("no CronJob {name} in {docs:#?}"))
}

/// Every document parses as a batch/v1 CronJob without losing a field, and carries the job's
/// schedule, zone, policy, deadline and suspension, and a pod that triggers that job.
#[test]
fn the_output_is_valid_cronjobs_with_the_jobs_fields_mapped() {
    let dirs = jobs_dir();
    let (_, docs) = rendered(&dirs, &["--image", IMAGE, "--namespace", "support"]);
    assert_eq!(docs.len(), 3, "{docs:#?}");
    for doc in &docs {
        let problems = openapi_problems(doc);
        assert!(problems.is_empty(), "{problems:?}\n{doc:#}");
        assert_eq!(doc["metadata"]["namespace"], "support");
        let name = doc["metadata"]["name"].as_str().expect("name");
        assert!(name.len() <= 52, "{name}");
    }
    let expect = [
        (
            "prod-daily",
            "prod-daily",
            "0 2 * * 0",
            "America/New_York",
            "Replace",
            3600,
            false,
        ),
        (
            "cluster-weekly",
            "cluster-weekly",
            "@weekly",
            "UTC",
            "Allow",
            300,
            true,
        ),
        (
            "payments-eu-central-cluster-resources-and-logs-",
            LONG_NAME,
            "30 4 */2 * 1",
            "Europe/Berlin",
            "Forbid",
            3600,
            false,
        ),
    ];
    for (prefix, job, schedule, zone, policy, deadline, suspend) in expect {
        let doc = docs
            .iter()
            .find(|d| {
                d["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with(prefix))
            })
            .unwrap_or_else(|| panic!("no CronJob for {job}"));
        let spec = &doc["spec"];
        assert_eq!(spec["schedule"], schedule, "{job}");
        assert_eq!(spec["timeZone"], zone, "{job}");
        assert_eq!(spec["concurrencyPolicy"], policy, "{job}");
        assert_eq!(spec["startingDeadlineSeconds"], deadline, "{job}");
        assert_eq!(spec["suspend"], suspend, "{job}");
        let pod = &spec["jobTemplate"]["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let args: Vec<&str> = pod["containers"][0]["args"]
            .as_array()
            .expect("args")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(args[..2], ["trigger", job], "{job}");
        assert_eq!(pod["containers"][0]["image"], IMAGE);
        assert_eq!(doc["metadata"]["labels"]["troubleshoot.sh/job"], job);
    }
}

/// Without flags the pods are the cluster overlay's: namespace, service account, image, user,
/// the state volume handed over by the same init container, the same ConfigMap at the same path.
#[test]
fn the_defaults_match_deploy_kubernetes() {
    let dirs = jobs_dir();
    let (_, docs) = rendered(&dirs, &[]);
    let objects = kustomize("cluster");
    let deployment = find(&objects, "Deployment", "troubleshoot-agent").expect("the Deployment");
    let theirs = &deployment["spec"]["template"]["spec"];
    let ours_doc = cronjob(&docs, "prod-daily");
    let ours = &ours_doc["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(
        ours_doc["metadata"]["namespace"],
        deployment["metadata"]["namespace"]
    );
    for field in ["serviceAccountName", "securityContext", "initContainers"] {
        assert_eq!(ours[field], theirs[field], "{field}");
    }
    let (agent, their_agent) = (&ours["containers"][0], &theirs["containers"][0]);
    assert_eq!(agent["image"], their_agent["image"]);
    assert_eq!(agent["securityContext"], their_agent["securityContext"]);
    let mount = |c: &Value, name: &str| {
        c["volumeMounts"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} mount in {c:#}"))
    };
    let volume = |p: &Value, name: &str| {
        p["volumes"]
            .as_array()
            .and_then(|v| v.iter().find(|v| v["name"] == name).cloned())
            .unwrap_or_else(|| panic!("no {name} volume in {p:#}"))
    };
    for name in ["jobs", "state", "tmp"] {
        assert_eq!(mount(agent, name), mount(their_agent, name), "{name}");
        assert_eq!(volume(ours, name), volume(theirs, name), "{name}");
    }
    let arg = |c: &Value, prefix: &str| {
        c["args"]
            .as_array()
            .and_then(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .find(|a| a.starts_with(prefix))
            })
            .map(str::to_string)
    };
    for flag in ["--jobs-dir=", "--state-dir="] {
        assert_eq!(arg(agent, flag), arg(their_agent, flag), "{flag}");
    }
}

/// The pod's command, run here with the mounts' paths swapped for local directories: it runs the
/// job once, in the foreground, and succeeds.
#[test]
fn the_pods_command_runs_the_job_once() {
    let dirs = support::dirs();
    let job = PROD.replace("\"0 2 * * 7\"", "\"0 2 * * *\"");
    std::fs::write(dirs.jobs.join("prod.yaml"), job).expect("write");
    let (_, docs) = rendered(&dirs, &[]);
    let container = &cronjob(&docs, "prod-daily")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        ["containers"][0];
    let args: Vec<String> = container["args"]
        .as_array()
        .expect("args")
        .iter()
        .filter_map(Value::as_str)
        .map(|a| match a.split_once('=') {
            Some(("--jobs-dir", _)) => format!("--jobs-dir={}", dirs.jobs.display()),
            Some(("--state-dir", _)) => format!("--state-dir={}", dirs.state.display()),
            _ => a.to_string(),
        })
        .collect();
    // A pod has its own network: nothing answers on the agent's default address there.
    let closed = support::ports::ClosedPort::new();
    let out = support::agent(&dirs.state)
        .args(["--listen", &closed.addr(), "--output", "json"])
        .args(&args)
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .expect("run the pod's command");
    assert!(out.status.success(), "{}", support::stderr(&out));
    let record: Value = serde_json::from_str(&support::stdout(&out)).expect("record JSON");
    assert_eq!(record["job"], "prod-daily");
    assert_eq!(record["status"], "succeeded", "{record:#}");
    assert_eq!(record["trigger"], "manual", "{record:#}");
}

/// An invalid job file: its errors as `validate` prints them (file:line:column), nothing on
/// stdout, exit 1, even though the other file is valid.
#[test]
fn an_invalid_file_stops_the_rendering_with_its_located_errors() {
    let dirs = support::dirs();
    std::fs::write(dirs.jobs.join("weekly.yaml"), WEEKLY).expect("write");
    let bad = WEEKLY
        .replace("cluster-weekly", "broken")
        .replace("  schedule: \"@weekly\"", "  schedul: \"@weekly\"");
    std::fs::write(dirs.jobs.join("bad.yaml"), bad).expect("write");
    let out = render(&dirs, &[]);
    let stderr = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(support::stdout(&out), "", "{stderr}");
    let at = format!("{}:6:3", dirs.jobs.join("bad.yaml").display());
    assert!(stderr.contains(&at), "want {at} in:\n{stderr}");
    assert!(stderr.contains("schedul"), "{stderr}");
    assert!(stderr.contains("nothing rendered"), "{stderr}");

    let validate = support::agent(&dirs.state)
        .arg("validate")
        .arg(&dirs.jobs)
        .output()
        .expect("validate");
    let first_error = support::stderr(&validate)
        .lines()
        .find(|l| l.contains(&at))
        .map(str::to_string)
        .expect("validate names the same place");
    assert!(
        stderr.contains(&first_error),
        "{first_error}\nnot in\n{stderr}"
    );
}

/// Flags Kubernetes would refuse are refused before anything is rendered.
#[test]
fn invalid_flags_are_refused() {
    let dirs = jobs_dir();
    for (flags, want) in [
        (
            &["--namespace", "Support_Team"][..],
            "--namespace `Support_Team`",
        ),
        (
            &["--service-account", "agent_1"][..],
            "--service-account `agent_1`",
        ),
        (&["--image", ""][..], "--image ``"),
    ] {
        let out = render(&dirs, flags);
        let stderr = support::stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{flags:?}: {stderr}");
        assert_eq!(support::stdout(&out), "", "{flags:?}");
        assert!(stderr.contains(want), "{flags:?}: want {want} in {stderr}");
    }
}
