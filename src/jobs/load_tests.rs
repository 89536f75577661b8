use super::*;

#[test]
fn an_applied_definition_rebuilds_to_the_same_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("a.yaml");
    std::fs::write(
        &path,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: a\n  labels: {team: x}\nspec:\n  schedule: \"0 2 * * *\"\n  timeout: 10m\n  jitter: 5m\n  retry: {limit: 2}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - cpu: {}\n        - run: {collectorName: s, command: sleep, args: [\"1\"]}\n      analyzers:\n        - hostOS: {outcomes: [{pass: {message: ok}}]}\n",
    )
    .expect("write");
    let ctx = Context {
        default_time_zone: "UTC".into(),
        ..Context::default()
    };
    let report = load_file(&path, &ctx, &mut LoadCache::default());
    assert!(!report.is_rejected(), "{:?}", report.diagnostics);
    let job = &report.jobs[0];
    // The agent's default zone has changed since: the job still rebuilds as applied.
    let other_ctx = Context {
        default_time_zone: "Asia/Tokyo".into(),
        ..Context::default()
    };
    let again =
        rebuild_applied("a", &path, &job.definition, &job.spec_hash, &other_ctx).expect("rebuilds");
    assert_eq!(again.spec_hash, job.spec_hash);
    assert_eq!(again.time_zone(), "UTC");
    assert_eq!(again.document.spec.retry.limit, 2);

    let explicit = std::fs::read_to_string(&path).expect("read").replace(
        "  timeout: 10m\n",
        "  timeout: 10m\n  timeZone: Europe/Berlin\n",
    );
    std::fs::write(&path, explicit).expect("write");
    let report = load_file(&path, &ctx, &mut LoadCache::default());
    let job = &report.jobs[0];
    let again =
        rebuild_applied("a", &path, &job.definition, &job.spec_hash, &other_ctx).expect("rebuilds");
    assert_eq!(again.time_zone(), "Europe/Berlin");
    assert!(matches!(
        rebuild_applied("a", &path, &job.definition, "0000", &ctx),
        Err(RebuildError::Changed { .. })
    ));
}
