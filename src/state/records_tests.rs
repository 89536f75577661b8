use super::*;

fn record(job: &str, run_id: &str, status: RunStatus) -> RunRecord {
    RunRecord::for_test(job, run_id, status)
}

#[test]
fn run_ids_round_trip_and_sort_by_time() {
    let t = "2025-03-09T07:00:00Z"
        .parse::<DateTime<Utc>>()
        .expect("time");
    assert_eq!(RunId::scheduled(t).to_string(), "20250309T070000Z");
    assert_eq!(RunId::from("20250309T070000Z-retry1").instant(), Some(t));
    assert_eq!(RunId::from("manual-20250309T070000Z-1").instant(), None);
}

#[test]
fn a_batch_of_records_reads_back_as_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let batch: Vec<RunRecord> = (0..20)
        .map(|i| record(&format!("job-{i}"), "20250101T000000Z", RunStatus::Running))
        .collect();
    let paths = create_all(dir.path(), &batch);
    for (r, path) in batch.iter().zip(paths) {
        let path = path.expect("written");
        assert_eq!(
            path,
            runs_dir(dir.path(), &r.job).join("20250101T000000Z.json")
        );
        assert_eq!(&read_record(&path).expect("read"), r);
    }
}

#[test]
fn history_is_newest_first_and_sets_corrupt_records_aside() {
    let dir = tempfile::tempdir().expect("tempdir");
    for id in ["20250101T000000Z", "20250102T000000Z", "20250103T000000Z"] {
        create(dir.path(), &record("a", id, RunStatus::Succeeded)).expect("write");
    }
    let bad = runs_dir(dir.path(), "a").join("20250104T000000Z.json");
    std::fs::write(&bad, "{").expect("write corrupt");
    let (records, problems) = history(dir.path(), "a", 2).expect("history");
    let ids: Vec<&str> = records.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["20250103T000000Z", "20250102T000000Z"]);
    assert_eq!(problems.len(), 1);
    assert!(!bad.exists());
    assert!(bad.with_extension("json.corrupt").exists());
    let last = last_fire(dir.path(), "a").expect("last");
    assert_eq!(last, RunId::from("20250103T000000Z").instant());
}

/// A finished run's record as the executor first writes it: a bundle, one upload pending.
fn committed(job: &str, run_id: &str) -> RunRecord {
    let mut r = record(job, run_id, RunStatus::Running);
    r.bundle = Some(BundleRecord {
        path: PathBuf::from(format!("/state/jobs/{job}/bundles/{job}-1.tar.gz")),
        size: 1,
        sha256: "s".into(),
        partial: false,
        pruned_at: None,
        pruned_by: None,
    });
    r.uploads = vec![upload(UploadStatus::Pending)];
    r
}

fn upload(status: UploadStatus) -> UploadRecord {
    UploadRecord {
        target: "s3:b".into(),
        url: "s3://b/k".into(),
        size: 1,
        attempts: 1,
        status,
        error: None,
        duration_ms: None,
    }
}

fn notification(url: &str) -> NotificationRecord {
    NotificationRecord {
        url: url.into(),
        events: vec!["failed".into()],
        attempts: 1,
        status: NotificationStatus::Delivered,
        http_status: Some(200),
        error: None,
    }
}

type Writer = fn(&Path, &str);

/// The changes the agent makes to one finished run's record, each the way its module makes
/// it (through `update` or `upsert`), each setting fields only it sets.
const WRITERS: [(&str, Writer); 5] = [
    ("executor", |state, run| {
        upsert(state, "j", run, |on_disk| {
            let mut r = on_disk.expect("the running record");
            r.status = RunStatus::Succeeded;
            r.ended_at = Some(Utc::now());
            r.phases.push(PhaseRecord {
                name: "collect".into(),
                status: PhaseStatus::Succeeded,
                duration_ms: 1,
                error: None,
            });
            r
        })
        .map(|_| ())
        .expect("executor");
    }),
    ("upload queue", |state, run| {
        update(state, "j", run, |r| {
            r.uploads[0] = upload(UploadStatus::Succeeded)
        })
        .expect("upload");
    }),
    ("retention", |state, run| {
        update(state, "j", run, |r| {
            let b = r.bundle.as_mut().expect("bundle");
            b.pruned_at = Some(Utc::now());
            b.pruned_by = Some("keepLast".into());
        })
        .expect("retention");
    }),
    ("notification", |state, run| {
        update(state, "j", run, |r| {
            r.notifications
                .push(notification("https://hooks.example/a"));
        })
        .expect("notification");
    }),
    ("recovery", |state, run| {
        update(state, "j", run, |r| {
            r.redaction = Some(serde_json::json!({"recovered": true}));
        })
        .expect("recovery");
    }),
];

fn assert_every_writer_landed(r: &RunRecord, round: usize) {
    let missing: Vec<&str> = [
        (
            "executor",
            r.status == RunStatus::Succeeded && r.phases.len() == 1,
        ),
        (
            "upload queue",
            r.uploads[0].status == UploadStatus::Succeeded,
        ),
        (
            "retention",
            r.bundle.as_ref().is_some_and(|b| b.pruned_at.is_some()),
        ),
        ("notification", r.notifications.len() == 1),
        ("recovery", r.redaction.is_some()),
    ]
    .into_iter()
    .filter(|(_, landed)| !landed)
    .map(|(name, _)| name)
    .collect();
    assert!(
        missing.is_empty(),
        "round {round}: lost the change of {missing:?}: {r:#?}"
    );
}

#[test]
fn concurrent_writers_of_one_run_each_keep_their_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path();
    for round in 0..200 {
        let run = format!("20250101T000000Z-{round}");
        create(state, &committed("j", &run)).expect("running record");
        let start = std::sync::Barrier::new(WRITERS.len());
        std::thread::scope(|s| {
            for (_, write) in WRITERS {
                let (start, run) = (&start, &run);
                s.spawn(move || {
                    start.wait();
                    write(state, run);
                });
            }
        });
        let r = read_record(&record_path(state, "j", &run)).expect("read");
        assert_every_writer_landed(&r, round);
    }
}

/// Set by [`writers_in_two_processes_lose_nothing`] for its child.
const CHILD_STATE: &str = "TSA_RECORDS_TEST_CHILD_STATE";
const APPENDS: usize = 150;

fn append_notifications(state: &Path, who: &str) {
    for i in 0..APPENDS {
        update(state, "j", "r", |r| {
            r.notifications.push(notification(&format!("{who}-{i}")));
        })
        .expect("append");
    }
}

/// The other process of [`writers_in_two_processes_lose_nothing`] (the test binary run again).
/// Run alone (`--ignored`, no state directory given) it appends to a record of its own.
#[test]
#[ignore = "run by writers_in_two_processes_lose_nothing in a process of its own"]
fn child_process_appends_notifications() {
    let own = tempfile::tempdir().expect("tempdir");
    let state = match std::env::var_os(CHILD_STATE) {
        Some(state) => PathBuf::from(state),
        None => {
            create(own.path(), &record("j", "r", RunStatus::Succeeded)).expect("record");
            own.path().to_path_buf()
        }
    };
    append_notifications(&state, "child");
    let r = read_record(&record_path(&state, "j", "r")).expect("read");
    let mine = r
        .notifications
        .iter()
        .filter(|n| n.url.starts_with("child-"));
    assert_eq!(mine.count(), APPENDS);
}

#[test]
fn writers_in_two_processes_lose_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path();
    create(state, &record("j", "r", RunStatus::Succeeded)).expect("record");
    let mut child = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "state::records::tests::child_process_appends_notifications",
            "--ignored",
            "--test-threads=1",
            "--quiet",
        ])
        .env(CHILD_STATE, state)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the child");
    // Starts once the child has written, so the two really run at the same time.
    let path = record_path(state, "j", "r");
    while read_record(&path).expect("read").notifications.is_empty() {
        std::thread::yield_now();
        assert!(
            child.try_wait().expect("child").is_none()
                || !read_record(&path).expect("read").notifications.is_empty(),
            "the child ended without writing"
        );
    }
    std::thread::scope(|s| {
        for who in ["thread-a", "thread-b"] {
            s.spawn(move || append_notifications(state, who));
        }
    });
    let out = child.wait_with_output().expect("child");
    assert!(
        out.status.success(),
        "child: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let urls: std::collections::BTreeSet<String> = read_record(&path)
        .expect("read")
        .notifications
        .into_iter()
        .map(|n| n.url)
        .collect();
    for who in ["child", "thread-a", "thread-b"] {
        let lost: Vec<usize> = (0..APPENDS)
            .filter(|i| !urls.contains(&format!("{who}-{i}")))
            .collect();
        assert!(
            lost.is_empty(),
            "{who} lost {} appends: {lost:?}",
            lost.len()
        );
    }
}

#[test]
fn the_lock_file_is_private_and_never_followed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    create(&state, &record("a", "r", RunStatus::Running)).expect("record");
    let lock = job_dir(&state, "a").join(RECORDS_LOCK);
    let mode = std::fs::metadata(&lock)
        .expect("lock file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "keep\n").expect("write");
    std::fs::remove_file(&lock).expect("rm");
    std::os::unix::fs::symlink(&target, &lock).expect("symlink");
    let err = update(&state, "a", "r", |r| r.status = RunStatus::Failed).expect_err("a symlink");
    assert!(err.to_string().contains("is a symlink"), "{err}");
    let err = create(&state, &record("a", "r2", RunStatus::Running)).expect_err("a symlink");
    assert!(err.to_string().contains("is a symlink"), "{err}");
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep\n");
    let r = read_record(&record_path(&state, "a", "r")).expect("read");
    assert_eq!(
        r.status,
        RunStatus::Running,
        "nothing written without the lock"
    );
}

#[test]
fn update_of_a_missing_record_is_not_found_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = update(dir.path(), "a", "r", |_| ()).expect_err("no record");
    assert!(err.is_not_found(), "{err}");
    assert!(!job_dir(dir.path(), "a").exists());
    create(dir.path(), &record("a", "r", RunStatus::Running)).expect("record");
    let err = update(dir.path(), "a", "other", |_| ()).expect_err("no record");
    assert!(err.is_not_found(), "{err}");
    let err = update(dir.path(), "a", "r", |r| r.run_id = "moved".into()).expect_err("moved");
    assert!(
        err.to_string().contains("keep their job and run id"),
        "{err}"
    );
    assert!(!record_path(dir.path(), "a", "moved").exists());
}

#[test]
fn remove_takes_only_the_records_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    for id in ["r1", "r2", "r3"] {
        create(dir.path(), &record("a", id, RunStatus::Failed)).expect("record");
    }
    update(dir.path(), "a", "r2", |r| r.status = RunStatus::Running).expect("changed since");
    // The runs' fingerprints and changes go with their records, and only with them.
    std::fs::create_dir_all(changes_dir(dir.path(), "a")).expect("mkdir");
    let companions = |id: &str| COMPANION_SUFFIXES.map(|s| companion_path(dir.path(), "a", id, s));
    for id in ["r1", "r2"] {
        for path in companions(id) {
            std::fs::write(path, "{}").expect("write");
        }
    }
    let ids = ["r1".into(), "r2".into(), "gone".into()];
    let removed =
        remove(dir.path(), "a", &ids, |_, r| r.status == RunStatus::Running).expect("remove");
    assert_eq!(removed, [record_path(dir.path(), "a", "r1")]);
    assert!(companions("r1").iter().all(|p| !p.exists()));
    assert!(companions("r2").iter().all(|p| p.exists()));
    let left: Vec<PathBuf> = record_paths(dir.path(), "a").expect("ls");
    assert_eq!(
        left,
        [
            record_path(dir.path(), "a", "r2"),
            record_path(dir.path(), "a", "r3")
        ]
    );
    let none = remove(dir.path(), "none", &["r1".into()], |_, _| false).expect("no job");
    assert!(none.is_empty());
}

#[test]
fn a_job_whose_lock_cannot_be_taken_fails_its_records_and_no_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `jobs/blocked` is a file: the job's records folder, and so its lock, cannot be made.
    std::fs::create_dir_all(dir.path().join("jobs")).expect("jobs dir");
    std::fs::write(dir.path().join("jobs/blocked"), b"").expect("blocking file");
    let batch = [
        record("blocked", "20250101T000000Z", RunStatus::Running),
        record("blocked", "20250102T000000Z", RunStatus::Running),
        record("fine", "20250101T000000Z", RunStatus::Running),
    ];
    let results = create_all(dir.path(), &batch);
    let mut messages = Vec::new();
    for result in &results[..2] {
        let e = result.as_ref().expect_err("no lock, no record");
        assert!(matches!(e, StateError::Io { .. }), "{e:?}");
        messages.push(e.to_string());
    }
    // Each record of the job gets the one failure, worded once (not a path inside a path).
    assert_eq!(messages[0], messages[1]);
    assert_eq!(messages[0].matches("blocked").count(), 1, "{}", messages[0]);
    let written = results[2].as_ref().expect("the other job's record");
    assert_eq!(&read_record(written).expect("read"), &batch[2]);
}
