//! `plan` through the real binary, against an `applied.json` written by the library the way the
//! agent writes it after applying a plan.

use crate::support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use support::plan::{FROM, apply, assert_has_line, run_plan};
use support::{Dirs, JobFile, agent, dirs, stderr};
use troubleshoot_agent::digest::sha256_hex;

fn two_jobs(d: &Dirs) -> (PathBuf, PathBuf) {
    (
        JobFile::new("alpha").write(&d.jobs),
        JobFile::new("bravo").schedule("30 4 * * 1").write(&d.jobs),
    )
}

#[test]
fn empty_state_plans_every_job_as_an_add() {
    let d = dirs();
    let (alpha, bravo) = two_jobs(&d);
    let (code, out, err) = run_plan(&d, &["--from", FROM]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("+ add      alpha ({})", alpha.display()));
    assert_has_line(&out, "      schedule \"0 2 * * *\" in UTC");
    assert_has_line(
        &out,
        "      at 2025-03-09T02:00:00Z (2025-03-09 02:00:00 UTC)",
    );
    assert_has_line(&out, &format!("+ add      bravo ({})", bravo.display()));
    // 2025-03-08 is a Saturday: the next Monday 04:30.
    assert_has_line(
        &out,
        "      at 2025-03-10T04:30:00Z (2025-03-10 04:30:00 UTC)",
    );
    assert_eq!(
        out.lines().last(),
        Some("Plan: 2 to add, 0 to change, 0 to remove, 0 files rejected.")
    );
    let (code, _, _) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 2, "adds are changes");
}

#[test]
fn applied_state_without_changes_exits_0() {
    let d = dirs();
    two_jobs(&d);
    apply(&d);
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, "= 2 unchanged jobs");
    assert_has_line(
        &out,
        "Plan: 0 to add, 0 to change, 0 to remove, 0 files rejected.",
    );
}

#[test]
fn schedule_edit_is_a_change_with_the_field_and_the_next_run() {
    let d = dirs();
    let (alpha, _) = two_jobs(&d);
    apply(&d);
    JobFile::new("alpha").schedule("0 3 * * *").write(&d.jobs);
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("~ change   alpha ({})", alpha.display()));
    assert_has_line(&out, "      spec.schedule: \"0 2 * * *\" → \"0 3 * * *\"");
    assert_has_line(
        &out,
        "      next run: 2025-03-09T02:00:00Z (2025-03-09 02:00:00 UTC) → 2025-03-09T03:00:00Z (2025-03-09 03:00:00 UTC)",
    );
    assert_has_line(&out, "= 1 unchanged job");
    assert_has_line(
        &out,
        "Plan: 0 to add, 1 to change, 0 to remove, 0 files rejected.",
    );
    // Without --detailed-exitcode a change is still a success.
    let (code, _, _) = run_plan(&d, &["--from", FROM]);
    assert_eq!(code, 0);
}

#[test]
fn deleted_file_removes_its_job() {
    let d = dirs();
    let (_, bravo) = two_jobs(&d);
    apply(&d);
    std::fs::remove_file(&bravo).expect("delete");
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    // The default removedJobGracePeriod is 7 days from the plan's instant.
    assert_has_line(
        &out,
        &format!(
            "- remove   bravo (was {}); bundles and records kept until 2025-03-15 12:00 UTC",
            bravo.display()
        ),
    );
    assert_has_line(
        &out,
        "Plan: 0 to add, 0 to change, 1 to remove, 0 files rejected.",
    );
}

#[test]
fn broken_file_is_rejected_and_its_applied_jobs_are_kept() {
    let d = dirs();
    let (alpha, _) = two_jobs(&d);
    apply(&d);
    std::fs::write(
        &alpha,
        JobFile::new("alpha").spec_line("timeout: 10x").render(),
    )
    .expect("break the file");
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("! reject   {} (1 error)", alpha.display()));
    assert_has_line(
        &out,
        &format!(
            "      {}:7:12: error: unknown unit `x` in duration `10x`; write it as a number and a unit, e.g. `90s`, `10m`, `1h30m`, `7d` (units: ms, s, m, h, d, w) (at spec.timeout)",
            alpha.display()
        ),
    );
    assert_has_line(&out, "      kept at last good version: alpha");
    assert!(
        !out.contains("- remove"),
        "a rejected file's job is not removed:\n{out}"
    );
    assert_has_line(&out, "= 1 unchanged job");
    assert_has_line(
        &out,
        "Plan: 0 to add, 0 to change, 0 to remove, 1 file rejected.",
    );
}

#[test]
fn strict_with_a_broken_file_applies_nothing() {
    let d = dirs();
    let (alpha, _) = two_jobs(&d);
    apply(&d);
    std::fs::write(&alpha, "apiVersion: troubleshoot.sh/v1beta3\n").expect("break the file");
    JobFile::new("charlie").write(&d.jobs);
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--strict"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("! reject   {} (1 error)", alpha.display()));
    assert_has_line(
        &out,
        &format!(
            "      {}:1:1: error: missing `kind`; expected a mapping with `apiVersion: troubleshoot.sh/v1beta3`, `kind: SupportBundleSchedule`, `metadata` and `spec`",
            alpha.display()
        ),
    );
    assert_has_line(
        &out,
        "      --strict: nothing is applied; every applied job stays as it is",
    );
    assert!(
        !out.contains("+ add"),
        "nothing is added under --strict:\n{out}"
    );
    assert_has_line(
        &out,
        "Plan: 0 to add, 0 to change, 0 to remove, 1 file rejected. Nothing is applied (--strict).",
    );
}

#[test]
fn editing_a_referenced_spec_file_changes_the_job() {
    let d = dirs();
    std::fs::create_dir(d.jobs.join("specs")).expect("mkdir specs");
    let spec = d.jobs.join("specs/host.yaml");
    let before = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: host\nspec:\n  hostCollectors:\n    - cpu: {}\n";
    std::fs::write(&spec, before).expect("write spec");
    let job = JobFile::new("host")
        .spec_file("specs/host.yaml")
        .write(&d.jobs);
    apply(&d);
    let after = format!("{before}    - memory: {{}}\n");
    std::fs::write(&spec, &after).expect("edit spec");
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("~ change   host ({})", job.display()));
    assert_has_line(
        &out,
        &format!(
            "      specFiles.{}: \"{}\" → \"{}\"",
            spec.display(),
            sha256_hex(before.as_bytes()),
            sha256_hex(after.as_bytes())
        ),
    );
    assert!(
        !out.contains("next run:"),
        "a spec edit does not move fire times:\n{out}"
    );
    assert_has_line(
        &out,
        "Plan: 0 to add, 1 to change, 0 to remove, 0 files rejected.",
    );
}

#[test]
fn editing_an_analyze_specs_file_changes_the_job() {
    let d = dirs();
    let spec = d.jobs.join("checks.yaml.txt");
    let before = "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: checks}\nspec:\n  hostAnalyzers:\n    - cpu: {outcomes: [{pass: {message: ok}}]}\n";
    std::fs::write(&spec, before).expect("write spec");
    let job = JobFile::new("judged")
        .spec_line("analyze: {specs: [checks.yaml.txt]}")
        .write(&d.jobs);
    apply(&d);
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 0, "unchanged once applied:\n{out}\n{err}");
    let after = format!("{before}    - memory: {{outcomes: [{{pass: {{message: ok}}}}]}}\n");
    std::fs::write(&spec, &after).expect("edit spec");
    let (code, out, err) = run_plan(&d, &["--from", FROM, "--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, &format!("~ change   judged ({})", job.display()));
    assert_has_line(
        &out,
        &format!(
            "      specFiles.{}: \"{}\" → \"{}\"",
            spec.display(),
            sha256_hex(before.as_bytes()),
            sha256_hex(after.as_bytes())
        ),
    );
}

fn new_york(d: &Dirs) -> PathBuf {
    JobFile::new("ny")
        .schedule("30 2 * * *")
        .time_zone("America/New_York")
        .write(&d.jobs)
}

#[test]
fn show_next_previews_a_spring_forward_weekend() {
    let d = dirs();
    new_york(&d);
    let (code, out, err) = run_plan(
        &d,
        &["--show-next", "3", "--from", "2025-03-08T12:00:00-05:00"],
    );
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let fires: Vec<&str> = out.lines().filter(|l| l.starts_with("      at ")).collect();
    assert_eq!(
        fires,
        [
            // 02:30 does not exist on 2025-03-09 in New York: the first instant after the gap.
            "      at 2025-03-09T07:00:00Z (2025-03-09 03:00:00 EDT) [DST: 02:30 does not exist; moved to the end of the gap]",
            "      at 2025-03-10T06:30:00Z (2025-03-10 02:30:00 EDT)",
            "      at 2025-03-11T06:30:00Z (2025-03-11 02:30:00 EDT)",
        ],
        "{out}"
    );
}

#[test]
fn json_output_has_the_next_fire_of_each_add() {
    let d = dirs();
    new_york(&d);
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("--output")
        .arg("json")
        .arg("plan")
        .arg("--from")
        .arg("2025-03-08T12:00:00-05:00")
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).expect("plan --output json is JSON");
    assert_eq!(
        v["summary"],
        "Plan: 1 to add, 0 to change, 0 to remove, 0 files rejected."
    );
    assert_eq!(v["from"], "2025-03-08T17:00:00Z");
    let add = &v["plan"]["add"][0];
    assert_eq!(add["name"], "ny");
    assert_eq!(add["timeZone"], "America/New_York");
    assert_eq!(add["next"][0]["at"], "2025-03-09T07:00:00Z");
    assert!(!add["next"][0]["dst"].is_null(), "{add:#}");
    for key in ["change", "remove", "unchanged", "rejected"] {
        assert_eq!(v["plan"][key], Value::Array(Vec::new()), "{key}");
    }
}

#[test]
fn corrupt_applied_json_fails_naming_the_file() {
    let d = dirs();
    two_jobs(&d);
    let applied: &Path = &d.state.join("applied.json");
    std::fs::write(applied, "{\"version\": 1, \"jobs\": ").expect("write");
    let (code, out, err) = run_plan(&d, &["--from", FROM]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.starts_with(&format!(
            "error: cannot read what the agent has applied: {} is corrupt: ",
            applied.display()
        )),
        "{err}"
    );
    assert_eq!(out, "");
}

#[test]
fn from_garbage_fails_with_a_message() {
    let d = dirs();
    two_jobs(&d);
    let (code, out, err) = run_plan(&d, &["--from", "garbage"]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(
        err,
        "error: --from `garbage` is not a time; use RFC 3339 such as 2025-03-08T12:00:00-05:00, or 2025-03-08T17:00 (UTC)\n"
    );
    assert_eq!(out, "");
}

/// The JSON form carries what the text shows: the same redactor counts (troubleshoot's defaults
/// and the agent extras apart, as the text names them) and every warning.
#[test]
fn json_output_counts_redactors_as_the_text_does_and_keeps_the_warnings() {
    let d = dirs();
    // A jitter longer than half the interval is clamped: a warning.
    JobFile::new("warned")
        .spec_line("jitter: 23h")
        .write(&d.jobs);
    let (code, text, err) = run_plan(&d, &["--from", FROM]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning: "), "{err}");
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .args(["--output", "json", "plan", "--from", FROM])
        .output()
        .expect("plan");
    let v: Value = serde_json::from_slice(&out.stdout).expect("plan --output json is JSON");
    let r = &v["redaction"]["warned"];
    let (upstream, extras) = (
        r["troubleshootDefaults"]
            .as_u64()
            .expect("troubleshootDefaults"),
        r["agentExtras"].as_u64().expect("agentExtras"),
    );
    let shown = format!("troubleshoot defaults ({upstream}) + agent extras ({extras})");
    assert!(text.contains(&shown), "`{shown}` not in:\n{text}");
    let warnings = v["warnings"].as_array().expect("warnings[]");
    assert_eq!(warnings.len(), 1, "{v:#}");
    assert!(
        err.contains(warnings[0]["message"].as_str().expect("message")),
        "{v:#}\n{err}"
    );
    assert_eq!(v["errors"], Value::Array(Vec::new()));
}
