//! `plan` helpers shared by the plan tests: an `applied.json` written by the library the way the
//! agent writes it after applying a plan, and `plan` through the real binary.

use super::{Dirs, agent, stderr, stdout};
use chrono::{DateTime, Utc};
use troubleshoot_agent::jobs::{self, Context};
use troubleshoot_agent::plan::{PlanOptions, plan, read_applied, write_applied};

/// The instant the plan tests plan from.
pub const FROM: &str = "2025-03-08T12:00:00Z";

/// An RFC 3339 instant.
pub fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// What the agent does on reload: plan the jobs dir against applied.json, write the result.
pub fn apply(d: &Dirs) {
    let desired = jobs::load_dir(&d.jobs, &Context::default()).expect("load jobs dir");
    assert!(
        !desired.has_errors(),
        "the state to apply must be valid: {:?}",
        desired.diagnostics().collect::<Vec<_>>()
    );
    let previous = read_applied(&d.state).expect("read applied.json");
    let options = PlanOptions {
        strict: false,
        now: instant(FROM),
        host_identity: "test-host".into(),
        show_next: 1,
    };
    let p = plan(&desired, &previous, &options);
    let next = p.next_applied(&desired, &previous);
    write_applied(&d.state, &next, instant(FROM)).expect("write applied.json");
}

/// `plan ARGS...` against the jobs dir: (exit code, stdout, stderr).
pub fn run_plan(d: &Dirs, args: &[&str]) -> (i32, String, String) {
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("plan")
        .args(args)
        .output()
        .expect("run plan");
    let code = out.status.code().expect("exit code");
    (code, stdout(&out), stderr(&out))
}

/// Fails unless `text` has the line `expected`.
#[track_caller]
pub fn assert_has_line(text: &str, expected: &str) {
    assert!(
        text.lines().any(|l| l == expected),
        "expected the line\n  {expected}\nin:\n{text}"
    );
}
