//! `deploy/puppet/`: the `troubleshoot_agent` class, applied by the real `puppet apply` against a
//! temp root while a real agent reads its jobs directory. A good job file lands and the reload
//! exec makes the agent run it; a broken one is refused by `validate_cmd` (Puppet's temp file
//! beside the target, without a `.yaml` name), the old file stays, the exec does not run and the
//! agent keeps its jobs.
//!
//! puppet comes from Debian's `puppet` package (scripts/test installs it).

use crate::support::config_mgmt::{Root, crate_path, job_text, output_text, require_tool};
use std::process::Command;

/// `puppet apply --detailed-exitcodes` of the class with job `app` from `source` (Puppet's
/// `file()`), every Puppet directory inside the root.
fn apply(root: &Root, jobs: &str) -> std::process::Output {
    require_tool("puppet", "puppet");
    let manifest = root.write(
        "site.pp",
        &format!(
            "class {{ 'troubleshoot_agent':\n  manage_package => false,\n  manage_service => false,\n  binary => '{}',\n  jobs_dir => '{}',\n  reload_command => \"{}\",\n  jobs => {{ {jobs} }},\n}}\n",
            root.binary.display(),
            root.jobs.display(),
            root.reload_command(),
        ),
    );
    let dir = |name: &str| {
        let d = root.tmp.path().join("puppet").join(name);
        std::fs::create_dir_all(&d).expect("mkdir puppet dir");
        d
    };
    Command::new("puppet")
        .args(["apply", "--detailed-exitcodes", "--color=false"])
        .arg(format!("--confdir={}", dir("conf").display()))
        .arg(format!("--codedir={}", dir("code").display()))
        .arg(format!("--vardir={}", dir("var").display()))
        .arg(format!("--logdir={}", dir("log").display()))
        .arg(format!("--rundir={}", dir("run").display()))
        .arg(format!(
            "--modulepath={}",
            crate_path("deploy/puppet").display()
        ))
        .arg(&manifest)
        .current_dir(root.tmp.path())
        .output()
        .expect("run puppet apply")
}

/// `--detailed-exitcodes`: 0 no changes, 2 changes, 4 failures, 6 changes and failures.
fn code(out: &std::process::Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

fn app_from(source: &std::path::Path) -> String {
    format!("'app' => {{ content => file('{}') }}", source.display())
}

#[test]
fn the_class_lands_a_valid_job_file_and_refuses_a_broken_one() {
    let root = Root::new();
    let source = root.write("src/app.yaml", &job_text("app", "0 3 * * *"));

    // A good file lands, the reload exec runs, the agent runs the job.
    let out = apply(&root, &app_from(&source));
    assert_eq!(code(&out), 2, "{}", output_text(&out));
    assert_eq!(root.job_file("app"), job_text("app", "0 3 * * *"));
    assert_eq!(root.reloads(), 1, "{}", output_text(&out));
    root.wait_schedule("app", "0 3 * * *");

    // Applied again: no change, no reload.
    let out = apply(&root, &app_from(&source));
    assert_eq!(code(&out), 0, "{}", output_text(&out));
    assert_eq!(root.reloads(), 1);

    // A broken file (a field the schema does not have) is refused by validate_cmd: the old file
    // stays, no reload, no temp file left, and the agent keeps both jobs as they were.
    std::fs::write(
        &source,
        job_text("app", "0 4 * * *").replace("  collect:", "  colect: {}\n  collect:"),
    )
    .expect("write");
    let out = apply(&root, &app_from(&source));
    let text = output_text(&out);
    assert_eq!(code(&out), 4, "{text}");
    assert!(text.contains("validate --as"), "{text}");
    let target = root.jobs.join("app.yaml");
    assert!(text.contains(&format!("{}:7:", target.display())), "{text}");
    assert_eq!(root.job_file("app"), job_text("app", "0 3 * * *"));
    assert_eq!(root.reloads(), 1, "{text}");
    assert_eq!(root.job_dir_entries(), ["app.yaml", "base.yaml"]);
    let (status, outcome) = root.agent.reload();
    assert_eq!(status, 200, "{outcome}");
    root.wait_schedule("app", "0 3 * * *");
    assert!(root.agent.job("base").is_some());

    // `ensure => absent` removes the file and the agent drops the job.
    let out = apply(&root, "'app' => { ensure => 'absent' }");
    assert_eq!(code(&out), 2, "{}", output_text(&out));
    assert_eq!(root.job_dir_entries(), ["base.yaml"]);
    assert_eq!(root.reloads(), 2);
    crate::support::daemon::wait_until(
        std::time::Duration::from_secs(30),
        "the agent to drop job app",
        || match root.agent.job("app") {
            None => Ok(()),
            Some(j) => Err(j.to_string()),
        },
    );
}

/// The module's manifests pass `puppet parser validate`.
#[test]
fn the_manifests_pass_the_parser() {
    require_tool("puppet", "puppet");
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = Command::new("puppet")
        .args(["parser", "validate", "--color=false"])
        .arg(format!("--confdir={}", tmp.path().join("conf").display()))
        .arg(format!("--vardir={}", tmp.path().join("var").display()))
        .arg(crate_path(
            "deploy/puppet/troubleshoot_agent/manifests/init.pp",
        ))
        .arg(crate_path(
            "deploy/puppet/troubleshoot_agent/manifests/job.pp",
        ))
        .output()
        .expect("run puppet parser validate");
    assert!(out.status.success(), "{}", output_text(&out));
}
