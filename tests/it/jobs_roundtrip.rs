//! Property: a valid job file loads, its loaded document serializes (as JSON, which is YAML) to a
//! job file that loads to the same job, and its stored definition (the `applied.json` form)
//! rebuilds the same job: same document, zone, definition and spec hash.

use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::Arc;
use troubleshoot_agent::jobs::{self, Context, Job, rebuild_applied};

const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/St_Johns",
];
const MACROS: &[&str] = &["@hourly", "@daily", "@weekly", "@monthly", "@yearly"];

/// A cron field: `*`, a value, a range, a list or a step, within `lo..=hi`.
fn field(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        prop::collection::btree_set(lo..=hi, 2..4).prop_map(|s| s
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
        (1..=(hi - lo).max(1)).prop_map(|step| format!("*/{step}")),
    ]
}

fn schedule() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(MACROS).prop_map(str::to_string),
        4 => (field(0, 59), field(0, 23), field(1, 28), field(1, 12), field(0, 6))
            .prop_map(|(m, h, dom, mon, dow)| format!("{m} {h} {dom} {mon} {dow}")),
    ]
}

fn duration() -> impl Strategy<Value = String> {
    (1u32..90, prop::sample::select(&["s", "m", "h"][..])).prop_map(|(n, u)| format!("{n}{u}"))
}

fn label() -> impl Strategy<Value = (String, String)> {
    ("[a-z][a-z0-9]{0,8}", "[A-Za-z0-9 ._-]{0,12}")
}

/// The text of a valid job file: a name, a schedule, an inline spec, and optional fields.
fn job_text() -> impl Strategy<Value = String> {
    (
        "[a-z][a-z0-9-]{0,20}[a-z0-9]",
        schedule(),
        prop::option::of(prop::sample::select(ZONES)),
        prop::option::of(duration()),
        prop::option::of(duration()),
        prop::option::of((0u32..5, duration())),
        prop::option::of(1u32..50),
        prop::collection::btree_map(label().prop_map(|(k, _)| k), "[a-z0-9]{0,10}", 0..4),
        prop::option::of(prop::sample::select(&["Forbid", "Allow", "Replace"][..])),
        any::<bool>(),
    )
        .prop_map(
            |(name, schedule, zone, jitter, timeout, retry, keep, labels, policy, two_collectors)| {
                let mut s = format!(
                    "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: {name}\n"
                );
                if !labels.is_empty() {
                    s.push_str("  labels:\n");
                    for (k, v) in &labels {
                        s.push_str(&format!("    {k}: \"{v}\"\n"));
                    }
                }
                s.push_str(&format!("spec:\n  schedule: \"{schedule}\"\n"));
                if let Some(zone) = zone {
                    s.push_str(&format!("  timeZone: {zone}\n"));
                }
                if let Some(j) = jitter {
                    s.push_str(&format!("  jitter: {j}\n"));
                }
                if let Some(t) = timeout {
                    s.push_str(&format!("  timeout: {t}\n"));
                }
                if let Some((limit, backoff)) = retry {
                    s.push_str(&format!("  retry: {{limit: {limit}, backoff: {backoff}}}\n"));
                }
                if let Some(policy) = policy {
                    s.push_str(&format!("  concurrencyPolicy: {policy}\n"));
                }
                if let Some(keep) = keep {
                    s.push_str(&format!("  retention: {{keepLast: {keep}}}\n"));
                }
                s.push_str("  collect:\n    supportBundle:\n      hostCollectors:\n        - cpu: {}\n");
                if two_collectors {
                    s.push_str("        - memory: {}\n");
                }
                s
            },
        )
}

/// Loads the one job of `text`, written as `job.yaml` in a fresh directory.
fn load_one(text: &str) -> (Arc<Job>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("job.yaml");
    std::fs::write(&path, text).expect("write job file");
    let desired = jobs::load_paths(&[path], &Context::default());
    let errors: Vec<_> = desired.diagnostics().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{text}\n{errors:#?}");
    let job = desired.jobs.values().next().cloned().expect("one job");
    (job, dir)
}

fn assert_same(a: &Job, b: &Job) {
    assert_eq!(a.name, b.name);
    assert_eq!(a.document, b.document);
    assert_eq!(a.time_zone(), b.time_zone());
    assert_eq!(a.definition, b.definition);
    assert_eq!(a.spec_hash, b.spec_hash);
    // `collection` is left out: its entries point at the file and line they were read from.
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: if std::env::var_os("TSA_SOAK").is_some() { 2000 } else { 64 },
        // Saved failures are read back from jobs_roundtrip.proptest-regressions beside this
        // file (the default looks for a lib.rs or main.rs and would put them elsewhere).
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn load_serialize_load_is_the_same_job(text in job_text()) {
        let (first, _dir) = load_one(&text);
        let serialized = serde_json::to_string_pretty(&first.document).expect("serializes");
        let (second, _dir2) = load_one(&serialized);
        assert_same(&first, &second);

        // The applied.json form: the definition rebuilds the job it was taken from.
        let source: PathBuf = first.source.file.clone();
        let rebuilt = rebuild_applied(
            &first.name,
            &source,
            &first.definition,
            &first.spec_hash,
            &Context::default(),
        )
        .expect("the definition rebuilds");
        assert_same(&first, &rebuilt);
    }
}
