//! Node mode (`mode: node`, the DaemonSet): one agent per node runs the jobs that collect from
//! the host, each under its node's name. Three agents with different node names share one jobs
//! directory (as pods mounting one ConfigMap do) and one S3 bucket (moto): each slot gives three
//! bundles, one per node, keyed by node; the cluster job in the same directory runs on none of
//! them, and `validate --mode node` says why.

use crate::support;
use std::path::Path;
use std::time::Duration;
use support::daemon::{Daemon, dirs};
use support::servers::{AWS_ENV, Moto};

const HOST_JOB: &str = "node-daily";
const CLUSTER_JOB: &str = "cluster-daily";
const BUCKET: &str = "fleet-bundles";

/// A host job uploading to `endpoint` under `{node}`, and a cluster job (autoDiscovery).
fn write_jobs(jobs: &Path, endpoint: &str) {
    let host = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {HOST_JOB}\n\
         spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n        \
         - run: {{collectorName: hello, command: sh, args: [\"-c\", \"echo hello\"]}}\n  upload:\n    \
         - s3: {{bucket: {BUCKET}, region: us-east-1, endpoint: \"{endpoint}\", forcePathStyle: true, \
         prefix: fleet, key: \"{{node}}/{{job}}/{{runId}}.tar.gz\"}}\n"
    );
    std::fs::write(jobs.join("node-daily.yaml"), host).expect("write");
    let cluster = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {CLUSTER_JOB}\n\
         spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    autoDiscovery: true\n"
    );
    std::fs::write(jobs.join("cluster-daily.yaml"), cluster).expect("write");
}

/// A node-mode agent named `node` (through the `nodeName` setting, or `NODE_NAME` as the
/// DaemonSet sets it), its clock a few seconds before today's 02:00.
fn node_agent(jobs: &Path, state: &Path, node: &str, from_env: bool, day: &str) -> Daemon {
    let mut builder = Daemon::builder()
        .jobs(jobs)
        .state(state)
        .setting("mode", "node")
        .clock_at(&format!("{day}T01:59:56Z"));
    builder = if from_env {
        builder.env("NODE_NAME", node)
    } else {
        builder.setting("nodeName", node)
    };
    for (k, v) in AWS_ENV {
        builder = builder.env(k, v);
    }
    builder.start()
}

#[test]
fn three_node_agents_upload_one_bundle_each_per_slot_keyed_by_node() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let d = dirs();
    write_jobs(&d.jobs, &moto.endpoint());
    let today = chrono::Utc::now().date_naive();
    let day = today.format("%Y-%m-%d").to_string();
    let run_id = format!("{}T020000Z", today.format("%Y%m%d"));
    let nodes = ["worker-1", "worker-2", "worker-3"];
    let states: Vec<_> = nodes.iter().map(|n| d.state.join(n)).collect();
    let agents: Vec<Daemon> = (nodes.iter().zip(&states).enumerate())
        .map(|(i, (node, state))| node_agent(&d.jobs, state, node, i == 2, &day))
        .collect();
    for (agent, node) in agents.iter().zip(nodes) {
        // Only the host job is scheduled; the cluster job is left out, not rejected.
        assert!(agent.job(HOST_JOB).is_some(), "{node}: {}", agent.status());
        assert!(
            agent.job(CLUSTER_JOB).is_none(),
            "{node}: {}",
            agent.status()
        );
        let record = agent.wait_run(HOST_JOB, &run_id, Duration::from_secs(120));
        assert_eq!(record["status"], "succeeded", "{node}: {record:#}");
        assert_eq!(record["host"], node, "{record:#}");
        let bundle = Path::new(record["bundle"]["path"].as_str().expect("bundle path"));
        let name = bundle.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.starts_with(&format!("{HOST_JOB}-{node}-{day}T02_00_")),
            "the bundle is named by node: {name}"
        );
        let upload = &record["uploads"][0];
        assert_eq!(upload["status"], "succeeded", "{node}: {record:#}");
        let key = format!("fleet/{node}/{HOST_JOB}/{run_id}.tar.gz");
        assert!(
            upload["url"].as_str().is_some_and(|u| u.ends_with(&key)),
            "{node}: {record:#}"
        );
        assert!(
            agent
                .stderr()
                .contains("node mode: only the jobs that collect from the host run here"),
            "{node}: {}",
            agent.stderr()
        );
    }
    let mut keys = moto.keys(BUCKET);
    keys.sort();
    let want: Vec<String> = nodes
        .iter()
        .map(|n| format!("fleet/{n}/{HOST_JOB}/{run_id}.tar.gz"))
        .collect();
    assert_eq!(keys, want, "one bundle per node for the slot");
    for (state, agent) in states.iter().zip(&agents) {
        assert!(
            !state.join("jobs").join(CLUSTER_JOB).join("runs").exists(),
            "the cluster job never ran: {}",
            agent.stderr()
        );
    }
    for agent in agents {
        agent.stop();
    }
}

#[test]
fn validate_in_node_mode_says_which_jobs_it_leaves_out_and_why() {
    let d = dirs();
    write_jobs(&d.jobs, "http://127.0.0.1:9");
    let out = support::agent(&d.state)
        .args(["validate", "--mode", "node"])
        .arg(&d.jobs)
        .output()
        .expect("validate");
    let stderr = support::stderr(&out);
    let text = format!("{stderr}{}", support::stdout(&out));
    assert!(out.status.success(), "a warning, not an error: {text}");
    assert!(
        text.contains("job `cluster-daily` is not run in node mode: `collect.autoDiscovery` collects from the cluster"),
        "{text}"
    );
    assert!(text.contains("cluster-daily.yaml:"), "located: {text}");
    // plan --mode node: the same warning, and only the host job to add.
    let out = support::agent(&d.state)
        .args(["--jobs-dir"])
        .arg(&d.jobs)
        .args(["plan", "--mode", "node"])
        .output()
        .expect("plan");
    let text = support::stderr(&out) + &support::stdout(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("job `cluster-daily` is not run in node mode"),
        "{text}"
    );
    assert!(
        text.contains(HOST_JOB) && text.contains("1 to add"),
        "{text}"
    );
    // Host mode runs both, and says nothing of modes.
    let out = support::agent(&d.state)
        .args(["validate", "-o", "json"])
        .arg(&d.jobs)
        .output()
        .expect("validate");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        report["jobs"],
        serde_json::json!([CLUSTER_JOB, HOST_JOB]),
        "{report}"
    );
    // A bucket key without the node is refused in node mode: every node would write it.
    let shared = std::fs::read_to_string(d.jobs.join("node-daily.yaml"))
        .expect("read")
        .replace("key: \"{node}/", "key: \"");
    std::fs::write(d.jobs.join("node-daily.yaml"), shared).expect("write");
    let out = support::agent(&d.state)
        .args(["validate", "--mode", "node"])
        .arg(&d.jobs)
        .output()
        .expect("validate");
    let text = support::stderr(&out) + &support::stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("key template `{job}/{runId}.tar.gz` is the same on every node"),
        "{text}"
    );
    assert!(text.contains("{node}"), "the hint names the fix: {text}");
}
