//! The persistent upload queue: one small JSON entry per pending (run, target) under
//! `<stateDir>/uploads/`, written atomically before the first attempt and removed only once the
//! run record says how the upload ended. A crash or restart at any point therefore leaves either
//! an entry to re-drive or a record that is already final; a re-driven upload that had in fact
//! landed is recognised by its create-only key ([`UploadError::AlreadyExists`]).
//!
//! Entries are self-contained (target, bundle path, key, digest), so a pending bundle is still
//! delivered where its run meant it to go after the job file changed or was removed.

use super::retry::Backoff;
use super::{Delivered, UploadError};
use crate::state::StateError;
use crate::state::records::UploadStatus;
use crate::state::records::{self, UploadRecord};
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

mod entry;
pub use entry::{Callback, Entry, dir, label, list, remove, summary, write};

/// One agent's upload queue in memory: the driver's wake-up, the targets seen working and the
/// entries being attempted. Owned by the daemon (or a foreground `trigger`) and handed to its
/// runs, so two agents in one process never take each other's wake-ups or claims.
#[derive(Clone, Debug, Default)]
pub struct UploadQueue(Arc<Shared>);

#[derive(Debug, Default)]
struct Shared {
    /// Wakes the driver (a run left an upload pending, or a target was seen working).
    wake: Notify,
    /// Labels of targets that just accepted an upload: entries waiting for them are due now.
    working: Mutex<BTreeSet<String>>,
    /// Entries some task of this agent is attempting right now.
    claimed: Mutex<BTreeSet<PathBuf>>,
}

impl UploadQueue {
    /// Asks the driver to look at the queue now.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// Waits for [`UploadQueue::wake`] or `timeout`.
    pub async fn wait(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.0.wake.notified()).await;
    }

    /// Notes that `label` accepted an upload, and wakes the driver.
    pub fn target_works(&self, label: &str) {
        lock(&self.0.working).insert(label.to_string());
        self.wake();
    }

    /// Targets seen working since the last call.
    pub fn take_working(&self) -> BTreeSet<String> {
        std::mem::take(&mut *lock(&self.0.working))
    }

    /// Reserves the entry, or `None` when another task of this agent has it.
    pub fn claim(&self, state_dir: &Path, entry: &Entry) -> Option<Claim> {
        let path = entry.path(state_dir);
        lock(&self.0.claimed)
            .insert(path.clone())
            .then(|| Claim(Arc::clone(&self.0), path))
    }
}

/// A poisoned lock only means a task panicked while holding it; the set is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An entry reserved for one task until dropped.
pub struct Claim(Arc<Shared>, PathBuf);

impl Drop for Claim {
    fn drop(&mut self) {
        lock(&self.0.claimed).remove(&self.1);
    }
}

/// Sets `uploads[index]` of the run's record (through [`records::update`], which serialises it
/// with every other change of the record). A missing record (removed by hand) is not an error.
pub fn update_record(
    state_dir: &Path,
    job: &str,
    run_id: &str,
    index: usize,
    upload: &UploadRecord,
) -> Result<(), StateError> {
    let set = records::update(state_dir, job, run_id, |record| {
        while record.uploads.len() <= index {
            record.uploads.push(UploadRecord {
                target: String::new(),
                url: String::new(),
                size: 0,
                attempts: 0,
                status: UploadStatus::Unknown,
                error: None,
                duration_ms: None,
            });
        }
        record.uploads[index] = upload.clone();
    });
    match set {
        Err(e) if e.is_not_found() => Ok(()),
        other => other,
    }
}

/// [`update_record`] for `entry`, off the async threads: the write syncs the disk and may wait
/// for the record's lock while another writer holds it.
pub async fn record_upload(
    state_dir: &Path,
    entry: &Entry,
    upload: &UploadRecord,
) -> Result<(), StateError> {
    let (dir, job, run_id) = (
        state_dir.to_path_buf(),
        entry.job.clone(),
        entry.run_id.clone(),
    );
    let (index, upload) = (entry.index, upload.clone());
    tokio::task::spawn_blocking(move || update_record(&dir, &job, &run_id, index, &upload))
        .await
        .unwrap_or_else(|e| {
            Err(StateError::Io {
                path: records::record_path(state_dir, &entry.job, &entry.run_id),
                source: std::io::Error::other(format!("record writer failed: {e}")),
            })
        })
}

/// Whether the entry's run is still in progress (its record says `running`): the run's own
/// upload phase owns the entry until its final record is written.
pub fn run_in_progress(state_dir: &Path, entry: &Entry) -> bool {
    let path = records::runs_dir(state_dir, &entry.job).join(format!("{}.json", entry.run_id));
    records::read_record(&path)
        .map(|r| r.status == records::RunStatus::Running)
        .unwrap_or(false)
}

/// Whether the entry's run record already says how this upload ended (`succeeded` or `failed`).
pub fn already_settled(state_dir: &Path, entry: &Entry) -> bool {
    let path = records::runs_dir(state_dir, &entry.job).join(format!("{}.json", entry.run_id));
    records::read_record(&path).is_ok_and(|r| {
        r.uploads
            .get(entry.index)
            .is_some_and(|u| matches!(u.status, UploadStatus::Succeeded | UploadStatus::Failed))
    })
}

/// How one attempt ended.
#[derive(Debug)]
pub enum Attempt {
    /// Delivered now, or found delivered by an earlier attempt.
    Delivered {
        /// Where.
        delivered: Delivered,
        /// It was already there (create-only key taken by this bundle).
        already: bool,
    },
    /// Failed for good.
    Failed(String),
    /// Failed; worth another try.
    Retry(String),
}

/// One attempt at delivering `entry` (the bundle must still exist), callbacks included.
pub async fn attempt(entry: &Entry) -> Attempt {
    // Only a bundle file under the state directory's jobs/<job>/bundles/, reached with no
    // symlink, is read: a planted entry or link must not send another file anywhere.
    match crate::state::retention::check_bundle_file(&entry.bundle) {
        Ok(()) => {}
        Err(e) if e.is_not_found() => {
            return Attempt::Failed(format!(
                "the bundle {} is gone; nothing left to upload",
                entry.bundle.display()
            ));
        }
        Err(e) => return Attempt::Failed(format!("the bundle is not uploaded: {e}")),
    }
    match super::deliver(&entry.target, &entry.object()).await {
        Ok(delivered) => {
            send_callbacks(entry).await;
            Attempt::Delivered {
                delivered,
                already: false,
            }
        }
        Err(UploadError::AlreadyExists(message)) => {
            tracing::info!(job = %entry.job, run = %entry.run_id, target = %entry.label, "{message}");
            Attempt::Delivered {
                delivered: Delivered {
                    url: entry.display_url(),
                    bytes: entry.size,
                },
                already: true,
            }
        }
        Err(UploadError::Permanent(m)) => Attempt::Failed(m),
        Err(UploadError::Transient(m)) => Attempt::Retry(m),
    }
}

async fn send_callbacks(entry: &Entry) {
    for cb in &entry.callbacks {
        if let Err(e) = super::http::callback(&cb.method, &cb.uri).await {
            tracing::warn!(job = %entry.job, run = %entry.run_id, "afterCollection callback failed (the bundle is delivered): {e}");
        }
    }
}

/// The background retry schedule of queued uploads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Retries within the run, before the upload is left to the queue.
    pub in_run: Backoff,
    /// Retries from the queue; when it runs out, the upload has failed for good.
    pub queued: Backoff,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            in_run: Backoff {
                max_attempts: 3,
                initial: Duration::from_secs(1),
                max: Duration::from_secs(10),
            },
            queued: Backoff {
                max_attempts: 60,
                initial: Duration::from_secs(30),
                max: Duration::from_secs(3600),
            },
        }
    }
}

/// A stable jitter seed per entry.
pub fn seed(entry: &Entry) -> u64 {
    let digest = crate::digest::sha256_hex(
        format!("{}/{}/{}", entry.job, entry.run_id, entry.index).as_bytes(),
    );
    u64::from_str_radix(&digest[..16], 16).unwrap_or(0)
}

/// What a finished upload reports to metrics: target label, status, how long it took.
pub type Observer = std::sync::Arc<dyn Fn(&str, UploadStatus, Duration) + Send + Sync>;

/// Re-drives the queue until the process ends: due entries are attempted one at a time (oldest
/// first); a delivery or failure for good updates the run record and removes the entry; a
/// transient failure reschedules it with `policy.queued`. `now` is the agent's clock.
pub async fn drive(
    queue: UploadQueue,
    state_dir: PathBuf,
    policy: Policy,
    now: impl Fn() -> DateTime<Utc> + Send + 'static,
    observe: Observer,
) {
    let (_, corrupt) = list_off_loop(&state_dir).await;
    for path in corrupt {
        tracing::warn!(path = %path.display(), "unreadable upload queue entry set aside");
    }
    // At start every entry is due: a restart is often the fix (new credentials, a network
    // route), and after a crash nobody should wait out a backoff from before it.
    let mut starting = true;
    loop {
        let working = queue.take_working();
        let (entries, _) = list_off_loop(&state_dir).await;
        let mut next_due: Option<DateTime<Utc>> = None;
        for mut entry in entries {
            if (starting || working.contains(&entry.label)) && entry.next_attempt_at > now() {
                entry.next_attempt_at = now();
            }
            let waits = entry.next_attempt_at > now() || !for_the_driver(&state_dir, &entry).await;
            let claim = if waits {
                None
            } else {
                queue.claim(&state_dir, &entry)
            };
            let pending = match claim {
                Some(_claim) => {
                    drive_one(
                        &queue,
                        &state_dir,
                        &mut entry,
                        &policy.queued,
                        &now,
                        &observe,
                    )
                    .await
                }
                // Due later (or another task has it): only a future entry sets the wake-up.
                None => entry.next_attempt_at > now(),
            };
            if pending {
                next_due =
                    Some(next_due.map_or(entry.next_attempt_at, |d| d.min(entry.next_attempt_at)));
            }
        }
        starting = false;
        let sleep = next_due
            .map(|d| (d - now()).to_std().unwrap_or_default())
            .unwrap_or(Duration::from_secs(60))
            .clamp(Duration::from_millis(100), Duration::from_secs(60));
        queue.wait(sleep).await;
    }
}

/// [`list`] on a blocking thread: the queue directory is read and entries set aside there.
async fn list_off_loop(state_dir: &Path) -> (Vec<Entry>, Vec<PathBuf>) {
    let dir = state_dir.to_path_buf();
    tokio::task::spawn_blocking(move || list(&dir))
        .await
        .unwrap_or_default()
}

/// Whether the driver may attempt the entry now: its run is over and the run record does not
/// say yet how the upload ended (an entry whose record does is removed: a crash after the
/// record learned the outcome, before the entry went). Read on a blocking thread.
async fn for_the_driver(state_dir: &Path, entry: &Entry) -> bool {
    let (dir, entry) = (state_dir.to_path_buf(), entry.clone());
    tokio::task::spawn_blocking(move || {
        if run_in_progress(&dir, &entry) {
            return false;
        }
        if already_settled(&dir, &entry) {
            if let Err(e) = remove(&dir, &entry) {
                tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue: {e}");
            }
            return false;
        }
        true
    })
    .await
    .unwrap_or(false)
}

/// One attempt at a claimed entry, its record and its queue file updated; `true` when it stays
/// pending (rescheduled by `backoff`).
async fn drive_one(
    queue: &UploadQueue,
    state_dir: &Path,
    entry: &mut Entry,
    backoff: &Backoff,
    now: &impl Fn() -> DateTime<Utc>,
    observe: &Observer,
) -> bool {
    let started = std::time::Instant::now();
    let result = attempt(entry).await;
    entry.attempts += 1;
    let took = started.elapsed();
    let (record, done) = settle(entry, result, backoff, now(), took);
    if record.status == UploadStatus::Succeeded {
        queue.target_works(&entry.label);
    }
    observe(&entry.label, record.status, took);
    if let Err(e) = record_upload(state_dir, entry, &record).await {
        tracing::warn!(job = %entry.job, run = %entry.run_id, "cannot update the run record: {e}");
    }
    let (dir, file) = (state_dir.to_path_buf(), entry.clone());
    let written = tokio::task::spawn_blocking(move || {
        if done {
            remove(&dir, &file)
        } else {
            write(&dir, &file)
        }
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue: {e}"),
        Err(e) => {
            tracing::warn!(job = %entry.job, run = %entry.run_id, "upload queue writer failed: {e}")
        }
    }
    !done
}

/// Folds an attempt into the entry and the upload's record; `true` when the entry is finished
/// (delivered or failed for good), else it was rescheduled by `backoff`. A delivery means the
/// target works: the caller tells its [`UploadQueue`].
pub fn settle(
    entry: &mut Entry,
    result: Attempt,
    backoff: &Backoff,
    now: DateTime<Utc>,
    took: Duration,
) -> (UploadRecord, bool) {
    let mut record = entry.pending_record();
    record.duration_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
    match result {
        Attempt::Delivered { delivered, already } => {
            record.status = UploadStatus::Succeeded;
            record.url = delivered.url;
            record.attempts = entry.attempts;
            record.error = already.then(|| {
                "already delivered by an earlier attempt (same sha256 under this key)".to_string()
            });
            tracing::info!(job = %entry.job, run = %entry.run_id, target = %entry.label, url = %record.url, attempts = entry.attempts, "bundle uploaded");
            (record, true)
        }
        Attempt::Failed(message) => {
            record.status = UploadStatus::Failed;
            record.attempts = entry.attempts;
            record.error = Some(message.clone());
            tracing::error!(job = %entry.job, run = %entry.run_id, target = %entry.label, attempts = entry.attempts, "upload failed: {message}");
            (record, true)
        }
        Attempt::Retry(message) => {
            entry.last_error = Some(message.clone());
            record.attempts = entry.attempts;
            match backoff.delay(entry.attempts, seed(entry)) {
                Some(delay) => {
                    entry.next_attempt_at =
                        now + chrono::Duration::from_std(delay).unwrap_or_default();
                    record.error = Some(format!(
                        "{message} (attempt {}; next at {})",
                        entry.attempts,
                        entry.next_attempt_at.format("%Y-%m-%dT%H:%M:%SZ")
                    ));
                    tracing::warn!(job = %entry.job, run = %entry.run_id, target = %entry.label, attempts = entry.attempts, "upload pending: {message}");
                    (record, false)
                }
                None => {
                    record.status = UploadStatus::Failed;
                    record.error = Some(format!(
                        "gave up after {} attempts since {}: {message}",
                        entry.attempts,
                        entry.queued_at.format("%Y-%m-%dT%H:%M:%SZ")
                    ));
                    tracing::error!(job = %entry.job, run = %entry.run_id, target = %entry.label, "upload failed for good: {message}");
                    (record, true)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upload::target::{HttpTarget, UploadTarget};

    fn entry() -> Entry {
        let target: UploadTarget = serde_json::from_value(serde_json::json!({
            "http": {"url": "https://support.example.com/up/{runId}?sig=secret"}
        }))
        .unwrap();
        Entry::new(
            "daily",
            &"20250101T000000Z".parse().unwrap(),
            0,
            target,
            Path::new("/x/b.tar.gz"),
            "https://support.example.com/up/20250101T000000Z?sig=secret".into(),
            10,
            "ab",
            "2025-01-01T00:00:00Z".parse().unwrap(),
        )
    }

    #[test]
    fn labels_and_urls_carry_no_query() {
        let e = entry();
        assert_eq!(e.label, "http:support.example.com");
        assert_eq!(
            e.display_url(),
            "https://support.example.com/up/20250101T000000Z"
        );
        let _: Option<HttpTarget> = None;
    }

    #[test]
    fn entries_round_trip_and_list_sets_corrupt_ones_aside() {
        let dir = tempfile::tempdir().unwrap();
        let e = entry();
        write(dir.path(), &e).unwrap();
        std::fs::write(dir.path().join("uploads/bad__x__0.json"), b"{").unwrap();
        let (entries, corrupt) = list(dir.path());
        assert_eq!(entries, vec![e.clone()]);
        assert_eq!(corrupt.len(), 1);
        remove(dir.path(), &e).unwrap();
        assert!(list(dir.path()).0.is_empty());
    }

    #[test]
    fn retries_reschedule_then_give_up() {
        let mut e = entry();
        let backoff = Backoff {
            max_attempts: 2,
            initial: Duration::from_secs(10),
            max: Duration::from_secs(10),
        };
        let now: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
        e.attempts = 1;
        let (rec, done) = settle(
            &mut e,
            Attempt::Retry("down".into()),
            &backoff,
            now,
            Duration::ZERO,
        );
        assert!(!done);
        assert_eq!(rec.status, UploadStatus::Pending);
        assert!(e.next_attempt_at >= now + chrono::Duration::seconds(5));
        e.attempts = 2;
        let (rec, done) = settle(
            &mut e,
            Attempt::Retry("down".into()),
            &backoff,
            now,
            Duration::ZERO,
        );
        assert!(done);
        assert_eq!(rec.status, UploadStatus::Failed);
        assert!(rec.error.unwrap().contains("gave up after 2 attempts"));
    }

    #[test]
    fn two_agents_in_one_process_keep_their_wake_ups_and_claims() {
        use futures_util::FutureExt as _;
        let (one, two) = (UploadQueue::default(), UploadQueue::default());
        let state = Path::new("/state");
        // A claim is the agent's own: the other agent may claim the same entry path (it has its
        // own state directory in practice), and the first cannot claim it twice.
        let held = one.claim(state, &entry()).expect("first claim");
        assert!(one.claim(state, &entry()).is_none(), "held by this agent");
        assert!(
            two.claim(state, &entry()).is_some(),
            "another agent's claims are its own"
        );
        drop(held);
        assert!(one.claim(state, &entry()).is_some(), "freed when dropped");
        // A wake-up and a working target reach only the queue they were given to.
        one.target_works("http:a");
        assert!(two.take_working().is_empty());
        assert_eq!(one.take_working(), BTreeSet::from(["http:a".to_string()]));
        assert!(
            two.0.wake.notified().now_or_never().is_none(),
            "the other agent's driver stays asleep"
        );
        assert!(
            one.0.wake.notified().now_or_never().is_some(),
            "this agent's driver wakes"
        );
    }
}
