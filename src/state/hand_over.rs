//! Handing the state directory over to the agent's user: what the `prepare-state` command does
//! in a Kubernetes init container.
//!
//! Why: the kubelet creates a volume (`emptyDir`, a PVC) owned by root with mode 0777 (02777 with
//! `fsGroup`). An agent that runs as its own user can neither make such a directory private (only
//! its owner may chmod it) nor trust it (anyone may write it), and the image (`FROM scratch`) has
//! no shell and no `chown` to fix it. So the agent's binary does it, as root holding only
//! CAP_CHOWN and CAP_FOWNER.
//!
//! Everything happens on descriptors: the directory is opened `O_PATH | O_NOFOLLOW` in its
//! (trusted) parent, judged with `fstat`, and changed through that descriptor (`fchownat` with
//! `AT_EMPTY_PATH`, `fchmod`), so what was checked is what is changed and a symlink swapped in is
//! never followed. Root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH cannot read a directory
//! the agent's user already owns (0700): on the next pod start such a directory is taken as the
//! agent's own without being listed.

use crate::trust::{Policy, Problem};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use serde::Serialize;
use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Other users' entries named in [`HandOverError::ForeignContents`] at most.
const MAX_NAMED: usize = 10;

/// The user and group the state directory is handed to (`--owner UID:GID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The agent's user id.
    pub uid: u32,
    /// Its group id.
    pub gid: u32,
}

/// `--owner` that is not `UID:GID`.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not UID:GID: give the agent's numeric user and group ids, e.g. 65532:65532 (the image's `troubleshoot` user)"
)]
pub struct BadOwner(String);

impl FromStr for Owner {
    type Err = BadOwner;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadOwner(s.to_string());
        let (uid, gid) = s.split_once(':').ok_or_else(bad)?;
        let id = |t: &str| {
            // u32::from_str takes a leading `+`; an id is digits only.
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            t.parse::<u32>()
                .ok()
                .filter(|&n| n != u32::MAX)
                .ok_or_else(bad)
        };
        Ok(Owner {
            uid: id(uid)?,
            gid: id(gid)?,
        })
    }
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// A directory's owner and permission bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ownership {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits (setuid, setgid and sticky included).
    pub mode: u32,
}

impl Ownership {
    fn of(st: &rustix::fs::Stat) -> Ownership {
        Ownership {
            uid: st.st_uid,
            gid: st.st_gid,
            mode: st.st_mode & 0o7777,
        }
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "owner {}:{}, mode {:04o}", self.uid, self.gid, self.mode)
    }
}

/// What [`hand_over`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandedOver {
    /// The state directory.
    pub dir: PathBuf,
    /// How it was found; `None` when it was created.
    pub before: Option<Ownership>,
    /// How it is now.
    pub after: Ownership,
}

impl HandedOver {
    /// Whether anything was created or changed.
    pub fn changed(&self) -> bool {
        self.before != Some(self.after)
    }
}

/// An entry in the state directory owned by another user than the agent's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Foreign {
    /// The entry.
    pub path: PathBuf,
    /// Its owner.
    pub uid: u32,
}

/// Why the state directory was not handed over.
#[derive(Debug, thiserror::Error)]
pub enum HandOverError {
    /// Not run as root.
    #[error(
        "preparing the state directory needs root, and this process runs as uid {euid}: only root (with CAP_CHOWN and CAP_FOWNER) may give a directory to another user. In Kubernetes, run it in an init container with `runAsUser: 0` (see docs/state-directory.md, \"Volumes in Kubernetes\")"
    )]
    NotRoot {
        /// The effective uid.
        euid: u32,
    },
    /// The path ends in `..` or is `/`.
    #[error("{} names no directory to prepare: give the state directory's own path", .path.display())]
    NoName {
        /// The path.
        path: PathBuf,
    },
    /// The state directory is a symlink.
    #[error(
        "{} is a symlink; the state directory is prepared only as a real directory, never through a symlink: point --state-dir at the directory itself", .path.display()
    )]
    Symlink {
        /// The symlink.
        path: PathBuf,
    },
    /// The state directory is a file, a socket, ...
    #[error("{} is {kind}, not a directory: point --state-dir at a directory (or at a path that does not exist yet)", .path.display())]
    NotDirectory {
        /// The path.
        path: PathBuf,
        /// What it is.
        kind: &'static str,
    },
    /// A directory above the state directory may be changed by other users: the agent would
    /// refuse the state directory whatever its own owner.
    #[error(
        "the directories above {} are not trusted: {}; the agent would refuse a state directory there. Point --state-dir at the volume's mount point itself (its own mode does not matter: that is what this fixes), or fix the directory above: {}", .path.display(), join(.problems), .problems.first().map(Problem::hint).unwrap_or_default()
    )]
    UntrustedParent {
        /// The state directory.
        path: PathBuf,
        /// What is wrong above it.
        problems: Vec<Problem>,
    },
    /// The directory holds entries of another user, which the agent could not change.
    #[error(
        "{} holds files of other users than the agent's (uid {}): {}{}; they are left alone and the directory is not handed over. If they are an earlier agent's state, give them to the agent (`chown -R {owner} {}`), or start with an empty volume", .path.display(), .owner.uid, list(.found), and_more(*.more), .path.display()
    )]
    ForeignContents {
        /// The state directory.
        path: PathBuf,
        /// Whom it was to be handed to.
        owner: Owner,
        /// The entries found (at most a few).
        found: Vec<Foreign>,
        /// How many more there are.
        more: usize,
    },
    /// Owned by another user, and root (without CAP_DAC_READ_SEARCH) cannot list it to check
    /// what it holds.
    #[error(
        "{} is owned by uid {uid} (mode {mode:04o}), not by the agent's user (uid {}), and cannot be listed to check that it holds no other user's files: give it to the agent yourself (`chown -R {owner} {}`), or start with an empty volume", .path.display(), .owner.uid, .path.display()
    )]
    Unreadable {
        /// The state directory.
        path: PathBuf,
        /// Its owner.
        uid: u32,
        /// Its mode.
        mode: u32,
        /// Whom it was to be handed to.
        owner: Owner,
    },
    /// chown failed.
    #[error("cannot give {} to {owner}: {source}{}", .path.display(), cap_hint(.source, "CHOWN"))]
    Chown {
        /// The state directory.
        path: PathBuf,
        /// The new owner.
        owner: Owner,
        /// Why.
        source: std::io::Error,
    },
    /// chmod failed.
    #[error("cannot make {} private (mode 0700): {source}{}", .path.display(), cap_hint(.source, "FOWNER"))]
    Chmod {
        /// The state directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Any other failure.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn join(problems: &[Problem]) -> String {
    let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    texts.join("; ")
}

fn list(found: &[Foreign]) -> String {
    let texts: Vec<String> = found
        .iter()
        .map(|f| format!("{} (uid {})", f.path.display(), f.uid))
        .collect();
    texts.join(", ")
}

fn and_more(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(" and {n} more")
    }
}

fn cap_hint(e: &std::io::Error, cap: &str) -> String {
    if e.raw_os_error() == Some(libc::EPERM) {
        format!(
            " (the process lacks CAP_{cap}: an init container that drops ALL capabilities must add {cap})"
        )
    } else {
        String::new()
    }
}

fn io(path: &Path) -> impl Fn(Errno) -> HandOverError + '_ {
    move |e| HandOverError::Io {
        path: path.to_path_buf(),
        source: e.into(),
    }
}

/// Makes `dir` the agent's: creates it if missing, then owner `owner`, mode 0700. Must run as
/// root; never follows a symlink at `dir` itself; refuses a directory that holds another user's
/// entries (a root-owned `lost+found` at its top excepted: the file system's own) or that lies
/// below directories the agent would not trust (judged for an agent running as `owner.uid`;
/// `allow_writable` is `--insecure-allow-writable`). Changing nothing when all is in order, it can
/// run at every start.
pub fn hand_over(
    dir: &Path,
    owner: Owner,
    allow_writable: bool,
) -> Result<HandedOver, HandOverError> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(HandOverError::NotRoot { euid });
    }
    hand_over_as_root(dir, owner, &Policy::for_uid(owner.uid, allow_writable))
}

fn hand_over_as_root(
    dir: &Path,
    owner: Owner,
    policy: &Policy,
) -> Result<HandedOver, HandOverError> {
    let dir = std::path::absolute(dir).map_err(|source| HandOverError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return Err(HandOverError::NoName { path: dir });
    };
    let problems = crate::trust::check_dir(parent, policy).map_err(|source| HandOverError::Io {
        path: parent.to_path_buf(),
        source,
    })?;
    if problems.iter().any(|p| policy.refuses(p)) {
        return Err(HandOverError::UntrustedParent {
            path: dir.clone(),
            problems,
        });
    }
    let parent_fd = rustix::fs::open(
        parent,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io(parent))?;
    let (fd, before) = open_or_create(&dir, &parent_fd, name)?;
    let st = rustix::fs::fstat(&fd).map_err(io(&dir))?;
    let found = Ownership::of(&st);
    refuse_non_directory(&dir, st.st_mode)?;
    // A descriptor to list it with; root without CAP_DAC_READ_SEARCH may not read it.
    let readable = match rustix::fs::openat(
        &fd,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(r) => Some(r),
        Err(Errno::ACCESS) if found.uid == owner.uid => None,
        Err(Errno::ACCESS) => {
            return Err(HandOverError::Unreadable {
                path: dir,
                uid: found.uid,
                mode: found.mode,
                owner,
            });
        }
        Err(e) => return Err(io(&dir)(e)),
    };
    if let Some(r) = &readable {
        refuse_foreign(&dir, r, owner)?;
    }
    if found.mode != 0o700 {
        chmod_private(&fd, readable.as_ref()).map_err(|e| HandOverError::Chmod {
            path: dir.clone(),
            source: e.into(),
        })?;
        // Until now others could add entries: look again, now that only the owner can.
        if let Some(r) = &readable
            && found.mode & 0o022 != 0
        {
            refuse_foreign(&dir, r, owner)?;
        }
    }
    if (found.uid, found.gid) != (owner.uid, owner.gid) {
        rustix::fs::chownat(
            &fd,
            "",
            Some(rustix::fs::Uid::from_raw(owner.uid)),
            Some(rustix::fs::Gid::from_raw(owner.gid)),
            AtFlags::EMPTY_PATH,
        )
        .map_err(|e| HandOverError::Chown {
            path: dir.clone(),
            owner,
            source: e.into(),
        })?;
    }
    let after = Ownership::of(&rustix::fs::fstat(&fd).map_err(io(&dir))?);
    Ok(HandedOver { dir, before, after })
}

/// Opens `name` in `parent` without following a symlink (`O_PATH`: no read permission needed),
/// creating it 0700 when missing; with how it was found (`None`: created).
fn open_or_create(
    dir: &Path,
    parent: &OwnedFd,
    name: &OsStr,
) -> Result<(OwnedFd, Option<Ownership>), HandOverError> {
    let open = || {
        rustix::fs::openat(
            parent,
            name,
            OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    match open() {
        Ok(fd) => {
            let st = rustix::fs::fstat(&fd).map_err(io(dir))?;
            Ok((fd, Some(Ownership::of(&st))))
        }
        Err(Errno::NOENT) => {
            match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(io(dir)(e)),
            }
            Ok((open().map_err(io(dir))?, None))
        }
        Err(e) => Err(io(dir)(e)),
    }
}

fn refuse_non_directory(dir: &Path, mode: u32) -> Result<(), HandOverError> {
    let kind = match FileType::from_raw_mode(mode) {
        FileType::Directory => return Ok(()),
        FileType::Symlink => {
            return Err(HandOverError::Symlink {
                path: dir.to_path_buf(),
            });
        }
        FileType::RegularFile => "a regular file",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "not a directory",
    };
    Err(HandOverError::NotDirectory {
        path: dir.to_path_buf(),
        kind,
    })
}

/// chmod 0700 through the descriptors: `fchmod` on a readable one; an `O_PATH` descriptor takes
/// no `fchmod`, but its `/proc/self/fd` entry names the very same inode (glibc's
/// `fchmodat(AT_SYMLINK_NOFOLLOW)` does the same).
fn chmod_private(fd: &OwnedFd, readable: Option<&OwnedFd>) -> Result<(), Errno> {
    let mode = Mode::from_raw_mode(0o700);
    match readable {
        Some(r) => rustix::fs::fchmod(r, mode),
        None => rustix::fs::chmod(format!("/proc/self/fd/{}", fd.as_raw_fd()), mode),
    }
}

/// Fails with [`HandOverError::ForeignContents`] when an entry under `dir` (open as `fd`) is
/// owned by another user than `owner.uid`. Directories of the agent's user are looked into
/// (when they can be read: one that cannot is the agent's own); another user's directory is
/// named, not looked into.
fn refuse_foreign(dir: &Path, fd: &OwnedFd, owner: Owner) -> Result<(), HandOverError> {
    let mut found = Vec::new();
    let mut count = 0;
    let mut pending = vec![PathBuf::new()];
    while let Some(rel) = pending.pop() {
        let sub = if rel.as_os_str().is_empty() {
            rustix::fs::openat(
                fd,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
        } else {
            rustix::fs::openat2(
                fd,
                &rel,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
            )
        };
        let sub = match sub {
            Ok(sub) => sub,
            Err(Errno::ACCESS) => continue,
            Err(e) => return Err(io(&dir.join(&rel))(e)),
        };
        let mut entries = rustix::fs::Dir::new(sub).map_err(io(&dir.join(&rel)))?;
        while let Some(entry) = entries.read() {
            let entry = entry.map_err(io(&dir.join(&rel)))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let here = entries.fd().map_err(io(&dir.join(&rel)))?;
            let st = match rustix::fs::statat(here, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(io(&dir.join(&rel).join(name))(e)),
            };
            let is_dir = FileType::from_raw_mode(st.st_mode) == FileType::Directory;
            // mkfs's lost+found at the top of a volume (a PVC mounted as the state directory).
            if rel.as_os_str().is_empty() && name == "lost+found" && is_dir && st.st_uid == 0 {
                continue;
            }
            if st.st_uid != owner.uid {
                count += 1;
                if found.len() < MAX_NAMED {
                    found.push(Foreign {
                        path: dir.join(&rel).join(name),
                        uid: st.st_uid,
                    });
                }
            } else if is_dir {
                pending.push(rel.join(name));
            }
        }
    }
    if found.is_empty() {
        return Ok(());
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Err(HandOverError::ForeignContents {
        path: dir.to_path_buf(),
        owner,
        more: count - found.len(),
        found,
    })
}

#[cfg(test)]
#[path = "hand_over_tests.rs"]
mod tests;
