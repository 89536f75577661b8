//! The integration tests, one binary: the whole stack (the AWS SDK, kube, the GCS client…)
//! links once instead of once per file. Each former `tests/NAME.rs` is the module `NAME` here,
//! so `cargo test --test it NAME::` runs one file's tests. Shared fixtures live in
//! `tests/support/`.
//!
//! The tests share one process: a test that measures the process (peak RSS) or needs its own
//! environment reruns itself alone in a child process (`support::alone`).

#[path = "../support/mod.rs"]
mod support;

mod agent_api;
mod agent_crash;
mod agent_history;
mod agent_lifecycle;
mod agent_recovery;
mod agent_reload;
mod agent_runs;
mod alert_triggers;
mod analyze;
mod analyze_baseline;
mod bad_input;
mod bundle_archive;
mod bundle_runs;
mod changes;
mod cli_colour;
mod cli_misc;
mod cli_plan;
mod cluster_collect;
mod cluster_collectors_api;
mod cluster_collectors_pods;
mod cluster_exec;
mod cluster_lease;
mod cluster_specs;
mod compat_corpus_run;
mod compat_jobs;
mod compat_specs;
mod db_collectors;
mod deb_install;
mod deploy_ansible;
mod deploy_manifests;
mod deploy_puppet;
mod external_engine;
mod fuzz_corpus;
mod host_analyze;
mod host_bundle;
mod host_collectors;
mod host_collectors_more;
mod http_tls;
mod image;
mod job_chain;
mod jobs_roundtrip;
mod kube_test_server;
mod monitoring;
mod node_mode;
mod notify_webhook;
mod oneshot;
mod packaging;
mod plan_graph;
mod plan_reload;
mod records_writers;
mod redact_canary;
mod redact_defaults;
mod redact_large;
mod redact_pipeline;
mod redact_tree;
mod render_cronjobs;
mod resource_limits;
mod schedule_croniter;
mod schedule_golden;
mod schedule_props;
mod schedule_set;
mod secrets_leak;
mod spec_templates;
mod spec_uri;
mod state_init;
mod state_symlinks;
mod tokenize;
mod trigger_progress;
mod trust;
mod upload_gcs;
mod upload_http;
mod upload_large;
mod upload_s3;
mod validate_coverage;

/// Every integration test is a module of this binary: a new `tests/NAME.rs` would be a binary of
/// its own that links the whole stack again, and a file in `tests/it/` not declared here would
/// never run.
#[test]
fn every_integration_test_file_is_a_module_of_this_binary() {
    let tests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let rs_files = |dir: &std::path::Path| -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".rs").map(str::to_string))
            .collect();
        names.sort();
        names
    };
    let top = rs_files(&tests);
    assert!(
        top.is_empty(),
        "move {top:?} from tests/ into tests/it/ and declare each here (`mod NAME;`), with \
         `use crate::support;` instead of `mod support;`"
    );
    let declared: Vec<&str> = include_str!("main.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    for name in rs_files(&tests.join("it")) {
        assert!(
            name == "main" || declared.contains(&name.as_str()),
            "tests/it/{name}.rs is not declared in tests/it/main.rs: add `mod {name};`"
        );
    }
}
