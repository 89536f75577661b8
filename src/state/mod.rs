//! The state directory: lock, `applied.json`, run records, crash recovery; all writes atomic.
//! Every path under it is reached through [`StateDir`], which never follows a symlink there.
//!
//! ```text
//! <stateDir>/                      0700; files 0600
//!   agent.lock                     one agent per state dir
//!   applied.json                   what the running agent applied
//!   jobs/<job>/runs/<run-id>.json  one record per run, pruned by the history limits
//!   jobs/<job>/records.lock        held while the job's records change (see records::update)
//!   jobs/<job>/removed-at          when the job was removed (its directory goes after a grace period)
//!   jobs/<job>/bundles/            archives
//!   jobs/<job>/staging/<run-id>/   files of a run in progress
//!   jobs/<job>/tokens/             encrypted token maps
//!   uploads/                       the upload queue
//! ```

mod applied;
mod atomic;
mod dir;
mod hand_over;
pub(crate) mod history;
mod lock;
pub mod records;
mod recovery;
pub(crate) mod removed;
pub mod retention;
mod run_id;
mod run_record;

pub use applied::{APPLIED_FILE, read_applied_bytes, write_applied_bytes};
pub use atomic::{write_atomic, write_atomic_all};
pub use dir::{Create, DirEntry, EntryKind, StateDir};
pub use hand_over::{BadOwner, Foreign, HandOverError, HandedOver, Owner, Ownership, hand_over};
pub use lock::{LOCK_FILE, LockError, StateLock};
pub use recovery::{Recovery, recover};
pub use run_id::{BadRunId, RunId};

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A state directory operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// A file exists but is not what the agent wrote.
    #[error("{path} is corrupt: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A symlink was found inside the state directory, where the agent never follows one.
    #[error(
        "{path} is a symlink; the agent never follows symlinks inside its state directory: replace it with a real directory or file (or remove it)"
    )]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// A path that should be inside the state directory is not.
    #[error("{path} is not inside the state directory {root}")]
    Outside {
        /// The path.
        path: PathBuf,
        /// The state directory.
        root: PathBuf,
    },
    /// The agent runs as another user than root and the state directory's owner: it could
    /// neither make the directory private nor keep its files there.
    #[error(
        "{path} is owned by uid {uid} (gid {gid}, mode {mode:04o}), and the agent runs as uid {agent_uid}: only the owner can make it private (mode 0700), and the agent keeps its state only in a directory of its own. Give it to the agent's user: `chown {agent_uid}:{agent_gid} {path} && chmod 0700 {path}`; in Kubernetes, where a volume starts out owned by root, run `troubleshoot-agent prepare-state --owner {agent_uid}:{agent_gid} --state-dir {path}` in an init container (see docs/kubernetes.md, and docs/state-directory.md, \"Volumes in Kubernetes\")",
        path = .path.display()
    )]
    NotOwner {
        /// The state directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Its group.
        gid: u32,
        /// Its permission bits.
        mode: u32,
        /// The agent's effective uid.
        agent_uid: u32,
        /// The agent's effective gid.
        agent_gid: u32,
    },
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Creates `dir` (and parents) 0700 if missing, following the path as it is: for the state
/// directory itself; paths under it go through [`StateDir::create_dir_all`].
pub fn ensure_private_dir(dir: &Path) -> Result<(), StateError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// Creates the state directory itself (0700), tightening its mode when it already exists. An
/// agent that is not root must own it ([`StateError::NotOwner`] says how to get there): only the
/// owner may chmod it, and a directory of another user is not the agent's to keep state in.
pub fn prepare(state_dir: &Path) -> Result<(), StateError> {
    ensure_private_dir(state_dir)?;
    let io = |source| StateError::Io {
        path: state_dir.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(state_dir).map_err(io)?;
    // SAFETY: geteuid(2) and getegid(2) cannot fail and touch no memory.
    let (euid, egid) = unsafe { (libc::geteuid(), libc::getegid()) };
    if euid != 0 && meta.uid() != euid {
        return Err(StateError::NotOwner {
            path: state_dir.to_path_buf(),
            uid: meta.uid(),
            gid: meta.gid(),
            mode: meta.mode() & 0o7777,
            agent_uid: euid,
            agent_gid: egid,
        });
    }
    if meta.mode() & 0o7777 == 0o700 {
        return Ok(());
    }
    std::fs::set_permissions(state_dir, std::fs::Permissions::from_mode(0o700)).map_err(io)
}

/// Renames a file that cannot be read to `<name>.corrupt` so it stops failing every read, and
/// keeps it for a person to look at. The rename moves the entry itself, never what a symlink
/// points to; [`StateDir::set_aside`] also refuses a symlink on the way.
pub fn set_aside(path: &Path) -> Option<PathBuf> {
    let mut name = path.file_name()?.to_os_string();
    name.push(".corrupt");
    let target = path.with_file_name(name);
    std::fs::rename(path, &target).ok().map(|()| target)
}
