//! The run book with real runs (real pipeline, real records) and the control channel held by
//! the test: a run's end is in the channel, written but not yet heard, for as long as the test
//! wants, so the gap between the final record and [`Control::RunFinished`] is deterministic.

use super::*;
use crate::agent::clock::Clock;
use crate::settings::Settings;
use crate::upload::queue::UploadQueue;
use std::path::Path;

/// A `Forbid` job whose run blocks reading `fifo` until the test writes to it.
fn forbid_job(fifo: &Path) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: j}}\nspec:\n  schedule: \"0 0 1 1 *\"\n  concurrencyPolicy: Forbid\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: wait, command: cat, args: [\"{}\"]}}\n",
        fifo.display()
    )
}

/// Lets the run blocked on `fifo` go on (opening it for writing waits for the reader, so off
/// the async workers).
async fn release(fifo: &Path) {
    let fifo = fifo.to_path_buf();
    tokio::task::spawn_blocking(move || std::fs::write(fifo, "go\n"))
        .await
        .expect("writer task")
        .expect("write fifo");
}

async fn next_end(rx: &mut mpsc::Receiver<Control>) -> (RunRecord, Option<String>) {
    loop {
        match rx.recv().await.expect("control channel open") {
            Control::RunFinished {
                record,
                persist_error,
            } => return (*record, persist_error),
            _ => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trigger_after_the_final_record_is_written_is_not_skipped_as_overlapping() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (jobs_dir, state) = (dir.path().join("jobs.d"), dir.path().join("state"));
    std::fs::create_dir_all(&jobs_dir).expect("jobs dir");
    crate::state::prepare(&state).expect("state dir");
    let fifo = dir.path().join("hold");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success(), "mkfifo failed");
    std::fs::write(jobs_dir.join("j.yaml"), forbid_job(&fifo)).expect("job file");
    let mut settings = Settings::defaults(&|_| None);
    settings.state_dir = state.clone();
    settings.jobs_dir = jobs_dir.clone();
    let jobs = crate::jobs::load_dir(&jobs_dir, &settings.jobs_context())
        .expect("jobs load")
        .jobs;
    let env = AgentEnv::new(
        &settings,
        "h".into(),
        Clock::default(),
        UploadQueue::default(),
        Default::default(),
    );
    let (tx, mut rx) = mpsc::channel(16);
    let mut book = RunBook::new(Arc::new(env), tx, Arc::new(Metrics::new()), 4);

    // While the first run collects, Forbid skips a second one.
    let first = book.trigger("j", &jobs, None).await.expect("first trigger");
    assert_eq!(first.state, "started");
    let overlapping = book
        .trigger("j", &jobs, None)
        .await
        .expect("second trigger");
    assert_eq!(overlapping.state, "skipped");

    // The first run ends: its final record is on disk, and its end waits in the channel.
    release(&fifo).await;
    let (ended, persist_error) = next_end(&mut rx).await;
    assert_eq!(persist_error, None);
    assert_eq!(ended.run_id, first.run_id);
    let path = records::record_path(&state, "j", &first.run_id);
    let on_disk = records::read_record(&path).expect("final record");
    assert_eq!(on_disk.status, RunStatus::Succeeded, "{on_disk:?}");
    assert_eq!(
        book.running_count(),
        1,
        "the book has not heard the end yet"
    );

    // In that gap a trigger starts a run: the record says the first run is over.
    let after = book.trigger("j", &jobs, None).await.expect("third trigger");
    assert_eq!(after.state, "started", "a trigger after the final record");
    book.finished(ended, None, &jobs).await;
    release(&fifo).await;
    let (second, persist_error) = next_end(&mut rx).await;
    assert_eq!(persist_error, None);
    assert_eq!(second.run_id, after.run_id);
    assert_eq!(second.status, RunStatus::Succeeded, "{second:?}");
    book.finished(second, None, &jobs).await;
    assert_eq!(book.running_count(), 0);

    let (history, _) = records::history(&state, "j", 10).expect("history");
    let statuses: Vec<_> = history
        .iter()
        .map(|r| (r.run_id.to_string(), r.status))
        .collect();
    let skipped = statuses.iter().filter(|(_, s)| *s == RunStatus::Skipped);
    assert_eq!(
        skipped.count(),
        1,
        "only the overlapping trigger: {statuses:?}"
    );
}
