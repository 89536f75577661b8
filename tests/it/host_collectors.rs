//! Host collectors end to end: the shipped kURL host spec, troubleshoot's example specs, and faults
//! (hangs, floods, missing commands, FIFOs, devices, symlink loops, /proc, hostile names).

use crate::support;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use troubleshoot_agent::collect::host::{self, HostOptions, UNSUPPORTED_REASON};
use troubleshoot_agent::collect::{CollectorOutcome, CollectorStatus};
use troubleshoot_agent::spec::{Entry, load_spec_file};
use troubleshoot_agent::yaml::Loc;

fn spec_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/specs")
        .join(rel)
}

fn entry(kind: &str, body: Value) -> Entry {
    Entry {
        kind: kind.into(),
        collector_name: body
            .get("collectorName")
            .and_then(|v| v.as_str())
            .map(str::to_string),
        exclude: body.get("exclude").and_then(|v| v.as_bool()) == Some(true),
        body,
        file: PathBuf::from("test.yaml"),
        loc: Loc::default(),
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

async fn run(entries: &[Entry], root: &Path, opts: &HostOptions) -> Vec<CollectorOutcome> {
    let cancel = CancellationToken::new();
    // A hang guard only: nothing here should come near it.
    tokio::time::timeout(
        Duration::from_secs(600),
        host::collect(entries, root, &cancel, opts, now()),
    )
    .await
    .expect("host collection hung")
}

fn read_json(root: &Path, rel: &str) -> Value {
    let text = std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"));
    assert!(!text.ends_with('\n'), "{rel} has a trailing newline");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{rel}: {e}: {text}"))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn by_name<'a>(outcomes: &'a [CollectorOutcome], title: &str) -> &'a CollectorOutcome {
    outcomes
        .iter()
        .find(|o| o.title == title)
        .unwrap_or_else(|| panic!("no outcome titled {title}"))
}

/// Every outcome is accounted for: succeeded with files, failed with an error file of the right
/// shape, or skipped with a reason; every recorded file exists under the root.
fn assert_accounted(root: &Path, outcomes: &[CollectorOutcome]) {
    for o in outcomes {
        for f in &o.files {
            assert!(root.join(f).exists(), "{}: recorded {f} missing", o.title);
        }
        match &o.status {
            CollectorStatus::Succeeded => {
                assert!(!o.files.is_empty(), "{} succeeded without output", o.title)
            }
            CollectorStatus::Failed => {
                let err = o.error.as_deref().expect("failed without error");
                // `<title>-error.json`, or `<title> (N)-error.json` when titles repeat.
                let prefix = format!(
                    "host-collectors/errors/{}",
                    host::sanitize_component(&o.title)
                );
                let name = o
                    .files
                    .iter()
                    .find(|f| f.starts_with(&prefix) && f.ends_with("-error.json"))
                    .unwrap_or_else(|| panic!("{}: no error file in {:?}", o.title, o.files))
                    .clone();
                let doc = read_json(root, &name);
                assert_eq!(keys(&doc), ["collector", "error", "timestamp"]);
                assert_eq!(doc["collector"], o.title.as_str());
                assert_eq!(doc["error"], err);
                let ts = doc["timestamp"].as_str().expect("timestamp");
                assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok(), "{ts}");
            }
            CollectorStatus::Skipped { reason } => assert!(!reason.is_empty()),
        }
    }
}

fn u64_field(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("{k} is not a u64 in {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn host_default_spec_every_collector_is_accounted_for() {
    // Its `http` collectors fetch https://*.replicated.com: no lookup may leave the machine.
    let name = "host_default_spec_every_collector_is_accounted_for";
    if support::alone::offline(module_path!(), name) {
        return;
    }
    let file = load_spec_file(&spec_path("troubleshoot-specs/host/default.yaml"));
    let entries = file.spec.host_collectors;
    assert_eq!(entries.len(), 121);
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = HostOptions {
        max_parallel: 8,
        ..HostOptions::default()
    };
    let outcomes = run(&entries, dir.path(), &opts).await;
    assert_eq!(outcomes.len(), entries.len(), "none silently dropped");
    assert_accounted(dir.path(), &outcomes);
    for o in &outcomes {
        assert!(
            !matches!(o.status, CollectorStatus::Skipped { .. }),
            "{} skipped: every type of this spec is builtin",
            o.title
        );
    }
    let root = dir.path();

    // cpu: compact, exact fields.
    let raw = std::fs::read_to_string(root.join("host-collectors/system/cpu.json")).expect("cpu");
    assert!(!raw.contains('\n'));
    let cpu = read_json(root, "host-collectors/system/cpu.json");
    assert_eq!(
        keys(&cpu),
        ["logicalCount", "physicalCount", "flags", "machineArch"]
    );
    assert!(u64_field(&cpu, "logicalCount") >= 1);
    assert!(u64_field(&cpu, "physicalCount") >= 1);
    assert!(
        cpu["flags"].is_null()
            || cpu["flags"]
                .as_array()
                .is_some_and(|f| f.iter().all(Value::is_string))
    );
    if let Some(flags) = cpu["flags"].as_array() {
        let mut uniq = flags.clone();
        uniq.dedup();
        assert_eq!(uniq.len(), flags.len(), "flags de-duplicated");
    }
    assert!(!cpu["machineArch"].as_str().expect("arch").is_empty());

    let mem = read_json(root, "host-collectors/system/memory.json");
    assert_eq!(keys(&mem), ["total"]);
    assert!(u64_field(&mem, "total") > 0);

    let raw = std::fs::read_to_string(root.join("host-collectors/system/hostos_info.json"))
        .expect("hostos");
    assert!(raw.starts_with("{\n \"name\": "), "1-space indent: {raw}");
    let os = read_json(root, "host-collectors/system/hostos_info.json");
    assert_eq!(
        keys(&os),
        [
            "name",
            "kernelVersion",
            "platformVersion",
            "platform",
            "platformFamily"
        ]
    );
    assert!(os.as_object().expect("obj").values().all(Value::is_string));

    for name in [
        "root",
        "tmp",
        "var-lib-kubelet",
        "opt-replicated",
        "var-openebs",
    ] {
        let du = read_json(root, &format!("host-collectors/diskUsage/{name}.json"));
        assert_eq!(keys(&du), ["total_bytes", "used_bytes"]);
        assert!(u64_field(&du, "total_bytes") >= u64_field(&du, "used_bytes"));
    }

    let ifs = read_json(root, "host-collectors/system/ipv4Interfaces.json");
    if let Some(list) = ifs.as_array() {
        for i in list {
            assert_eq!(keys(i), ["Index", "MTU", "Name", "HardwareAddr", "Flags"]);
            assert!(i["Index"].is_i64() && i["MTU"].is_i64() && i["Flags"].is_u64());
            assert!(i["HardwareAddr"].is_string() || i["HardwareAddr"].is_null());
            assert_eq!(i["Flags"].as_u64().unwrap_or(0) & 1, 1, "up");
            assert_eq!(i["Flags"].as_u64().unwrap_or(0) & 4, 0, "not loopback");
        }
    } else {
        assert!(ifs.is_null(), "{ifs}");
    }

    let bd = by_name(&outcomes, "Block Devices");
    if bd.status == CollectorStatus::Succeeded {
        let v = read_json(root, "host-collectors/system/block_devices.json");
        for d in v.as_array().into_iter().flatten() {
            assert_eq!(
                keys(d),
                [
                    "name",
                    "kernel_name",
                    "parent_kernel_name",
                    "type",
                    "major",
                    "minor",
                    "size",
                    "filesystem_type",
                    "mountpoint",
                    "serial",
                    "read_only",
                    "removable"
                ]
            );
            assert!(d["size"].is_u64() && d["read_only"].is_boolean() && d["major"].is_i64());
        }
    }

    // No systemd in most containers: time and hostServices then fail with the OS tool's message.
    for (title, rel) in [
        ("Time", "host-collectors/system/time.json"),
        (
            "Host Services",
            "host-collectors/system/systemctl_services.json",
        ),
    ] {
        let o = by_name(&outcomes, title);
        match o.status {
            CollectorStatus::Succeeded => {
                let v = read_json(root, rel);
                if title == "Time" {
                    assert_eq!(keys(&v), ["timezone", "ntp_synchronized", "ntp_active"]);
                } else {
                    for s in v.as_array().into_iter().flatten() {
                        assert_eq!(keys(s), ["Unit", "Load", "Active", "Sub"]);
                    }
                }
            }
            _ => println!("{title}: {:?} {:?}", o.status, o.error),
        }
    }

    // Certificates that are not there: a bare JSON string.
    let raw =
        std::fs::read_to_string(root.join("host-collectors/certificate/k8s-api-keypair.json"))
            .expect("cert");
    assert_eq!(raw, "\"key-pair-missing\"");

    // https, offline: the http error shape (the lookup failed), and the collector succeeded.
    let h = read_json(root, "host-collectors/http/curl-api-replicated-com.json");
    assert_eq!(keys(&h), ["error"]);
    assert!(
        h["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("invalid-address api.replicated.com:443")),
        "{h}"
    );
    assert_eq!(
        by_name(&outcomes, "curl-api-replicated-com").status,
        CollectorStatus::Succeeded
    );

    // run: stdout, info with upstream's fields in order.
    let uname =
        std::fs::read_to_string(root.join("host-collectors/run-host/uname.txt")).expect("uname");
    assert!(uname.starts_with("Linux"), "{uname}");
    let info = read_json(root, "host-collectors/run-host/uname-info.json");
    assert_eq!(
        keys(&info),
        ["command", "exitCode", "error", "outputDir", "input", "env"]
    );
    assert_eq!(info["exitCode"], "0");
    assert!(
        info["command"]
            .as_str()
            .is_some_and(|c| c.ends_with("uname -a"))
    );
    assert!(
        info["env"]
            .as_array()
            .is_some_and(|e| e.iter().all(Value::is_string))
    );
    // A command that is not installed here (e.g. crictl) is a Failed outcome with an info JSON.
    for o in outcomes
        .iter()
        .filter(|o| o.kind == "run" && o.status == CollectorStatus::Failed)
    {
        let rel = format!("host-collectors/run-host/{}-info.json", o.title);
        let info = read_json(root, &rel);
        assert_eq!(info["exitCode"], "", "{rel}");
        assert!(!info["error"].as_str().unwrap_or("").is_empty(), "{rel}");
    }

    let pk = read_json(
        root,
        "host-collectors/system/security-tools-packages-packages.json",
    );
    assert_eq!(keys(&pk), ["os", "osVersion", "packages"]);
    for p in pk["packages"].as_array().into_iter().flatten() {
        assert!(p["exitCode"].is_string() && p["name"].is_string() && p["details"].is_string());
    }

    let counts = |f: fn(&CollectorStatus) -> bool| outcomes.iter().filter(|o| f(&o.status)).count();
    println!(
        "default.yaml: {} succeeded, {} failed, {} skipped",
        counts(|s| *s == CollectorStatus::Succeeded),
        counts(|s| *s == CollectorStatus::Failed),
        counts(|s| matches!(s, CollectorStatus::Skipped { .. })),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn all_collectors_example_shapes() {
    let file = load_spec_file(&spec_path("examples/collect/host/all-collectors.yaml"));
    // Tests reach only loopback and leave the machine's network alone: `dns` would ask the real
    // nameservers and `networkNamespaceConnectivity` routes 10.0.0.0/8 through the host. Both
    // are tested in a sandbox in host_collectors_more.rs. `http` fetches https://www.google.com:
    // http_tls.rs tests it against a loopback server.
    let entries: Vec<Entry> = file
        .spec
        .host_collectors
        .into_iter()
        .filter(|e| !["dns", "networkNamespaceConnectivity", "http"].contains(&e.kind.as_str()))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let outcomes = run(&entries, dir.path(), &HostOptions::default()).await;
    assert_eq!(outcomes.len(), entries.len());
    assert_accounted(dir.path(), &outcomes);
    let root = dir.path();
    for o in &outcomes {
        println!(
            "{:<28} {:<22} {:?} {:?}",
            o.kind, o.title, o.status, o.error
        );
        assert!(
            !matches!(&o.status, CollectorStatus::Skipped { reason } if reason == UNSUPPORTED_REASON),
            "{} is not run",
            o.kind
        );
    }

    let km = read_json(root, "host-collectors/system/kernel_modules.json");
    for (_, m) in km.as_object().expect("modules map") {
        assert_eq!(keys(m), ["size", "instances", "status"]);
        assert!(
            ["loaded", "loadable", "loading", "unloading", "unknown"]
                .contains(&m["status"].as_str().unwrap_or(""))
        );
    }
    let sysctl = read_json(root, "host-collectors/system/sysctl.json");
    let map = sysctl.as_object().expect("sysctl map");
    assert!(!map.is_empty());
    assert!(map.values().all(Value::is_string));
    let k: Vec<&String> = map.keys().collect();
    assert!(k.windows(2).all(|w| w[0] < w[1]), "sorted keys");

    match by_name(&outcomes, "Kernel Configs").status {
        CollectorStatus::Succeeded => {
            let kc = read_json(root, "host-collectors/system/kernel-configs.json");
            assert!(
                kc.as_object()
                    .expect("map")
                    .keys()
                    .all(|k| k.starts_with("CONFIG_"))
            );
        }
        ref s => println!("kernelConfigs: {s:?}"),
    }
    let cg = read_json(root, "host-collectors/system/cgroups.json");
    assert_eq!(
        keys(&cg),
        ["cgroup-enabled", "cgroup-v1", "cgroup-v2", "allControllers"]
    );
    for v in ["cgroup-v1", "cgroup-v2"] {
        assert_eq!(keys(&cg[v]), ["enabled", "mountPoint", "controllers"]);
        assert!(cg[v]["controllers"].is_array());
    }

    // journald: an info JSON always; without a journal here, a clear error.
    let info = read_json(root, "host-collectors/journald/journald-system-info.json");
    assert_eq!(
        keys(&info),
        ["command", "exitCode", "error", "outputDir", "input", "env"]
    );
    assert!(
        info["command"]
            .as_str()
            .is_some_and(|c| c.contains("--system") && c.ends_with("--no-pager"))
    );
    let j = by_name(&outcomes, "journald-system");
    if j.status == CollectorStatus::Failed {
        println!("journald: {:?}", j.error);
        assert!(j.error.as_deref().is_some_and(|e| e.contains("journal")));
    }

    for (rel, statuses) in [
        ("host-collectors/tcpPortStatus/ssh-port.json", None),
        ("host-collectors/udpPortStatus/dns-port.json", None),
        ("host-collectors/connect/localhost-ssh.json", None),
        ("host-collectors/tcpLoadBalancer/lb-test.json", None),
        (
            "host-collectors/httpLoadBalancer/http-lb-test.json",
            None::<()>,
        ),
    ] {
        let _ = statuses;
        let v = read_json(root, rel);
        assert_eq!(keys(&v), ["status", "message"], "{rel}");
        assert!(
            [
                "connected",
                "connection-refused",
                "connection-timeout",
                "address-in-use",
                "error",
                "bind-permission-denied",
                "invalid-address"
            ]
            .contains(&v["status"].as_str().unwrap_or("")),
            "{rel}: {v}"
        );
    }

    let fs = by_name(&outcomes, "filesystem-latency");
    match fs.status {
        CollectorStatus::Succeeded => {
            let v = read_json(
                root,
                "host-collectors/filesystemPerformance/filesystem-latency.json",
            );
            assert!(v["fio version"].is_string());
            assert_eq!(v["jobs"][0]["jobname"], "fsperf");
            assert!(
                v["jobs"][0]["sync"]["lat_ns"]["percentile"].is_object()
                    || v["jobs"][0]["write"]["clat_ns"]["percentile"].is_object()
            );
        }
        _ => assert!(
            fs.error.as_deref().is_some_and(|e| e.contains("fio")),
            "{:?}",
            fs.error
        ),
    }

    let hosts = std::fs::read(root.join("hosts-file/hosts")).expect("copied /etc/hosts");
    assert_eq!(hosts, std::fs::read("/etc/hosts").expect("/etc/hosts"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn run_faults_timeout_flood_missing_not_executable_exit_code() {
    // Alone in a child process: the peak RSS checked below is the whole process's.
    let name = "run_faults_timeout_flood_missing_not_executable_exit_code";
    if support::alone::rerun(module_path!(), name, &[]) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("not-exec.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").expect("write");
    let root = dir.path().join("bundle");
    let entries = vec![
        entry(
            "run",
            json!({"collectorName": "hang", "command": "sleep", "args": ["600"], "timeout": "1s"}),
        ),
        entry(
            "run",
            json!({"collectorName": "flood", "command": "head", "args": ["-c", "1G", "/dev/zero"]}),
        ),
        entry(
            "run",
            json!({"collectorName": "missing", "command": "definitely-not-a-command-xyz"}),
        ),
        entry(
            "run",
            json!({"collectorName": "noexec", "command": script.display().to_string()}),
        ),
        entry(
            "run",
            json!({"collectorName": "exit3", "command": "sh", "args": ["-c", "echo out; echo oops >&2; exit 3"]}),
        ),
        entry(
            "run",
            json!({
                "collectorName": "my-custom-run",
                "command": "sh",
                "args": ["-c", "cat $TS_INPUT_DIR/dummy.yaml > $TS_OUTPUT_DIR/dummy_content.yaml; echo $AWS_REGION"],
                "outputDir": "myCommandOutputs",
                "env": ["AWS_REGION=us-west-1"],
                "inheritEnvs": ["PATH"],
                "input": {"dummy.yaml": "username: postgres\n"}
            }),
        ),
    ];
    let opts = HostOptions {
        run_output_cap: 1024 * 1024,
        ..HostOptions::default()
    };
    let outcomes = run(&entries, &root, &opts).await;
    assert_accounted(&root, &outcomes);

    let hang = read_json(&root, "host-collectors/run-host/hang-info.json");
    assert_eq!(
        by_name(&outcomes, "hang").status,
        CollectorStatus::Succeeded
    );
    assert_eq!(hang["exitCode"], "124");
    assert_eq!(hang["error"], "command timed out after 1s");

    let flood = read_json(&root, "host-collectors/run-host/flood-info.json");
    assert_eq!(flood["truncated"], true);
    assert_eq!(flood["exitCode"], "0");
    let size = std::fs::metadata(root.join("host-collectors/run-host/flood.txt"))
        .expect("flood")
        .len();
    assert_eq!(size, 1024 * 1024);
    // Peak memory of this whole test process stays far below the 1 GiB the command printed.
    let status = std::fs::read_to_string("/proc/self/status").expect("status");
    let hwm_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmHWM");
    assert!(hwm_kb < 300 * 1024, "peak RSS {hwm_kb} kB");

    for name in ["missing", "noexec"] {
        let o = by_name(&outcomes, name);
        assert_eq!(o.status, CollectorStatus::Failed, "{name}");
        let info = read_json(&root, &format!("host-collectors/run-host/{name}-info.json"));
        assert_eq!(info["exitCode"], "");
        assert!(!info["error"].as_str().unwrap_or("").is_empty());
        println!("{name}: {:?}", o.error);
    }
    assert!(
        by_name(&outcomes, "noexec")
            .error
            .as_deref()
            .is_some_and(|e| e.contains("ermission denied"))
    );

    let e3 = read_json(&root, "host-collectors/run-host/exit3-info.json");
    assert_eq!(
        by_name(&outcomes, "exit3").status,
        CollectorStatus::Succeeded
    );
    assert_eq!(e3["exitCode"], "3");
    assert_eq!(e3["error"], "oops\n");
    assert!(e3.get("truncated").is_none());
    assert_eq!(
        std::fs::read_to_string(root.join("host-collectors/run-host/exit3.txt")).expect("out"),
        "out\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("host-collectors/run-host/exit3-stderr.txt"))
            .expect("err"),
        "oops\n"
    );

    assert_eq!(
        std::fs::read_to_string(root.join("host-collectors/run-host/my-custom-run.txt"))
            .expect("out"),
        "us-west-1\n"
    );
    assert_eq!(
        std::fs::read_to_string(
            root.join("host-collectors/run-host/my-custom-run/myCommandOutputs/dummy_content.yaml")
        )
        .expect("outputDir file"),
        "username: postgres\n"
    );
    let info = read_json(&root, "host-collectors/run-host/my-custom-run-info.json");
    assert_eq!(info["outputDir"], "myCommandOutputs");
    let env: Vec<&str> = info["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"AWS_REGION=us-west-1"));
    assert!(env.iter().any(|e| e.starts_with("TS_OUTPUT_DIR=")));
    assert!(env.iter().any(|e| e.starts_with("TS_INPUT_DIR=")));
    // Only the clean base, the listed (inheritEnvs) and the spec's variables: never the agent's
    // whole environment.
    assert!(
        env.iter().all(|e| {
            let k = e.split('=').next().unwrap_or("");
            [
                "PATH",
                "HOME",
                "LANG",
                "LANGUAGE",
                "LC_ALL",
                "LC_CTYPE",
                "LC_MESSAGES",
                "TZ",
                "TMPDIR",
                "KUBECONFIG",
                "AWS_REGION",
                "TS_OUTPUT_DIR",
                "TS_INPUT_DIR",
            ]
            .contains(&k)
        }),
        "{env:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copy_faults_fifo_device_symlink_loop_proc_unreadable_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("sub")).expect("mkdir");
    std::fs::write(src.join("a.log"), "alpha\n").expect("write");
    std::fs::write(src.join("sub/b.log"), "beta\n").expect("write");
    std::fs::write(dir.path().join("big.txt"), vec![b'x'; 100]).expect("write");
    let fifo = src.join("pipe");
    let ok = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(ok.success());
    std::os::unix::fs::symlink(src.join("loop2"), src.join("loop1")).expect("symlink");
    std::os::unix::fs::symlink(src.join("loop1"), src.join("loop2")).expect("symlink");
    std::os::unix::fs::symlink(&src, src.join("sub/back-to-top")).expect("symlink");
    let root = dir.path().join("bundle");
    let entries = vec![
        entry(
            "copy",
            json!({"collectorName": "tree", "path": src.display().to_string()}),
        ),
        entry(
            "copy",
            json!({"collectorName": "fifo", "path": fifo.display().to_string()}),
        ),
        entry("copy", json!({"collectorName": "dev", "path": "/dev/null"})),
        entry(
            "copy",
            json!({"collectorName": "loop", "path": src.join("loop1").display().to_string()}),
        ),
        entry(
            "copy",
            json!({"collectorName": "proc", "path": "/proc/self/status"}),
        ),
        // Readable to open but EIO on read at offset 0, even for root: a real per-file error.
        entry(
            "copy",
            json!({"collectorName": "procmem", "path": "/proc/self/mem"}),
        ),
        entry(
            "copy",
            json!({"collectorName": "glob", "path": format!("{}/*.log", src.display())}),
        ),
        entry(
            "copy",
            json!({"collectorName": "big", "path": dir.path().join("big.txt").display().to_string()}),
        ),
        entry(
            "copy",
            json!({"collectorName": "nothing", "path": dir.path().join("nope-*").display().to_string()}),
        ),
        entry(
            "copy",
            json!({"path": src.join("a.log").display().to_string()}),
        ),
    ];
    let opts = HostOptions {
        copy_size_cap: 10,
        ..HostOptions::default()
    };
    let outcomes = tokio::time::timeout(Duration::from_secs(60), run(&entries, &root, &opts))
        .await
        .expect("copy must never block on a FIFO or loop");
    assert_accounted(&root, &outcomes);
    let errors = |name: &str| -> Vec<String> {
        serde_json::from_value(read_json(&root, &format!("{name}/errors.json")))
            .expect("string array")
    };

    // Tree: regular files copied (capped at 10 bytes), FIFO and symlinks skipped with notes.
    assert_eq!(
        std::fs::read_to_string(root.join("tree/src/a.log")).expect("a"),
        "alpha\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("tree/src/sub/b.log")).expect("b"),
        "beta\n"
    );
    assert!(!root.join("tree/src/pipe").exists());
    assert!(!root.join("tree/src/sub/back-to-top").exists());
    let tree = errors("tree");
    assert!(
        tree.iter()
            .any(|e| e.contains("pipe") && e.contains("FIFO")),
        "{tree:?}"
    );
    assert!(
        tree.iter()
            .any(|e| e.contains("back-to-top") && e.contains("symlink")),
        "{tree:?}"
    );

    assert!(errors("fifo").iter().any(|e| e.contains("FIFO")));
    assert!(errors("dev").iter().any(|e| e.contains("device")));
    let lp = errors("loop");
    assert!(lp.iter().any(|e| e.contains("loop1")), "{lp:?}");

    let proc_status = std::fs::read_to_string(root.join("proc/status")).expect("proc copy");
    assert_eq!(
        proc_status.len(),
        10,
        "/proc file read (st_size 0) and capped"
    );
    assert!(proc_status.starts_with("Name:"));
    assert!(errors("proc").iter().any(|e| e.contains("truncated")));

    let mem = errors("procmem");
    assert!(mem.iter().any(|e| e.contains("/proc/self/mem")), "{mem:?}");
    assert_eq!(
        by_name(&outcomes, "procmem").status,
        CollectorStatus::Succeeded
    );

    assert!(root.join("glob/a.log").is_file());
    assert!(!root.join("glob/errors.json").exists());
    assert_eq!(
        std::fs::read(root.join("big/big.txt")).expect("big").len(),
        10
    );
    assert_eq!(
        by_name(&outcomes, "nothing").status,
        CollectorStatus::Failed
    );
    assert_eq!(
        std::fs::read_to_string(root.join("copy/a.log")).expect("default copy dir"),
        "alpha\n"
    );
}

/// A root-owned 0600 file read by an unprivileged collector: the per-file error path with a real
/// EACCES. Runs this test again as nobody (setpriv, in a child process) when we are root;
/// as non-root, the 0000 file below already gives EACCES, in this process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_unreadable_file_is_recorded_and_collection_continues() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if std::env::var_os("TSA_UNREADABLE_CHILD").is_none() && euid == 0 {
        let dir = tempfile::tempdir().expect("tempdir");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777))
            .expect("chmod");
        let secret = dir.path().join("secret.txt");
        std::fs::write(&secret, "root only\n").expect("write");
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        std::fs::write(dir.path().join("public.txt"), "hello\n").expect("write");
        std::fs::set_permissions(
            dir.path().join("public.txt"),
            std::fs::Permissions::from_mode(0o644),
        )
        .expect("chmod");
        let name = "copy_unreadable_file_is_recorded_and_collection_continues";
        let mut child = support::alone::command(module_path!(), name, &support::alone::AS_NOBODY);
        support::alone::run(child.env("TSA_UNREADABLE_CHILD", dir.path()));
        return;
    }
    let base = match std::env::var_os("TSA_UNREADABLE_CHILD") {
        Some(d) => PathBuf::from(d),
        None => {
            // Not root: make our own unreadable file.
            let d = tempfile::tempdir().expect("tempdir").keep();
            std::fs::write(d.join("secret.txt"), "x").expect("write");
            std::fs::write(d.join("public.txt"), "hello\n").expect("write");
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d.join("secret.txt"), std::fs::Permissions::from_mode(0o000))
                .expect("chmod");
            d
        }
    };
    let root = base.join(format!("bundle-{}", std::process::id()));
    let entries = vec![entry(
        "copy",
        json!({"collectorName": "c", "path": format!("{}/*.txt", base.display())}),
    )];
    let outcomes = run(&entries, &root, &HostOptions::default()).await;
    assert_accounted(&root, &outcomes);
    assert_eq!(outcomes[0].status, CollectorStatus::Succeeded);
    assert_eq!(
        std::fs::read_to_string(root.join("c/public.txt")).expect("public"),
        "hello\n"
    );
    let errs: Vec<String> =
        serde_json::from_value(read_json(&root, "c/errors.json")).expect("array");
    assert!(
        errs.iter()
            .any(|e| e.contains("secret.txt") && e.contains("ermission denied")),
        "{errs:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_names_never_escape_the_root() {
    let parent = tempfile::tempdir().expect("tempdir");
    let root = parent.path().join("bundle");
    let long = "n".repeat(300);
    let names = [
        "../../escape",
        "a/b/../../c",
        "..",
        ".",
        "x\0y",
        long.as_str(),
        "/abs/path",
        "",
    ];
    let mut entries = Vec::new();
    for n in names {
        entries.push(entry("run", json!({"collectorName": n, "command": "echo", "args": ["hi"], "outputDir": "../../out"})));
        entries.push(entry(
            "run",
            json!({"collectorName": n, "command": "no-such-command-here"}),
        ));
        entries.push(entry(
            "copy",
            json!({"collectorName": n, "path": "/etc/hostname"}),
        ));
        entries.push(entry("diskUsage", json!({"collectorName": n, "path": "/"})));
        entries.push(entry(
            "certificate",
            json!({"collectorName": n, "certificatePath": "/nope"}),
        ));
        entries.push(entry(
            "http",
            json!({"collectorName": n, "get": {"url": "http://127.0.0.1:1/"}}),
        ));
        entries.push(entry("journald", json!({"collectorName": n, "lines": 1})));
        entries.push(entry(
            "tcpConnect",
            json!({"collectorName": n, "address": "127.0.0.1:1"}),
        ));
    }
    let outcomes = run(&entries, &root, &HostOptions::default()).await;
    assert_eq!(outcomes.len(), entries.len());
    assert_accounted(&root, &outcomes);
    // Walk the parent: the only entry is the bundle root; everything is inside it; no component
    // is longer than the filesystem allows.
    let top: Vec<_> = std::fs::read_dir(parent.path())
        .expect("read")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(top, ["bundle"]);
    let mut stack = vec![root.clone()];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read") {
            let e = e.expect("entry");
            assert!(e.file_name().len() <= 255);
            assert!(e.path().starts_with(&root));
            if e.file_type().expect("type").is_dir() {
                stack.push(e.path());
            } else {
                files += 1;
            }
        }
    }
    assert!(files > 0);
    for o in &outcomes {
        for f in &o.files {
            assert!(
                !f.split('/').any(|c| c == ".." || c == "." || c.is_empty()),
                "{f}"
            );
            assert!(!f.contains('\0'));
        }
    }
    // The 300-character name was shortened with a hash suffix, and still works as a name.
    assert!(
        outcomes
            .iter()
            .any(|o| o.title == long && o.files.iter().any(|f| f.contains("nnnn-")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exclude_unsupported_and_cancellation() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Durations no other process uses (other tests run `sleep 600` meanwhile), so the check
    // below finds exactly these commands, wherever they were reparented.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .subsec_nanos();
    let long = format!("600.{}{nanos:09}1", std::process::id());
    let queued = format!("600.{}{nanos:09}2", std::process::id());
    let entries = vec![
        entry("cpu", json!({"exclude": true})),
        entry("notAHostCollector", json!({})),
        entry(
            "run",
            json!({"collectorName": "long", "command": "sh", "args": ["-c", format!("sleep {long}; true")]}),
        ),
        entry(
            "run",
            json!({"collectorName": "queued", "command": "sleep", "args": [queued]}),
        ),
    ];
    let opts = HostOptions {
        max_parallel: 1,
        ..HostOptions::default()
    };
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c2.cancel();
    });
    let outcomes = tokio::time::timeout(
        Duration::from_secs(60),
        host::collect(&entries, dir.path(), &cancel, &opts, now()),
    )
    .await
    .expect("cancellation must stop running commands");
    let skipped = |r: &str| CollectorStatus::Skipped { reason: r.into() };
    assert_eq!(outcomes[0].status, skipped("excluded"));
    assert_eq!(outcomes[0].title, "CPU Info");
    assert_eq!(outcomes[1].status, skipped(UNSUPPORTED_REASON));
    assert_eq!(outcomes[2].status, skipped("cancelled"));
    assert_eq!(outcomes[3].status, skipped("cancelled"));
    // The process group was killed: neither `sleep` is left (a zombie is dead: not counted).
    support::daemon::wait_until(
        Duration::from_secs(30),
        "the cancelled commands to exit",
        || match sleeping(&[&long, &queued]) {
            left if left.is_empty() => Ok(()),
            left => Err(format!("still running: {left:?}")),
        },
    );
}

/// Live (not zombie) processes whose command line is `sleep ARG` for one of `args`.
fn sleeping(args: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for p in std::fs::read_dir("/proc").expect("proc").flatten() {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let argv: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let ours = argv.len() >= 2
            && argv[0].ends_with(b"sleep")
            && args.iter().any(|a| argv[1] == a.as_bytes());
        let stat = std::fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .split_whitespace()
            .next();
        if ours && state != Some("Z") {
            found.push(stat);
        }
    }
    found
}
