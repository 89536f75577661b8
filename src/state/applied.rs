//! `applied.json`: the jobs the running agent has applied, so `plan` can compare with them and a
//! restarted agent knows what it ran.

use super::{StateError, write_atomic};
use crate::plan::{Applied, AppliedJob};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// File name under the state directory.
pub const APPLIED_FILE: &str = "applied.json";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AppliedFile {
    version: u32,
    applied_at: DateTime<Utc>,
    jobs: BTreeMap<String, AppliedJob>,
}

/// Reads `<state_dir>/applied.json`; a missing file means nothing is applied yet.
pub fn read_applied(state_dir: &Path) -> Result<Applied, StateError> {
    let path = state_dir.join(APPLIED_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Applied::default()),
        Err(source) => return Err(StateError::Io { path, source }),
    };
    let file: AppliedFile = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if file.version != FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path,
            message: format!(
                "format version {} is not supported (this agent writes {FORMAT_VERSION})",
                file.version
            ),
        });
    }
    Ok(Applied { jobs: file.jobs })
}

/// Writes `<state_dir>/applied.json` atomically.
pub fn write_applied(
    state_dir: &Path,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let bytes = applied_bytes(state_dir, applied, now)?;
    write_atomic(&state_dir.join(APPLIED_FILE), &bytes)
}

/// The bytes of `applied.json` for `applied` (serialized from it, not from a copy).
pub fn applied_bytes(
    state_dir: &Path,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, StateError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AppliedFileRef<'a> {
        version: u32,
        applied_at: DateTime<Utc>,
        jobs: &'a BTreeMap<String, AppliedJob>,
    }
    let file = AppliedFileRef {
        version: FORMAT_VERSION,
        applied_at: now,
        jobs: &applied.jobs,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| StateError::Corrupt {
        path: state_dir.join(APPLIED_FILE),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_treats_missing_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            read_applied(dir.path()).expect("missing is fine"),
            Applied::default()
        );
        let mut applied = Applied::default();
        applied.jobs.insert(
            "a".into(),
            AppliedJob {
                source: "/jobs/a.yaml".into(),
                spec_hash: "abc".into(),
                definition: std::sync::Arc::new(
                    serde_json::json!({"spec": {"schedule": "0 2 * * *"}}),
                ),
            },
        );
        write_applied(dir.path(), &applied, Utc::now()).expect("write");
        assert_eq!(read_applied(dir.path()).expect("read"), applied);
    }

    #[test]
    fn corrupt_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(APPLIED_FILE), "{not json").expect("write");
        let err = read_applied(dir.path()).expect_err("corrupt");
        assert!(matches!(err, StateError::Corrupt { .. }));
        assert!(err.to_string().contains("applied.json"), "{err}");
    }
}
