//! `analyze-bench`: exists only for `bench/analyze.sh`. It measures, on a bundle directory (the
//! 10,000-pod bundle `examples/kube-collect.rs` writes), three things in separate child processes
//! so that each has its own peak RSS:
//!
//! - `floor`: every `*.json` file of the bundle (or bundles) read and parsed once with
//!   `serde_json` into a `Value`, and nothing else from the crate;
//! - `analyze`: what `troubleshoot-agent analyze BUNDLE --spec SPEC -o json` does: the spec
//!   through `spec::parse_analyzer_spec_text`, the bundle through `analyze::open`, then
//!   `analyze::analyze` (the entry point the pipeline's analyze phase calls too) and the
//!   `analysis.json` text;
//! - `diff`: what `troubleshoot-agent diff A B -o json` does: `changes::diff_paths` and the JSON of
//!   the changes.
//!
//! Usage:
//!
//! ```text
//! analyze-bench prepare BUNDLE SPEC_OUT      # version.yaml if missing; the analyzer spec
//! analyze-bench plant BUNDLE CHANGED         # a copy of BUNDLE with a few planted changes
//! analyze-bench measure floor DIR...         # one measurement: prints one `result` line
//! analyze-bench measure analyze DIR SPEC
//! analyze-bench measure diff OLD NEW
//! analyze-bench run BUNDLE SPEC CHANGED [REPS=5]   # warm-up, REPS alternating rounds, table
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use serde_json::{Value, json};
use troubleshoot_agent::{analyze, bundle, changes, spec};

/// One measurement, as a child prints it: `result WHAT wall_ms cpu_ms hwm_kib`.
#[derive(Clone, Debug)]
struct Sample {
    wall_ms: f64,
    cpu_ms: f64,
    hwm_kib: u64,
}

/// Peak resident set size in KiB, from /proc/self/status.
fn vm_hwm_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// User + system CPU time of this process, in milliseconds.
fn cpu_ms() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF with a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let ms = |t: libc::timeval| t.tv_sec as f64 * 1e3 + t.tv_usec as f64 / 1e3;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Every regular file below `dir` (links are not followed), as (path, size).
fn files(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(here) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&here) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push((entry.path(), size));
            }
        }
    }
    out.sort();
    out
}

/// The floor: read and parse every JSON file of `dirs` once.
fn floor(dirs: &[PathBuf]) -> Result<String, String> {
    let (mut count, mut bytes, mut largest) = (0u64, 0u64, 0u64);
    for dir in dirs {
        for (path, size) in files(dir) {
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            // A file that is not JSON (an `-errors.json` could be anything) still costs its parse.
            let value: Result<Value, _> = serde_json::from_slice(&data);
            std::hint::black_box(&value);
            count += 1;
            bytes += data.len() as u64;
            largest = largest.max(size);
        }
    }
    Ok(format!(
        "json_files={count} json_bytes={bytes} largest={largest}"
    ))
}

/// The analysis, as `troubleshoot-agent analyze DIR --spec SPEC -o json` runs it.
fn run_analyze(dir: &Path, spec_path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(spec_path).map_err(|e| e.to_string())?;
    let file = spec::parse_analyzer_spec_text(spec_path, &text);
    if file.has_errors() {
        return Err(format!("{:?}", file.diagnostics));
    }
    let view = analyze::open(dir).map_err(|e| e.to_string())?;
    let analysis = analyze::analyze(view.as_ref(), &file.spec, chrono::Utc::now());
    let json = analysis.to_json();
    let (pass, warn, fail) = analysis.counts();
    Ok(format!(
        "analyzers={} results={} pass={pass} warn={warn} fail={fail} errors={} unsupported={} json_bytes={}",
        file.spec.analyzers.len(),
        analysis.results.len(),
        analysis.errors.len(),
        analysis.unsupported.len(),
        json.len()
    ))
}

/// The comparison, as `troubleshoot-agent diff OLD NEW -o json` runs it.
fn run_diff(old: &Path, new: &Path) -> Result<String, String> {
    let found = changes::diff_paths(old, new).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&found).map_err(|e| e.to_string())?;
    Ok(format!(
        "{} (json {} bytes)",
        found.summary_line(),
        json.len()
    ))
}

fn measure(args: &[String]) -> Result<(), String> {
    let start = Instant::now();
    let detail = match args {
        [what, dirs @ ..] if what == "floor" && !dirs.is_empty() => {
            floor(&dirs.iter().map(PathBuf::from).collect::<Vec<_>>())?
        }
        [what, dir, spec] if what == "analyze" => run_analyze(Path::new(dir), Path::new(spec))?,
        [what, old, new] if what == "diff" => run_diff(Path::new(old), Path::new(new))?,
        _ => return Err("measure floor DIR... | analyze DIR SPEC | diff OLD NEW".into()),
    };
    let wall = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "result {} {wall:.1} {:.1} {} {detail}",
        args[0],
        cpu_ms(),
        vm_hwm_kib()
    );
    Ok(())
}

/// `(namespace, name)` of every item of the List files in `dir`.
fn names(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, _) in files(dir) {
        let Ok(value) = serde_json::from_slice::<Value>(&std::fs::read(&path).unwrap_or_default())
        else {
            continue;
        };
        for item in value["items"].as_array().into_iter().flatten() {
            let text = |k: &str| item["metadata"][k].as_str().unwrap_or("").to_string();
            out.push((text("namespace"), text("name")));
        }
    }
    out
}

/// The analyzers a vendor ships: every pod's status, every deployment by name, the nodes, a regex
/// over every collected log and an event check.
fn analyzer_spec(bundle: &Path) -> String {
    let mut s = String::from(
        r#"apiVersion: troubleshoot.sh/v1beta2
kind: Analyzer
metadata:
  name: analyze-bench
spec:
  analyzers:
    - clusterPodStatuses:
        name: unhealthy
        outcomes:
          - fail:
              when: "== CrashLoopBackOff"
              message: Pod {{ .Namespace }}/{{ .Name }} is in a CrashLoopBackOff state.
          - fail:
              when: "== ImagePullBackOff"
              message: Pod {{ .Namespace }}/{{ .Name }} cannot pull its image.
          - fail:
              when: "== Pending"
              message: Pod {{ .Namespace }}/{{ .Name }} is pending.
          - warn:
              when: "!= Healthy"
              message: Pod {{ .Namespace }}/{{ .Name }} is {{ .Status.Reason }}; {{ .Status.Message }}
    - nodeResources:
        checkName: Node count
        outcomes:
          - fail:
              when: "count() < 1"
              message: No nodes.
          - pass:
              message: Enough nodes.
    - nodeResources:
        checkName: Memory per node
        outcomes:
          - fail:
              when: "min(memoryCapacity) < 2Gi"
              message: A node has less than 2 GiB of memory.
          - pass:
              message: Every node has 2 GiB of memory or more.
    - textAnalyze:
        checkName: Panics in logs
        collectorName: cluster-resources/pods/logs
        fileName: "*/*/*.log"
        regex: "panic:|fatal error|Out of memory"
        outcomes:
          - fail:
              when: "true"
              message: A container log shows a panic.
          - pass:
              when: "false"
              message: No panics in the logs.
    - event:
        checkName: Back-off events
        namespace: kube-system
        reason: BackOff
        kind: Pod
        outcomes:
          - fail:
              when: "true"
              message: "{{ .involvedObject.name }} is backing off: {{ .message }}"
          - pass:
              when: "false"
              message: No back-off events.
"#,
    );
    for (namespace, name) in names(&bundle.join("cluster-resources/deployments")) {
        let _ = write!(
            s,
            r#"    - deploymentStatus:
        name: {name}
        namespace: {namespace}
        outcomes:
          - fail:
              when: "< 1"
              message: The {name} deployment does not have any ready replicas.
          - warn:
              when: "= 1"
              message: The {name} deployment has only a single ready replica.
          - pass:
              message: There are multiple replicas of the {name} deployment ready.
"#
        );
    }
    s
}

fn prepare(bundle: &Path, spec_out: &Path) -> Result<(), String> {
    let version = bundle.join("version.yaml");
    if !version.exists() {
        std::fs::write(&version, bundle::version_yaml("analyze-bench"))
            .map_err(|e| e.to_string())?;
    }
    let text = analyzer_spec(bundle);
    std::fs::write(spec_out, &text).map_err(|e| e.to_string())?;
    eprintln!(
        "wrote {} ({} bytes, {} analyzers)",
        spec_out.display(),
        text.len(),
        text.matches("\n    - ").count()
    );
    Ok(())
}

/// Copies the tree `from` to `to` (links as links).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else {
            std::fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Rewrites the JSON file `rel` of `root` through `edit`.
fn edit(root: &Path, rel: &str, edit: impl FnOnce(&mut Value)) -> Result<(), String> {
    let path = root.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut value: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{rel}: {e}"))?;
    edit(&mut value);
    let text = serde_json::to_vec_pretty(&value).map_err(|e| e.to_string())?;
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A copy of `bundle` with six planted changes, one per kind the diff reports: a pod's restarts,
/// a removed deployment, an added config map, a changed service, a new Warning event and a node
/// condition.
fn plant(bundle: &Path, changed: &Path) -> Result<(), String> {
    copy_tree(bundle, changed).map_err(|e| e.to_string())?;
    let ns = "gen-0007";
    let items = |v: &mut Value| v["items"].as_array_mut().map(std::mem::take);
    edit(changed, &format!("cluster-resources/pods/{ns}.json"), |v| {
        v["items"][3]["status"]["containerStatuses"][0]["restartCount"] = json!(7);
    })?;
    edit(
        changed,
        &format!("cluster-resources/deployments/{ns}.json"),
        |v| {
            if let Some(mut list) = items(v) {
                list.pop();
                v["items"] = Value::Array(list);
            }
        },
    )?;
    edit(
        changed,
        &format!("cluster-resources/configmaps/{ns}.json"),
        |v| {
            if let Some(mut list) = items(v) {
                let mut extra = list[0].clone();
                extra["metadata"]["name"] = json!("planted-config");
                extra["metadata"]["uid"] = json!("00000000-0000-0000-0000-00000000beef");
                list.push(extra);
                v["items"] = Value::Array(list);
            }
        },
    )?;
    edit(
        changed,
        &format!("cluster-resources/services/{ns}.json"),
        |v| {
            v["items"][0]["metadata"]["labels"]["planted"] = json!("yes");
        },
    )?;
    edit(
        changed,
        &format!("cluster-resources/events/{ns}.json"),
        |v| {
            if let Some(mut list) = items(v) {
                let mut extra = list[0].clone();
                extra["metadata"]["name"] = json!("planted.event");
                extra["type"] = json!("Warning");
                extra["reason"] = json!("BackOff");
                extra["message"] = json!("Back-off restarting failed container");
                extra["count"] = json!(4);
                list.push(extra);
                v["items"] = Value::Array(list);
            }
        },
    )?;
    edit(changed, "cluster-resources/nodes.json", |v| {
        for c in v["items"][0]["status"]["conditions"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if c["type"] == "MemoryPressure" {
                c["status"] = json!("True");
            }
        }
    })?;
    eprintln!("planted 6 changes in {}", changed.display());
    Ok(())
}

/// Runs `measure ARGS` in a child; its `result` line.
fn child(args: &[&str]) -> Result<(Sample, String), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .arg("measure")
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find(|l| l.starts_with("result "))
        .ok_or_else(|| {
            format!(
                "measure {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
    let fields: Vec<&str> = line.splitn(6, ' ').collect();
    let num = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let sample = Sample {
        wall_ms: num(2),
        cpu_ms: num(3),
        hwm_kib: num(4) as u64,
    };
    Ok((sample, fields.get(5).unwrap_or(&"").to_string()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn run(bundle: &str, spec: &str, changed: &str, reps: usize) -> Result<(), String> {
    type Job<'a> = (&'a str, Vec<&'a str>);
    let jobs: [Job<'_>; 4] = [
        ("floor (one bundle)", vec!["floor", bundle]),
        ("analyze", vec!["analyze", bundle, spec]),
        ("floor (both bundles)", vec!["floor", bundle, changed]),
        ("diff", vec!["diff", bundle, changed]),
    ];
    println!("load average at the start: {}", load_average());
    // Warm-up: page cache, and each job's detail line once.
    for (name, args) in &jobs {
        let (_, detail) = child(args)?;
        println!("{name}: {detail}");
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); jobs.len()];
    for rep in 1..=reps {
        let mut line = format!("rep {rep} (load {}):", load_average());
        for (i, (name, args)) in jobs.iter().enumerate() {
            let (s, _) = child(args)?;
            let _ = write!(line, " {name} {:.0} ms;", s.wall_ms);
            samples[i].push(s);
        }
        println!("{line}");
    }
    let wall: Vec<f64> = samples
        .iter()
        .map(|s| median(s.iter().map(|x| x.wall_ms).collect()))
        .collect();
    let cpu: Vec<f64> = samples
        .iter()
        .map(|s| median(s.iter().map(|x| x.cpu_ms).collect()))
        .collect();
    let hwm: Vec<u64> = samples
        .iter()
        .map(|s| s.iter().map(|x| x.hwm_kib).max().unwrap_or(0))
        .collect();
    println!();
    println!(
        "{:<22} {:>10} {:>8} {:>10} {:>8} {:>14}",
        "what", "wall ms", "× floor", "CPU ms", "× floor", "peak RSS KiB"
    );
    for (i, (name, _)) in jobs.iter().enumerate() {
        let base = if i < 2 { 0 } else { 2 };
        println!(
            "{name:<22} {:>10.0} {:>8.2} {:>10.0} {:>8.2} {:>14}",
            wall[i],
            wall[i] / wall[base],
            cpu[i],
            cpu[i] / cpu[base],
            hwm[i]
        );
    }
    println!(
        "\nmedians of {reps} alternating rounds (peak RSS: the highest of them); load average at the end: {}",
        load_average()
    );
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("prepare") if args.len() == 3 => prepare(Path::new(&args[1]), Path::new(&args[2])),
        Some("plant") if args.len() == 3 => plant(Path::new(&args[1]), Path::new(&args[2])),
        Some("measure") => measure(&args[1..]),
        Some("run") if (4..=5).contains(&args.len()) => {
            let reps = args.get(4).and_then(|r| r.parse().ok()).unwrap_or(5);
            run(&args[1], &args[2], &args[3], reps)
        }
        _ => Err(
            "usage: analyze-bench prepare BUNDLE SPEC_OUT | plant BUNDLE CHANGED | \
             measure (floor DIR... | analyze DIR SPEC | diff OLD NEW) | run BUNDLE SPEC CHANGED [REPS]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("analyze-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
