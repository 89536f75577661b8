//! The archive writer: walk, order, stream, compress, hash, then publish atomically.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use tar::{Builder, EntryType, Header};

use super::hashing::HashingWriter;
use super::layout::{temp_name, temp_pid, top_problem};
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
/// Input bytes per gzip member when compressing in parallel. At 1 MiB the dictionary reset at
/// each member boundary costs well under 0.1% of size.
const CHUNK: usize = 1024 * 1024;

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
    let name = dest.file_name().ok_or_else(|| BundleError::InvalidDest {
        dest: dest.to_owned(),
        reason: "it has no file name".into(),
    })?;
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };

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
    let roots = SourceRoots::new(source_dir);

    // The tree is listed before the temp file exists, so a dest inside the tree never archives
    // its own half-written self.
    let mut skipped = Vec::new();
    let mut listed = Vec::new();
    list_dir(source_dir, Path::new(""), &mut listed, &mut skipped)?;
    // Byte order of the whole relative path: the same order `LC_ALL=C sort` gives the names.
    listed.sort_by(|a, b| {
        a.rel
            .as_os_str()
            .as_bytes()
            .cmp(b.rel.as_os_str().as_bytes())
    });

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
    let compressor = Compressor::new(sink, opts);
    let mut builder = Builder::new(compressor);
    let mut counts = (0u64, 0u64);

    for item in &listed {
        let name_in_archive = Path::new(top).join(&item.rel);
        if item.meta.file_type().is_symlink() {
            match link_target(&roots, source_dir, &item.rel) {
                Ok(target) => {
                    let mut h = base_header(EntryType::Symlink, SYMLINK_MODE, &item.meta);
                    builder
                        .append_link(&mut h, &name_in_archive, &target)
                        .map_err(write_err("writing"))?;
                    counts.1 += 1;
                }
                Err(reason) => skipped.push((display_rel(&item.rel), reason)),
            }
        } else {
            let abs = source_dir.join(&item.rel);
            if append_file(
                &mut builder,
                &abs,
                &item.rel,
                &name_in_archive,
                &mut skipped,
                dest,
            )? {
                counts.0 += 1;
            }
        }
    }

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

/// The source root as given (made absolute) and canonical, to recognise absolute links into it.
struct SourceRoots {
    given: Option<PathBuf>,
    canonical: Option<PathBuf>,
}

impl SourceRoots {
    fn new(source: &Path) -> Self {
        Self {
            given: std::path::absolute(source).ok().map(|p| normalize(&p)),
            canonical: fs::canonicalize(source).ok(),
        }
    }

    /// `target` (absolute, normalized) relative to the root, if it is inside it.
    fn inside(&self, target: &Path) -> Option<PathBuf> {
        [&self.given, &self.canonical]
            .into_iter()
            .flatten()
            .find_map(|root| target.strip_prefix(root).ok().map(Path::to_path_buf))
    }
}

/// Lexically removes `.` and resolves `..` (never above the root of an absolute path).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The relative target to store for the symlink at `rel`, or why it is left out.
fn link_target(roots: &SourceRoots, source: &Path, rel: &Path) -> Result<PathBuf, String> {
    let raw =
        fs::read_link(source.join(rel)).map_err(|e| format!("cannot read link: {}", Reason(&e)))?;
    if raw.as_os_str().is_empty() {
        return Err("symlink with an empty target".into());
    }
    let parent: Vec<&OsStr> = rel.parent().map(|p| p.iter().collect()).unwrap_or_default();
    if raw.is_absolute() {
        // Rewrite links into the tree relative; anything else would point at the reader's own
        // machine after extraction, so it is left out rather than followed or stored.
        let inside = roots.inside(&normalize(&raw)).ok_or_else(|| {
            format!(
                "symlink to {} points outside the bundle; not archived",
                raw.display()
            )
        })?;
        let target: Vec<&OsStr> = inside.iter().collect();
        let common = parent
            .iter()
            .zip(&target)
            .take_while(|(a, b)| a == b)
            .count();
        let mut out = PathBuf::new();
        for _ in common..parent.len() {
            out.push("..");
        }
        for c in &target[common..] {
            out.push(c);
        }
        if out.as_os_str().is_empty() {
            out.push(".");
        }
        return Ok(out);
    }
    // A relative target is kept as written if, resolved from the link's folder, it stays inside.
    let mut depth = parent.len();
    for c in raw.components() {
        match c {
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!(
                        "symlink to {} points outside the bundle; not archived",
                        raw.display()
                    )
                })?;
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    Ok(raw)
}

/// gzip in one member on this thread, or parallel members on worker threads.
enum Compressor<W: Write> {
    Single(GzEncoder<W>),
    Parallel(ParallelGz<W>),
}

impl<W: Write + Send + 'static> Compressor<W> {
    fn new(inner: W, opts: &BundleOptions) -> Self {
        let level = Compression::new(opts.compression_level);
        if opts.threads <= 1 {
            Compressor::Single(GzEncoder::new(inner, level))
        } else {
            Compressor::Parallel(ParallelGz::new(inner, level, opts.threads))
        }
    }
}

impl<W: Write> Compressor<W> {
    /// Completes the gzip stream and returns the inner writer (flushed).
    fn finish(self) -> io::Result<W> {
        let mut w = match self {
            Compressor::Single(gz) => gz.finish()?,
            Compressor::Parallel(p) => p.finish()?,
        };
        w.flush()?;
        Ok(w)
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Compressor::Single(gz) => gz.write(buf),
            Compressor::Parallel(p) => p.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Compressor::Single(gz) => gz.flush(),
            Compressor::Parallel(p) => p.flush(),
        }
    }
}

/// A job for a compression worker: sequence number and input chunk.
type Job = (u64, Vec<u8>);
/// A worker's answer: sequence number and one complete gzip member.
type Done = (u64, io::Result<Vec<u8>>);

/// Compresses fixed-size chunks on worker threads into concatenated gzip members, written in
/// order. Memory is bounded: at most `2 * threads` chunks are in flight.
struct ParallelGz<W: Write> {
    inner: Option<W>,
    buf: Vec<u8>,
    next_seq: u64,
    write_seq: u64,
    pending: BTreeMap<u64, Vec<u8>>,
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    max_in_flight: u64,
}

impl<W: Write> ParallelGz<W> {
    fn new(inner: W, level: Compression, threads: usize) -> Self {
        let (job_tx, job_rx) = mpsc::sync_channel::<Job>(threads);
        let job_rx = Arc::new(Mutex::new(job_rx));
        // Unbounded: a worker never blocks on a result, so dropping us can always end them.
        let (done_tx, done_rx) = mpsc::channel::<Done>();
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&job_rx);
                let tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        // Hold the lock only to take a job, not while compressing.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        let Ok((seq, data)) = job else { return };
                        let mut gz = GzEncoder::new(Vec::with_capacity(data.len() / 3 + 64), level);
                        let member = gz.write_all(&data).and_then(|()| gz.finish());
                        if tx.send((seq, member)).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self {
            inner: Some(inner),
            buf: Vec::with_capacity(CHUNK),
            next_seq: 0,
            write_seq: 0,
            pending: BTreeMap::new(),
            jobs: Some(job_tx),
            results: done_rx,
            workers,
            max_in_flight: 2 * threads as u64,
        }
    }

    /// Hands the buffered chunk to the workers, first draining results if too many are in flight.
    fn dispatch(&mut self) -> io::Result<()> {
        while self.next_seq - self.write_seq >= self.max_in_flight {
            self.collect_one()?;
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        tx.send((self.next_seq, data))
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.next_seq += 1;
        Ok(())
    }

    /// Waits for one result and writes out every member that is now next in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, member) = self
            .results
            .recv()
            .map_err(|_| io::Error::other("compression worker stopped"))?;
        self.pending.insert(seq, member?);
        let inner = self
            .inner
            .as_mut()
            .ok_or_else(|| io::Error::other("compressor already finished"))?;
        while let Some(member) = self.pending.remove(&self.write_seq) {
            inner.write_all(&member)?;
            self.write_seq += 1;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<W> {
        // An empty input still needs one (empty) member to be a gzip stream.
        if !self.buf.is_empty() || self.next_seq == 0 {
            self.dispatch()?;
        }
        self.jobs = None;
        while self.write_seq < self.next_seq {
            self.collect_one()?;
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.inner
            .take()
            .ok_or_else(|| io::Error::other("compressor already finished"))
    }
}

impl<W: Write> Write for ParallelGz<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = room.min(buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        if self.buf.len() >= CHUNK {
            self.dispatch()?;
        }
        Ok(n)
    }

    /// Members are only complete once compressed; flushing the inner writer is all we can do.
    fn flush(&mut self) -> io::Result<()> {
        match self.inner.as_mut() {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl<W: Write> Drop for ParallelGz<W> {
    /// Ends the workers: closing the job channel makes each finish its chunk and exit.
    fn drop(&mut self) {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
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
    use flate2::read::GzDecoder;

    fn roots(p: &Path) -> SourceRoots {
        SourceRoots::new(p)
    }

    #[test]
    fn relative_links_inside_are_kept_and_escaping_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink("../x/y.log", root.join("a/ok")).unwrap();
        std::os::unix::fs::symlink("../../etc/passwd", root.join("a/bad")).unwrap();
        std::os::unix::fs::symlink("b/../../z", root.join("a/edge")).unwrap();
        let r = roots(root);
        assert_eq!(
            link_target(&r, root, Path::new("a/ok")).unwrap(),
            Path::new("../x/y.log")
        );
        assert!(
            link_target(&r, root, Path::new("a/bad"))
                .unwrap_err()
                .contains("outside")
        );
        assert_eq!(
            link_target(&r, root, Path::new("a/edge")).unwrap(),
            Path::new("b/../../z")
        );
    }

    #[test]
    fn absolute_links_inside_become_relative() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink(root.join("c/d.log"), root.join("a/b/l1")).unwrap();
        std::os::unix::fs::symlink(root.join("a/./b/../f"), root.join("a/l2")).unwrap();
        std::os::unix::fs::symlink(root, root.join("a/l3")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("a/l4")).unwrap();
        let r = roots(root);
        assert_eq!(
            link_target(&r, root, Path::new("a/b/l1")).unwrap(),
            Path::new("../../c/d.log")
        );
        assert_eq!(
            link_target(&r, root, Path::new("a/l2")).unwrap(),
            Path::new("f")
        );
        assert_eq!(
            link_target(&r, root, Path::new("a/l3")).unwrap(),
            Path::new("..")
        );
        assert!(
            link_target(&r, root, Path::new("a/l4"))
                .unwrap_err()
                .contains("/etc/hostname")
        );
    }

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

    /// Deterministic, mildly compressible bytes.
    fn sample(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 3 == 0 {
                    b'a' + (x % 26) as u8
                } else {
                    b"log line "[i % 9]
                }
            })
            .collect()
    }

    fn decode_all(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn parallel_members_concatenate_to_the_input() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123] {
            let data = sample(len);
            let mut p = ParallelGz::new(Vec::new(), Compression::new(6), 2);
            // Odd write sizes cross chunk boundaries.
            for part in data.chunks(77_777) {
                p.write_all(part).unwrap();
            }
            let out = p.finish().unwrap();
            assert_eq!(decode_all(&out), data, "len {len}");
            // An empty input is still a valid (single, empty) gzip member.
            if len == 0 {
                let mut s = Vec::new();
                GzDecoder::new(&out[..]).read_to_end(&mut s).unwrap();
                assert!(s.is_empty());
            }
        }
    }

    #[test]
    fn parallel_error_from_the_sink_is_reported_and_workers_end() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut p = ParallelGz::new(Full, Compression::new(1), 2);
        let data = sample(8 * CHUNK);
        let res = p.write_all(&data).and_then(|()| p.finish().map(|_| ()));
        let err = res.unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENOSPC));
    }

    #[test]
    fn pid_probe() {
        assert!(pid_alive(std::process::id()));
        assert!(!pid_alive(0));
        assert!(!pid_alive(u32::MAX));
    }
}
