//! Which files the agent trusts, through the real binary: job files, referenced specs, the
//! directories above them, settings, secret files and the state directory must be owned by root
//! (or the agent's user) and not writable by others; FIFOs, devices and oversized files are
//! refused without blocking. The tests run as root: "another user" is `nobody` (65534).

use crate::support;

use std::os::unix::fs::{PermissionsExt, chown, symlink};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon::{self, Daemon};
use support::{JobFile, agent, dirs, stderr, stdout};

const NOBODY: u32 = 65534;
const FLAG: &str = "--insecure-allow-writable";

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn give_to_nobody(path: &Path) {
    chown(path, Some(NOBODY), Some(NOBODY)).expect("chown to nobody (the tests run as root)");
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).expect("canonicalize")
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).expect("cstring");
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// A valid spec file at `path` (0644).
fn write_spec(path: &Path) {
    std::fs::write(
        path,
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: s}\nspec:\n  hostCollectors:\n    - cpu: {}\n",
    )
    .expect("write spec");
    set_mode(path, 0o644);
}

/// `validate` with `args` after it: (exit code, stdout + stderr).
fn validate(state: &Path, extra: &[&str], paths: &[&Path]) -> (i32, String) {
    let out = agent(state)
        .args(extra)
        .arg("validate")
        .args(paths)
        .output()
        .expect("run validate");
    let code = out.status.code().expect("exit code");
    (code, format!("{}{}", stdout(&out), stderr(&out)))
}

#[track_caller]
fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected `{needle}` in:\n{text}");
}

/// The job file's error line for a trust problem.
fn refusal(file: &Path, problem: &str) -> String {
    format!("{}: error: not trusted: {problem}", file.display())
}

#[test]
fn the_audit_case_is_refused_with_every_problem_named() {
    // A 0666 job file in a 0777 jobs directory, referencing a spec owned by nobody in /tmp.
    let d = dirs();
    let spec = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile_in(std::env::temp_dir())
        .expect("spec in /tmp");
    write_spec(spec.path());
    give_to_nobody(spec.path());
    let job = JobFile::new("audit")
        .spec_file(&spec.path().display().to_string())
        .write(&d.jobs);
    set_mode(&job, 0o666);
    set_mode(&d.jobs, 0o777);

    let jobs = d.jobs.display().to_string();
    let (code, out) = validate(&d.state, &["--jobs-dir", &jobs], &[]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!("{} is world-writable (mode 0666)", job.display()),
        ),
    );
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!(
                "{} is world-writable (mode 0777)",
                canonical(&d.jobs).display()
            ),
        ),
    );
    assert_contains(
        &out,
        &format!(
            "not trusted: {} is owned by uid {NOBODY}, not by root or the agent's user (uid 0)",
            spec.path().display()
        ),
    );
    // The spec's problem is located at the job's reference to it.
    let reference = format!(
        "{}:9:9: error: spec `{}`",
        job.display(),
        spec.path().display()
    );
    assert_contains(&out, &reference);
    assert_contains(
        &out,
        &format!(
            "hint: only root should be able to change what the agent runs: `chown root:root {0} && chmod go-w {0}`",
            job.display()
        ),
    );
    assert_contains(&out, FLAG);

    // `plan` refuses the same file for the same reasons.
    let out = agent(&d.state)
        .args(["--jobs-dir", &jobs, "plan"])
        .output()
        .expect("plan");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_contains(&text, "audit.yaml is world-writable (mode 0666)");
    assert_contains(&text, "is owned by uid 65534");

    // The flag lets the test setup pass, saying what it let through.
    let (code, out) = validate(&d.state, &["--jobs-dir", &jobs, FLAG], &[]);
    assert_eq!(code, 0, "{out}");
    assert_contains(
        &out,
        &format!(
            "{}: warning: {} is world-writable (mode 0666); read anyway because of {FLAG}",
            job.display(),
            job.display()
        ),
    );
    assert_contains(&out, "is owned by uid 65534");
}

#[test]
fn a_group_writable_job_file_is_refused() {
    let d = dirs();
    let job = JobFile::new("g").write(&d.jobs);
    set_mode(&job, 0o664);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!("{} is group-writable (mode 0664)", job.display()),
        ),
    );
}

#[test]
fn a_world_writable_directory_above_the_jobs_dir_is_refused() {
    let d = dirs();
    let job = JobFile::new("w").write(&d.jobs);
    let above = canonical(d.root.path());
    set_mode(&above, 0o777);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!("{} is world-writable (mode 0777)", above.display()),
        ),
    );
}

#[test]
fn a_job_file_or_directory_owned_by_another_user_is_refused() {
    let d = dirs();
    let job = JobFile::new("o").write(&d.jobs);
    give_to_nobody(&job);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!(
                "{} is owned by uid {NOBODY}, not by root or the agent's user (uid 0)",
                job.display()
            ),
        ),
    );
    chown(&job, Some(0), Some(0)).expect("chown back");
    give_to_nobody(&d.jobs);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &refusal(
            &job,
            &format!("{} is owned by uid {NOBODY}", canonical(&d.jobs).display()),
        ),
    );
}

#[test]
fn a_root_owned_sticky_directory_is_fine() {
    let d = dirs();
    let job = JobFile::new("sticky").write(&d.jobs);
    set_mode(&d.jobs, 0o1777);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 0, "{out}");
    // Owned by someone else, the same directory is not.
    give_to_nobody(&d.jobs);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(&out, "is world-writable (mode 1777)");
}

/// Validates a job referencing `spec` and returns the output, asserting exit 1.
fn refused_spec(d: &support::Dirs, spec: &Path) -> String {
    let job = JobFile::new("ref")
        .spec_file(&spec.display().to_string())
        .write(&d.jobs);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    out
}

#[test]
fn a_fifo_spec_is_refused_without_blocking() {
    let d = dirs();
    let fifo = d.root.path().join("spec.yaml");
    mkfifo(&fifo);
    // No one ever writes the FIFO: a blocking open would hang validate (and this test).
    let out = refused_spec(&d, &fifo);
    assert_contains(
        &out,
        &format!(
            "): {} is a FIFO (named pipe), not a regular file",
            fifo.display()
        ),
    );
    assert_contains(&out, "hint: point at a regular file");
    // The flag is about owners and permissions, not about what can be read at all.
    let job = d.jobs.join("ref.yaml");
    let (code, out) = validate(&d.state, &[FLAG], &[&job]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn dev_zero_as_a_spec_is_refused() {
    let d = dirs();
    let out = refused_spec(&d, Path::new("/dev/zero"));
    assert_contains(&out, "/dev/zero is a character device, not a regular file");
}

#[test]
fn an_oversized_spec_is_refused_before_it_is_read() {
    let d = dirs();
    let spec = d.root.path().join("huge.yaml");
    let file = std::fs::File::create(&spec).expect("create");
    // Sparse: the size is what counts, and nothing of it is read.
    file.set_len(16 * 1024 * 1024 + 1).expect("set_len");
    set_mode(&spec, 0o644);
    let out = refused_spec(&d, &spec);
    assert_contains(
        &out,
        &format!(
            "{} is 16777217 bytes, more than the 16777216 read of such a file",
            spec.display()
        ),
    );
}

#[test]
fn a_symlink_to_an_untrusted_target_is_refused() {
    let d = dirs();
    let open = tempfile::tempdir().expect("tempdir");
    set_mode(open.path(), 0o777);
    let target = open.path().join("spec.yaml");
    write_spec(&target);
    let link = d.root.path().join("spec.yaml");
    symlink(&target, &link).expect("symlink");
    let out = refused_spec(&d, &link);
    assert_contains(
        &out,
        &format!(
            "{} is world-writable (mode 0777)",
            canonical(open.path()).display()
        ),
    );
    // The same spec through a link in a trusted place to a trusted target is fine.
    let trusted = d.root.path().join("real.yaml");
    write_spec(&trusted);
    std::fs::remove_file(&link).expect("rm link");
    symlink(&trusted, &link).expect("symlink");
    let job = d.jobs.join("ref.yaml");
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_secret_file_readable_by_others_is_refused() {
    let d = dirs();
    let secret = d.root.path().join("api-key");
    std::fs::write(&secret, "k\n").expect("write");
    set_mode(&secret, 0o644);
    let job = JobFile::new("sec")
        .spec_line(&format!(
            "upload:\n    - http:\n        url: \"http://127.0.0.1:1/x\"\n        headers:\n          X-Api-Key: {{fromFile: {}}}",
            secret.display()
        ))
        .write(&d.jobs);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &format!(
            "secret file: not trusted: {} holds a secret and is world-readable (mode 0644)",
            secret.display()
        ),
    );
    set_mode(&secret, 0o600);
    let (code, out) = validate(&d.state, &[], &[&job]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_settings_file_others_can_write_is_refused() {
    let d = dirs();
    let config = d.root.path().join("agent.yaml");
    std::fs::write(&config, "defaultTimeZone: UTC\n").expect("write");
    set_mode(&config, 0o666);
    let jobs = d.jobs.display().to_string();
    let args = [
        "--config",
        config.to_str().expect("utf-8"),
        "--jobs-dir",
        &jobs,
    ];
    let (code, out) = validate(&d.state, &args, &[]);
    assert_eq!(code, 1, "{out}");
    assert_contains(
        &out,
        &format!("{} is world-writable (mode 0666)", config.display()),
    );
    let mut lenient = args.to_vec();
    lenient.push(FLAG);
    let (code, out) = validate(&d.state, &lenient, &[]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn a_running_agent_rejects_the_audit_case_and_runs_nothing_of_it() {
    let dd = daemon::dirs();
    let spec = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile_in(std::env::temp_dir())
        .expect("spec in /tmp");
    write_spec(spec.path());
    give_to_nobody(spec.path());
    let job = JobFile::new("audit")
        .schedule("* * * * *")
        .spec_file(&spec.path().display().to_string())
        .write(&dd.jobs);
    set_mode(&job, 0o666);
    set_mode(&dd.jobs, 0o777);
    JobFile::new("fine").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let status = d.status();
    assert!(d.job("audit").is_none(), "{status}");
    // Every file in the world-writable directory is rejected, the good one too.
    assert!(d.job("fine").is_none(), "{status}");
    let rejected = status["rejectedFiles"].to_string();
    assert!(rejected.contains("audit.yaml"), "{status}");
    assert!(rejected.contains("not trusted"), "{status}");
    let r = d.post("/api/v1/jobs/audit/trigger");
    assert_ne!(r.status, 202, "{}", r.body);
    assert!(d.runs("audit").is_empty());
    // Fixing the directory and the file lets the reload apply them.
    set_mode(&dd.jobs, 0o755);
    set_mode(&job, 0o644);
    std::fs::write(&job, JobFile::new("audit").render()).expect("rewrite");
    let (code, outcome) = d.reload();
    assert_eq!(code, 200, "{outcome}");
    d.wait_job("audit", "applied", Duration::from_secs(10), |_| true);
    d.wait_job("fine", "applied", Duration::from_secs(10), |_| true);
}

#[test]
fn a_fifo_spec_does_not_freeze_the_agent() {
    let dd = daemon::dirs();
    let fifo = dd.jobs.parent().expect("parent").join("fifo.yaml");
    mkfifo(&fifo);
    JobFile::new("piped")
        .spec_file(&fifo.display().to_string())
        .write(&dd.jobs);
    JobFile::new("other").write(&dd.jobs);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    assert!(d.job("piped").is_none());
    let rejected = d.status()["rejectedFiles"].to_string();
    assert!(rejected.contains("FIFO"), "{rejected}");
    // The control loop still answers: a reload (422: a file is still rejected), a trigger, and
    // SIGTERM.
    let (code, outcome) = d.reload();
    assert_eq!(code, 422, "{outcome}");
    assert!(outcome["text"].to_string().contains("FIFO"), "{outcome}");
    let accepted = d.trigger("other");
    let run_id = accepted["runId"].as_str().expect("runId").to_string();
    let record = d.wait_run("other", &run_id, Duration::from_secs(60));
    assert_eq!(record["status"], "succeeded", "{record}");
    d.signal(libc::SIGTERM);
    let mut d = d;
    let status = d
        .wait_exit(Duration::from_secs(45))
        .unwrap_or_else(|| panic!("the agent did not stop on SIGTERM: {}", d.stderr()));
    assert!(status.success(), "{status:?}: {}", d.stderr());
}

#[test]
fn an_untrusted_state_directory_stops_the_agent_at_start() {
    let open = tempfile::tempdir().expect("tempdir");
    set_mode(open.path(), 0o777);
    let state = open.path().join("state");
    let stopped = Daemon::builder()
        .state(&state)
        .start_expecting_exit(Duration::from_secs(30));
    assert!(!stopped.status.success(), "{}", stopped.stderr);
    assert_contains(
        &stopped.stderr,
        &format!(
            "state directory {} is not trusted: {} is world-writable (mode 0777)",
            state.display(),
            canonical(open.path()).display()
        ),
    );
    // The flag (or `insecureAllowWritable`) lets a test setup start.
    let d = Daemon::builder()
        .state(&state)
        .setting("insecureAllowWritable", "true")
        .start();
    assert_eq!(d.get("/readyz").status, 200);
}

#[test]
fn validate_as_judges_the_temp_file_and_names_the_target() {
    let d = dirs();
    let staging = tempfile::tempdir().expect("tempdir");
    let temp_file = JobFile::new("app").write(staging.path());
    set_mode(&temp_file, 0o666);
    let target = d.jobs.join("app.yaml");
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(&target)
        .arg(&temp_file)
        .output()
        .expect("run validate --as");
    let text = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{text}");
    // Located at the target (only its findings count), naming the file at fault.
    assert_contains(
        &text,
        &refusal(
            &target,
            &format!("{} is world-writable (mode 0666)", temp_file.display()),
        ),
    );
    set_mode(&temp_file, 0o600);
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(&target)
        .arg(&temp_file)
        .output()
        .expect("run validate --as");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
