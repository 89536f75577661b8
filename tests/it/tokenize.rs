//! `redact.tokenize: true` in a real run: secrets become stable tokens in the bundle, and the token
//! map is written only encrypted, outside the bundle, and only when a map key is configured.

use crate::support;

use std::path::{Path, PathBuf};
use support::{agent, stderr, stdout};

const SECRETS: [&str; 2] = ["pgS3cret", "hunter2-literal"];

/// A job directory with a tokenizing job that collects a file with planted secrets.
fn jobs_dir(dir: &Path) -> PathBuf {
    let jobs = dir.join("jobs");
    std::fs::create_dir(&jobs).expect("jobs");
    let secrets_file = dir.join("app.log");
    std::fs::write(
        &secrets_file,
        "connecting to postgres://admin:pgS3cret@db.internal:5432/orders\n\
         two on a line: hunter2-literal and hunter2-literal again\n",
    )
    .expect("secrets");
    std::fs::write(
        jobs.join("redactors.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nmetadata: {name: r}\nspec:\n  redactors:\n    - name: literal\n      removals:\n        values: [hunter2-literal]\n",
    )
    .expect("redactor spec");
    std::fs::write(
        jobs.join("job.yaml"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: canary}}\nspec:\n  schedule: \"0 1 * * *\"\n  redact: {{tokenize: true, redactors: [redactors.yaml]}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - copy: {{collectorName: logs, path: {}}}\n",
            secrets_file.display()
        ),
    )
    .expect("job");
    jobs
}

/// Runs `trigger canary` in the foreground with these settings; returns the run record.
fn trigger(dir: &Path, jobs: &Path, state: &Path, settings: &str) -> serde_json::Value {
    let config = dir.join("agent.yaml");
    std::fs::write(
        &config,
        format!("listen: 127.0.0.1:1\nminFreeDisk: 0\n{settings}"),
    )
    .expect("config");
    let out = agent(state)
        .arg("--config")
        .arg(&config)
        .arg("--jobs-dir")
        .arg(jobs)
        .args(["--output", "json", "trigger", "canary"])
        .output()
        .expect("trigger");
    let text = stdout(&out);
    let record: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text} {}", stderr(&out)));
    assert_eq!(record["status"], "succeeded", "{record:#}");
    for s in SECRETS {
        assert!(!text.contains(s), "{s} leaked into the run record");
    }
    record
}

/// Every file of the bundle, concatenated.
fn bundle_contents(record: &serde_json::Value) -> String {
    let bundle = record["bundle"]["path"].as_str().expect("bundle");
    let out = std::process::Command::new("tar")
        .args(["-xzOf", bundle])
        .output()
        .expect("tar");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Names of the bundle's entries.
fn bundle_listing(record: &serde_json::Value) -> String {
    let bundle = record["bundle"]["path"].as_str().expect("bundle");
    let out = std::process::Command::new("tar")
        .args(["-tzf", bundle])
        .output()
        .expect("tar");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Tokens in order of appearance.
fn tokens(text: &str) -> Vec<String> {
    let re = regex::Regex::new(r"\*\*\*TOKEN_[A-Z]+_[A-F0-9]{6}(?:_\d+)?\*\*\*").expect("regex");
    re.find_iter(text).map(|m| m.as_str().to_string()).collect()
}

/// The line of the collected log holding `marker`.
fn line_with<'a>(text: &'a str, marker: &str) -> &'a str {
    text.lines()
        .find(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("no line with {marker:?} in {text}"))
}

/// A key file as an operator writes one: 0600, or the agent refuses it.
fn write_key(path: &Path, byte: u8) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("{}\n", format!("{byte:02x}").repeat(32))).expect("key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
}

#[test]
fn tokens_in_bundle_stable_across_runs_and_map_encrypted_outside() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = jobs_dir(dir.path());
    let key = dir.path().join("token.key");
    let map_key = dir.path().join("map.key");
    write_key(&key, 0x11);
    write_key(&map_key, 0x22);
    let settings = format!(
        "tokenKeyFile: {}\ntokenMapKeyFile: {}\n",
        key.display(),
        map_key.display()
    );

    let state1 = dir.path().join("state1");
    let first = trigger(dir.path(), &jobs, &state1, &settings);
    let contents = bundle_contents(&first);
    for s in SECRETS {
        assert!(!contents.contains(s), "{s} is in the archive");
    }
    assert!(!contents.contains("***HIDDEN***"), "{contents}");
    let pg_line = line_with(&contents, "connecting to");
    let pg_tokens = tokens(pg_line);
    assert!(!pg_tokens.is_empty(), "{pg_line}");
    let two_line = line_with(&contents, "two on a line");
    let lit = tokens(two_line);
    assert_eq!(lit.len(), 2, "{two_line}");
    assert_eq!(lit[0], lit[1], "same secret, same token: {two_line}");

    // A second run with the same key gives the same tokens.
    let state2 = dir.path().join("state2");
    let second = trigger(dir.path(), &jobs, &state2, &settings);
    let contents2 = bundle_contents(&second);
    assert_eq!(tokens(line_with(&contents2, "connecting to")), pg_tokens);
    assert_eq!(tokens(line_with(&contents2, "two on a line")), lit);

    // The map: outside the bundle, 0600, encrypted, decrypted by the CLI.
    let run_id = first["runId"].as_str().expect("runId");
    let map_path = state1
        .join("jobs/canary/tokens")
        .join(format!("{run_id}.tokenmap.json"));
    assert_eq!(
        first["redaction"]["tokenization"]["map"].as_str(),
        Some(map_path.to_str().expect("utf8")),
        "{:#}",
        first["redaction"]
    );
    assert!(!bundle_listing(&first).contains("tokenmap"));
    let mode = std::fs::metadata(&map_path)
        .expect("map")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let raw = std::fs::read_to_string(&map_path).expect("map");
    for s in SECRETS {
        assert!(!raw.contains(s), "{s} in plaintext in the map file");
    }
    let envelope: serde_json::Value = serde_json::from_str(&raw).expect("envelope");
    assert_eq!(envelope["algorithm"], "AES-256-GCM");
    let out = agent(&state1)
        .args(["tokens", "decrypt", "--key-file"])
        .arg(&map_key)
        .arg(&map_path)
        .output()
        .expect("decrypt");
    assert!(out.status.success(), "{}", stderr(&out));
    let map: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("map json");
    assert_eq!(map[&lit[0]], "hunter2-literal", "{map:#}");
    let pg_values: Vec<&str> = pg_tokens.iter().filter_map(|t| map[t].as_str()).collect();
    assert!(pg_values.contains(&"pgS3cret"), "{map:#}");

    // The wrong key fails clearly.
    let wrong = dir.path().join("wrong.key");
    write_key(&wrong, 0x33);
    let out = agent(&state1)
        .args(["tokens", "decrypt", "--key-file"])
        .arg(&wrong)
        .arg(&map_path)
        .output()
        .expect("decrypt");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("wrong key"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn without_map_key_no_map_is_written_and_the_record_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = jobs_dir(dir.path());
    let state = dir.path().join("state");
    let record = trigger(dir.path(), &jobs, &state, "");
    let contents = bundle_contents(&record);
    for s in SECRETS {
        assert!(!contents.contains(s), "{s} is in the archive");
    }
    assert!(!tokens(&contents).is_empty(), "{contents}");
    let note = &record["redaction"]["tokenization"];
    assert!(note["map"].is_null(), "{note:#}");
    assert!(
        note["mapNotWritten"]
            .as_str()
            .is_some_and(|s| s.contains("tokenMapKeyFile")),
        "{note:#}"
    );
    assert!(!state.join("jobs/canary/tokens").exists());
}

#[test]
fn an_unreadable_key_file_fails_the_run_and_archives_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = jobs_dir(dir.path());
    let state = dir.path().join("state");
    let config = dir.path().join("agent.yaml");
    std::fs::write(
        &config,
        format!(
            "listen: 127.0.0.1:1\nminFreeDisk: 0\ntokenKeyFile: {}\n",
            dir.path().join("missing.key").display()
        ),
    )
    .expect("config");
    let out = agent(&state)
        .arg("--config")
        .arg(&config)
        .arg("--jobs-dir")
        .arg(&jobs)
        .args(["--output", "json", "trigger", "canary"])
        .output()
        .expect("trigger");
    assert_eq!(out.status.code(), Some(1));
    let record: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("record");
    assert_eq!(record["status"], "failed", "{record:#}");
    assert!(record["bundle"].is_null(), "{record:#}");
    assert!(
        record["reason"]
            .as_str()
            .is_some_and(|r| r.contains("missing.key")),
        "{record:#}"
    );
}
