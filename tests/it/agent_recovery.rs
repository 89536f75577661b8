//! Crash recovery of partial bundles (redaction and compression of what an interrupted run had
//! staged) runs after the agent serves its health endpoints: a large partial bundle must not keep
//! `/healthz` down, and `/readyz` says what the agent is doing until it is done.

use crate::support;
use chrono::Utc;
use std::io::Write;
use support::daemon::{Daemon, dirs, wait_until};
use troubleshoot_agent::state::records::{self, RunStatus};
use troubleshoot_agent::state::{self, RunId};

const JOB: &str = "big";

/// An interrupted run of `JOB` (its record says `running`, as a `kill -9` leaves it) that had
/// staged `mib` MiB of logs.
fn interrupted_run(state_dir: &std::path::Path, mib: usize) -> RunId {
    state::prepare(state_dir).expect("state dir");
    let started = Utc::now() - chrono::Duration::minutes(5);
    let run_id = RunId::scheduled(started);
    let record = support::run_record(JOB, run_id.clone(), started, RunStatus::Running);
    records::create(state_dir, &record).expect("record");
    let top = format!("{JOB}-{}", started.format("%Y-%m-%dT%H_%M_%S"));
    let logs = records::job_dir(state_dir, JOB)
        .join("staging")
        .join(run_id.as_str())
        .join(&top)
        .join("host-collectors/run-host");
    std::fs::create_dir_all(&logs).expect("staging");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(logs.join("journal.txt")).expect("staged file"),
    );
    let line =
        "Dec 07 08:00:00 host app[123]: request served in 12 ms for 10.1.2.3 password=hunter2\n";
    for _ in 0..(mib << 20) / line.len() {
        file.write_all(line.as_bytes()).expect("write");
    }
    file.flush().expect("flush");
    run_id
}

#[test]
fn health_answers_while_a_large_partial_bundle_is_recovered() {
    let d = dirs();
    // 8 MiB: in a debug build, several seconds of redaction and compression (the default chain's
    // 57 patterns over every line), long enough to see `/healthz` answer and `/readyz` say why it
    // is not ready before the bundle is kept.
    let run_id = interrupted_run(&d.state, 8);
    let record_path = records::record_path(&d.state, JOB, &run_id);
    let agent = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .start_serving();
    // `/healthz` answered (start_serving waited for it) while recovery still works on the
    // bundle: the record does not name it yet, and `/readyz` says why the agent is not ready.
    let record = records::read_record(&record_path).expect("record");
    assert!(
        record.bundle.is_none(),
        "recovery finished before the agent served /healthz: {record:?}"
    );
    // Not ready, and (once the first reload is published) saying why: the recovery.
    wait_until(
        std::time::Duration::from_secs(30),
        "/readyz to say the agent is recovering",
        || {
            let r = agent.get("/readyz");
            (r.status == 503 && r.body.contains("recovering the partial bundles"))
                .then_some(())
                .ok_or(format!("{} {}", r.status, r.body))
        },
    );
    assert_eq!(agent.get("/healthz").status, 200);
    // Then the partial bundle is kept, and the agent becomes ready.
    let bundle = wait_until(
        std::time::Duration::from_secs(300),
        "the recovered partial bundle",
        || {
            let r = records::read_record(&record_path).map_err(|e| e.to_string())?;
            r.bundle.ok_or_else(|| format!("{:?}", r.status))
        },
    );
    assert!(bundle.partial && bundle.path.is_file(), "{bundle:?}");
    wait_until(std::time::Duration::from_secs(60), "ready", || {
        let r = agent.get("/readyz");
        (r.status == 200).then_some(()).ok_or(r.body)
    });
}

/// A crash while a run wrote its fingerprint or changes.json leaves a temp file in
/// `jobs/<job>/changes/`: the next start removes exactly those, never a symlink's target nor a
/// file only named like one.
#[test]
fn start_up_removes_the_temp_files_a_crash_left_in_changes() {
    let d = dirs();
    state::prepare(&d.state).expect("state dir");
    let changes = records::changes_dir(&d.state, JOB);
    std::fs::create_dir_all(&changes).expect("changes dir");
    let outside = d.jobs.with_file_name("outside.txt");
    std::fs::write(&outside, "not the agent's").expect("write");
    std::fs::write(changes.join(".r1.json.tmp-4242-0"), "{\"half").expect("temp");
    std::fs::write(changes.join(".r1.fingerprint.json.tmp-4242-1"), "{").expect("temp");
    std::fs::write(changes.join("r0.json"), "{}").expect("kept");
    std::fs::write(changes.join(".r0.json.tmp-draft"), "x").expect("kept");
    std::os::unix::fs::symlink(&outside, changes.join(".r2.json.tmp-4242-2")).expect("symlink");
    let agent = Daemon::builder().jobs(&d.jobs).state(&d.state).start();
    let mut left: Vec<String> = std::fs::read_dir(&changes)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        [".r0.json.tmp-draft", ".r2.json.tmp-4242-2", "r0.json"]
    );
    assert_eq!(
        std::fs::read_to_string(&outside).expect("kept"),
        "not the agent's"
    );
    agent.stop();
}
