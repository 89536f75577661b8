//! The `exec`, `copy`, `runPod` and `run` collectors end to end: the agent (`trigger` in the
//! foreground, the real binary, the real kube client) against the test API server, which speaks
//! the exec websocket protocol and runs created pods to completion.

use crate::support;
use crate::support::kube_api;

use kube_api::{Cluster, ExecOutput, KubeApiServer};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::agent;
use support::triggered::{Triggered, files_under};

const COREDNS: &str = "coredns-56f6fc8fd7-p4x9z";

/// A finished foreground run: its record and the extracted bundle.
type Run = Triggered;

/// Runs one job through `trigger`: `spec` holds extra `spec:` lines (e.g. `timeout: 3s`),
/// `collectors` the in-cluster collectors as YAML list items.
fn run_job(server: &KubeApiServer, spec: &str, collectors: &str) -> Run {
    run_job_env(server, spec, collectors, &[])
}

/// [`run_job`] with extra environment for the agent.
fn run_job_env(server: &KubeApiServer, spec: &str, collectors: &str, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let mut job = String::from(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  redact: {enabled: false}\n",
    );
    for line in spec.lines() {
        job.push_str(&format!("  {line}\n"));
    }
    job.push_str(&format!(
        "  collect:\n    kubeconfig: {}\n    supportBundle:\n      collectors:\n",
        kubeconfig.display()
    ));
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, env, Duration::from_secs(120))
}

#[test]
fn exec_writes_stdout_stderr_and_records_a_non_zero_exit() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        &server,
        "",
        "- exec: {collectorName: uname, name: kots/exec, namespace: kube-system, selector: [k8s-app=kube-dns], command: [uname], args: [-a], timeout: 10s}\n\
         - exec: {collectorName: fails, name: kots/exec, namespace: kube-system, selector: [k8s-app=kube-dns], command: [sh, -c, exit 3]}\n\
         - exec: {name: by-container, namespace: kube-system, selector: [k8s-app=kube-dns], command: [echo, hello]}",
    );
    let dir = format!("kots/exec/kube-system/{COREDNS}");
    assert_eq!(
        run.text(&format!("{dir}/uname-stdout.txt")),
        "Linux test-node 6.1.0-test #1 SMP x86_64 GNU/Linux\n"
    );
    // Empty streams and no error: no file, as troubleshoot.
    assert!(!run.exists(&format!("{dir}/uname-stderr.txt")));
    assert!(!run.exists(&format!("{dir}/uname-errors.json")));
    assert_eq!(run.collector("title", "exec/uname")["status"], "succeeded");

    // Exit 3: stderr kept, the exit recorded in the errors file.
    assert_eq!(
        run.text(&format!("{dir}/fails-stderr.txt")),
        "exiting with 3\n"
    );
    assert!(!run.exists(&format!("{dir}/fails-stdout.txt")));
    let errors = run.json(&format!("{dir}/fails-errors.json"));
    let first = errors[0].as_str().unwrap_or("");
    assert!(first.contains("exit code 3"), "{errors}");

    // Without collectorName the files are named after the container.
    assert_eq!(
        run.text(&format!(
            "by-container/kube-system/{COREDNS}/coredns-stdout.txt"
        )),
        "hello\n"
    );
    // Through the websocket upgrade of pods/exec.
    assert!(
        server.requests().iter().any(|r| r.path
            == format!("/api/v1/namespaces/kube-system/pods/{COREDNS}/exec")
            && r.query.contains("command=uname")),
        "no exec request"
    );
}

#[test]
fn exec_timeout_records_the_error_and_fails_the_collector() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        &server,
        "",
        "- exec: {collectorName: slow, name: slow, namespace: kube-system, selector: [k8s-app=kube-dns], command: [sleep, \"30\"], timeout: 1s}",
    );
    let c = run.collector("title", "exec/slow");
    assert_eq!(c["status"], "failed", "{c}");
    let errors = run.json(&format!("slow/kube-system/{COREDNS}/slow-errors.json"));
    assert!(
        errors[0]
            .as_str()
            .unwrap_or("")
            .contains("did not finish within 1s"),
        "{errors}"
    );
    assert!(run.exists("collector-errors/exec/slow-error.json"));
}

#[test]
fn copy_stops_at_the_size_cap_and_says_so() {
    let mut cluster = Cluster::baseline();
    let big = vec![b'x'; 300_000];
    let archive = raw_archive(&[
        ("logs/a.log", tar::EntryType::Regular, "", &big),
        ("logs/b.log", tar::EntryType::Regular, "", b"never read\n"),
    ]);
    cluster.add_exec(
        "coredns",
        &["tar", "-C", "/var", "-cf", "-", "logs"],
        ExecOutput {
            stdout: archive,
            stderr: Vec::new(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job_env(
        &server,
        "",
        "- copy: {collectorName: logs, name: big, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /var/logs}",
        &[("TROUBLESHOOT_AGENT_COPY_MAX_FILE_SIZE", "100KiB")],
    );
    let base = format!("big/kube-system/{COREDNS}/var");
    let len = std::fs::metadata(run.bundle.join(format!("{base}/logs/a.log")))
        .expect("a.log")
        .len();
    assert_eq!(len, 100 * 1024);
    assert!(!run.exists(&format!("{base}/logs/b.log")));
    let errors = run.json(&format!("{base}/logs-errors.json"));
    assert!(
        errors["/var/logs/error"]
            .as_str()
            .unwrap_or("")
            .contains("copy size cap"),
        "{errors:#}"
    );
}

#[test]
fn exec_on_a_missing_pod_or_container_records_why() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        &server,
        "",
        "- exec: {collectorName: none, name: nopod, namespace: kube-system, selector: [app=does-not-exist], command: [uname]}\n\
         - exec: {collectorName: badc, name: nocontainer, namespace: kube-system, selector: [k8s-app=kube-dns], containerName: sidecar, command: [uname]}\n\
         - exec: {collectorName: done, name: completed, namespace: kube-system, selector: [job-name=helm-install-traefik], command: [uname]}",
    );
    let done = run.json("completed/kube-system/helm-install-traefik-5wnn9/done-errors.json");
    assert!(
        done[0].as_str().unwrap_or("").contains("completed pod"),
        "{done}"
    );
    let listing = run.json("nopod-errors.json");
    assert!(
        listing[0]
            .as_str()
            .unwrap_or("")
            .contains("app=does-not-exist"),
        "{listing}"
    );
    assert!(!run.exists("nopod/kube-system"));
    let errors = run.json(&format!(
        "nocontainer/kube-system/{COREDNS}/badc-errors.json"
    ));
    assert!(
        errors[0]
            .as_str()
            .unwrap_or("")
            .contains("container sidecar is not valid"),
        "{errors}"
    );
    assert!(!run.exists(&format!(
        "nocontainer/kube-system/{COREDNS}/badc-stdout.txt"
    )));
}

#[test]
fn copy_unpacks_a_folder_under_troubleshoots_path() {
    let server = KubeApiServer::start(Cluster::baseline());
    let run = run_job(
        &server,
        "",
        "- copy: {collectorName: cfg, name: copied, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /etc/coredns, containerName: coredns}\n\
         - copy: {collectorName: noname, name: plain, namespace: kube-system, selector: [app=local-path-provisioner], containerPath: /data}",
    );
    // <name>/<ns>/<pod>/<containerName>/<dirname(containerPath)>/<tar entry>
    let rel = format!("copied/kube-system/{COREDNS}/coredns/etc/coredns/copied.txt");
    assert_eq!(
        run.text(&rel),
        format!("copied from {COREDNS}:/etc/coredns\n")
    );
    assert_eq!(run.collector("title", "copy/cfg")["status"], "succeeded");
    assert!(
        !run.paths()
            .iter()
            .any(|p| p.starts_with("copied/") && p.ends_with("-errors.json")),
        "{:#?}",
        run.paths()
    );
    // No containerName: no container folder; the first container is used.
    let plain = "plain/kube-system/local-path-provisioner-5cf85fd84d-jntjc/data/copied.txt";
    assert!(run.text(plain).ends_with("/data\n"), "{}", run.text(plain));
    let exec = server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with(&format!("{COREDNS}/exec")))
        .expect("an exec request");
    assert!(
        exec.query.contains("command=tar") && exec.query.contains("container=coredns"),
        "{}",
        exec.query
    );
}

/// A tar archive with the given raw entries (name, type, link target, data), written without the
/// tar crate's path checks, as a hostile container could produce.
fn raw_archive(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_old();
        {
            let old = h.as_old_mut();
            old.name[..name.len()].copy_from_slice(name.as_bytes());
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_765_387_600);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

#[test]
fn copy_refuses_archive_entries_that_leave_its_folder() {
    let mut cluster = Cluster::baseline();
    let archive = raw_archive(&[
        ("evil/ok.txt", tar::EntryType::Regular, "", b"fine\n"),
        (
            "evil/../../../../escape.txt",
            tar::EntryType::Regular,
            "",
            b"out\n",
        ),
        (
            "/tmp/absolute-escape.txt",
            tar::EntryType::Regular,
            "",
            b"out\n",
        ),
        (
            "evil/link",
            tar::EntryType::Symlink,
            "../../../../../../..",
            b"",
        ),
        (
            "evil/link/through-link.txt",
            tar::EntryType::Regular,
            "",
            b"in\n",
        ),
        ("evil/hard", tar::EntryType::Link, "/etc/passwd", b""),
    ]);
    cluster.add_exec(
        "coredns",
        &["tar", "-C", "/data", "-cf", "-", "evil"],
        ExecOutput {
            stdout: archive,
            stderr: Vec::new(),
            exit_code: 0,
        },
    );
    let server = KubeApiServer::start(cluster);
    let run = run_job(
        &server,
        "",
        "- copy: {collectorName: evil, name: evil, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /data/evil}",
    );
    let base = format!("evil/kube-system/{COREDNS}/data");
    assert_eq!(run.text(&format!("{base}/evil/ok.txt")), "fine\n");
    // The symlink was not created: the later entry went into a real folder inside the copy.
    let link = run.bundle.join(format!("{base}/evil/link"));
    assert!(
        link.symlink_metadata().expect("link path").is_dir(),
        "a real folder, not a symlink"
    );
    assert!(!run.exists(&format!("{base}/evil/hard")));
    // Nothing escaped anywhere under the test's directory (state dir, staging, bundle).
    let everything = files_under(run.dir.path());
    assert!(
        !everything.iter().any(|p| p.ends_with("escape.txt")),
        "{everything:#?}"
    );
    assert!(!Path::new("/tmp/absolute-escape.txt").exists());
    let errors = run.json(&format!("{base}/evil-errors.json"));
    let message = errors["/data/evil/error"].as_str().unwrap_or("");
    for expected in ["escape.txt", "absolute", "links are not copied"] {
        assert!(message.contains(expected), "{expected}: {errors:#}");
    }
}

#[test]
fn run_pod_collects_logs_pod_and_events_then_deletes_the_pod() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_run_pod_log("static-hi", "hi static!\n");
    server.set_run_pod_log("run-example", "hello from run\n");
    let run = run_job(
        &server,
        "",
        "- runPod: {collectorName: static-hi, name: static-hi, timeout: 30s, podSpec: {containers: [{name: static-hi, image: \"alpine:3\", command: [echo, \"hi static!\"]}]}}\n\
         - run: {collectorName: run-example, name: run-example, image: busybox, command: [echo, hello from run]}",
    );
    assert_eq!(
        run.collector("title", "run-pod/static-hi")["status"],
        "succeeded",
        "{:#}",
        run.record
    );
    let real = "cluster-resources/pods/logs/default/static-hi/static-hi.log";
    assert_eq!(run.text(real), "hi static!\n");
    assert_eq!(
        std::fs::read_link(run.bundle.join("static-hi/static-hi.log")).expect("a symlink"),
        PathBuf::from(format!("../{real}"))
    );
    assert_eq!(run.text("static-hi/static-hi.log"), "hi static!\n");
    let pod = run.json("static-hi/static-hi.json");
    assert_eq!(
        pod["metadata"]["labels"]["troubleshoot-role"],
        "run-collector"
    );
    // No restartPolicy (Always, as in troubleshoot's e2e spec): the container ran once and is in
    // back-off; the run counts as complete.
    assert_eq!(pod["status"]["phase"], "Running");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"],
        "Completed"
    );
    assert!(pod.get("kind").is_none(), "typed objects carry no kind");
    let events = run.json("static-hi/static-hi-events.json");
    let items = events["items"].as_array().expect("items");
    assert!(!items.is_empty(), "{events:#}");
    assert!(
        items
            .iter()
            .all(|e| e["involvedObject"]["name"] == "static-hi")
    );
    // The deprecated `run`: container `collector` in `default`.
    assert_eq!(
        run.text("cluster-resources/pods/logs/default/run-example/collector.log"),
        "hello from run\n"
    );
    assert!(run.exists("run-example/run-example.log"));
    assert_eq!(
        run.json("run-example/run-example.json")["status"]["phase"],
        "Succeeded"
    );
    assert_eq!(
        run.collector("title", "run/run-example")["status"],
        "succeeded"
    );
    // Both pods are gone.
    assert!(!server.has_pod("default", "static-hi"));
    assert!(!server.has_pod("default", "run-example"));
    let created = server
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/namespaces/default/pods")
        .count();
    assert_eq!(created, 2);
}

#[test]
fn run_pod_timeout_deletes_the_pod_and_records_the_error() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_run_pod_secs("stuck", f64::INFINITY);
    let run = run_job(
        &server,
        "",
        "- runPod: {collectorName: stuck, name: stuck, namespace: kube-system, timeout: 1s, podSpec: {containers: [{name: srv, image: nginx}]}}",
    );
    let c = run.collector("title", "run-pod/stuck");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(c["error"].as_str().unwrap_or("").contains("timeout"), "{c}");
    let err = run.json("collector-errors/run-pod/stuck-error.json");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or("")
            .contains("did not complete within 1s"),
        "{err}"
    );
    assert!(!server.has_pod("kube-system", "stuck"));
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == "/api/v1/namespaces/kube-system/pods/stuck")
    );
    assert!(!run.exists("stuck/stuck.json"));
}

#[test]
fn run_pod_image_pull_backoff_aborts_unless_retries_are_allowed() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_image_missing("registry.invalid/nope:1");
    let run = run_job(
        &server,
        "",
        "- runPod: {collectorName: nopull, timeout: 30s, podSpec: {containers: [{name: c, image: registry.invalid/nope:1}]}}\n\
         - runPod: {collectorName: retry, timeout: 2s, allowImagePullRetries: true, podSpec: {containers: [{name: c, image: registry.invalid/nope:1}]}}",
    );
    let c = run.collector("title", "run-pod/nopull");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["error"]
            .as_str()
            .unwrap_or("")
            .contains("ImagePullBackOff"),
        "{c}"
    );
    // With retries allowed it waits until its timeout.
    let retry = run.collector("title", "run-pod/retry");
    assert!(
        retry["error"].as_str().unwrap_or("").contains("timeout"),
        "{retry}"
    );
    assert!(!server.has_pod("default", "nopull"));
    assert!(!server.has_pod("default", "retry"));
}

#[test]
fn run_pod_cancelled_by_the_job_timeout_deletes_the_pod() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.set_run_pod_secs("forever", f64::INFINITY);
    // No collector timeout: only the job's 3s timeout ends the wait.
    let run = run_job(
        &server,
        "timeout: 3s",
        "- runPod: {collectorName: forever, name: forever, podSpec: {containers: [{name: srv, image: nginx}]}}",
    );
    assert_eq!(run.record["status"], "timed-out", "{:#}", run.record);
    let c = run.collector("title", "run-pod/forever");
    assert_eq!(c["status"], "failed", "{c}");
    assert!(
        c["error"].as_str().unwrap_or("").contains("cancelled"),
        "{c}"
    );
    assert!(!server.has_pod("default", "forever"));
    // It existed: created, then deleted on the cancellation path.
    let reqs = server.requests();
    assert!(reqs.iter().any(|r| r.method == "POST"));
    assert!(
        reqs.iter()
            .any(|r| r.method == "DELETE" && r.path == "/api/v1/namespaces/default/pods/forever")
    );
}

#[test]
fn forbidden_exec_and_pod_creation_are_skipped_for_rbac() {
    let server = KubeApiServer::start(Cluster::baseline());
    server
        .deny("", "pods/exec", None)
        .deny("", "pods", Some("kube-public"));
    let run = run_job(
        &server,
        "",
        "- exec: {collectorName: uname, name: e, namespace: kube-system, selector: [k8s-app=kube-dns], command: [uname, -a]}\n\
         - copy: {collectorName: cfg, name: c, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /etc/coredns}\n\
         - runPod: {collectorName: denied, namespace: kube-public, podSpec: {containers: [{name: c, image: busybox}]}}\n\
         - data: {name: d.txt, collectorName: d, data: x}",
    );
    let skipped = run.json("skipped-collectors.json");
    let pod_entry = skipped
        .as_array()
        .and_then(|a| a.iter().find(|e| e["collector"] == "run-pod/denied"))
        .unwrap_or_else(|| panic!("{skipped:#}"));
    assert!(
        pod_entry["errors"]
            .to_string()
            .contains("cannot create pods (group core) in namespace \\\"kube-public\\\""),
        "{pod_entry}"
    );
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.method == "POST" && r.path.ends_with("/pods"))
    );
    for title in ["exec/uname", "copy/cfg"] {
        let entry = skipped
            .as_array()
            .and_then(|a| a.iter().find(|e| e["collector"] == title))
            .unwrap_or_else(|| panic!("{title}: {skipped:#}"));
        assert_eq!(entry["reason"], "insufficient RBAC permissions");
        assert!(
            entry["errors"][0]
                .as_str()
                .unwrap_or("")
                .contains("pods/exec"),
            "{entry}"
        );
        assert_eq!(run.collector("title", title)["status"], "skipped");
    }
    assert!(!run.exists("e"));
    assert!(
        !server.requests().iter().any(|r| r.path.ends_with("/exec")),
        "no exec was attempted"
    );
}

#[test]
fn validate_accepts_exec_copy_and_run_pod_without_unsupported_warnings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let job = dir.path().join("kube.yaml");
    std::fs::write(
        &job,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    kubeconfig: kc\n    supportBundle:\n      collectors:\n        - exec: {name: e, selector: [a=b], command: [ls]}\n        - copy: {name: c, selector: [a=b], containerPath: /x}\n        - runPod: {name: r, podSpec: {containers: [{name: c, image: i}]}}\n        - run: {name: old, image: busybox}\n        - mssql: {uri: \"sqlserver://x\"}\n",
    )
    .expect("job");
    let out = agent(&dir.path().join("state"))
        .arg("validate")
        .arg(&job)
        .output()
        .expect("validate");
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // Every type here runs in the builtin engine (mssql since issue 20's database collectors).
    assert!(!err.contains("not run by the builtin engine"), "{err}");
}

/// Polls `cond` for up to 10 s.
async fn eventually(cond: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pod_is_deleted_when_collection_is_cancelled_or_dropped() {
    use troubleshoot_agent::collect::CollectorStatus;
    use troubleshoot_agent::collect::cluster::{ClusterOptions, collect};
    use troubleshoot_agent::spec::Entry;

    let server = std::sync::Arc::new(KubeApiServer::start(Cluster::baseline()));
    server.set_run_pod_secs("held", f64::INFINITY);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let opts = ClusterOptions {
        kubeconfig: Some(kubeconfig),
        ..ClusterOptions::default()
    };
    let entries = vec![Entry {
        kind: "runPod".into(),
        body: serde_json::json!({"collectorName": "held", "podSpec": {"containers": [{"name": "c", "image": "nginx"}]}}),
        file: PathBuf::from("job.yaml"),
        loc: Default::default(),
        collector_name: Some("held".into()),
        exclude: false,
    }];

    // Cancelled (job timeout, agent shutdown) while waiting: deleted before collect returns.
    let cancel = tokio_util::sync::CancellationToken::new();
    let trigger = {
        let (server, cancel) = (server.clone(), cancel.clone());
        tokio::spawn(async move {
            assert!(eventually(|| server.has_pod("default", "held")).await);
            cancel.cancel();
        })
    };
    let root = dir.path().join("bundle");
    let outcomes = collect(&entries, &root, &opts, cancel, chrono::Utc::now()).await;
    trigger.await.expect("trigger");
    assert!(
        matches!(outcomes[0].status, CollectorStatus::Failed),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(outcomes[0].error.as_deref(), Some("cancelled"));
    assert!(!server.has_pod("default", "held"), "deleted on return");

    // The collection future dropped mid-wait: the guard deletes the pod in the background.
    let never = tokio_util::sync::CancellationToken::new();
    let root = dir.path().join("bundle2");
    let run = collect(&entries, &root, &opts, never, chrono::Utc::now());
    let dropped = tokio::select! {
        _ = run => false,
        () = async { while !server.has_pod("default", "held") { tokio::time::sleep(Duration::from_millis(20)).await; } } => true,
    };
    assert!(dropped, "the run ended by itself");
    assert!(
        eventually(|| !server.has_pod("default", "held")).await,
        "the dropped run's pod was not deleted"
    );
}

#[test]
fn a_slow_exec_answer_is_an_error_not_a_hang() {
    let server = KubeApiServer::start(Cluster::baseline());
    server.fail(
        "/api/v1/namespaces/kube-system/pods/*/exec",
        kube_api::Fault::Delay(Duration::from_secs(30)),
    );
    let run = run_job_env(
        &server,
        "",
        "- copy: {collectorName: cfg, name: slow, namespace: kube-system, selector: [k8s-app=kube-dns], containerPath: /etc/coredns}\n\
         - exec: {collectorName: up, name: slowexec, namespace: kube-system, selector: [k8s-app=kube-dns], command: [uptime]}",
        &[("TROUBLESHOOT_AGENT_KUBE_REQUEST_TIMEOUT", "2s")],
    );
    let errors = run.json(&format!(
        "slow/kube-system/{COREDNS}/etc/coredns-errors.json"
    ));
    assert!(
        errors["/etc/coredns/error"]
            .as_str()
            .unwrap_or("")
            .contains("no answer within 2s"),
        "{errors:#}"
    );
    let exec = run.json(&format!("slowexec/kube-system/{COREDNS}/up-errors.json"));
    assert!(exec.to_string().contains("no answer within 2s"), "{exec}");
}
