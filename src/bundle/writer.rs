//! The archive writer: walk, order, stream, compress, hash, then publish atomically.

use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;
use tar::{Builder, EntryType, Header};

use super::gzip::Compressor;
use super::hashing::HashingWriter;
use super::layout::{temp_name, temp_pid, top_problem};
use super::links::{SourceRoots, link_target};
use super::{ArchiveEntry, BundleError, BundleInfo, BundleOptions, EntryKind, Reason, display_rel};

/// Mode of every regular file in the archive: troubleshoot's redacted files are 0600, and an
/// archive may leave the machine, so nothing in it should be readable by others on extraction.
const FILE_MODE: u32 = 0o600;
/// Mode of symlink entries (what `lstat` reports on Linux, and what the baseline bundle has).
const SYMLINK_MODE: u32 = 0o777;
/// Read buffer per file: large enough that a 1 GB log takes ~4k read calls, small enough to be flat.
const READ_BUF: usize = 256 * 1024;
/// Output buffer in front of the file.
const WRITE_BUF: usize = 256 * 1024;

/// A source entry that will be archived.
struct Listed {
    /// Path relative to the source root.
    rel: PathBuf,
    /// lstat of the entry at listing time.
    meta: Metadata,
}

/// Archives `source_dir` into `dest` under the single folder `top`; see the module docs.
pub fn write_bundle(
    source_dir: &Path,
    dest: &Path,
    top: &str,
    opts: &BundleOptions,
) -> Result<BundleInfo, BundleError> {
    check_options(top, opts)?;
    let name = dest.file_name().ok_or_else(|| BundleError::InvalidDest {
        dest: dest.to_owned(),
        reason: "it has no file name".into(),
    })?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    // The tree is listed before the temp file exists, so a dest inside the tree never archives
    // its own half-written self.
    let mut skipped = Vec::new();
    let listed = list_sorted(source_dir, &mut skipped)?;

    let temp_path = dir.join(temp_name(name, std::process::id()));
    let write_err = |step: &'static str| {
        let dest = dest.to_owned();
        move |source: io::Error| BundleError::Write { step, dest, source }
    };
    // create_new: never clobber another writer's temp (same dest, same pid, another thread).
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(&temp_path)
        .map_err(write_err("creating"))?;
    let mut guard = TempGuard {
        path: temp_path,
        armed: true,
    };
    // The umask may have removed owner bits from the create mode; the result must be exactly 0600.
    file.set_permissions(fs::Permissions::from_mode(FILE_MODE))
        .map_err(write_err("creating"))?;

    let sink = HashingWriter::new(BufWriter::with_capacity(WRITE_BUF, file));
    let mut builder = Builder::new(Compressor::new(sink, opts));
    let counts = append_all(&mut builder, source_dir, top, &listed, &mut skipped, dest)?;

    let compressor = builder.into_inner().map_err(write_err("writing"))?;
    let sink = compressor.finish().map_err(write_err("writing"))?;
    let (bufw, sha256, size) = sink.finish();
    let file = bufw
        .into_inner()
        .map_err(|e| write_err("writing")(e.into_error()))?;
    // Data must be on disk before the name points at it, or a crash could publish a hole.
    file.sync_all().map_err(write_err("syncing"))?;
    drop(file);
    fs::rename(&guard.path, dest).map_err(write_err("renaming into"))?;
    guard.armed = false;
    // Persist the rename itself. The archive is complete and in place either way, so a
    // directory that refuses fsync (some network filesystems) is not a failure.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }

    Ok(BundleInfo {
        path: dest.to_owned(),
        size,
        sha256,
        files: counts.0,
        symlinks: counts.1,
        skipped,
    })
}

/// Rejects a bad top folder name or compression option before anything is written.
fn check_options(top: &str, opts: &BundleOptions) -> Result<(), BundleError> {
    if let Some(reason) = top_problem(top) {
        return Err(BundleError::InvalidTop {
            top: top.to_owned(),
            reason,
        });
    }
    if opts.compression_level > 9 {
        return Err(BundleError::InvalidOption(format!(
            "compression_level {} is not in 0..=9",
            opts.compression_level
        )));
    }
    if opts.threads == 0 {
        return Err(BundleError::InvalidOption(
            "threads must be at least 1".into(),
        ));
    }
    Ok(())
}

/// Every archivable entry under `source_dir`, in byte order of the relative path.
fn list_sorted(
    source_dir: &Path,
    skipped: &mut Vec<(String, String)>,
) -> Result<Vec<Listed>, BundleError> {
    let root_meta = fs::metadata(source_dir).map_err(|source| BundleError::Source {
        path: source_dir.to_owned(),
        source,
    })?;
    if !root_meta.is_dir() {
        return Err(BundleError::Source {
            path: source_dir.to_owned(),
            source: io::Error::other("not a directory"),
        });
    }
    let mut listed = Vec::new();
    list_dir(source_dir, Path::new(""), &mut listed, skipped)?;
    // Byte order of the whole relative path: the same order `LC_ALL=C sort` gives the names.
    listed.sort_by(|a, b| {
        a.rel
            .as_os_str()
            .as_bytes()
            .cmp(b.rel.as_os_str().as_bytes())
    });
    Ok(listed)
}

/// Appends every listed entry under `top`; returns (files, symlinks) archived.
fn append_all<W: Write>(
    builder: &mut Builder<W>,
    source_dir: &Path,
    top: &str,
    listed: &[Listed],
    skipped: &mut Vec<(String, String)>,
    dest: &Path,
) -> Result<(u64, u64), BundleError> {
    let roots = SourceRoots::new(source_dir);
    let mut counts = (0u64, 0u64);
    for item in listed {
        let name_in_archive = Path::new(top).join(&item.rel);
        if item.meta.file_type().is_symlink() {
            match link_target(&roots, source_dir, &item.rel) {
                Ok(target) => {
                    let mut h = base_header(EntryType::Symlink, SYMLINK_MODE, &item.meta);
                    builder
                        .append_link(&mut h, &name_in_archive, &target)
                        .map_err(|source| BundleError::Write {
                            step: "writing",
                            dest: dest.to_owned(),
                            source,
                        })?;
                    counts.1 += 1;
                }
                Err(reason) => skipped.push((display_rel(&item.rel), reason.to_string())),
            }
        } else {
            let abs = source_dir.join(&item.rel);
            if append_file(builder, &abs, &item.rel, &name_in_archive, skipped, dest)? {
                counts.0 += 1;
            }
        }
    }
    Ok(counts)
}

/// Removes the temp file on every early return (and on unwind), so no half archive survives.
struct TempGuard {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Lists `root/rel` without following symlinks; non-archivable entries go to `skipped`.
fn list_dir(
    root: &Path,
    rel: &Path,
    out: &mut Vec<Listed>,
    skipped: &mut Vec<(String, String)>,
) -> Result<(), BundleError> {
    let dir = root.join(rel);
    let rd = match fs::read_dir(&dir) {
        Ok(rd) => rd,
        // The root must be listable; a sub-folder that is not is reported and left out.
        Err(source) if rel.as_os_str().is_empty() => {
            return Err(BundleError::Source { path: dir, source });
        }
        Err(e) => {
            skipped.push((
                display_rel(rel),
                format!("cannot list directory: {}", Reason(&e)),
            ));
            return Ok(());
        }
    };
    for entry in rd {
        let entry = entry.map_err(|source| BundleError::Source {
            path: dir.clone(),
            source,
        })?;
        let child = rel.join(entry.file_name());
        // DirEntry::metadata is an lstat: symlinks are seen as links, FIFOs are never opened.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) => {
                skipped.push((display_rel(&child), format!("cannot stat: {}", Reason(&e))));
                continue;
            }
        };
        let ft = meta.file_type();
        if ft.is_dir() {
            list_dir(root, &child, out, skipped)?;
        } else if ft.is_file() || ft.is_symlink() {
            out.push(Listed { rel: child, meta });
        } else {
            let what = if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_socket() {
                "a socket"
            } else if ft.is_block_device() {
                "a block device"
            } else if ft.is_char_device() {
                "a character device"
            } else {
                "not a regular file or symlink"
            };
            skipped.push((
                display_rel(&child),
                format!("{what}; only files and symlinks are archived"),
            ));
        }
    }
    Ok(())
}

/// Header with the fields every entry shares: no owner, no names, mtime from the source.
fn base_header(kind: EntryType, mode: u32, meta: &Metadata) -> Header {
    let mut h = Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    // uid/gid 0 and empty user/group names: the archive must not leak host accounts.
    h.set_uid(0);
    h.set_gid(0);
    // Before-1970 mtimes cannot be stored in the unsigned field; clamp rather than fail.
    h.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    h.set_size(0);
    h
}

/// Streams one regular file into the archive. Returns false when it was skipped.
fn append_file<W: Write>(
    builder: &mut Builder<W>,
    abs: &Path,
    rel: &Path,
    name_in_archive: &Path,
    skipped: &mut Vec<(String, String)>,
    dest: &Path,
) -> Result<bool, BundleError> {
    // O_NOFOLLOW: a file swapped for a link after listing is not followed. O_NONBLOCK: a file
    // swapped for a FIFO does not block the open (fstat below then rejects it).
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(abs)
    {
        Ok(f) => f,
        Err(e) => {
            skipped.push((display_rel(rel), format!("cannot open: {}", Reason(&e))));
            return Ok(false);
        }
    };
    let meta = match file.metadata() {
        Ok(m) => m,
        Err(e) => {
            skipped.push((display_rel(rel), format!("cannot stat: {}", Reason(&e))));
            return Ok(false);
        }
    };
    if !meta.is_file() {
        skipped.push((
            display_rel(rel),
            "changed into a non-regular file while archiving".into(),
        ));
        return Ok(false);
    }
    let size = meta.len();
    let mut h = base_header(EntryType::Regular, FILE_MODE, &meta);
    h.set_size(size);
    let mut reader = ExactReader {
        inner: BufReader::with_capacity(READ_BUF, file),
        left: size,
        padded: 0,
        read_error: None,
    };
    if let Err(e) = builder.append_data(&mut h, name_in_archive, &mut reader) {
        // io::copy mixes both sides' errors; the reader remembers its own.
        return Err(match reader.read_error.take() {
            Some(source) => BundleError::Read {
                path: abs.to_owned(),
                source,
            },
            None => BundleError::Write {
                step: "writing",
                dest: dest.to_owned(),
                source: e,
            },
        });
    }
    // The header promised `size` bytes; a file that changed size mid-way is noted, not fatal.
    if reader.padded > 0 {
        skipped.push((
            display_rel(rel),
            format!(
                "shrank while archiving; the last {} bytes are zero padding",
                reader.padded
            ),
        ));
    } else {
        let mut probe = [0u8; 1];
        if matches!(reader.inner.read(&mut probe), Ok(n) if n > 0) {
            skipped.push((
                display_rel(rel),
                format!("grew while archiving; only its first {size} bytes were stored"),
            ));
        }
    }
    Ok(true)
}

/// Yields exactly `left` bytes: the file's, then zeros if it ends early (keeps the tar valid).
struct ExactReader<R> {
    inner: R,
    left: u64,
    padded: u64,
    read_error: Option<io::Error>,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.left)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let n = if self.padded > 0 {
            0
        } else {
            loop {
                match self.inner.read(&mut buf[..want]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        let copy = io::Error::new(e.kind(), e.to_string());
                        self.read_error = Some(e);
                        return Err(copy);
                    }
                }
            }
        };
        if n == 0 {
            buf[..want].fill(0);
            self.padded += want as u64;
            self.left -= want as u64;
            return Ok(want);
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Reads back an archive written by [`write_bundle`] (or any tar.gz, multi-member included).
pub fn list_archive(path: &Path) -> Result<Vec<ArchiveEntry>, BundleError> {
    let err = |source: io::Error| BundleError::Archive {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(err)?;
    let mut archive = tar::Archive::new(MultiGzDecoder::new(BufReader::new(file)));
    let mut out = Vec::new();
    for entry in archive.entries().map_err(err)? {
        let entry = entry.map_err(err)?;
        let h = entry.header();
        let kind = match h.entry_type() {
            EntryType::Regular | EntryType::Continuous => EntryKind::File,
            EntryType::Symlink => EntryKind::Symlink,
            EntryType::Directory => EntryKind::Directory,
            other => EntryKind::Other(other.as_byte()),
        };
        let link_target = entry
            .link_name()
            .map_err(err)?
            .map(|t| t.to_string_lossy().into_owned());
        out.push(ArchiveEntry {
            name: entry.path().map_err(err)?.to_string_lossy().into_owned(),
            kind,
            link_target,
            size: h.size().map_err(err)?,
            mode: h.mode().map_err(err)?,
            uid: h.uid().map_err(err)?,
            gid: h.gid().map_err(err)?,
            user: h.username().ok().flatten().unwrap_or_default().to_owned(),
            group: h.groupname().ok().flatten().unwrap_or_default().to_owned(),
            mtime: h.mtime().map_err(err)?,
        });
    }
    Ok(out)
}

/// Deletes temp archives (`.<name>.tmp-<pid>`) in `dir` whose writing process is gone; returns
/// how many were removed. Temps of live processes (this one included) are left alone.
pub fn remove_stale_temps(dir: &Path) -> io::Result<usize> {
    let mut removed = 0;
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Some(pid) = temp_pid(&entry.file_name()) else {
            continue;
        };
        if pid_alive(pid) || !entry.file_type()?.is_file() {
            continue;
        }
        match fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            // Another cleaner got there first.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Whether a process with this pid exists (signal 0 probes without sending anything).
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // pid 0 would address our own process group, not a process.
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 performs only the existence and permission check.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reader_pads_short_input() {
        let mut r = ExactReader {
            inner: &b"abc"[..],
            left: 5,
            padded: 0,
            read_error: None,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc\0\0");
        assert_eq!(r.padded, 2);
        let mut r = ExactReader {
            inner: &b"abcdef"[..],
            left: 4,
            padded: 0,
            read_error: None,
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abcd");
        assert_eq!(r.padded, 0);
    }

    #[test]
    fn pid_probe() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }
}
