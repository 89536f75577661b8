//! Crash-safe file replacement: a reader sees the old file or the new one, never half of one.

use super::StateError;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// From this many files on, [`write_atomic_all`] syncs each file system once instead of each
/// file and directory: one journal commit instead of two per file (a burst of 1,000 runs
/// starting at once paid 2,000 of them).
const SYNCFS_FROM: usize = 8;

/// Writes `bytes` to `path` through a temp file in the same directory: write, fsync, rename,
/// fsync the directory. The file is created 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_path(path);
    let result = (|| {
        write_temp(&tmp, bytes)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// Writes every `(path, bytes)` with [`write_atomic`]'s guarantees, all durable when it returns;
/// one result per file, in order. Many files are written as one batch: every temp file, one
/// `syncfs` per file system (the data), every rename, one `syncfs` again (the directories).
pub fn write_atomic_all(files: &[(PathBuf, Vec<u8>)]) -> Vec<Result<(), StateError>> {
    if files.len() < SYNCFS_FROM {
        return files
            .iter()
            .map(|(path, bytes)| write_atomic(path, bytes))
            .collect();
    }
    let mut results: Vec<Result<(), StateError>> = Vec::with_capacity(files.len());
    let mut temps = Vec::with_capacity(files.len());
    // One open file per file system, to sync it by.
    let mut file_systems: HashMap<u64, std::fs::File> = HashMap::new();
    for (path, bytes) in files {
        let tmp = temp_path(path);
        let written = write_temp(&tmp, bytes).and_then(|file| {
            let dev = file.metadata()?.dev();
            file_systems.entry(dev).or_insert(file);
            Ok(())
        });
        results.push(written.map_err(|source| io_error(path, source)));
        temps.push(tmp);
    }
    sync_file_systems(&file_systems, files, &mut results);
    for (((path, _), tmp), result) in files.iter().zip(&temps).zip(results.iter_mut()) {
        if result.is_ok()
            && let Err(source) = std::fs::rename(tmp, path)
        {
            *result = Err(io_error(path, source));
        }
    }
    sync_file_systems(&file_systems, files, &mut results);
    for (tmp, result) in temps.iter().zip(&results) {
        if result.is_err() {
            let _ = std::fs::remove_file(tmp);
        }
    }
    results
}

/// `syncfs` on each file system; a failure fails every file still in the batch (which of them
/// did not reach the disk is not known).
fn sync_file_systems(
    file_systems: &HashMap<u64, std::fs::File>,
    files: &[(PathBuf, Vec<u8>)],
    results: &mut [Result<(), StateError>],
) {
    for file in file_systems.values() {
        // SAFETY: syncfs only reads the descriptor, which `file` keeps open.
        if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
            let errno = std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO);
            for ((path, _), result) in files.iter().zip(results.iter_mut()) {
                if result.is_ok() {
                    *result = Err(io_error(path, std::io::Error::from_raw_os_error(errno)));
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

/// `.<name>.tmp-<pid>-<n>` beside `path`: unique per write, so two writers of the same file
/// never share a temp file; start-up recovery removes leftovers by the `.tmp-` in the name.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Creates (0600) or truncates `tmp` and writes `bytes`, not synced.
fn write_temp(tmp: &Path, bytes: &[u8]) -> std::io::Result<std::fs::File> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(tmp)?;
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
