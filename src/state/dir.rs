//! The state directory as a directory handle: every path under it is resolved relative to the
//! handle, with no symlink at any component and no way out through `..`.
//!
//! Why `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` through rustix: the kernel refuses a
//! symlink anywhere on the path (intermediate or last) and any escape in the same call that
//! opens the file, so there is no window between a check and its use. rustix is already in the
//! lock (through tempfile) and wraps the calls without `unsafe` here; cap-std would add several
//! crates and a user-space path walk that this kernel (Linux 5.6 or later) does not need.
//!
//! The state directory itself may be reached through a symlink (that is the operator's
//! configuration: systemd's `DynamicUser=` makes `/var/lib/<name>` one); nothing inside it may be.
//! A symlink found inside fails the operation with [`StateError::Symlink`], naming it.

use super::StateError;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Files the agent creates are private to root.
pub(super) const FILE_MODE: u32 = 0o600;
/// So are its directories.
pub(super) const DIR_MODE: u32 = 0o700;

/// An open state directory. Cheap to open (one `open`); holds the descriptor every operation
/// resolves from.
#[derive(Debug)]
pub struct StateDir {
    pub(super) root: PathBuf,
    pub(super) fd: OwnedFd,
}

/// What a directory entry is, never looking through a symlink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else (fifo, socket, device).
    Other,
}

/// One entry of [`StateDir::read_dir`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// Its name in the directory.
    pub name: OsString,
    /// What it is.
    pub kind: EntryKind,
    /// Its full path (the state directory joined with the listed directory and the name).
    pub path: PathBuf,
}

/// How [`StateDir::create`] treats an existing file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Fail if it exists.
    New,
    /// Empty it.
    Truncate,
    /// Keep its contents (opened for reading and writing).
    Keep,
}

fn resolve() -> ResolveFlags {
    ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS
}

fn kind_of(file_type: FileType) -> EntryKind {
    match file_type {
        FileType::RegularFile => EntryKind::File,
        FileType::Directory => EntryKind::Dir,
        FileType::Symlink => EntryKind::Symlink,
        _ => EntryKind::Other,
    }
}

impl StateDir {
    /// Opens the state directory `root` (which must exist; see [`super::prepare`]).
    pub fn open(root: &Path) -> Result<StateDir, StateError> {
        let fd = rustix::fs::open(
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| StateError::Io {
            path: root.to_path_buf(),
            source: e.into(),
        })?;
        Ok(StateDir {
            root: root.to_path_buf(),
            fd,
        })
    }

    /// The state directory's path, as given to [`StateDir::open`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `path` relative to the state directory: a path under [`StateDir::root`] or a relative
    /// one; `..`, or an absolute path elsewhere, is refused.
    pub(super) fn rel(&self, path: &Path) -> Result<PathBuf, StateError> {
        let rest = match path.strip_prefix(&self.root) {
            Ok(rest) => rest,
            Err(_) if path.is_relative() => path,
            Err(_) => return Err(self.outside(path)),
        };
        let mut out = PathBuf::new();
        for c in rest.components() {
            match c {
                Component::Normal(n) => out.push(n),
                Component::CurDir => {}
                _ => return Err(self.outside(path)),
            }
        }
        Ok(out)
    }

    fn outside(&self, path: &Path) -> StateError {
        StateError::Outside {
            path: path.to_path_buf(),
            root: self.root.clone(),
        }
    }

    /// The error for a failed operation on `rel`: a symlink on the way is named as such.
    pub(super) fn error(&self, rel: &Path, e: Errno) -> StateError {
        // ELOOP is RESOLVE_NO_SYMLINKS (or O_NOFOLLOW) refusing one; ENOTDIR is what a symlink
        // opened with O_DIRECTORY | O_NOFOLLOW gives.
        if e == Errno::LOOP || e == Errno::XDEV || e == Errno::NOTDIR {
            let mut prefix = PathBuf::new();
            for c in rel.components() {
                prefix.push(c);
                match rustix::fs::statat(&self.fd, &prefix, AtFlags::SYMLINK_NOFOLLOW) {
                    Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                        return StateError::Symlink {
                            path: self.root.join(prefix),
                        };
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }
        StateError::Io {
            path: self.root.join(rel),
            source: e.into(),
        }
    }

    fn open_rel(&self, rel: &Path, flags: OFlags, mode: u32) -> Result<OwnedFd, StateError> {
        let name: &Path = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        rustix::fs::openat2(
            &self.fd,
            name,
            flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::from_raw_mode(mode),
            resolve(),
        )
        .map_err(|e| self.error(rel, e))
    }

    /// Opens the directory `rel` (relative) for `*at` calls.
    pub(super) fn open_dir_rel(&self, rel: &Path) -> Result<OwnedFd, StateError> {
        self.open_rel(rel, OFlags::RDONLY | OFlags::DIRECTORY, 0)
    }

    /// The parent directory of `path` (opened) and its last component.
    pub(super) fn parent_of(
        &self,
        path: &Path,
    ) -> Result<(PathBuf, OwnedFd, OsString), StateError> {
        let rel = self.rel(path)?;
        let name = rel
            .file_name()
            .ok_or_else(|| self.outside(path))?
            .to_os_string();
        let parent = self.open_dir_rel(rel.parent().unwrap_or(Path::new("")))?;
        Ok((rel, parent, name))
    }

    /// What `path` is, without following a symlink; `None` when it does not exist.
    pub fn kind(&self, path: &Path) -> Result<Option<EntryKind>, StateError> {
        let (rel, parent, name) = self.parent_of(path)?;
        match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(kind_of(FileType::from_raw_mode(st.st_mode)))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.error(&rel, e)),
        }
    }

    /// Fails with [`StateError::Symlink`] when `name` in `parent` is a symlink.
    pub(super) fn refuse_symlink(
        &self,
        rel: &Path,
        parent: &OwnedFd,
        name: &OsStr,
    ) -> Result<(), StateError> {
        match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                Err(StateError::Symlink {
                    path: self.root.join(rel),
                })
            }
            Ok(_) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(self.error(rel, e)),
        }
    }

    /// Opens an existing file for reading.
    pub fn open_read(&self, path: &Path) -> Result<File, StateError> {
        let rel = self.rel(path)?;
        Ok(File::from(self.open_rel(&rel, OFlags::RDONLY, 0)?))
    }

    /// Reads a whole file.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, StateError> {
        use std::io::Read;
        let mut file = self.open_read(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(|source| StateError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(bytes)
    }

    /// [`StateDir::read`], with a missing file (or directory above it) as `None`.
    pub fn read_optional(&self, path: &Path) -> Result<Option<Vec<u8>>, StateError> {
        match self.read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates (0600) or opens a file for writing; its directory must exist.
    pub fn create(&self, path: &Path, how: Create) -> Result<File, StateError> {
        let rel = self.rel(path)?;
        let flags = match how {
            Create::New => OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
            Create::Truncate => OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC,
            Create::Keep => OFlags::RDWR | OFlags::CREATE,
        };
        Ok(File::from(self.open_rel(&rel, flags, FILE_MODE)?))
    }

    /// Creates `path` and the directories above it (0700) where missing; a symlink at any
    /// component fails, naming it.
    pub fn create_dir_all(&self, path: &Path) -> Result<(), StateError> {
        let rel = self.rel(path)?;
        // Usually it is there already: one call.
        if self.open_dir_rel(&rel).is_ok() {
            return Ok(());
        }
        let mut dir = self.open_dir_rel(Path::new(""))?;
        let mut prefix = PathBuf::new();
        for c in rel.components() {
            prefix.push(c);
            let name = c.as_os_str();
            match rustix::fs::mkdirat(&dir, name, Mode::from_raw_mode(DIR_MODE)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(self.error(&prefix, e)),
            }
            dir = rustix::fs::openat2(
                &dir,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
                resolve(),
            )
            .map_err(|e| self.error(&prefix, e))?;
        }
        Ok(())
    }

    /// The entries of a directory (not `.` and `..`), in no particular order.
    pub fn read_dir(&self, path: &Path) -> Result<Vec<DirEntry>, StateError> {
        let rel = self.rel(path)?;
        let fd = self.open_dir_rel(&rel)?;
        self.entries(&rel, fd)
    }

    fn entries(&self, rel: &Path, fd: OwnedFd) -> Result<Vec<DirEntry>, StateError> {
        let mut dir = rustix::fs::Dir::new(fd).map_err(|e| self.error(rel, e))?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| self.error(rel, e))?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            let kind = match entry.file_type() {
                FileType::Unknown => {
                    let fd = dir.fd().map_err(|e| self.error(rel, e))?;
                    rustix::fs::statat(fd, name, AtFlags::SYMLINK_NOFOLLOW)
                        .map(|st| kind_of(FileType::from_raw_mode(st.st_mode)))
                        .unwrap_or(EntryKind::Other)
                }
                t => kind_of(t),
            };
            out.push(DirEntry {
                name: name.to_os_string(),
                kind,
                path: self.root.join(rel).join(name),
            });
        }
        Ok(out)
    }

    /// Removes a regular file. A symlink there is not removed (nor what it points to): it fails
    /// with [`StateError::Symlink`]; a missing file is a `NotFound` error.
    pub fn remove_file(&self, path: &Path) -> Result<(), StateError> {
        let (rel, parent, name) = self.parent_of(path)?;
        match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => {}
                FileType::Symlink => {
                    return Err(StateError::Symlink {
                        path: self.root.join(&rel),
                    });
                }
                _ => return Err(self.error(&rel, Errno::ISDIR)),
            },
            Err(e) => return Err(self.error(&rel, e)),
        }
        // unlinkat never follows the last component: even if it changed since the check, only
        // the entry in this directory goes.
        rustix::fs::unlinkat(&parent, &name, AtFlags::empty()).map_err(|e| self.error(&rel, e))
    }

    /// Removes a directory and everything in it. Entries inside are unlinked, never followed
    /// (a staged bundle may hold symlinks it collected); `path` itself must not be a symlink.
    /// A missing directory is not an error.
    pub fn remove_dir_all(&self, path: &Path) -> Result<(), StateError> {
        let (rel, parent, name) = self.parent_of(path)?;
        match rustix::fs::statat(&parent, &name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Directory => {}
            Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
                return Err(StateError::Symlink {
                    path: self.root.join(&rel),
                });
            }
            Ok(_) => return Err(self.error(&rel, Errno::NOTDIR)),
            Err(Errno::NOENT) => return Ok(()),
            Err(e) => return Err(self.error(&rel, e)),
        }
        self.empty_dir(&rel)?;
        rustix::fs::unlinkat(&parent, &name, AtFlags::REMOVEDIR).map_err(|e| self.error(&rel, e))
    }

    fn empty_dir(&self, rel: &Path) -> Result<(), StateError> {
        let fd = self.open_dir_rel(rel)?;
        let dir_fd = fd
            .as_fd()
            .try_clone_to_owned()
            .map_err(|e| StateError::Io {
                path: self.root.join(rel),
                source: e,
            })?;
        for entry in self.entries(rel, dir_fd)? {
            let child = rel.join(&entry.name);
            if entry.kind == EntryKind::Dir {
                self.empty_dir(&child)?;
                rustix::fs::unlinkat(&fd, &entry.name, AtFlags::REMOVEDIR)
            } else {
                rustix::fs::unlinkat(&fd, &entry.name, AtFlags::empty())
            }
            .or_else(|e| if e == Errno::NOENT { Ok(()) } else { Err(e) })
            .map_err(|e| self.error(&child, e))?;
        }
        Ok(())
    }

    /// Renames `from` to `to` (both under the state directory). `from` is moved as the entry it
    /// is; a symlink at `to` fails the rename.
    pub fn rename(&self, from: &Path, to: &Path) -> Result<(), StateError> {
        let (from_rel, from_dir, from_name) = self.parent_of(from)?;
        let (to_rel, to_dir, to_name) = self.parent_of(to)?;
        self.refuse_symlink(&to_rel, &to_dir, &to_name)?;
        rustix::fs::renameat(&from_dir, &from_name, &to_dir, &to_name)
            .map_err(|e| self.error(&from_rel, e))
    }

    /// Renames a file that cannot be read to `<name>.corrupt` so it stops failing every read,
    /// and keeps it for a person to look at. `None` when that failed.
    pub fn set_aside(&self, path: &Path) -> Option<PathBuf> {
        let mut name = path.file_name()?.to_os_string();
        name.push(".corrupt");
        let target = path.with_file_name(name);
        self.rename(path, &target).ok().map(|()| target)
    }
}

impl StateError {
    /// The file or a directory above it does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, StateError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

#[cfg(test)]
#[path = "dir_tests.rs"]
mod tests;
