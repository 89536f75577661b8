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
mod agent_reload;
mod agent_runs;
mod bad_input;
mod bundle_archive;
mod bundle_runs;
mod cli_misc;
mod cli_plan;
mod cluster_collect;
mod cluster_exec;
mod compat_jobs;
mod compat_specs;
mod external_engine;
mod host_bundle;
mod host_collectors;
mod jobs_roundtrip;
mod kube_test_server;
mod notify_webhook;
mod packaging;
mod redact_canary;
mod redact_defaults;
mod redact_large;
mod redact_pipeline;
mod redact_tree;
mod resource_limits;
mod schedule_croniter;
mod schedule_golden;
mod schedule_props;
mod secrets_leak;
mod state_symlinks;
mod tokenize;
mod trust;
mod upload_gcs;
mod upload_http;
mod upload_large;
mod upload_s3;
