//! Run records have one writer: the agent's real record writers (crash recovery, bundle
//! retention, the upload queue), run at once on the same run many times, each find their
//! change in the record afterwards. Without the job's record lock one of them regularly
//! overwrites another's change (a retention note lost under an upload result, say).

use chrono::{DateTime, Duration, Utc};
use std::path::Path;
use troubleshoot_agent::state::records::{
    self, BundleRecord, RunRecord, RunStatus, UploadRecord, UploadStatus,
};
use troubleshoot_agent::state::{self, retention};
use troubleshoot_agent::upload::queue;

const JOB: &str = "nightly";

/// A record of `JOB` with a bundle file on disk, started at `started`.
fn run_with_bundle(state: &Path, run_id: &str, started: DateTime<Utc>, status: RunStatus) {
    let bundles = records::job_dir(state, JOB).join("bundles");
    std::fs::create_dir_all(&bundles).expect("bundles dir");
    let path = bundles.join(format!(
        "{JOB}-{}.tar.gz",
        started.format("%Y-%m-%dT%H_%M_%S")
    ));
    std::fs::write(&path, b"bundle").expect("bundle");
    let record = RunRecord {
        bundle: Some(BundleRecord {
            path,
            size: 6,
            sha256: "s".into(),
            partial: false,
            pruned_at: None,
            pruned_by: None,
        }),
        ..crate::support::run_record(JOB, run_id.into(), started, status)
    };
    records::create(state, &record).expect("record");
}

#[test]
fn recovery_retention_and_the_upload_queue_at_once_each_keep_their_change() {
    let now = Utc::now();
    let delivered = UploadRecord {
        target: "s3:bucket".into(),
        url: "s3://bucket/key".into(),
        size: 6,
        attempts: 1,
        status: UploadStatus::Succeeded,
        error: None,
        duration_ms: Some(1),
    };
    for round in 0..100 {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path();
        // The older run was cut off by a crash (still `running`) and has a bundle that
        // `keepLast: 1` removes; its upload has just ended.
        let old = "20250101T000000Z";
        run_with_bundle(state, old, now - Duration::hours(2), RunStatus::Running);
        let newest = now - Duration::hours(1);
        run_with_bundle(state, "20250101T010000Z", newest, RunStatus::Succeeded);
        let start = std::sync::Barrier::new(3);
        std::thread::scope(|s| {
            let start = &start;
            s.spawn(move || {
                start.wait();
                let found = state::recover(state, now).expect("recovery");
                assert!(found.problems.is_empty(), "{:?}", found.problems);
            });
            s.spawn(move || {
                start.wait();
                let policy = retention::Policy {
                    keep_last: Some(1),
                    ..retention::Policy::default()
                };
                let pruned = retention::apply(state, JOB, &policy, now).expect("retention");
                assert_eq!(pruned.len(), 1, "{pruned:?}");
            });
            let delivered = &delivered;
            s.spawn(move || {
                start.wait();
                queue::update_record(state, JOB, old, 0, delivered).expect("upload result");
            });
        });
        let path = records::runs_dir(state, JOB).join(format!("{old}.json"));
        let r = records::read_record(&path).expect("record");
        let bundle = r.bundle.as_ref().expect("bundle");
        assert_eq!(
            (
                r.status,
                bundle.pruned_by.as_deref(),
                r.uploads.first().map(|u| u.status.as_str())
            ),
            (RunStatus::Interrupted, Some("keepLast"), Some("succeeded")),
            "round {round}: a writer's change was lost: {r:#?}"
        );
        assert!(
            !bundle.path.exists(),
            "round {round}: the pruned bundle stays"
        );
    }
}
