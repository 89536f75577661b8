//! A real run redacts what its collectors wrote before anything is archived: planted secrets are
//! masked in the bundle, and never appear in the run record.

mod support;

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
    assert!(plan["defaults"].as_u64().is_some_and(|n| n >= 20));

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
