//! A reload is `plan(desired, applied)` applied exactly; the watcher's partial passes (which
//! read only the changed entries) are an optimisation that must not change the result.
//!
//! Random sequences of operations on a real agent's jobs directory (writes, renames, deletes,
//! broken files, names defined twice, referenced spec files inside and outside the directory
//! changing or breaking, job files that are symlinks to entries the agent ignores), each
//! followed by a pass of the watcher (and now and then a whole pass: SIGHUP or `POST /-/reload`).
//! After each step the agent's applied state is compared with `plan` run from scratch against
//! the same directory and `applied.json`: no changes, the same rejected files, the same jobs
//! kept at their last good version.
//!
//! 12 sequences by default; `TSA_SOAK=1` (`scripts/test --soak`) runs 64 longer ones.

use crate::support;

use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon::{Daemon, Dirs, dirs, read_json, wait_until};

/// Job files `f0.yaml` ... (a few, so that operations meet each other).
const FILES: usize = 4;
/// Job names `n0` ...
const NAMES: usize = 4;
const SCHEDULES: [&str; 3] = ["0 2 * * *", "30 4 * * 1-5", "*/15 * * * *"];
/// Spec files: `s0.json` is an entry of the jobs directory (one it ignores, so the watcher sees
/// it change), `s1.yaml` lives in a directory beside it (the watcher does not see it change).
const SPECS: usize = 2;
/// A job's third choice besides its spec files: an inline spec and an upload whose bearer token
/// comes from the secret file `secret.token` beside the jobs directory.
const SECRET: usize = SPECS;
/// Hidden entries `.t0.yaml` ... that the agent ignores, and that job files may link to.
const TARGETS: usize = 2;
/// How long a step may take to be applied (a bound for a stuck agent, not a timing assertion).
const SETTLE: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
enum Op {
    /// `f{file}.yaml` defines these jobs, one document each: (name, schedule, spec file).
    Write {
        file: usize,
        jobs: Vec<(usize, usize, Option<usize>)>,
    },
    /// `f{file}.yaml` breaks: a YAML syntax error (no job names can be read) or, with a name,
    /// a misspelt field (the name is read, the job is not).
    Break { file: usize, name: Option<usize> },
    /// `mv f{from}.yaml f{to}.yaml` (over it, when it exists).
    Rename { from: usize, to: usize },
    /// `rm f{file}.yaml`.
    Delete { file: usize },
    /// Spec `spec` becomes version 0 or 1, broken (2) or is deleted (3).
    Spec { spec: usize, state: u8 },
    /// `f{file}.yaml` becomes a symlink to `.t{target}.yaml`.
    Link { file: usize, target: usize },
    /// The secret file is fine (0), writable by everyone (1) or missing (2).
    Secret(u8),
    /// `.t{target}.yaml` becomes a directory.
    TargetDir(usize),
    /// `.t{target}.yaml` is written in place with one job (a file again if it was a directory).
    Target {
        target: usize,
        name: usize,
        schedule: usize,
    },
    /// The jobs directory becomes writable by everyone (its files are no longer trusted), or
    /// is fixed.
    DirWritable(bool),
    /// Nothing changes for a while: the agent's file cache then remembers the reports of files
    /// read before (it keeps none of a file changed in the last 2 s).
    Age,
}

/// How a step's change reaches the agent, besides its watcher.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// The watcher alone (a pass over the changed entries, as a rule).
    Watcher,
    /// SIGHUP too (a whole pass).
    Sighup,
    /// `POST /-/reload` too (a whole pass, answered once applied).
    Api,
}

/// One operation, then the passes it causes.
#[derive(Clone, Debug)]
struct Step {
    op: Op,
    pass: Pass,
}

fn op() -> BoxedStrategy<Op> {
    let job = (
        0..NAMES,
        0..SCHEDULES.len(),
        prop::option::weighted(0.4, 0..=SECRET),
    );
    let quick = prop_oneof![
        5 => (0..FILES, prop::collection::vec(job, 1..3))
            .prop_map(|(file, jobs)| Op::Write { file, jobs }),
        2 => (0..FILES, prop::option::of(0..NAMES)).prop_map(|(file, name)| Op::Break { file, name }),
        1 => (0..FILES, 0..FILES).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => (0..FILES).prop_map(|file| Op::Delete { file }),
        2 => (0..SPECS, 0..4u8).prop_map(|(spec, state)| Op::Spec { spec, state }),
        1 => (0..FILES, 0..TARGETS).prop_map(|(file, target)| Op::Link { file, target }),
        2 => (0..TARGETS, 0..NAMES, 0..SCHEDULES.len())
            .prop_map(|(target, name, schedule)| Op::Target { target, name, schedule }),
        1 => (0..TARGETS).prop_map(Op::TargetDir),
        1 => prop::bool::weighted(0.3).prop_map(Op::DirWritable),
        1 => (0..3u8).prop_map(Op::Secret),
    ];
    // Slow (2 s each): in the soak tier only.
    if soak() {
        prop_oneof![20 => quick, 1 => Just(Op::Age)].boxed()
    } else {
        quick.boxed()
    }
}

fn step() -> impl Strategy<Value = Step> {
    let pass = prop_oneof![8 => Just(Pass::Watcher), 1 => Just(Pass::Sighup), 1 => Just(Pass::Api)];
    (op(), pass).prop_map(|(op, pass)| Step { op, pass })
}

/// The jobs directory and the spec directory beside it.
struct Files {
    jobs: PathBuf,
    specs: PathBuf,
}

impl Files {
    fn new(dd: &Dirs) -> Files {
        let specs = dd.jobs.with_file_name("specs");
        std::fs::create_dir_all(&specs).expect("specs dir");
        let files = Files {
            jobs: dd.jobs.clone(),
            specs,
        };
        for spec in 0..SPECS {
            files.apply(&Op::Spec { spec, state: 0 });
        }
        files.apply(&Op::Secret(0));
        files
    }

    fn file(&self, i: usize) -> PathBuf {
        self.jobs.join(format!("f{i}.yaml"))
    }

    fn spec_path(&self, spec: usize) -> PathBuf {
        match spec {
            0 => self.jobs.join("s0.json"),
            _ => self.specs.join(format!("s{spec}.yaml")),
        }
    }

    /// Replaces the entry `path` with `text` as editors and Ansible do (a temp file renamed
    /// over it), so a symlink there is replaced rather than written through.
    fn replace(&self, path: &Path, text: &str) {
        let tmp = self.jobs.join(".replace.tmp");
        std::fs::write(&tmp, text).expect("write temp");
        std::fs::rename(&tmp, path).expect("rename over");
    }

    fn apply(&self, op: &Op) {
        match op {
            Op::Write { file, jobs } => {
                let docs: Vec<String> = jobs
                    .iter()
                    .map(|&(name, schedule, spec)| {
                        job_doc(&format!("n{name}"), SCHEDULES[schedule], spec)
                    })
                    .collect();
                let text = docs.join("---\n").replace(
                    "@SECRET@",
                    &self.specs.join("secret.token").display().to_string(),
                );
                self.replace(&self.file(*file), &text);
            }
            Op::Break { file, name: None } => {
                self.replace(&self.file(*file), "metadata: [not closed\n");
            }
            Op::Break {
                file,
                name: Some(name),
            } => {
                let text = job_doc(&format!("n{name}"), SCHEDULES[0], None)
                    .replace("schedule:", "schedul:");
                self.replace(&self.file(*file), &text);
            }
            Op::Rename { from, to } => {
                if from != to && self.file(*from).symlink_metadata().is_ok() {
                    std::fs::rename(self.file(*from), self.file(*to)).expect("rename");
                }
            }
            Op::Delete { file } => {
                let _ = std::fs::remove_file(self.file(*file));
            }
            Op::Spec { spec, state } => {
                let path = self.spec_path(*spec);
                let collector = ["cpu", "memory"];
                match state {
                    0 | 1 => std::fs::write(
                        &path,
                        format!(
                            "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: s{spec}}}\nspec:\n  hostCollectors:\n    - {}: {{}}\n",
                            collector[usize::from(*state)]
                        ),
                    )
                    .expect("write spec"),
                    2 => std::fs::write(&path, "spec: [not closed\n").expect("break spec"),
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Op::Link { file, target } => {
                let tmp = self.jobs.join(".link.tmp");
                let _ = std::fs::remove_file(&tmp);
                std::os::unix::fs::symlink(format!(".t{target}.yaml"), &tmp).expect("symlink");
                std::fs::rename(&tmp, self.file(*file)).expect("rename link");
            }
            Op::Target {
                target,
                name,
                schedule,
            } => {
                let path = self.jobs.join(format!(".t{target}.yaml"));
                if path.is_dir() {
                    std::fs::remove_dir(&path).expect("rmdir target");
                }
                std::fs::write(
                    path,
                    job_doc(&format!("n{name}"), SCHEDULES[*schedule], None),
                )
                .expect("write target");
            }
            Op::DirWritable(writable) => {
                use std::os::unix::fs::PermissionsExt;
                let mode = if *writable { 0o777 } else { 0o755 };
                std::fs::set_permissions(&self.jobs, std::fs::Permissions::from_mode(mode))
                    .expect("chmod the jobs directory");
            }
            Op::TargetDir(target) => {
                let path = self.jobs.join(format!(".t{target}.yaml"));
                if !path.is_dir() {
                    let _ = std::fs::remove_file(&path);
                    std::fs::create_dir(&path).expect("mkdir target");
                }
            }
            Op::Secret(state) => {
                use std::os::unix::fs::PermissionsExt;
                let path = self.specs.join("secret.token");
                match state {
                    0 | 1 => {
                        std::fs::write(&path, "token\n").expect("write secret");
                        let mode = if *state == 0 { 0o600 } else { 0o666 };
                        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                            .expect("chmod secret");
                    }
                    _ => {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
            Op::Age => std::thread::sleep(Duration::from_millis(2_200)),
        }
    }

    /// The marker job's file: its schedule names the step, so the status shows when a pass
    /// has read the directory as it is after that step.
    fn mark(&self, step: usize) -> String {
        let schedule = marker_schedule(step);
        self.replace(
            &self.jobs.join("zz-marker.yaml"),
            &job_doc("marker", &schedule, None),
        );
        schedule
    }
}

fn marker_schedule(step: usize) -> String {
    format!("{} {} * * *", step % 60, (step / 60) % 24)
}

fn job_doc(name: &str, schedule: &str, spec: Option<usize>) -> String {
    let collect = match spec {
        None => "    supportBundle: {hostCollectors: [{cpu: {}}]}\n".to_string(),
        Some(0) => "    specs: [s0.json]\n".to_string(),
        Some(SECRET) => "    supportBundle: {hostCollectors: [{cpu: {}}]}\n  upload:\n    - http: {url: \"https://127.0.0.1:9/b\", bearerToken: {fromFile: \"@SECRET@\"}}\n".to_string(),
        Some(s) => format!("    specs: [../specs/s{s}.yaml]\n"),
    };
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\nspec:\n  schedule: \"{schedule}\"\n  collect:\n{collect}"
    )
}

/// `plan -o json` from scratch against the agent's directory and `applied.json`.
fn plan_json(d: &Daemon) -> Value {
    let out = d
        .cli()
        .args(["--output", "json", "plan"])
        .output()
        .expect("run plan");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "plan -o json ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn names(list: &Value, key: &str) -> BTreeSet<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v[key].as_str().map(str::to_string))
        .collect()
}

/// What the agent applied agrees with a plan from scratch: `Err` says how it does not.
fn compare(d: &Daemon) -> Result<(), String> {
    let plan = plan_json(d);
    let p = &plan["plan"];
    let status = d.status();
    let applied = read_json(&d.state_dir.join("applied.json"))?;
    let mut problems = Vec::new();
    for what in ["add", "change", "remove"] {
        if p[what].as_array().is_some_and(|a| !a.is_empty()) {
            problems.push(format!("plan from scratch has {what}: {}", p[what]));
        }
    }
    let rejected_plan = names(&p["rejected"], "path");
    let rejected_agent = names(&status["rejectedFiles"], "path");
    if rejected_plan != rejected_agent {
        problems.push(format!(
            "rejected files: plan {rejected_plan:?}, agent {rejected_agent:?}"
        ));
    }
    let kept: BTreeSet<String> = p["rejected"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["kept"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    let jobs = status["jobs"].as_array().cloned().unwrap_or_default();
    let stale: BTreeSet<String> = jobs
        .iter()
        .filter(|j| j["stale"] == true)
        .filter_map(|j| j["name"].as_str().map(str::to_string))
        .collect();
    if kept != stale {
        problems.push(format!(
            "kept at the last good version: plan {kept:?}, agent {stale:?}"
        ));
    }
    // The jobs the agent schedules are the applied ones, from the files plan names.
    let sources = |v: &Value, name_key: Option<&str>| -> BTreeMap<String, String> {
        match name_key {
            Some(key) => v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|j| Some((j[key].as_str()?.into(), j["source"].as_str()?.into())))
                .collect(),
            None => v
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(k, j)| Some((k.clone(), j["source"].as_str()?.into())))
                .collect(),
        }
    };
    let scheduled = sources(&status["jobs"], Some("name"));
    let in_applied = sources(&applied["jobs"], None);
    let mut planned = sources(&p["unchanged"], Some("name"));
    for (name, source) in &in_applied {
        if kept.contains(name) {
            planned.insert(name.clone(), source.clone());
        }
    }
    if scheduled != in_applied || in_applied != planned {
        problems.push(format!(
            "jobs and their files: agent {scheduled:?}, applied.json {in_applied:?}, plan {planned:?}"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\nplan: {}\nagent status: {}",
            problems.join("\n"),
            plan["summary"],
            status["rejectedFiles"]
        ))
    }
}

/// How many passes of each kind an agent made, from its log.
#[derive(Clone, Copy, Debug, Default)]
struct Passes {
    /// Over the changed entries.
    partial: usize,
    /// Over the whole directory.
    whole: usize,
}

fn passes(log: &str) -> Passes {
    let reloads = log.lines().filter(|l| l.contains("reload: "));
    let mut p = Passes::default();
    for line in reloads {
        if line.contains(" changed entries\"") {
            p.partial += 1;
        } else if line.contains("read=\"the whole directory\"") {
            p.whole += 1;
        }
    }
    p
}

fn signal_passes(log: &str) -> usize {
    log.lines()
        .filter(|l| l.contains("reload: ") && l.contains("cause=\"signal\""))
        .count()
}

fn run_steps(steps: &[Step]) -> Result<Passes, TestCaseError> {
    let dd = dirs();
    let files = Files::new(&dd);
    files.mark(0);
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("watchDebounce", "10ms")
        .start();
    compare(&d).map_err(|e| TestCaseError::fail(format!("after start: {e}")))?;
    let mut writable = false;
    let mut sighups = 0;
    for (i, step) in steps.iter().enumerate() {
        files.apply(&step.op);
        if let Op::DirWritable(w) = step.op {
            writable = w;
        }
        let marker = files.mark(i + 1);
        // While the directory is writable the marker's file is rejected too and cannot show
        // that a pass read it: the step ends with a whole pass, whose answer says it is applied.
        if step.pass == Pass::Api || writable {
            let (code, _) = d.reload();
            prop_assert!(code == 200 || code == 422, "reload: HTTP {code}");
        } else if step.pass == Pass::Sighup {
            d.signal(libc::SIGHUP);
            sighups += 1;
        }
        wait_until(SETTLE, &format!("step {} to be applied", i + 1), || {
            if writable {
                return Ok(());
            }
            if signal_passes(&d.stderr()) < sighups {
                return Err(format!("{sighups} SIGHUP passes not all logged yet"));
            }
            let job = d.job("marker").ok_or("no marker job")?;
            if job["schedule"] == marker.as_str() {
                Ok(())
            } else {
                Err(job.to_string())
            }
        });
        compare(&d).map_err(|e| {
            TestCaseError::fail(format!(
                "after step {} ({:?}) of {steps:?}:\n{e}\nagent log:\n{}",
                i + 1,
                step.op,
                tail(&d.stderr(), 30)
            ))
        })?;
    }
    Ok(passes(&d.stderr()))
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn soak() -> bool {
    std::env::var_os("TSA_SOAK").is_some_and(|v| v != "0")
}

/// Random sequences; at the end, both kinds of pass must have been exercised.
#[test]
fn every_reload_applies_what_plan_from_scratch_shows() {
    let mut runner = TestRunner::new(ProptestConfig {
        cases: if soak() { 64 } else { 12 },
        failure_persistence: None,
        max_shrink_iters: if soak() { 256 } else { 32 },
        ..ProptestConfig::default()
    });
    let total = std::cell::Cell::new(Passes::default());
    let max_steps = if soak() { 40 } else { 24 };
    let result = runner.run(&prop::collection::vec(step(), 1..max_steps), |steps| {
        let p = run_steps(&steps)?;
        let t = total.get();
        total.set(Passes {
            partial: t.partial + p.partial,
            whole: t.whole + p.whole,
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let total = total.get();
    eprintln!("passes: {total:?}");
    assert!(
        total.partial > total.whole,
        "the sequences exercised passes over the changed entries, mostly: {total:?}"
    );
}

/// The divergences found while writing the property test, as fixed cases (quick to run, and
/// they name what they are about).
#[test]
fn a_watcher_pass_sees_a_spec_file_outside_the_jobs_directory_change() {
    run_steps(&[
        Step {
            op: Op::Write {
                file: 0,
                jobs: vec![(0, 0, Some(1))],
            },
            pass: Pass::Watcher,
        },
        // Nothing in the jobs directory changes with it: the next pass is the marker's.
        Step {
            op: Op::Spec { spec: 1, state: 1 },
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Spec { spec: 1, state: 2 },
            pass: Pass::Watcher,
        },
    ])
    .expect("equal to plan");
}

#[test]
fn a_reload_sees_the_jobs_directory_become_writable_and_fixed() {
    run_steps(&[
        Step {
            op: Op::Write {
                file: 0,
                jobs: vec![(0, 0, None)],
            },
            pass: Pass::Watcher,
        },
        // A whole pass reads it again once it is old enough to be remembered.
        Step {
            op: Op::Age,
            pass: Pass::Api,
        },
        Step {
            op: Op::DirWritable(true),
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Write {
                file: 1,
                jobs: vec![(1, 0, None)],
            },
            pass: Pass::Watcher,
        },
        Step {
            op: Op::DirWritable(false),
            pass: Pass::Api,
        },
    ])
    .expect("equal to plan");
}

#[test]
fn a_watcher_pass_sees_a_secret_file_become_untrusted() {
    run_steps(&[
        Step {
            op: Op::Write {
                file: 0,
                jobs: vec![(0, 0, Some(SECRET))],
            },
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Secret(1),
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Secret(2),
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Secret(0),
            pass: Pass::Watcher,
        },
    ])
    .expect("equal to plan");
}

#[test]
fn a_watcher_pass_sees_what_a_symlinked_job_file_points_to_change() {
    run_steps(&[
        Step {
            op: Op::Target {
                target: 0,
                name: 1,
                schedule: 0,
            },
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Link { file: 2, target: 0 },
            pass: Pass::Watcher,
        },
        // Only the ignored entry `.t0.yaml` changes.
        Step {
            op: Op::Target {
                target: 0,
                name: 1,
                schedule: 1,
            },
            pass: Pass::Watcher,
        },
        Step {
            op: Op::TargetDir(0),
            pass: Pass::Watcher,
        },
        Step {
            op: Op::Target {
                target: 0,
                name: 2,
                schedule: 1,
            },
            pass: Pass::Watcher,
        },
    ])
    .expect("equal to plan");
}
