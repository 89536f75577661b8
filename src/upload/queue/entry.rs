//! The queue's entries on disk: what one pending (run, target) upload is, and writing, listing
//! and removing its file under `<stateDir>/uploads/`.

use crate::state::records::UploadRecord;
use crate::state::records::UploadStatus;
use crate::state::{RunId, StateDir, StateError};
use crate::upload::Object;
use crate::upload::target::UploadTarget;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Entry format version.
const ENTRY_VERSION: u32 = 1;

/// An `afterCollection.callback` step: a bare request sent once the upload is delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callback {
    /// HTTP method.
    pub method: String,
    /// URL.
    pub uri: String,
}

/// One pending upload.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    /// Format version.
    pub version: u32,
    /// Job name.
    pub job: String,
    /// Run id.
    pub run_id: RunId,
    /// Position of this upload in the run record's `uploads`.
    pub index: usize,
    /// Where it goes (secrets are references, read at each attempt).
    pub target: UploadTarget,
    /// `s3:bucket`, `http:host`, ...: the record's and the metrics' name for the target.
    pub label: String,
    /// The archive.
    pub bundle: PathBuf,
    /// Object key (S3/GCS) or URL (HTTP), placeholders filled in.
    pub key: String,
    /// Bytes.
    pub size: u64,
    /// Hex sha256.
    pub sha256: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// When the upload was first queued.
    pub queued_at: DateTime<Utc>,
    /// Not retried before this.
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt's error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Sent after delivery (troubleshoot's `afterCollection.callback`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub callbacks: Vec<Callback>,
}

/// `<stateDir>/uploads`.
pub fn dir(state_dir: &Path) -> PathBuf {
    state_dir.join("uploads")
}

impl Entry {
    /// `<stateDir>/uploads/<job>__<run-id>__<index>.json` (job names and run ids never hold `__`).
    pub fn path(&self, state_dir: &Path) -> PathBuf {
        dir(state_dir).join(format!(
            "{}__{}__{}.json",
            self.job, self.run_id, self.index
        ))
    }

    /// The object as the sinks take it.
    pub fn object(&self) -> Object<'_> {
        Object {
            path: &self.bundle,
            key: self.key.clone(),
            size: self.size,
            sha256: self.sha256.clone(),
        }
    }

    /// The record of this upload while it is still pending.
    pub fn pending_record(&self) -> UploadRecord {
        UploadRecord {
            target: self.label.clone(),
            url: self.display_url(),
            size: self.size,
            attempts: self.attempts,
            status: UploadStatus::Pending,
            error: self.last_error.clone(),
            duration_ms: None,
        }
    }

    /// Where the object goes, for people (`s3://bucket/key`, the URL without its query).
    pub fn display_url(&self) -> String {
        match &self.target {
            UploadTarget::S3(t) => format!("s3://{}/{}", t.bucket, self.key),
            UploadTarget::Gcs(t) => format!("gs://{}/{}", t.bucket, self.key),
            UploadTarget::Http(_) => crate::upload::http::public_url(&self.key),
        }
    }

    /// A fresh entry, due now.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        job: &str,
        run_id: &RunId,
        index: usize,
        target: UploadTarget,
        bundle: &Path,
        key: String,
        size: u64,
        sha256: &str,
        now: DateTime<Utc>,
    ) -> Self {
        Entry {
            version: ENTRY_VERSION,
            job: job.to_string(),
            run_id: run_id.clone(),
            index,
            label: label(&target),
            target,
            bundle: bundle.to_path_buf(),
            key,
            size,
            sha256: sha256.to_string(),
            attempts: 0,
            queued_at: now,
            next_attempt_at: now,
            last_error: None,
            callbacks: Vec::new(),
        }
    }
}

/// `s3:<bucket>`, `gcs:<bucket>`, `http:<host>`: short, stable, free of secrets.
pub fn label(target: &UploadTarget) -> String {
    match target {
        UploadTarget::S3(t) => format!("s3:{}", t.bucket),
        UploadTarget::Gcs(t) => format!("gcs:{}", t.bucket),
        UploadTarget::Http(t) => {
            let host = t
                .url
                .split_once("://")
                .map(|(_, rest)| rest)
                .unwrap_or(&t.url)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or_default();
            format!("http:{host}")
        }
    }
}

/// Writes (or replaces) an entry atomically.
pub fn write(state_dir: &Path, entry: &Entry) -> Result<(), StateError> {
    let path = entry.path(state_dir);
    let state = StateDir::open(state_dir)?;
    state.create_dir_all(&dir(state_dir))?;
    let mut bytes = serde_json::to_vec_pretty(entry).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    state.write_atomic(&path, &bytes)
}

/// Removes an entry (gone already is fine).
pub fn remove(state_dir: &Path, entry: &Entry) -> Result<(), StateError> {
    match StateDir::open(state_dir)?.remove_file(&entry.path(state_dir)) {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

/// Every entry, oldest first; unreadable ones are set aside (`.corrupt`) and named. A symlink
/// in place of `uploads/` or of an entry is never followed (logged, and an entry set aside).
pub fn list(state_dir: &Path) -> (Vec<Entry>, Vec<PathBuf>) {
    let state = match StateDir::open(state_dir) {
        Ok(s) => s,
        Err(_) => return (Vec::new(), Vec::new()),
    };
    let read = match state.read_dir(&dir(state_dir)) {
        Ok(read) => read,
        Err(e) if e.is_not_found() => return (Vec::new(), Vec::new()),
        Err(e) => {
            tracing::warn!("upload queue: {e}");
            return (Vec::new(), Vec::new());
        }
    };
    let mut entries = Vec::new();
    let mut corrupt = Vec::new();
    for path in read.into_iter().map(|e| e.path) {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        match state
            .read(&path)
            .map_err(|e| tracing::warn!("upload queue: {e}"))
            .ok()
            .and_then(|b| serde_json::from_slice::<Entry>(&b).ok())
        {
            Some(e) => entries.push(e),
            None => corrupt.extend(state.set_aside(&path)),
        }
    }
    entries.sort_by(|a, b| {
        (a.queued_at, &a.job, &a.run_id, a.index).cmp(&(b.queued_at, &b.job, &b.run_id, b.index))
    });
    (entries, corrupt)
}

/// How many uploads are pending and when the oldest was queued, read without side effects (an
/// unreadable entry is skipped here; the driver's [`list`] sets it aside): for `/metrics`.
pub fn summary(state_dir: &Path) -> (usize, Option<DateTime<Utc>>) {
    /// The one field the summary needs, so an entry of a newer format still counts.
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Queued {
        queued_at: DateTime<Utc>,
    }
    let Ok(state) = StateDir::open(state_dir) else {
        return (0, None);
    };
    let Ok(read) = state.read_dir(&dir(state_dir)) else {
        return (0, None);
    };
    let queued: Vec<DateTime<Utc>> = read
        .into_iter()
        .map(|e| e.path)
        .filter(|path| {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            !name.starts_with('.') && name.ends_with(".json")
        })
        .filter_map(|path| state.read(&path).ok())
        .filter_map(|bytes| serde_json::from_slice::<Queued>(&bytes).ok())
        .map(|q| q.queued_at)
        .collect();
    (queued.len(), queued.iter().min().copied())
}
