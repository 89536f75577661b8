//! Crash-safe file replacement: a reader sees the old file or the new one, never half of one.
//! State paths go through [`StateDir::write_atomic`] and [`StateDir::write_atomic_all`]; the
//! free functions here serve paths given without their state directory.

use super::dir::FILE_MODE;
use super::{StateDir, StateError};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// From this many files on, [`write_atomic_all`] syncs each file system once instead of each
/// file and directory: one journal commit instead of two per file (a burst of 1,000 runs
/// starting at once paid 2,000 of them).
const SYNCFS_FROM: usize = 8;

/// One file of a write: its directory (open), its name there, and its path for messages.
struct Target {
    dir: OwnedFd,
    name: OsString,
    path: PathBuf,
}

impl StateDir {
    /// Writes `bytes` to `path` (under the state directory, its directory existing) through a
    /// temp file in the same directory: write, fsync, rename, fsync the directory. The file is
    /// created 0600. No component may be a symlink, nor the file itself.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StateError> {
        let target = self.target(path)?;
        write_one(&target, bytes)
    }

    /// Writes every `(path, bytes)` with [`StateDir::write_atomic`]'s guarantees, all durable when
    /// it returns; one result per file, in order. Many files are written as one batch: every
    /// temp file, one `syncfs` per file system (the data), every rename, one `syncfs` again.
    pub fn write_atomic_all(&self, files: &[(PathBuf, Vec<u8>)]) -> Vec<Result<(), StateError>> {
        let targets = files.iter().map(|(path, _)| self.target(path)).collect();
        write_all(targets, files)
    }

    fn target(&self, path: &Path) -> Result<Target, StateError> {
        let (rel, dir, name) = self.parent_of(path)?;
        self.refuse_symlink(&rel, &dir, &name)?;
        Ok(Target {
            dir,
            name,
            path: self.root().join(rel),
        })
    }
}

/// Writes `bytes` to `path` as [`StateDir::write_atomic`] does, with only the file itself checked
/// for a symlink (its directory is opened as the path says).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    write_one(&loose_target(path)?, bytes)
}

/// [`StateDir::write_atomic_all`] for paths given without their state directory (see
/// [`write_atomic`]).
pub fn write_atomic_all(files: &[(PathBuf, Vec<u8>)]) -> Vec<Result<(), StateError>> {
    let targets = files.iter().map(|(path, _)| loose_target(path)).collect();
    write_all(targets, files)
}

fn loose_target(path: &Path) -> Result<Target, StateError> {
    let dir_path = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_os_string();
    let dir = rustix::fs::open(
        dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_error(path, e.into()))?;
    match rustix::fs::statat(&dir, &name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::Symlink => {
            return Err(StateError::Symlink {
                path: path.to_path_buf(),
            });
        }
        Ok(_) | Err(Errno::NOENT) => {}
        Err(e) => return Err(io_error(path, e.into())),
    }
    Ok(Target {
        dir,
        name,
        path: path.to_path_buf(),
    })
}

fn write_one(target: &Target, bytes: &[u8]) -> Result<(), StateError> {
    let tmp = temp_name(&target.name);
    let result = (|| {
        write_temp(&target.dir, &tmp, bytes)?.sync_all()?;
        rustix::fs::renameat(&target.dir, &tmp, &target.dir, &target.name)?;
        rustix::fs::fsync(&target.dir)?;
        Ok(())
    })();
    if result.is_err() {
        let _ = rustix::fs::unlinkat(&target.dir, &tmp, AtFlags::empty());
    }
    result.map_err(|source| io_error(&target.path, source))
}

fn write_all(
    targets: Vec<Result<Target, StateError>>,
    files: &[(PathBuf, Vec<u8>)],
) -> Vec<Result<(), StateError>> {
    if files.len() < SYNCFS_FROM {
        return targets
            .into_iter()
            .zip(files)
            .map(|(target, (_, bytes))| write_one(&target?, bytes))
            .collect();
    }
    let mut results: Vec<Result<(), StateError>> = Vec::with_capacity(files.len());
    let mut written: Vec<Option<(Target, OsString)>> = Vec::with_capacity(files.len());
    // One open file per file system, to sync it by.
    let mut file_systems: HashMap<u64, File> = HashMap::new();
    for (target, (_, bytes)) in targets.into_iter().zip(files) {
        let target = match target {
            Ok(t) => t,
            Err(e) => {
                results.push(Err(e));
                written.push(None);
                continue;
            }
        };
        let tmp = temp_name(&target.name);
        let done = write_temp(&target.dir, &tmp, bytes).and_then(|file| {
            let dev = file.metadata()?.dev();
            file_systems.entry(dev).or_insert(file);
            Ok(())
        });
        results.push(done.map_err(|source| io_error(&target.path, source)));
        written.push(Some((target, tmp)));
    }
    sync_file_systems(&file_systems, files, &mut results);
    for (w, result) in written.iter().zip(results.iter_mut()) {
        if let (Some((target, tmp)), Ok(())) = (w, &result)
            && let Err(e) = rustix::fs::renameat(&target.dir, tmp, &target.dir, &target.name)
        {
            *result = Err(io_error(&target.path, e.into()));
        }
    }
    sync_file_systems(&file_systems, files, &mut results);
    for (w, result) in written.iter().zip(&results) {
        if let (Some((target, tmp)), Err(_)) = (w, result) {
            let _ = rustix::fs::unlinkat(&target.dir, tmp, AtFlags::empty());
        }
    }
    results
}

/// `syncfs` on each file system; a failure fails every file still in the batch (which of them
/// did not reach the disk is not known).
fn sync_file_systems(
    file_systems: &HashMap<u64, File>,
    files: &[(PathBuf, Vec<u8>)],
    results: &mut [Result<(), StateError>],
) {
    for file in file_systems.values() {
        if let Err(errno) = rustix::fs::syncfs(file) {
            for ((path, _), result) in files.iter().zip(results.iter_mut()) {
                if result.is_ok() {
                    *result = Err(io_error(path, errno.into()));
                }
            }
        }
    }
}

fn io_error(path: &Path, source: std::io::Error) -> StateError {
    StateError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `.<name>.tmp-<pid>-<n>` beside the file: unique per write, so two writers of the same file
/// never share a temp file; start-up recovery removes leftovers by the `.tmp-` in the name.
fn temp_name(name: &OsStr) -> OsString {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(".tmp-{}-{n}", std::process::id()));
    tmp
}

/// Whether `name` is one of [`temp_name`]'s names, `.<name>.tmp-<pid>-<seq>`: start-up recovery
/// removes exactly these, never a file a person put there.
pub(crate) fn is_temp_name(name: &str) -> bool {
    let Some((head, tail)) = name.rsplit_once(".tmp-") else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    head.len() > 1
        && head.starts_with('.')
        && tail
            .split_once('-')
            .is_some_and(|(pid, seq)| digits(pid) && digits(seq))
}

/// Creates (0600) or truncates `tmp` in `dir` and writes `bytes`, not synced. A symlink there
/// is not followed (the open fails).
fn write_temp(dir: &OwnedFd, tmp: &OsStr, bytes: &[u8]) -> std::io::Result<File> {
    let fd = rustix::fs::openat(
        dir,
        tmp,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(FILE_MODE),
    )?;
    let mut file = File::from(fd);
    file.write_all(bytes)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.json");
        write_atomic(&path, b"one").expect("first write");
        write_atomic(&path, b"two").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.json")]);
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_batch_writes_every_file_and_fails_only_the_bad_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir(&a).expect("mkdir a");
        std::fs::create_dir(&b).expect("mkdir b");
        std::fs::write(a.join("f3.json"), b"old").expect("an existing file to replace");
        let mut files: Vec<(PathBuf, Vec<u8>)> = (0..SYNCFS_FROM * 2)
            .map(|i| {
                let d = if i % 2 == 0 { &a } else { &b };
                (d.join(format!("f{i}.json")), format!("{i}").into_bytes())
            })
            .collect();
        files.insert(5, (dir.path().join("missing/x.json"), b"x".to_vec()));
        let results = write_atomic_all(&files);
        assert_eq!(results.len(), files.len());
        for ((path, bytes), result) in files.iter().zip(&results) {
            if path.starts_with(dir.path().join("missing")) {
                let err = result.as_ref().expect_err("no such directory");
                assert!(err.to_string().contains("missing/x.json"), "{err}");
            } else {
                assert!(result.is_ok(), "{}: {result:?}", path.display());
                assert_eq!(&std::fs::read(path).expect("read"), bytes);
                let mode = std::fs::metadata(path).expect("stat").permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
        for d in [&a, &b] {
            let temps: Vec<_> = std::fs::read_dir(d)
                .expect("ls")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(temps.is_empty(), "{temps:?}");
        }
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_the_file() {
        let err = write_atomic(Path::new("/nonexistent-dir/x/a.json"), b"x").expect_err("no dir");
        assert!(
            err.to_string().contains("/nonexistent-dir/x/a.json"),
            "{err}"
        );
    }
}
