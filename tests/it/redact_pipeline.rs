//! A real run redacts what its collectors wrote before anything is archived: planted secrets are
//! masked in the bundle, and never appear in the run record.

use crate::support;

use support::{agent, stdout};

#[test]
fn planted_secrets_never_reach_the_bundle_or_the_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs");
    let secrets_file = dir.path().join("app.log");
    std::fs::write(
        &secrets_file,
        "connecting to postgres://admin:pgS3cret@db.internal:5432/orders\n\
         \"name\": \"DB_PASSWORD\",\n\
         \"value\": \"envS3cret\"\n\
         Server=sql1;Database=shop;Uid=sa;Pwd=odbcS3cret;\n\
         plain line with hunter2-literal inside",
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
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: canary}}\nspec:\n  schedule: \"0 1 * * *\"\n  redact: {{redactors: [redactors.yaml]}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - copy: {{collectorName: logs, path: {}}}\n        - run: {{collectorName: env, command: sh, args: [\"-c\", \"echo https://bob:httpS3cret@example.com/x\"]}}\n",
            secrets_file.display()
        ),
    )
    .expect("job");
    std::fs::write(
        dir.path().join("agent.yaml"),
        "listen: 127.0.0.1:1\nminFreeDisk: 0\n",
    )
    .expect("config");
    // `validate` says which redactors the job applies.
    let validated = agent(&dir.path().join("state"))
        .args(["--output", "json", "validate"])
        .arg(&jobs)
        .output()
        .expect("validate");
    let report: serde_json::Value = serde_json::from_str(&stdout(&validated)).expect("json");
    let plan = &report["redaction"]["canary"];
    assert_eq!(plan["enabled"], true, "{report:#}");
    assert_eq!(plan["custom"], serde_json::json!(["literal"]));
    assert!(
        plan["troubleshootDefaults"]
            .as_u64()
            .is_some_and(|n| n >= 20)
    );

    let out = agent(&dir.path().join("state"))
        .arg("--config")
        .arg(dir.path().join("agent.yaml"))
        .arg("--jobs-dir")
        .arg(&jobs)
        .args(["--output", "json", "trigger", "canary"])
        .output()
        .expect("trigger");
    let text = stdout(&out);
    let record: serde_json::Value = serde_json::from_str(&text).expect("record");
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let redact = record["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|p| p["name"] == "redact")
        .expect("redact phase");
    assert_eq!(redact["status"], "succeeded");
    let secrets = [
        "pgS3cret",
        "envS3cret",
        "odbcS3cret",
        "hunter2-literal",
        "httpS3cret",
    ];
    for s in secrets {
        assert!(!text.contains(s), "{s} leaked into the run record");
    }
    let totals = &record["redaction"]["totals"];
    let literal: u64 = totals
        .as_object()
        .expect("totals")
        .iter()
        .filter(|(name, _)| name.starts_with("literal"))
        .filter_map(|(_, n)| n.as_u64())
        .sum();
    assert_eq!(literal, 1, "the job's own redactor is counted: {totals:#}");
    assert!(
        totals.as_object().is_some_and(|t| t.len() >= 3),
        "several default redactors fired: {totals:#}"
    );

    let bundle = record["bundle"]["path"].as_str().expect("bundle");
    let listing = std::process::Command::new("tar")
        .args(["-xzOf", bundle])
        .output()
        .expect("tar");
    assert!(listing.status.success());
    let contents = String::from_utf8_lossy(&listing.stdout);
    for s in secrets {
        assert!(!contents.contains(s), "{s} is in the archive");
    }
    assert!(contents.contains("***HIDDEN***"));
    assert!(
        contents.contains("plain line with ***HIDDEN*** inside"),
        "the missing final newline is kept and the literal masked"
    );
}

/// A job file with the given `redact:` body, in a fresh jobs dir.
fn job_with_redact(jobs: &std::path::Path, redact: &str) {
    std::fs::write(
        jobs.join("job.yaml"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: tok}}\nspec:\n  schedule: \"0 1 * * *\"\n  redact: {redact}\n  collect:\n    supportBundle:\n      hostCollectors: [{{cpu: {{}}}}]\n"
        ),
    )
    .expect("job");
}

#[test]
fn validate_warns_when_tokenizing_without_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).expect("jobs");
    job_with_redact(&jobs, "{tokenize: true}");
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "listen: 127.0.0.1:1\n").expect("settings");
    let run = |config: &std::path::Path, strict: bool| {
        let mut cmd = agent(&dir.path().join("state"));
        cmd.arg("--config")
            .arg(config)
            .args(["--output", "json", "validate"]);
        if strict {
            cmd.arg("--strict");
        }
        let out = cmd.arg(&jobs).output().expect("validate");
        let v: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
        (out.status.code(), v)
    };
    let (code, v) = run(&empty, false);
    assert_eq!(code, Some(0), "warnings only: {v:#}");
    let warnings: Vec<String> = v["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .map(|w| w["message"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        warnings.iter().any(|w| w.contains("no tokenMapKeyFile")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w.contains("no tokenKeyFile")),
        "{warnings:?}"
    );
    assert_eq!(run(&empty, true).0, Some(1), "--strict fails on them");
    // With both keys set, no warning.
    let keys = dir.path().join("keys.yaml");
    std::fs::write(
        &keys,
        "listen: 127.0.0.1:1\ntokenKeyFile: /etc/k1\ntokenMapKeyFile: /etc/k2\n",
    )
    .expect("settings");
    let (code, v) = run(&keys, true);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn plan_shows_the_redactors_and_a_change_of_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    let state = dir.path().join("state");
    std::fs::create_dir(&jobs).expect("jobs");
    job_with_redact(&jobs, "{}");
    let plan = |args: &[&str]| {
        let out = agent(&state)
            .arg("--jobs-dir")
            .arg(&jobs)
            .args(args)
            .arg("plan")
            .output()
            .expect("plan");
        stdout(&out)
    };
    let text = plan(&[]);
    let extras = troubleshoot_agent::redact::rules::extra_count();
    assert!(
        text.contains(&format!(
            "redact: troubleshoot defaults (30) + agent extras ({extras})"
        )),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&plan(&["--output", "json"])).expect("json");
    assert_eq!(json["redaction"]["tok"]["agentExtras"], extras);
    assert_eq!(json["redaction"]["tok"]["troubleshootDefaults"], 30);

    // Apply it as the daemon does: applied.json holds each job's applied form.
    let desired =
        troubleshoot_agent::jobs::load_dir(&jobs, &troubleshoot_agent::jobs::Context::default())
            .expect("load");
    let applied = troubleshoot_agent::plan::Applied {
        jobs: desired
            .jobs
            .values()
            .map(|j| {
                (
                    j.name.clone(),
                    troubleshoot_agent::plan::AppliedJob::from_job(j),
                )
            })
            .collect(),
    };
    std::fs::create_dir_all(&state).expect("state");
    troubleshoot_agent::plan::write_applied(&state, &applied, chrono::Utc::now()).expect("applied");
    assert!(plan(&[]).contains("= 1 unchanged job"), "{}", plan(&[]));

    job_with_redact(&jobs, "{defaults: upstream, tokenize: true}");
    let text = plan(&[]);
    assert!(text.contains("~ change   tok"), "{text}");
    assert!(text.contains("spec.redact.defaults"), "{text}");
    assert!(text.contains("spec.redact.tokenize"), "{text}");
    assert!(
        text.contains("redact: troubleshoot defaults (30) (tokenized)"),
        "{text}"
    );
}
