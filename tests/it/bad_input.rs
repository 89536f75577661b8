//! Bad input through the real binary: every broken job file is refused with its file, line and
//! column, a message that says what is wrong, and (where we can tell) what to do; the other files
//! of the directory still validate.

use crate::support;

use assert_cmd::Command;
use serde_json::Value;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use support::{Dirs, JobFile, agent, dirs, stderr, stdout};

fn write(path: &Path, text: impl AsRef<[u8]>) -> PathBuf {
    std::fs::write(path, text).expect("write file");
    path.to_path_buf()
}

/// `validate ARGS...`: (exit code, stdout, stderr).
fn validate(state: &Path, args: &[&Path]) -> (i32, String, String) {
    let out = agent(state)
        .arg("validate")
        .args(args)
        .output()
        .expect("run validate");
    (exit_code(&out), stdout(&out), stderr(&out))
}

/// `--output json validate ARGS...`: (exit code, the report).
fn validate_json(mut cmd: Command, args: &[&Path]) -> (i32, Value) {
    let out = cmd
        .arg("--output")
        .arg("json")
        .arg("validate")
        .args(args)
        .output()
        .expect("run validate");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "validate --output json printed no JSON ({e}):\n{}\n{}",
            stdout(&out),
            stderr(&out)
        )
    });
    (exit_code(&out), report)
}

fn exit_code(out: &std::process::Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {out:?}"))
}

/// The first line of the rendered error at `file:line:column`.
fn located(file: &Path, line: u32, column: u32, message: &str) -> String {
    format!("{}:{line}:{column}: error: {message}", file.display())
}

/// The first line of a whole-file error.
fn whole_file(file: &Path, message: &str) -> String {
    format!("{}: error: {message}", file.display())
}

#[track_caller]
fn assert_has_line(text: &str, expected: &str) {
    assert!(
        text.lines().any(|l| l == expected),
        "expected the line\n  {expected}\nin:\n{text}"
    );
}

#[track_caller]
fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "expected `{needle}` in:\n{text}");
}

/// Validates one file and expects exactly one error, whose first line is `first_line`.
#[track_caller]
fn assert_single_error(file: &Path, first_line: &str) -> String {
    let d = dirs();
    let (code, out, err) = validate(&d.state, &[file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&err, first_line);
    assert_contains(&out, "invalid: 1 file, ");
    assert_contains(&out, " 1 error, ");
    err
}

fn errors(report: &Value) -> &Vec<Value> {
    report["errors"].as_array().expect("errors[] is an array")
}

fn error_files(report: &Value) -> Vec<String> {
    errors(report)
        .iter()
        .map(|e| e["file"].as_str().expect("file").to_string())
        .collect()
}

fn jobs(report: &Value) -> Vec<String> {
    report["jobs"]
        .as_array()
        .expect("jobs[]")
        .iter()
        .map(|j| j.as_str().expect("job name").to_string())
        .collect()
}

// ---------------------------------------------------------------- files that are not job files

#[test]
fn empty_file() {
    let d = dirs();
    let file = write(&d.jobs.join("empty.yaml"), "");
    let err = assert_single_error(
        &file,
        &whole_file(
            &file,
            "the file has no YAML documents (it is empty or only comments)",
        ),
    );
    assert_contains(
        &err,
        "hint: a job file holds `apiVersion: troubleshoot.sh/v1beta3`",
    );
}

#[test]
fn file_of_only_comments() {
    let d = dirs();
    let file = write(
        &d.jobs.join("comments.yaml"),
        "# prod-daily moved to prod.yaml\n\n# nothing here any more\n---\n# still nothing\n",
    );
    assert_single_error(
        &file,
        &whole_file(
            &file,
            "the file has no YAML documents (it is empty or only comments)",
        ),
    );
}

#[test]
fn binary_file_with_nul_bytes() {
    let d = dirs();
    let mut bytes = JobFile::new("bin").render().into_bytes();
    bytes.extend_from_slice(b"\x00\x01\x02\x7fELF\x00");
    let file = write(&d.jobs.join("bin.yaml"), bytes);
    let err = assert_single_error(
        &file,
        &whole_file(&file, "binary file (contains NUL bytes), not YAML"),
    );
    assert_contains(&err, "hint: job files are UTF-8 YAML text");
}

#[test]
fn non_utf8_file_is_located_at_the_first_bad_byte() {
    let d = dirs();
    // Latin-1 `é` (0xE9) in the label value on line 5, after `    team: caf` (13 characters).
    let mut bytes = b"apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  labels:\n    team: caf"
        .to_vec();
    bytes.push(0xE9);
    bytes.extend_from_slice(b"\n  name: latin1\n");
    let file = write(&d.jobs.join("latin1.yaml"), bytes);
    let err = assert_single_error(&file, &located(&file, 5, 14, "file is not valid UTF-8"));
    assert_contains(&err, "hint: save the file as UTF-8");
}

#[test]
fn alias_bomb_fails_with_a_clear_error() {
    // "Billion laughs": ten levels of nine aliases each would be 9^10 strings once expanded.
    let d = dirs();
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let mut prev = 'a';
    for name in "bcdefghij".chars() {
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        prev = name;
    }
    let file = write(&d.jobs.join("lol.yaml"), text);
    // The binary finishes (the output below is complete) and says what happened; no timing here.
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let first = err.lines().next().expect("an error line");
    let prefix = format!("{}:", file.display());
    assert!(first.starts_with(&prefix), "{first}");
    assert!(
        first.ends_with(
            ": error: invalid YAML: the document breaks the parser's safety limits: aliases (`*name`) expand it to too many values; this looks like an alias bomb (\"billion laughs\")"
        ),
        "{first}"
    );
    assert_has_line(&out, "invalid: 1 file, 0 jobs, 1 error, 0 warnings");
}

#[test]
fn ten_megabyte_file_is_refused_with_its_size_and_the_limit() {
    let d = dirs();
    let mut text = JobFile::new("huge").render();
    let comment = "# padding padding padding padding padding padding padding padding padding\n";
    while text.len() < 10 * 1024 * 1024 {
        text.push_str(comment);
    }
    text.truncate(10 * 1024 * 1024);
    let file = write(&d.jobs.join("huge.yaml"), &text);
    let err = assert_single_error(
        &file,
        &whole_file(
            &file,
            "file is 10485760 bytes; job files are limited to 1048576 bytes",
        ),
    );
    assert_contains(&err, "hint: keep troubleshoot specs in their own files");
    assert_eq!(troubleshoot_agent::jobs::MAX_FILE_BYTES, 1048576);
}

// ---------------------------------------------------------------- documents of the wrong shape

#[test]
fn wrong_api_version() {
    let d = dirs();
    let text = JobFile::new("old")
        .render()
        .replace("troubleshoot.sh/v1beta3", "troubleshoot.sh/v1beta2");
    let file = write(&d.jobs.join("old.yaml"), text);
    let err = assert_single_error(
        &file,
        &located(
            &file,
            1,
            13,
            "unsupported apiVersion `troubleshoot.sh/v1beta2`",
        ),
    );
    assert_has_line(
        &err,
        "  hint: job files use `apiVersion: troubleshoot.sh/v1beta3`",
    );
}

#[test]
fn wrong_kind_support_bundle_in_the_jobs_dir_has_a_hint() {
    let d = dirs();
    JobFile::new("good").write(&d.jobs);
    let bundle = write(
        &d.jobs.join("bundle.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: app\nspec:\n  collectors:\n    - clusterInfo: {}\n",
    );
    let (code, out, err) = validate(&d.state, &[&d.jobs]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(
        &err,
        &located(&bundle, 2, 7, "unsupported kind `SupportBundle`"),
    );
    assert_has_line(
        &err,
        "  hint: a troubleshoot `SupportBundle` spec does not go in the jobs directory: keep it elsewhere and reference it from a job's `collect.specs` (or `redact.redactors`)",
    );
    // The good file still validates: its job is listed, the one error is the bundle's.
    assert_has_line(&out, "invalid: 2 files, 1 job, 1 error, 0 warnings");

    let (status, report) = validate_json(agent(&d.state), &[&d.jobs]);
    assert_eq!(status, 1);
    assert_eq!(jobs(&report), ["good"]);
    assert_eq!(error_files(&report), [bundle.display().to_string()]);

    // plan: the bundle file is rejected, the good job is still added.
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("plan")
        .output()
        .expect("plan");
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    let text = stdout(&out);
    assert_has_line(&text, &format!("! reject   {} (1 error)", bundle.display()));
    assert_has_line(
        &text,
        &format!("+ add      good ({})", d.jobs.join("good.yaml").display()),
    );
    assert_has_line(
        &text,
        "Plan: 1 to add, 0 to change, 0 to remove, 1 file rejected.",
    );
}

#[test]
fn document_that_is_a_list() {
    let d = dirs();
    let file = write(&d.jobs.join("list.yaml"), "# jobs\n- name: a\n- name: b\n");
    let err = assert_single_error(
        &file,
        &located(
            &file,
            2,
            1,
            "the document is a list; expected a mapping with `apiVersion: troubleshoot.sh/v1beta3`, `kind: SupportBundleSchedule`, `metadata` and `spec`",
        ),
    );
    assert_has_line(&err, "  2 | - name: a");
}

#[test]
fn scalar_document() {
    let d = dirs();
    let file = write(&d.jobs.join("scalar.yaml"), "just some text\n");
    assert_single_error(
        &file,
        &located(
            &file,
            1,
            1,
            "the document is a string; expected a mapping with `apiVersion: troubleshoot.sh/v1beta3`, `kind: SupportBundleSchedule`, `metadata` and `spec`",
        ),
    );
}

#[test]
fn duplicate_keys_are_located_at_the_second_key() {
    let d = dirs();
    let text = JobFile::new("dup")
        .spec_line("timeout: 5m")
        .spec_line("suspend: false")
        .spec_line("timeout: 6m")
        .render();
    let file = write(&d.jobs.join("dup.yaml"), text);
    // Line 7 is the first `timeout`, line 9 the second.
    let err = assert_single_error(
        &file,
        &located(
            &file,
            9,
            3,
            "invalid YAML: duplicate key `timeout`; each key may appear only once in a mapping",
        ),
    );
    assert_has_line(&err, "  9 |   timeout: 6m");
    assert!(
        !err.contains("DuplicateKeyPolicy"),
        "library advice leaked:\n{err}"
    );
}

#[test]
fn unknown_field_is_located_at_the_key_with_a_suggestion() {
    let d = dirs();
    let text = JobFile::new("typo")
        .render()
        .replace("  schedule: ", "  schedul: ");
    let file = write(&d.jobs.join("typo.yaml"), text);
    let err = assert_single_error(
        &file,
        &located(
            &file,
            6,
            3,
            "unknown field `schedul`; expected one of `schedule`, `at`, `activeWindow`, `timeZone`, `suspend`, `jitter`, `concurrencyPolicy`, `startingDeadline`, `timeout`, `retry`, `collect`, `redact`, `analyze`, `retention`, `history`, `upload`, `notify`, `resources`, `target`, `triggers`, `after` (at spec.schedul)",
        ),
    );
    assert_has_line(&err, "  hint: did you mean `schedule`?");
    // The caret sits under the key: "  6 | " is 6 characters, then column 3.
    assert_has_line(&err, &format!("{}^", " ".repeat(6 + 2)));
}

// ---------------------------------------------------------------- durations and sizes

#[test]
fn bad_duration_unit() {
    let d = dirs();
    let file = JobFile::new("slow")
        .spec_line("timeout: 10x")
        .write(&d.jobs);
    assert_single_error(
        &file,
        &located(
            &file,
            7,
            12,
            "unknown unit `x` in duration `10x`; write it as a number and a unit, e.g. `90s`, `10m`, `1h30m`, `7d` (units: ms, s, m, h, d, w) (at spec.timeout)",
        ),
    );
}

#[test]
fn negative_duration() {
    let d = dirs();
    let file = JobFile::new("early")
        .spec_line("jitter: -5m")
        .write(&d.jobs);
    assert_single_error(
        &file,
        &located(
            &file,
            7,
            11,
            "negative duration `-5m`; durations must be ≥ 0 (at spec.jitter)",
        ),
    );
}

#[test]
fn bad_size_unit() {
    let d = dirs();
    let file = JobFile::new("big")
        .spec_line("retention:")
        .spec_line("  maxTotalSize: 5XB")
        .write(&d.jobs);
    assert_single_error(
        &file,
        &located(
            &file,
            8,
            19,
            "unknown unit `XB` in size `5XB`; write it as a number and a unit, e.g. `500MB`, `5GiB`, `10Gi` (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB, Ki, Mi, Gi, Ti) (at spec.retention.maxTotalSize)",
        ),
    );
}

// ---------------------------------------------------------------- job names

/// Writes a job named `name` to `job.yaml` and expects the name error at 4:9.
#[track_caller]
fn assert_bad_name(name: &str, problem: &str) {
    let d = dirs();
    let file = write(&d.jobs.join("job.yaml"), JobFile::new(name).render());
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(
        &err,
        &located(
            &file,
            4,
            9,
            &format!("invalid job name: {problem} (at metadata.name)"),
        ),
    );
    assert_has_line(&err, "  hint: use a DNS-1123 label such as `prod-daily`");
    assert_contains(&out, " 1 error, ");
}

#[test]
fn name_with_uppercase_letters() {
    assert_bad_name(
        "UPPER",
        "name `UPPER` contains `U`; only lowercase letters, digits and `-` are allowed",
    );
}

#[test]
fn name_with_parent_dir() {
    assert_bad_name(
        "../x",
        "name `../x` contains a path separator or `..`; names become directory names under the state directory",
    );
}

#[test]
fn name_with_slash() {
    assert_bad_name(
        "a/b",
        "name `a/b` contains a path separator or `..`; names become directory names under the state directory",
    );
}

#[test]
fn name_of_300_characters() {
    assert_bad_name(
        &"a".repeat(300),
        "name is 300 characters long; at most 63 are allowed",
    );
}

#[test]
fn name_with_leading_dash() {
    assert_bad_name(
        "-lead",
        "name `-lead` must start and end with a letter or digit",
    );
}

// ---------------------------------------------------------------- referenced spec files

const SPEC_REF_LINE: u32 = 9; // `      - specs/...` in JobFile::spec_file's rendering

/// A job `app.yaml` referencing `reference`; validates it and expects exactly one error at the
/// reference, with `message` and `hint`.
#[track_caller]
fn assert_spec_ref_error(d: &Dirs, reference: &str, message: &str, hint: &str, as_nobody: bool) {
    let file = JobFile::new("app").spec_file(reference).write(&d.jobs);
    let cmd = if as_nobody {
        unprivileged(&d.state)
    } else {
        agent(&d.state)
    };
    let out = {
        let mut cmd = cmd;
        cmd.arg("validate").arg(&file).output().expect("validate")
    };
    let (out_text, err) = (stdout(&out), stderr(&out));
    assert_eq!(exit_code(&out), 1, "stdout:\n{out_text}\nstderr:\n{err}");
    let resolved = d.jobs.join(reference);
    assert_has_line(
        &err,
        &located(
            &file,
            SPEC_REF_LINE,
            9,
            &format!(
                "spec `{reference}` ({}): {message} (at spec.collect.specs[0])",
                resolved.display()
            ),
        ),
    );
    assert_has_line(&err, &format!("  hint: {hint}"));
    // One problem, one error: no second "has 1 error" line for a file that could not be read.
    assert_has_line(&out_text, "invalid: 1 file, 1 job, 1 error, 0 warnings");
}

#[test]
fn referenced_spec_missing() {
    let d = dirs();
    assert_spec_ref_error(
        &d,
        "specs/missing.yaml",
        "spec file not found",
        "check the path; relative paths are resolved against the job file's directory",
        false,
    );
}

#[test]
fn referenced_spec_is_a_directory() {
    let d = dirs();
    std::fs::create_dir_all(d.jobs.join("specs/app.yaml")).expect("mkdir");
    assert_spec_ref_error(
        &d,
        "specs/app.yaml",
        "spec path is a directory, not a file",
        "name a YAML file inside the directory",
        false,
    );
}

#[test]
fn referenced_spec_unreadable() {
    let d = dirs();
    std::fs::create_dir(d.jobs.join("specs")).expect("mkdir");
    let spec = write(
        &d.jobs.join("specs/secret.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: s\nspec:\n  hostCollectors:\n    - cpu: {}\n",
    );
    make_unreadable(&spec, &d);
    assert_spec_ref_error(
        &d,
        "specs/secret.yaml",
        "permission denied reading the spec file",
        "make the file readable by the agent's user (e.g. chmod 0644)",
        true,
    );
}

#[test]
fn referenced_spec_itself_invalid_is_located_in_the_spec_file() {
    let d = dirs();
    std::fs::create_dir(d.jobs.join("specs")).expect("mkdir");
    let spec = write(
        &d.jobs.join("specs/app.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: app\nspec:\n  hostCollectors:\n    - cpu: 5\n",
    );
    let file = JobFile::new("app")
        .spec_file("specs/app.yaml")
        .write(&d.jobs);
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(
        &err,
        &located(
            &spec,
            7,
            12,
            "`cpu` must be a mapping, found an integer (at spec.hostCollectors[0].cpu)",
        ),
    );
    // An unknown type (`cpuu`) would only warn: troubleshoot ignores it; a body it cannot
    // decode fails there too.
    assert_has_line(&err, "  hint: write `cpu: {}` and put its fields under it");
    // The job file says why the job cannot run, at the reference.
    assert_has_line(
        &err,
        &located(
            &file,
            SPEC_REF_LINE,
            9,
            "spec `specs/app.yaml` has 1 error; this job cannot run until they are fixed (at spec.collect.specs[0])",
        ),
    );
    assert_has_line(&out, "invalid: 1 file, 1 job, 2 errors, 0 warnings");
}

// ---------------------------------------------------------------- permissions

fn is_root() -> bool {
    // /proc/self belongs to the effective user of the process reading it.
    std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The agent as a user that cannot read mode-000 files: `nobody` through setpriv when these tests
/// run as root (root reads everything), else the agent itself.
fn unprivileged(state: &Path) -> Command {
    if !is_root() {
        return agent(state);
    }
    let setpriv = std::process::Command::new("which")
        .arg("setpriv")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|p| !p.is_empty());
    let Some(setpriv) = setpriv else {
        panic!(
            "these tests run as root, which reads mode-000 files, and setpriv (util-linux) is not installed to drop to `nobody`: the permission-denied case cannot be tested; install util-linux or run the tests as a normal user"
        );
    };
    let mut cmd = Command::new(setpriv);
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(assert_cmd::cargo::cargo_bin("troubleshoot-agent"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
        {
            cmd.env_remove(key);
        }
    }
    cmd.arg("--state-dir").arg(state);
    cmd
}

/// chmod 000 `file`; as root, opens the temp dirs to `nobody` so only this file is unreadable.
fn make_unreadable(file: &Path, d: &Dirs) {
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o000)).expect("chmod 000");
    if is_root() {
        let mut dir = file.parent();
        while let Some(p) = dir {
            if p == d.root.path().parent().unwrap_or(Path::new("/")) {
                break;
            }
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
                .expect("chmod 0755");
            dir = p.parent();
        }
        std::fs::set_permissions(&d.state, std::fs::Permissions::from_mode(0o755))
            .expect("chmod 0755 state");
    } else {
        assert!(
            std::fs::read(file).is_err(),
            "{} is still readable after chmod 000; the test cannot check permission denied",
            file.display()
        );
    }
}

#[test]
fn permission_denied_on_one_job_file_while_the_others_validate() {
    let d = dirs();
    JobFile::new("alpha").write(&d.jobs);
    let locked = JobFile::new("bravo").write(&d.jobs);
    JobFile::new("charlie").write(&d.jobs);
    make_unreadable(&locked, &d);

    let out = unprivileged(&d.state)
        .arg("validate")
        .arg(&d.jobs)
        .output()
        .expect("validate");
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(exit_code(&out), 1, "stdout:\n{text}\nstderr:\n{err}");
    assert_has_line(&err, &whole_file(&locked, "permission denied"));
    assert_has_line(
        &err,
        "  hint: make the file readable by the user the agent runs as",
    );
    assert_has_line(&text, "invalid: 3 files, 2 jobs, 1 error, 0 warnings");

    let (status, report) = validate_json(unprivileged(&d.state), &[&d.jobs]);
    assert_eq!(status, 1);
    assert_eq!(jobs(&report), ["alpha", "charlie"]);
    assert_eq!(error_files(&report), [locked.display().to_string()]);

    // plan: the file is rejected, the two others are added.
    let out = unprivileged(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("plan")
        .output()
        .expect("plan");
    let text = stdout(&out);
    assert_eq!(exit_code(&out), 1, "{text}\n{}", stderr(&out));
    assert_has_line(&text, &format!("! reject   {} (1 error)", locked.display()));
    assert_has_line(
        &text,
        "Plan: 2 to add, 0 to change, 0 to remove, 1 file rejected.",
    );
}

// ---------------------------------------------------------------- the jobs directory itself

#[test]
fn missing_jobs_dir_fails_validate() {
    let d = dirs();
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg("/nonexistent")
        .arg("validate")
        .output()
        .expect("validate");
    assert_eq!(exit_code(&out), 1);
    assert_eq!(
        stderr(&out),
        "error: jobs directory /nonexistent does not exist; create it or point --jobs-dir at the right place\n"
    );
}

#[test]
fn missing_jobs_dir_fails_plan() {
    let d = dirs();
    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg("/nonexistent")
        .arg("plan")
        .output()
        .expect("plan");
    assert_eq!(exit_code(&out), 1);
    assert_eq!(
        stderr(&out),
        "error: jobs directory /nonexistent does not exist; create it or point --jobs-dir at the right place\n"
    );
    assert_eq!(stdout(&out), "");
}

/// Validates `dir` (as PATH and as the jobs dir) and plans it; expects `bad` to carry the one
/// whole-file error `message`, and `good` (job `good`) to be valid.
#[track_caller]
fn assert_dir_with_one_bad_entry(d: &Dirs, bad: &[&Path], message: &str) {
    for as_path in [true, false] {
        let mut cmd = agent(&d.state);
        if !as_path {
            cmd.arg("--jobs-dir").arg(&d.jobs);
        }
        let out = cmd
            .arg("validate")
            .args(as_path.then_some(&d.jobs))
            .output()
            .expect("validate");
        let (text, err) = (stdout(&out), stderr(&out));
        assert_eq!(exit_code(&out), 1, "stdout:\n{text}\nstderr:\n{err}");
        for b in bad {
            assert_has_line(&err, &whole_file(b, message));
        }
        assert_has_line(
            &text,
            &format!(
                "invalid: {} files, 1 job, {} error{}, 0 warnings",
                bad.len() + 1,
                bad.len(),
                if bad.len() == 1 { "" } else { "s" }
            ),
        );
    }
    let (_, report) = validate_json(agent(&d.state), &[&d.jobs]);
    assert_eq!(jobs(&report), ["good"]);
    let mut expected: Vec<String> = bad.iter().map(|b| b.display().to_string()).collect();
    expected.sort();
    assert_eq!(error_files(&report), expected);

    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("plan")
        .output()
        .expect("plan");
    let text = stdout(&out);
    assert_eq!(exit_code(&out), 1, "{text}\n{}", stderr(&out));
    for b in bad {
        assert_has_line(&text, &format!("! reject   {} (1 error)", b.display()));
    }
    assert_has_line(
        &text,
        &format!(
            "Plan: 1 to add, 0 to change, 0 to remove, {} file{} rejected.",
            bad.len(),
            if bad.len() == 1 { "" } else { "s" }
        ),
    );
}

#[test]
fn symlink_loop_inside_the_jobs_dir() {
    let d = dirs();
    JobFile::new("good").write(&d.jobs);
    let a = d.jobs.join("loop-a.yaml");
    let b = d.jobs.join("loop-b.yaml");
    symlink("loop-b.yaml", &a).expect("symlink");
    symlink("loop-a.yaml", &b).expect("symlink");
    assert_dir_with_one_bad_entry(&d, &[&a, &b], "symlink loop");
}

#[test]
fn dangling_symlink_inside_the_jobs_dir() {
    // What a file deleted between listing and reading looks like from outside the process.
    let d = dirs();
    JobFile::new("good").write(&d.jobs);
    let link = d.jobs.join("gone.yaml");
    symlink("/nonexistent/gone.yaml", &link).expect("symlink");
    assert_dir_with_one_bad_entry(
        &d,
        &[&link],
        "dangling symlink or file deleted while the directory was read",
    );
}

#[test]
fn two_files_defining_the_same_job_name() {
    let d = dirs();
    let first = write(&d.jobs.join("first.yaml"), JobFile::new("shared").render());
    let second = write(&d.jobs.join("second.yaml"), JobFile::new("shared").render());
    JobFile::new("other").write(&d.jobs);
    let (code, out, err) = validate(&d.state, &[&d.jobs]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(
        &err,
        &located(
            &first,
            1,
            1,
            &format!("job `shared` is also defined in {}", second.display()),
        ),
    );
    assert_has_line(
        &err,
        &located(
            &second,
            1,
            1,
            &format!("job `shared` is also defined in {}", first.display()),
        ),
    );
    // Each file says it once (not once more without a location).
    assert_eq!(err.matches("is also defined in").count(), 2, "{err}");
    assert_has_line(&out, "invalid: 3 files, 3 jobs, 2 errors, 0 warnings");

    let (_, report) = validate_json(agent(&d.state), &[&d.jobs]);
    assert_eq!(
        error_files(&report),
        [first.display().to_string(), second.display().to_string()]
    );

    let out = agent(&d.state)
        .arg("--jobs-dir")
        .arg(&d.jobs)
        .arg("plan")
        .output()
        .expect("plan");
    let text = stdout(&out);
    assert_eq!(exit_code(&out), 1, "{text}");
    assert_has_line(
        &text,
        "Plan: 1 to add, 0 to change, 0 to remove, 2 files rejected.",
    );
}

#[test]
fn the_same_job_name_twice_in_one_file() {
    let d = dirs();
    let doc = JobFile::new("twice").render();
    let file = write(&d.jobs.join("twice.yaml"), format!("{doc}---\n{doc}"));
    // The second document starts on line 12; its name is on line 15.
    let err = assert_single_error(
        &file,
        &located(
            &file,
            15,
            9,
            "job `twice` is defined twice in this file (first at line 4, again in document 2)",
        ),
    );
    assert_has_line(&err, "  15 |   name: twice");
}

// ---------------------------------------------------------------- one run, every error

#[test]
fn every_error_of_several_broken_files_in_one_run() {
    let d = dirs();
    JobFile::new("fine").write(&d.jobs);
    // Two errors in one document: a bad name and an impossible schedule.
    let a = write(
        &d.jobs.join("a.yaml"),
        JobFile::new("Bad_Name").schedule("0 0 30 2 *").render(),
    );
    // An unknown field (typed reading stops there: one error).
    let b = write(
        &d.jobs.join("b.yaml"),
        JobFile::new("b").spec_line("retries: 3").render(),
    );
    // Two documents, each with its own error.
    let c = write(
        &d.jobs.join("c.yaml"),
        format!(
            "{}---\n{}",
            JobFile::new("c1").time_zone("Mars/Olympus").render(),
            JobFile::new("c2").spec_line("timeout: 0s").render()
        ),
    );
    let e = write(&d.jobs.join("e.yaml"), "");
    let (code, out, err) = validate(&d.state, &[&d.jobs]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let (_, report) = validate_json(agent(&d.state), &[&d.jobs]);
    let files = error_files(&report);
    let count = |f: &Path| {
        files
            .iter()
            .filter(|x| **x == f.display().to_string())
            .count()
    };
    assert_eq!(count(&a), 2, "{report:#}");
    assert_eq!(count(&b), 1, "{report:#}");
    assert_eq!(count(&c), 2, "{report:#}");
    assert_eq!(count(&e), 1, "{report:#}");
    assert_eq!(files.len(), 6, "{report:#}");
    assert_has_line(&out, "invalid: 5 files, 5 jobs, 6 errors, 0 warnings");
    assert_eq!(err.matches(": error: ").count(), 6, "{err}");
}

#[test]
fn strict_makes_warnings_fail() {
    let d = dirs();
    // A jitter longer than half the schedule's interval is clamped: a warning, not an error.
    let file = JobFile::new("warn").spec_line("jitter: 23h").write(&d.jobs);
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, "valid: 1 file, 1 job, 0 errors, 1 warning");
    assert_has_line(
        &err,
        &format!(
            "{}:7:11: warning: jitter 23h is more than half the shortest interval of the schedule (1d); it is clamped to 12h so runs never reorder (at spec.jitter)",
            file.display()
        ),
    );
    let out = agent(&d.state)
        .arg("validate")
        .arg("--strict")
        .arg(&file)
        .output()
        .expect("validate --strict");
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert_has_line(
        &stdout(&out),
        "invalid: 1 file, 1 job, 0 errors, 1 warning (--strict: warnings fail)",
    );
}

#[test]
fn json_output_shape() {
    let d = dirs();
    JobFile::new("good").spec_line("jitter: 23h").write(&d.jobs);
    let bad = JobFile::new("bad").spec_line("schedul: x").write(&d.jobs);
    let (code, report) = validate_json(agent(&d.state), &[&d.jobs]);
    assert_eq!(code, 1);
    assert_eq!(report["valid"], Value::Bool(false));
    assert_eq!(report["files"], Value::from(2));
    assert_eq!(jobs(&report), ["bad", "good"]);
    let errors = errors(&report);
    assert_eq!(errors.len(), 1, "{report:#}");
    let e = &errors[0];
    assert_eq!(e["severity"], "error");
    assert_eq!(e["file"], bad.display().to_string());
    assert_eq!(e["line"], 7);
    assert_eq!(e["column"], 3);
    assert_eq!(e["path"], "spec.schedul");
    assert!(
        e["message"]
            .as_str()
            .expect("message")
            .starts_with("unknown field `schedul`"),
        "{e:#}"
    );
    assert_eq!(e["hint"], "did you mean `schedule`?");
    let warnings = report["warnings"].as_array().expect("warnings[]");
    assert_eq!(warnings.len(), 1, "{report:#}");
    assert_eq!(warnings[0]["severity"], "warning");
    assert_eq!(
        warnings[0]["file"],
        d.jobs.join("good.yaml").display().to_string()
    );
    for key in ["line", "column", "message"] {
        assert!(!warnings[0][key].is_null(), "{key} in {:#}", warnings[0]);
    }
    assert!(report["ignored"].is_array());
}

#[test]
fn ansible_style_temp_file_without_yaml_suffix_validates() {
    // Ansible's `template: ... validate: troubleshoot-agent validate %s` passes a temp file.
    let d = dirs();
    let tmp = write(
        &d.state.join(".ansible_tmpk2j3h4source"),
        JobFile::new("from-ansible").render(),
    );
    let (code, out, err) = validate(&d.state, &[&tmp]);
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    assert_has_line(&out, "valid: 1 file, 1 job, 0 errors, 0 warnings");
}

// ---------------------------------------------------------------- schedules and zones

#[track_caller]
fn assert_schedule_error(job: JobFile, line: u32, column: u32, message: &str) {
    let d = dirs();
    let file = job.write(&d.jobs);
    assert_single_error(&file, &located(&file, line, column, message));
}

#[test]
fn schedule_that_never_fires() {
    assert_schedule_error(
        JobFile::new("feb30").schedule("0 0 30 2 *"),
        6,
        13,
        "\"0 0 30 2 *\" can never fire: no date matches its day-of-month, month and day-of-week fields; check them (e.g. February has at most 29 days) (at spec.schedule)",
    );
}

#[test]
fn schedule_with_six_fields() {
    assert_schedule_error(
        JobFile::new("seconds").schedule("0 0 * * * *"),
        6,
        13,
        "6 fields: seconds are not supported; use 5 fields (minute hour day-of-month month day-of-week) (at spec.schedule)",
    );
}

#[test]
fn schedule_with_tz_prefix() {
    assert_schedule_error(
        JobFile::new("tzprefix").schedule("TZ=UTC 0 * * * *"),
        6,
        13,
        "\"TZ=\" inside the schedule is not supported; remove it and set `timeZone: UTC` on the job instead (at spec.schedule)",
    );
}

#[test]
fn time_zone_local() {
    assert_schedule_error(
        JobFile::new("local").time_zone("Local"),
        7,
        13,
        "time zone \"Local\" is not allowed: fire times must not depend on the host's settings; set an IANA zone name such as \"UTC\" or \"Europe/Berlin\" (at spec.timeZone)",
    );
}

#[test]
fn time_zone_unknown() {
    assert_schedule_error(
        JobFile::new("mars").time_zone("Mars/Olympus"),
        7,
        13,
        "unknown time zone \"Mars/Olympus\"; use an IANA zone name such as \"UTC\" or \"America/New_York\" (at spec.timeZone)",
    );
}

// ---------------------------------------------------------------- every error in one run

/// The six mistakes a new user made in one file (issue 15): one `validate` run names them all,
/// each at its own line, instead of one per run.
#[test]
fn every_mistake_of_a_file_is_reported_in_one_run() {
    let d = dirs();
    let file = write(
        &d.jobs.join("six.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: six
spec:
  schedule: \"61 2 * * *\"
  timeZone: Mars/Base
  jitter: 10parsecs
  concurrencyPolicy: Forbidd
  retention:
    keepLast: -1
  collect:
    supportBundle:
      hostCollectors:
        - frobnicate: {}
",
    );
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    for (line, needle) in [
        (6, "minute field \"61\""),
        (7, "Mars/Base"),
        (8, "10parsecs"),
        (9, "unknown value `Forbidd`"),
        (11, "keepLast"),
        (15, "frobnicate"),
    ] {
        let prefix = format!("{}:{line}:", file.display());
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains(needle)),
            "expected an error at line {line} mentioning `{needle}` in:\n{err}"
        );
    }
    assert_has_line(&err, "  hint: did you mean `Forbid`?");
}

/// A misspelt key and a misspelt zone key are both reported, and the misspelt key's value is
/// still checked under the name it was meant to have (no "missing `schedule`" follows).
#[test]
fn misspelt_keys_are_all_reported_and_their_values_checked() {
    let d = dirs();
    let text = JobFile::new("typos").render().replace(
        "  schedule: \"0 2 * * *\"",
        "  schedul: \"0 25 * * *\"\n  timezone: UTC",
    );
    let file = write(&d.jobs.join("typos.yaml"), text);
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_contains(&err, "unknown field `schedul`");
    assert_contains(&err, "unknown field `timezone`");
    assert_contains(&err, "hour field \"25\"");
    assert!(!err.contains("missing required field"), "{err}");
    assert_contains(&out, " 3 errors, ");
}

/// A document with very many errors lists the first ones and counts the rest.
#[test]
fn a_file_with_very_many_errors_is_capped_with_a_count() {
    let d = dirs();
    let mut text = JobFile::new("noisy").render();
    for i in 0..40 {
        text.push_str(&format!("  bogus{i}: 1\n"));
    }
    let file = write(&d.jobs.join("noisy.yaml"), text);
    let (code, out, err) = validate(&d.state, &[&file]);
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert_contains(&err, "and 20 more error(s) in this file");
    assert_contains(&out, " 21 errors, ");
}

// ---------------------------------------------------------------- validate --as (Ansible, Puppet)

/// `validate --as TARGET TEMPFILE`: Ansible passes a temp file elsewhere, with no `.yaml` name.
/// Validated as if it stood at TARGET, its relative spec paths resolve from the jobs directory,
/// a name another file already uses is refused, replacing the file that holds the name is fine,
/// and another broken file of the directory does not fail it.
#[test]
fn validate_as_checks_a_temp_file_where_it_will_stand() {
    let d = dirs();
    std::fs::create_dir(d.jobs.join("specs")).expect("mkdir specs");
    write(
        &d.jobs.join("specs/app.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: app\nspec:\n  hostCollectors:\n    - cpu: {}\n",
    );
    JobFile::new("other").write(&d.jobs);
    JobFile::new("app").write(&d.jobs);
    write(&d.jobs.join("broken.yaml"), "kind: [");
    let tmp = tempfile::tempdir().expect("ansible's temp dir");
    let temp_file = write(
        &tmp.path().join("tmpq1w2e3"),
        JobFile::new("app").spec_file("specs/app.yaml").render(),
    );
    let target = d.jobs.join("app.yaml");

    // Alone, the temp file's relative spec path resolves against the temp dir: refused.
    let (code, _, err) = validate(&d.state, &[&temp_file]);
    assert_eq!(code, 1, "{err}");
    assert_contains(&err, "spec file not found");

    // As the file it replaces: valid, although broken.yaml beside it is not.
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(&target)
        .arg(&temp_file)
        .output()
        .expect("run validate --as");
    assert_eq!(exit_code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert_has_line(&stdout(&out), "valid: 1 file, 1 job, 0 errors, 0 warnings");

    // As a new file: the name `app` is already defined by app.yaml.
    let new_target = d.jobs.join("app-copy.yaml");
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(&new_target)
        .arg(&temp_file)
        .output()
        .expect("run validate --as");
    assert_eq!(exit_code(&out), 1, "{}", stdout(&out));
    assert_contains(&stderr(&out), &format!("{}:", new_target.display()));
    assert_contains(&stderr(&out), "job `app` is also defined in");

    // A target name the agent would not read is a warning.
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(d.jobs.join("app.yaml.bak"))
        .arg(&temp_file)
        .output()
        .expect("run validate --as");
    assert_contains(
        &stderr(&out),
        "the agent reads only `*.yaml` and `*.yml` files",
    );
}

#[test]
fn validate_as_takes_exactly_one_file() {
    let d = dirs();
    let a = JobFile::new("a").write(&d.jobs);
    let b = JobFile::new("b").write(&d.jobs);
    let out = agent(&d.state)
        .args(["validate", "--as"])
        .arg(d.jobs.join("x.yaml"))
        .arg(&a)
        .arg(&b)
        .output()
        .expect("run validate --as");
    assert_eq!(exit_code(&out), 1);
    assert_contains(&stderr(&out), "--as TARGET takes exactly one file");
}
