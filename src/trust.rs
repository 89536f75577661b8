//! Which files the agent trusts, and reading them safely.
//!
//! The agent runs as root and runs the commands that job files and their specs name, so a file
//! another user could have written must not be read as if root wrote it. The rules follow
//! OpenSSH's StrictModes (and cron's and sudo's checks): the file and every directory on its
//! path up to `/` (every hop of a symlink chain included) must be owned by root or the agent's
//! own user and not be group- or world-writable. A root-owned sticky directory such as `/tmp`
//! is fine: only a file's owner can replace it there, and the file's own owner is checked. So
//! is a group- or world-writable directory on a filesystem mounted only read-only (a Kubernetes
//! ConfigMap volume: see `mounts`).
//!
//! Files are opened without blocking (a FIFO would otherwise stall the reader until a writer
//! came) and judged on the opened descriptor (`fstat`, so what is checked is what is read):
//! anything but a regular file is refused before a byte is read, and at most a cap is read.

use crate::diagnostic::Diagnostic;
use crate::yaml::Loc;
use std::collections::HashMap;
use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The flag that turns trust problems into warnings (for test setups).
pub const INSECURE_FLAG: &str = "--insecure-allow-writable";

/// Symlink hops followed at most (the kernel's own limit).
const MAX_HOPS: usize = 40;

/// Who the agent trusts to have written its inputs: root and its own user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    agent_uid: u32,
    allow_writable: bool,
}

impl Policy {
    /// Root and the process's effective user; `allow_writable` (`--insecure-allow-writable`)
    /// reports ownership and permission problems as warnings instead of refusing the file.
    pub fn new(allow_writable: bool) -> Self {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let agent_uid = unsafe { libc::geteuid() };
        Policy {
            agent_uid,
            allow_writable,
        }
    }

    /// As [`Policy::new`] for a given agent user (tests of the rules themselves).
    pub fn for_uid(agent_uid: u32, allow_writable: bool) -> Self {
        Policy {
            agent_uid,
            allow_writable,
        }
    }

    /// The same users, with ownership and permission problems let through: for reading a file
    /// only to report everything wrong with it (its problems are then judged by `self`).
    pub fn lenient(&self) -> Policy {
        Policy {
            allow_writable: true,
            ..*self
        }
    }

    /// Whether ownership and permission problems are only warnings.
    pub fn allows_writable(&self) -> bool {
        self.allow_writable
    }

    fn trusts(&self, uid: u32) -> bool {
        uid == 0 || uid == self.agent_uid
    }

    /// Whether `problem` keeps the file from being used under this policy.
    pub fn refuses(&self, problem: &Problem) -> bool {
        !(self.allow_writable && problem.is_permission())
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(false)
    }
}

/// What a path is when it is not a regular file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A named pipe: reading it blocks until someone writes.
    Fifo,
    /// A character device such as `/dev/zero`: reading it may never end.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl FileKind {
    fn of(meta: &Metadata) -> Option<FileKind> {
        let t = meta.file_type();
        if t.is_file() {
            None
        } else if t.is_dir() {
            Some(FileKind::Directory)
        } else if t.is_fifo() {
            Some(FileKind::Fifo)
        } else if t.is_char_device() {
            Some(FileKind::CharDevice)
        } else if t.is_block_device() {
            Some(FileKind::BlockDevice)
        } else if t.is_socket() {
            Some(FileKind::Socket)
        } else {
            Some(FileKind::Other)
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Who besides the owner has a permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The file's group.
    Group,
    /// Every user.
    World,
}

impl fmt::Display for Who {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Who::Group => "group",
            Who::World => "world",
        })
    }
}

/// One reason a file is not trusted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A FIFO, device, socket or directory where a file is read.
    #[error("{} is {kind}, not a regular file", .path.display())]
    NotRegular {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },
    /// Owned by a user other than root or the agent's.
    #[error("{} is owned by uid {uid}, not by root or the agent's user (uid {agent})", .path.display())]
    Owner {
        /// The file or directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// The agent's effective uid.
        agent: u32,
    },
    /// Others than its owner may write it.
    #[error("{} is {who}-writable (mode {mode:04o})", .path.display())]
    Writable {
        /// The file or directory.
        path: PathBuf,
        /// Group or world.
        who: Who,
        /// Its permission bits.
        mode: u32,
    },
    /// Larger than what is read of such a file.
    #[error("{} is {size} bytes, more than the {cap} read of such a file", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (at least this much when it grew while read).
        size: u64,
        /// The cap.
        cap: u64,
    },
    /// A secret that others than its owner may read.
    #[error("{} holds a secret and is {who}-readable (mode {mode:04o})", .path.display())]
    Readable {
        /// The file.
        path: PathBuf,
        /// Group or world.
        who: Who,
        /// Its permission bits.
        mode: u32,
    },
}

impl Problem {
    /// The file or directory at fault.
    pub fn path(&self) -> &Path {
        match self {
            Problem::NotRegular { path, .. }
            | Problem::Owner { path, .. }
            | Problem::Writable { path, .. }
            | Problem::TooLarge { path, .. }
            | Problem::Readable { path, .. } => path,
        }
    }

    /// Ownership and permission problems, which `--insecure-allow-writable` lets pass; a file
    /// that is not regular or too large is refused whatever the flag.
    pub fn is_permission(&self) -> bool {
        matches!(
            self,
            Problem::Owner { .. } | Problem::Writable { .. } | Problem::Readable { .. }
        )
    }

    /// What to do about it.
    pub fn hint(&self) -> String {
        let path = self.path().display();
        match self {
            Problem::NotRegular { .. } => "point at a regular file: FIFOs, devices, sockets and directories are refused so reading cannot block or never end".to_string(),
            Problem::Owner { .. } | Problem::Writable { .. } => format!(
                "only root should be able to change what the agent runs: `chown root:root {path} && chmod go-w {path}` (or, for a test setup only, pass {INSECURE_FLAG})"
            ),
            Problem::TooLarge { .. } => {
                "keep the file smaller, or split it into several files".to_string()
            }
            Problem::Readable { .. } => format!(
                "`chown root:root {path} && chmod 0600 {path}` (or, for a test setup only, pass {INSECURE_FLAG})"
            ),
        }
    }

    /// The problem as an error message: "not trusted: ..." for ownership and permissions.
    pub fn message(&self) -> String {
        if self.is_permission() {
            format!("not trusted: {self}")
        } else {
            self.to_string()
        }
    }

    /// A file-level diagnostic for reading `file`: an error, or a warning when `policy` lets
    /// the problem pass.
    pub fn to_diagnostic(&self, file: &Path, policy: &Policy) -> Diagnostic {
        if policy.refuses(self) {
            let message = self.message();
            Diagnostic::error(file, Loc::default(), message).with_hint(self.hint())
        } else {
            let message = format!("{self}; read anyway because of {INSECURE_FLAG}");
            Diagnostic::warning(file, Loc::default(), message)
                .with_hint("never use this flag on a production host")
        }
    }
}

/// Problems joined for one line.
fn join(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It (or a directory above it) is not trusted, or it is not a regular file or too large;
    /// every problem found is listed.
    #[error("{}", .0.iter().map(Problem::message).collect::<Vec<_>>().join("; "))]
    Refused(Vec<Problem>),
    /// It could not be opened or read.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A file read after its checks, with the problems `--insecure-allow-writable` let pass.
#[derive(Debug)]
pub struct Trusted {
    /// Its content (at most the cap).
    pub bytes: Vec<u8>,
    /// Problems reported as warnings only.
    pub allowed: Vec<Problem>,
}

/// The trust of directories already looked at, so one load walks each directory once.
/// Meant to live for one load: a directory changed later is looked at again by the next one.
#[derive(Debug, Default)]
pub struct Walk {
    dirs: HashMap<PathBuf, Vec<Problem>>,
}

impl Walk {
    /// Problems with the directories an open of `path` goes through: for every hop of a symlink
    /// chain, the directory holding the link and each one above it up to `/`. The file itself
    /// is judged on the opened descriptor (see [`read`]). A path that does not exist yields no
    /// problem here; the open reports it.
    pub fn directories(&mut self, path: &Path, policy: &Policy) -> io::Result<Vec<Problem>> {
        let mut out = Vec::new();
        let mut hop = std::path::absolute(path)?;
        for _ in 0..MAX_HOPS {
            let parent = hop.parent().unwrap_or(Path::new("/"));
            let dir = match std::fs::canonicalize(parent) {
                Ok(dir) => dir,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
                Err(e) => return Err(e),
            };
            self.chain(&dir, policy, &mut out);
            match std::fs::symlink_metadata(&hop) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hop = dir.join(std::fs::read_link(&hop)?);
                }
                _ => return Ok(out),
            }
        }
        Err(io::Error::from_raw_os_error(libc::ELOOP))
    }

    /// Adds the problems of canonical directory `dir` and every directory above it.
    fn chain(&mut self, dir: &Path, policy: &Policy, out: &mut Vec<Problem>) {
        for ancestor in dir.ancestors() {
            let problems = self.dirs.entry(ancestor.to_path_buf()).or_insert_with(|| {
                match std::fs::symlink_metadata(ancestor) {
                    Ok(meta) => dir_problems(ancestor, &meta, policy),
                    // Gone since canonicalize: the open will say so.
                    Err(_) => Vec::new(),
                }
            });
            for p in problems.iter() {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
        }
    }
}

/// Problems of a directory on the path to a trusted file.
pub fn dir_problems(path: &Path, meta: &Metadata, policy: &Policy) -> Vec<Problem> {
    let mut out = owner_problem(path, meta, policy)
        .into_iter()
        .collect::<Vec<_>>();
    let mode = meta.mode() & 0o7777;
    // A root-owned sticky directory (/tmp): only an entry's owner may rename or remove it.
    let sticky_root = mode & 0o1000 != 0 && meta.uid() == 0;
    // A read-only mount with no writable twin (a ConfigMap volume): nobody can write it.
    if !sticky_root
        && let Some(who) = writable_by(mode)
        && !mounts::read_only_everywhere(path, meta)
    {
        out.push(Problem::Writable {
            path: path.to_path_buf(),
            who,
            mode,
        });
    }
    out
}

/// Problems of the file itself (from `fstat` of the opened descriptor), `cap` its size limit.
pub fn file_problems(path: &Path, meta: &Metadata, policy: &Policy, cap: u64) -> Vec<Problem> {
    if let Some(kind) = FileKind::of(meta) {
        return vec![Problem::NotRegular {
            path: path.to_path_buf(),
            kind,
        }];
    }
    let mut out = owner_problem(path, meta, policy)
        .into_iter()
        .collect::<Vec<_>>();
    let mode = meta.mode() & 0o7777;
    if let Some(who) = writable_by(mode)
        && !mounts::read_only_everywhere(path, meta)
    {
        out.push(Problem::Writable {
            path: path.to_path_buf(),
            who,
            mode,
        });
    }
    if meta.len() > cap {
        out.push(Problem::TooLarge {
            path: path.to_path_buf(),
            size: meta.len(),
            cap,
        });
    }
    out
}

fn owner_problem(path: &Path, meta: &Metadata, policy: &Policy) -> Option<Problem> {
    (!policy.trusts(meta.uid())).then(|| Problem::Owner {
        path: path.to_path_buf(),
        uid: meta.uid(),
        agent: policy.agent_uid,
    })
}

fn writable_by(mode: u32) -> Option<Who> {
    if mode & 0o002 != 0 {
        Some(Who::World)
    } else if mode & 0o020 != 0 {
        Some(Who::Group)
    } else {
        None
    }
}

fn readable_by(mode: u32) -> Option<Who> {
    if mode & 0o004 != 0 {
        Some(Who::World)
    } else if mode & 0o040 != 0 {
        Some(Who::Group)
    } else {
        None
    }
}

/// Opens `path` for reading without blocking on a FIFO or a device.
fn open(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Reads `path` (symlinks followed) if it and the directories above it are trusted, it is a
/// regular file and at most `cap` bytes long. Every problem found is reported, not the first.
pub fn read(path: &Path, cap: u64, policy: &Policy, walk: &mut Walk) -> Result<Trusted, ReadError> {
    read_checked(path, cap, policy, walk, false)
}

/// [`read`] for a file holding a secret (a key, a token): it must not be readable by group or
/// others either.
pub fn read_secret(
    path: &Path,
    cap: u64,
    policy: &Policy,
    walk: &mut Walk,
) -> Result<Trusted, ReadError> {
    read_checked(path, cap, policy, walk, true)
}

fn read_checked(
    path: &Path,
    cap: u64,
    policy: &Policy,
    walk: &mut Walk,
    secret: bool,
) -> Result<Trusted, ReadError> {
    let mut problems = walk.directories(path, policy)?;
    let file = open(path)?;
    let meta = file.metadata()?;
    problems.extend(file_problems(path, &meta, policy, cap));
    let mode = meta.mode() & 0o7777;
    if secret
        && meta.is_file()
        && let Some(who) = readable_by(mode)
    {
        problems.push(Problem::Readable {
            path: path.to_path_buf(),
            who,
            mode,
        });
    }
    if problems.iter().any(|p| policy.refuses(p)) {
        return Err(ReadError::Refused(problems));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len().min(cap)).unwrap_or(0));
    // The file may grow after fstat: never read past the cap.
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(ReadError::Refused(vec![Problem::TooLarge {
            path: path.to_path_buf(),
            size: bytes.len() as u64,
            cap,
        }]));
    }
    Ok(Trusted {
        bytes,
        allowed: problems,
    })
}

/// Problems with a directory the agent keeps its state in (or reads its inputs from): it and
/// every directory above it must be owned by root or the agent's user and not group- or
/// world-writable (root-owned sticky directories excepted). Only ownership and permissions are
/// looked at, so `--insecure-allow-writable` makes every problem a warning.
pub fn check_dir(dir: &Path, policy: &Policy) -> io::Result<Vec<Problem>> {
    let mut walk = Walk::default();
    // The directories holding each symlink on the way, then the directory itself and those above.
    let mut out = walk.directories(dir, policy)?;
    walk.chain(&std::fs::canonicalize(dir)?, policy, &mut out);
    Ok(out)
}

/// Why the state directory is refused at start.
#[derive(Debug, thiserror::Error)]
pub enum StateDirError {
    /// It or a directory above it is not trusted.
    #[error("state directory {} is not trusted: {}; {}", .dir.display(), join(.problems), .problems.first().map(Problem::hint).unwrap_or_default())]
    Untrusted {
        /// The state directory.
        dir: PathBuf,
        /// Every problem found.
        problems: Vec<Problem>,
    },
    /// It could not be looked at.
    #[error("state directory {}: {source}", .dir.display())]
    Io {
        /// The state directory.
        dir: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Refuses a state directory another user could change (see [`check_dir`]); problems that
/// `policy` lets pass are logged as warnings.
pub fn check_state_dir(dir: &Path, policy: &Policy) -> Result<(), StateDirError> {
    let problems = check_dir(dir, policy).map_err(|source| StateDirError::Io {
        dir: dir.to_path_buf(),
        source,
    })?;
    if problems.iter().any(|p| policy.refuses(p)) {
        return Err(StateDirError::Untrusted {
            dir: dir.to_path_buf(),
            problems,
        });
    }
    for p in &problems {
        tracing::warn!("state directory: {p}; used anyway because of {INSECURE_FLAG}");
    }
    Ok(())
}

mod mounts;

#[cfg(test)]
mod tests;
