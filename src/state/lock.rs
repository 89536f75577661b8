//! One agent per state directory: an exclusive lock on `agent.lock` that names its holder.

use super::{Create, StateDir, StateError};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// File name under the state directory.
pub const LOCK_FILE: &str = "agent.lock";

/// Held for the life of the agent; the lock is released when this is dropped or the process dies.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
    path: PathBuf,
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "another agent (pid {holder}) is using the state directory {dir}; stop it or use a different --state-dir"
    )]
    Held {
        /// The state directory.
        dir: PathBuf,
        /// The holder's pid as written in the lock file ("unknown" if unreadable).
        holder: String,
    },
    /// The file could not be opened or locked.
    #[error(transparent)]
    State(#[from] StateError),
}

impl StateLock {
    /// Takes the lock of `state_dir` without waiting, and writes this process's pid into it.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, LockError> {
        let path = state_dir.join(LOCK_FILE);
        let io = |source| StateError::Io {
            path: path.clone(),
            source,
        };
        let mut file = StateDir::open(state_dir)?.create(&path, Create::Keep)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                return Err(LockError::Held {
                    dir: state_dir.to_path_buf(),
                    holder: if holder.is_empty() {
                        "unknown".into()
                    } else {
                        holder
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(e).into()),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.sync_all().map_err(io)?;
        Ok(StateLock { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlinked_lock_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        std::fs::create_dir(&state).expect("mkdir");
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep\n").expect("write");
        std::os::unix::fs::symlink(&target, state.join(LOCK_FILE)).expect("symlink");
        let err = StateLock::acquire(&state).expect_err("a symlink");
        assert!(err.to_string().contains("is a symlink"), "{err}");
        assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep\n");
    }

    #[test]
    fn a_second_lock_names_the_holder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = StateLock::acquire(dir.path()).expect("first lock");
        let err = StateLock::acquire(dir.path()).expect_err("second must fail");
        let pid = std::process::id().to_string();
        assert!(
            matches!(&err, LockError::Held { holder, .. } if *holder == pid),
            "{err}"
        );
        drop(first);
        StateLock::acquire(dir.path()).expect("free again after drop");
    }
}
