//! v1beta3 templated specs: `collect.values` and `collect.set` render `{{ .Values.x }}` in a
//! job's v1beta3 spec files before they are parsed, through `validate`, `plan` and a reload of
//! the real agent.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::daemon::{Daemon, wait_until};
use support::plan::{apply, run_plan};
use support::{Dirs, agent, dirs, stderr, stdout};
use troubleshoot_agent::digest::sha256_hex;
use troubleshoot_agent::plan::read_applied;

const SPEC: &str = "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundle
metadata:
  name: app
spec:
  hostCollectors:
    {{- if .Values.cpu.enabled }}
    - cpu: {}
    {{- end }}
    - run:
        collectorName: {{ .Values.name | default \"greet\" | quote }}
        command: echo
        args: [{{ .Values.greeting | quote }}]
";

const VALUES: &str = "cpu: {enabled: true}\ngreeting: hello\n";

/// `jobs/tmpl.yaml` with its spec and values files under `jobs/specs/` (spec and values files
/// are YAML the jobs directory must not read as job files).
fn setup(d: &Dirs, spec: &str, set: &str) -> (PathBuf, PathBuf) {
    let specs = d.jobs.join("specs");
    std::fs::create_dir_all(&specs).expect("mkdir specs");
    std::fs::write(specs.join("spec.yaml"), spec).expect("write spec");
    std::fs::write(specs.join("values.yaml"), VALUES).expect("write values");
    let job = d.jobs.join("tmpl.yaml");
    std::fs::write(
        &job,
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: tmpl}}\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    specs: [specs/spec.yaml]\n    values: [specs/values.yaml]\n{set}"
        ),
    )
    .expect("write job");
    (job, specs.join("values.yaml"))
}

fn validate(d: &Dirs) -> (i32, String, String) {
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("validate")
        .output()
        .expect("run validate");
    (
        out.status.code().expect("exit code"),
        stdout(&out),
        stderr(&out),
    )
}

fn row(out: &str, kind: &str, name: &str) -> bool {
    out.lines().any(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        cols.get(1) == Some(&kind) && cols.get(2) == Some(&name) && cols.get(3) == Some(&"runs")
    })
}

#[test]
fn validate_shows_the_collectors_rendered_with_values_and_set() {
    let d = dirs();
    setup(&d, SPEC, "    set: {name: from-set}\n");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(row(&out, "cpu", "-"), "the `if` kept cpu:\n{out}");
    assert!(
        row(&out, "run", "from-set"),
        "set beats the default:\n{out}"
    );

    // Without values the spec still renders, seeded as troubleshoot seeds it: `cpu.enabled`
    // is false, so only the run collector is left, with its default name.
    let d = dirs();
    let (job, values) = setup(&d, SPEC, "");
    std::fs::remove_file(values).expect("rm values");
    let text = std::fs::read_to_string(&job).expect("read job");
    std::fs::write(&job, text.replace("    values: [specs/values.yaml]\n", "")).expect("write job");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert!(!out.contains(" cpu "), "no cpu without values:\n{out}");
    assert!(row(&out, "run", "greet"), "{out}");
}

#[test]
fn an_unsupported_function_is_a_located_validate_error() {
    let d = dirs();
    let spec = SPEC.replace(
        "{{ .Values.greeting | quote }}",
        "{{ .Values.greeting | toPrettyJson }}",
    );
    setup(&d, &spec, "");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let spec_path = d.jobs.join("specs/spec.yaml");
    let expected = format!(
        "{}:13:38: error: cannot render the v1beta3 template: function \"toPrettyJson\" is not supported by the agent's template engine",
        spec_path.display()
    );
    assert!(
        err.lines().any(|l| l == expected),
        "expected\n  {expected}\nin:\n{err}"
    );
    assert!(
        err.contains("hint: rewrite the template without this function"),
        "{err}"
    );
}

#[test]
fn editing_the_values_file_or_a_set_value_makes_plan_show_a_change_without_the_values() {
    let d = dirs();
    let (job, values) = setup(&d, SPEC, "    set: {password: s3cret-one}\n");
    apply(&d);
    let (code, out, err) = run_plan(&d, &["--detailed-exitcode"]);
    assert_eq!(
        code, 0,
        "nothing changed yet:\nstdout:\n{out}\nstderr:\n{err}"
    );

    let after = "cpu: {enabled: true}\ngreeting: bonjour\n";
    std::fs::write(&values, after).expect("edit values");
    let (code, out, err) = run_plan(&d, &["--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains(&format!("~ change   tmpl ({})", job.display())),
        "{out}"
    );
    let values_line = format!(
        "      specFiles.{}: \"{}\" → \"{}\"",
        values.display(),
        sha256_hex(VALUES.as_bytes()),
        sha256_hex(after.as_bytes())
    );
    assert!(
        out.lines().any(|l| l == values_line),
        "expected\n  {values_line}\nin:\n{out}"
    );
    // The spec's entry is the hash of the rendered text, which changed with the values.
    let spec_line = format!(
        "      specFiles.{}: ",
        d.jobs.join("specs/spec.yaml").display()
    );
    assert!(out.lines().any(|l| l.starts_with(&spec_line)), "{out}");

    std::fs::write(&values, VALUES).expect("restore values");
    let text = std::fs::read_to_string(&job).expect("read job");
    std::fs::write(&job, text.replace("s3cret-one", "s3cret-two")).expect("edit set");
    let (code, out, err) = run_plan(&d, &["--detailed-exitcode"]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("spec.collect.set.password: \"sha256:"),
        "{out}"
    );
    assert!(
        !out.contains("s3cret") && !err.contains("s3cret"),
        "a value is never shown:\n{out}\n{err}"
    );
}

fn applied_hash(state: &Path) -> String {
    let applied = read_applied(state).expect("read applied.json");
    applied
        .jobs
        .get("tmpl")
        .map(|j| j.spec_hash.to_string())
        .unwrap_or_default()
}

#[test]
fn a_reload_applies_an_edited_values_file() {
    let d = dirs();
    let (_, values) = setup(&d, SPEC, "");
    let agent = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .start_serving();
    let before = wait_until(Duration::from_secs(30), "job applied", || {
        let h = applied_hash(&d.state);
        if h.is_empty() {
            Err("no job yet".to_string())
        } else {
            Ok(h)
        }
    });
    std::fs::write(&values, "cpu: {enabled: false}\ngreeting: hi\n").expect("edit values");
    let (status, outcome) = agent.reload();
    assert_eq!(status, 200, "{outcome}");
    let after = wait_until(Duration::from_secs(30), "new definition applied", || {
        let h = applied_hash(&d.state);
        if h != before { Ok(h) } else { Err(h) }
    });
    assert_ne!(after, before);
    let applied = read_applied(&d.state).expect("read applied.json");
    let def = applied.jobs["tmpl"].definition.value();
    assert_eq!(
        def["specFiles"][values.display().to_string()],
        sha256_hex(b"cpu: {enabled: false}\ngreeting: hi\n"),
        "{def}"
    );
}

#[test]
fn a_values_file_another_user_could_write_is_refused_like_a_spec_file() {
    let d = dirs();
    let (_, values) = setup(&d, SPEC, "");
    std::fs::set_permissions(&values, std::fs::Permissions::from_mode(0o666)).expect("chmod");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("values file `specs/values.yaml`"), "{err}");
    assert!(err.contains("world-writable (mode 0666)"), "{err}");

    std::fs::set_permissions(&values, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    std::os::unix::fs::chown(&values, Some(65534), Some(65534)).expect("chown nobody");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(err.contains("values file `specs/values.yaml`"), "{err}");
    assert!(err.contains("owned by"), "{err}");
}

#[test]
fn values_for_a_v1beta2_spec_warn() {
    let d = dirs();
    let v1beta2 = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {name: a}\nspec:\n  hostCollectors:\n    - cpu: {}\n";
    let (job, _) = setup(&d, v1beta2, "");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 0, "a warning only:\nstdout:\n{out}\nstderr:\n{err}");
    assert!(
        err.contains("warning: `specs/spec.yaml` is not a v1beta3 spec: the job's values are not applied to it"),
        "{err}"
    );
    // The troubleshoot CLI engine takes templated specs too (it is given the rendering:
    // external_engine::a_templated_v1beta3_spec_reaches_the_cli_rendered_with_the_jobs_values).
    let text = std::fs::read_to_string(&job).expect("read job");
    std::fs::write(
        &job,
        text.replace("  collect:\n", "  collect:\n    engine: support-bundle\n"),
    )
    .expect("write job");
    let (code, out, err) = validate(&d);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
}

#[test]
fn the_watcher_reloads_on_an_edited_values_file_in_the_jobs_directory() {
    let d = dirs();
    let (job, _) = setup(&d, SPEC, "");
    // JSON is YAML, and the agent does not read `*.json` entries as job files: a values file
    // inside the jobs directory, whose edits the watcher sees.
    let values = d.jobs.join("values.json");
    std::fs::write(&values, "{\"greeting\": \"hello\"}\n").expect("write values");
    let text = std::fs::read_to_string(&job).expect("read job");
    std::fs::write(&job, text.replace("specs/values.yaml", "values.json")).expect("write job");
    let _agent = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .setting("rescanInterval", "1h")
        .start_serving();
    let before = wait_until(Duration::from_secs(30), "job applied", || {
        let h = applied_hash(&d.state);
        if h.is_empty() {
            Err("no job yet".to_string())
        } else {
            Ok(h)
        }
    });
    std::fs::write(&values, "{\"greeting\": \"bonjour\"}\n").expect("edit values");
    wait_until(
        Duration::from_secs(30),
        "the edit applied by the watcher",
        || {
            let h = applied_hash(&d.state);
            if h != before { Ok(h) } else { Err(h) }
        },
    );
}
