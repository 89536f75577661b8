//! `deploy/ansible/`: the `troubleshoot_agent` role, run by the real `ansible-playbook` with a
//! local connection against a temp root while a real agent reads its jobs directory. A good
//! template lands and the handler's reload makes the agent run it; a broken one is refused by
//! `validate` (run by Ansible on its own temp file, which has no `.yaml` name), the old file
//! stays, the handler does not run and the agent keeps its jobs.
//!
//! ansible-playbook comes from Debian's `ansible-core` package (scripts/test installs it).

use crate::support::config_mgmt::{Root, crate_path, job_text, output_text, require_tool};
use std::process::Command;

/// Runs the role on localhost with `vars` (JSON), Ansible's home (and so its temp files) in the
/// root. Returns the output.
fn play(root: &Root, vars: &serde_json::Value) -> std::process::Output {
    require_tool("ansible-playbook", "ansible-core");
    let home = root.tmp.path().join("root");
    std::fs::create_dir_all(&home).expect("mkdir home");
    let playbook = root.write(
        "playbook.yml",
        "- hosts: localhost\n  gather_facts: false\n  roles:\n    - troubleshoot_agent\n",
    );
    let vars_file = root.write("vars.json", &vars.to_string());
    Command::new("ansible-playbook")
        .args(["-i", "localhost,", "-c", "local"])
        .arg("-e")
        .arg(format!("@{}", vars_file.display()))
        .args(["-e", "ansible_python_interpreter=/usr/bin/python3"])
        .arg(&playbook)
        .env("HOME", &home)
        .env("ANSIBLE_ROLES_PATH", crate_path("deploy/ansible/roles"))
        .env("ANSIBLE_NOCOLOR", "1")
        .current_dir(root.tmp.path())
        .output()
        .expect("run ansible-playbook")
}

fn vars(root: &Root, template: &std::path::Path, schedule: &str) -> serde_json::Value {
    serde_json::json!({
        "troubleshoot_agent_install_package": false,
        "troubleshoot_agent_manage_service": false,
        "troubleshoot_agent_binary": root.binary,
        "troubleshoot_agent_jobs_dir": root.jobs,
        "troubleshoot_agent_reload_command": root.reload_command(),
        "troubleshoot_agent_jobs": [
            {"name": "app", "template": template},
        ],
        "app_schedule": schedule,
    })
}

#[test]
fn the_role_lands_a_valid_template_and_refuses_a_broken_one() {
    let root = Root::new();
    let template = root.write(
        "templates/app.yaml.j2",
        &job_text("app", "{{ app_schedule }}"),
    );

    // A good template lands, the handler reloads, the agent runs the job.
    let out = play(&root, &vars(&root, &template, "0 3 * * *"));
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(root.job_file("app"), job_text("app", "0 3 * * *"));
    assert_eq!(root.reloads(), 1, "{}", output_text(&out));
    root.wait_schedule("app", "0 3 * * *");
    assert!(root.agent.job("base").is_some());

    // Run again unchanged: nothing changes, the handler does not run.
    let out = play(&root, &vars(&root, &template, "0 3 * * *"));
    assert!(out.status.success(), "{}", output_text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("changed=0"),
        "{}",
        output_text(&out)
    );
    assert_eq!(root.reloads(), 1);

    // A broken template (an invalid cron minute) is refused by validate: the play fails, the
    // old file stays, the handler does not run and the agent keeps both jobs as they were.
    let out = play(&root, &vars(&root, &template, "61 3 * * *"));
    assert!(!out.status.success(), "{}", output_text(&out));
    let text = output_text(&out);
    assert!(text.contains("failed to validate"), "{text}");
    // The error names the file it is about to replace, with line and column.
    let target = root.jobs.join("app.yaml");
    assert!(text.contains(&format!("{}:6:", target.display())), "{text}");
    assert_eq!(root.job_file("app"), job_text("app", "0 3 * * *"));
    assert_eq!(root.reloads(), 1, "{text}");
    assert_eq!(root.job_dir_entries(), ["app.yaml", "base.yaml"]);
    let (code, outcome) = root.agent.reload();
    assert_eq!(code, 200, "{outcome}");
    root.wait_schedule("app", "0 3 * * *");
    assert!(root.agent.job("base").is_some());
}

/// The role's own template renders a job given as data (`definition`), and `jobs_absent`
/// removes a job file: the agent drops the job at the handler's reload.
#[test]
fn the_role_renders_definitions_and_removes_absent_jobs() {
    let root = Root::new();
    let definition = serde_json::json!({
        "apiVersion": "troubleshoot.sh/v1beta3",
        "kind": "SupportBundleSchedule",
        "metadata": {"name": "hourly"},
        "spec": {
            "schedule": "@hourly",
            "collect": {"supportBundle": {"hostCollectors": [{"memory": {}}]}},
        },
    });
    let mut v = serde_json::json!({
        "troubleshoot_agent_install_package": false,
        "troubleshoot_agent_manage_service": false,
        "troubleshoot_agent_binary": root.binary,
        "troubleshoot_agent_jobs_dir": root.jobs,
        "troubleshoot_agent_reload_command": root.reload_command(),
        "troubleshoot_agent_jobs": [{"name": "hourly", "definition": definition}],
    });
    let out = play(&root, &v);
    assert!(out.status.success(), "{}", output_text(&out));
    root.wait_schedule("hourly", "@hourly");
    assert!(root.job_file("hourly").starts_with("# Managed by Ansible"));

    v["troubleshoot_agent_jobs"] = serde_json::json!([]);
    v["troubleshoot_agent_jobs_absent"] = serde_json::json!(["hourly"]);
    let out = play(&root, &v);
    assert!(out.status.success(), "{}", output_text(&out));
    assert_eq!(root.job_dir_entries(), ["base.yaml"]);
    assert_eq!(root.reloads(), 2);
    crate::support::daemon::wait_until(
        std::time::Duration::from_secs(30),
        "the agent to drop job hourly",
        || match root.agent.job("hourly") {
            None => Ok(()),
            Some(j) => Err(j.to_string()),
        },
    );
    assert!(root.agent.job("base").is_some());
}

/// Ansible over SSH as `deploy` with `become: true`: its temp file is
/// `~deploy/.ansible/tmp/ansible-tmp-*/source`, in directories `deploy` owns, chowned to root
/// (the role's `owner: root`) before `validate` runs. `validate --as` accepts it there (the
/// agent reads the file where it lands, and checks that directory), still refuses a temp file
/// others could write, and a plain `validate` of the same file still says the agent would not
/// trust it where it is.
#[test]
fn validate_as_accepts_a_temp_file_in_the_login_users_home() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let root = tempfile::tempdir().expect("tempdir");
    let home = root.path().join("home/deploy");
    let tmp = home.join(".ansible/tmp/ansible-tmp-1733000000.1-42-1");
    std::fs::create_dir_all(&tmp).expect("mkdir");
    for dir in [
        &home,
        &home.join(".ansible"),
        &home.join(".ansible/tmp"),
        &tmp,
    ] {
        chown(dir, Some(65534), Some(65534)).expect("chown to nobody");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    }
    let source = tmp.join("source");
    std::fs::write(&source, job_text("app", "0 3 * * *")).expect("write");
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let jobs = root.path().join("etc/troubleshoot/jobs.d");
    std::fs::create_dir_all(&jobs).expect("mkdir jobs.d");
    let target = jobs.join("app.yaml");
    let validate = |args: &[&std::path::Path]| {
        let mut cmd = crate::support::agent(&root.path().join("state"));
        cmd.arg("validate");
        cmd.args(args);
        cmd.output().expect("run validate")
    };

    let out = validate(&["--as".as_ref(), &target, &source]);
    assert_eq!(out.status.code(), Some(0), "{}", output_text(&out));

    // Read where it is, the agent would refuse it: a plain validate says so.
    let out = validate(&[&source]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(&format!("{} is owned by uid 65534", home.display())),
        "{}",
        output_text(&out)
    );

    // A temp file others could write is refused, --as or not.
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let out = validate(&["--as".as_ref(), &target, &source]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains("world-writable"),
        "{}",
        output_text(&out)
    );
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    // A jobs directory the agent would not trust is refused.
    chown(&jobs, Some(65534), Some(65534)).expect("chown jobs.d");
    let out = validate(&["--as".as_ref(), &target, &source]);
    assert_eq!(out.status.code(), Some(1), "{}", output_text(&out));
    assert!(
        output_text(&out).contains(&format!(
            "{}: error: not trusted: {} is owned by uid 65534",
            target.display(),
            jobs.display()
        )),
        "{}",
        output_text(&out)
    );
}

/// The example playbook shipped beside the role passes Ansible's syntax check.
#[test]
fn the_example_playbook_passes_the_syntax_check() {
    require_tool("ansible-playbook", "ansible-core");
    let home = tempfile::tempdir().expect("tempdir");
    let out = Command::new("ansible-playbook")
        .args(["--syntax-check", "-i", "localhost,"])
        .arg(crate_path("deploy/ansible/site.yml"))
        .env("HOME", home.path())
        .env("ANSIBLE_ROLES_PATH", crate_path("deploy/ansible/roles"))
        .env("ANSIBLE_NOCOLOR", "1")
        .output()
        .expect("run ansible-playbook --syntax-check");
    assert!(out.status.success(), "{}", output_text(&out));
}
