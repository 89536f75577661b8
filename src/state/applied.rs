//! `applied.json`: what the running agent has applied, so `plan` can compare with it and a
//! restarted agent knows what it ran.
//!
//! The state layer stores the file's bytes (read without following a symlink, written
//! atomically); their content, the typed `plan::Applied`, is encoded and decoded by
//! `plan::applied_file`, so this layer knows nothing of jobs or plans.

use super::{StateDir, StateError};
use std::path::Path;

/// File name under the state directory.
pub const APPLIED_FILE: &str = "applied.json";

/// The bytes of `<state_dir>/applied.json`; `None` when it (or the state directory) does not
/// exist. A symlink there is an error, never followed.
pub fn read_applied_bytes(state_dir: &Path) -> Result<Option<Vec<u8>>, StateError> {
    let path = state_dir.join(APPLIED_FILE);
    match StateDir::open(state_dir) {
        Ok(dir) => dir.read_optional(&path),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e),
    }
}

/// Writes `bytes` (from `plan::applied_bytes`) to `<state_dir>/applied.json` atomically, through the
/// state directory handle.
pub fn write_applied_bytes(state_dir: &Path, bytes: &[u8]) -> Result<(), StateError> {
    StateDir::open(state_dir)?.write_atomic(&state_dir.join(APPLIED_FILE), bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_missing_is_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            read_applied_bytes(dir.path()).expect("missing is fine"),
            None
        );
        let gone = dir.path().join("no-such-state-dir");
        assert_eq!(
            read_applied_bytes(&gone).expect("missing dir is fine"),
            None
        );
        write_applied_bytes(dir.path(), b"{}\n").expect("write");
        assert_eq!(
            read_applied_bytes(dir.path()).expect("read"),
            Some(b"{}\n".to_vec())
        );
    }

    #[test]
    fn a_symlinked_applied_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("elsewhere.json");
        std::fs::write(&target, "{}").expect("write");
        std::os::unix::fs::symlink(&target, dir.path().join(APPLIED_FILE)).expect("symlink");
        read_applied_bytes(dir.path()).expect_err("a symlink is not followed");
    }
}
