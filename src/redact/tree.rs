//! In-place redaction of a bundle directory.
//!
//! - Every regular file under the root is redacted into a temp file in the same directory, which then
//!   replaces it by rename (atomic; a crash never leaves a half-redacted file under the real name).
//!   Files end with mode 0600.
//! - Symlinks are not followed: a link into the tree has its target redacted as a file anyway, and a
//!   link out of the tree must not make us rewrite files outside the bundle.
//! - `.tar`, `.tgz` and `.tar.gz` files are redacted recursively: entries are streamed through the tar
//!   crate, each regular entry redacted (archives inside archives too) into an unlinked spool file, and
//!   repacked with its original header and the new size. Paths inside an archive are reported, and
//!   matched by `fileSelector`, as `<archive path>/<entry path>`. Gzip is detected by its magic bytes.
//!   An archive that cannot be read is an error: passing it through could leak what it holds.
//! - Files run in parallel on at most `parallel` threads.

use super::engine::{Counts, redact_stream_with};
use super::tokenize::Tokenizer;
use super::{Compiled, RedactError};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Redaction counts for the run record: per file (only files with something to report) and totals.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Files with at least one redaction or warning, sorted by path.
    pub files: Vec<FileCounts>,
    /// Replacements per redaction name over all files.
    pub totals: BTreeMap<String, u64>,
}

/// Counts for one bundle-relative file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileCounts {
    /// Bundle-relative path (`archive.tar.gz/inner/path` inside archives).
    pub path: String,
    /// Replacements per redaction name.
    pub by_redactor: BTreeMap<String, u64>,
    /// Lines over 10 MiB that were redacted in windows.
    #[serde(skip_serializing_if = "is_zero")]
    pub oversized_lines: u64,
}

/// Serde helper: omit zero warnings.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Read and write buffer per file: large enough that the engine's skip-ahead search sees many lines.
const READ_BUF: usize = 256 * 1024;

/// Unique suffix for temp and spool files of this process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Redacts every regular file under `root` in place with `parallel` threads (at least one).
pub fn redact_tree(root: &Path, rules: &Compiled, parallel: usize) -> Result<Report, RedactError> {
    redact_tree_with(root, rules, parallel, None)
}

/// [`redact_tree`], replacing masked values with tokens from `tok` when given (archives included).
pub fn redact_tree_with(
    root: &Path,
    rules: &Compiled,
    parallel: usize,
    tok: Option<&Tokenizer>,
) -> Result<Report, RedactError> {
    if !root.is_dir() {
        return Err(RedactError::NotADirectory(root.to_path_buf()));
    }
    let mut files = Vec::new();
    walk(root, "", &mut files)?;
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<FileCounts>> = Mutex::new(Vec::new());
    let errors: Mutex<Vec<RedactError>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, files.len().max(1)) {
            s.spawn(|| {
                let mut mine = Vec::new();
                // Stop taking work after a failure; files already done stay redacted.
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((abs, rel)) = files.get(i) else {
                        break;
                    };
                    if let Err(e) = redact_file(abs, rel, rules, tok, &mut mine) {
                        failed.store(true, Ordering::Relaxed);
                        errors.lock().unwrap_or_else(|p| p.into_inner()).push(e);
                    }
                }
                results
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .extend(mine);
            });
        }
    });
    if let Some(e) = errors
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .next()
    {
        return Err(e);
    }
    let mut files = results.into_inner().unwrap_or_else(|p| p.into_inner());
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let mut totals = BTreeMap::new();
    for f in &files {
        for (name, n) in &f.by_redactor {
            *totals.entry(name.clone()).or_insert(0) += n;
        }
    }
    Ok(Report { files, totals })
}

/// Collects regular files (absolute, bundle-relative with `/`), skipping symlinks.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(PathBuf, String)>) -> Result<(), RedactError> {
    let io = |e| RedactError::io(if rel.is_empty() { "." } else { rel }, e);
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io)?
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let child_rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ty = entry
            .file_type()
            .map_err(|e| RedactError::io(&child_rel, e))?;
        if ty.is_dir() {
            walk(&entry.path(), &child_rel, out)?;
        } else if ty.is_file() {
            out.push((entry.path(), child_rel));
        }
        // Symlinks, sockets, fifos and devices are left alone.
    }
    Ok(())
}

/// True for names redacted as archives.
fn is_archive(rel: &str) -> bool {
    let lower = rel.to_ascii_lowercase();
    lower.ends_with(".tar") || lower.ends_with(".tgz") || lower.ends_with(".tar.gz")
}

/// A new 0600 file next to `near`, created exclusively so it never clobbers anything.
fn temp_beside(near: &Path, tag: &str) -> std::io::Result<(File, PathBuf)> {
    let dir = near.parent().unwrap_or(Path::new("."));
    let base = near
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    loop {
        let seq = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!(".{base}.{tag}.{}.{seq}", std::process::id()));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// An anonymous spool file (created beside `near`, unlinked at once).
fn spool_beside(near: &Path) -> std::io::Result<File> {
    let (f, path) = temp_beside(near, "spool")?;
    fs::remove_file(&path)?;
    Ok(f)
}

/// Redacts one file in place and appends its counts (and those of archive entries) to `out`.
fn redact_file(
    abs: &Path,
    rel: &str,
    rules: &Compiled,
    tok: Option<&Tokenizer>,
    out: &mut Vec<FileCounts>,
) -> Result<(), RedactError> {
    let io = |e| RedactError::io(rel, e);
    let input = File::open(abs).map_err(io)?;
    let (tmp, tmp_path) = temp_beside(abs, "redact").map_err(io)?;
    let result = (|| {
        let mut writer = BufWriter::with_capacity(READ_BUF, tmp);
        let changed = if is_archive(rel) {
            redact_archive(
                BufReader::with_capacity(READ_BUF, input),
                &mut writer,
                rel,
                abs,
                rules,
                tok,
                out,
            )?;
            true
        } else {
            let mut counts = Counts::default();
            redact_stream_with(
                BufReader::with_capacity(READ_BUF, input),
                &mut writer,
                rules,
                rel,
                &mut counts,
                tok,
            )?;
            let changed = counts.total() > 0;
            push_counts(out, rel, counts);
            changed
        };
        writer.flush().map_err(io)?;
        Ok::<bool, RedactError>(changed)
    })();
    match result {
        Ok(true) => fs::rename(&tmp_path, abs).map_err(io),
        Ok(false) => {
            // Nothing changed: keep the original bytes (and inode), just tighten the mode.
            fs::remove_file(&tmp_path).map_err(io)?;
            fs::set_permissions(abs, fs::Permissions::from_mode(0o600)).map_err(io)
        }
        Err(e) => {
            // Best effort: the error being returned matters more than a leftover temp file.
            let _ = fs::remove_file(&tmp_path);
            Err(e)
        }
    }
}

/// Records a file's counts when there is anything to report.
fn push_counts(out: &mut Vec<FileCounts>, path: &str, counts: Counts) {
    if counts.total() > 0 || counts.oversized_lines > 0 {
        out.push(FileCounts {
            path: path.to_string(),
            by_redactor: counts.by_redactor,
            oversized_lines: counts.oversized_lines,
        });
    }
}

/// Tar output, gzip-compressed or not, finishable either way.
enum ArchiveOut<W: Write> {
    Plain(W),
    // Boxed: the encoder's state is large and lives once per archive.
    Gz(Box<GzEncoder<W>>),
}

impl<W: Write> Write for ArchiveOut<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ArchiveOut::Plain(w) => w.write(buf),
            ArchiveOut::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ArchiveOut::Plain(w) => w.flush(),
            ArchiveOut::Gz(w) => w.flush(),
        }
    }
}

impl<W: Write> ArchiveOut<W> {
    /// Writes the gzip trailer when compressing.
    fn finish(self) -> std::io::Result<W> {
        match self {
            ArchiveOut::Plain(w) => Ok(w),
            ArchiveOut::Gz(w) => w.finish(),
        }
    }
}

/// Redacts a tar stream (gzip detected by magic) into `output`, entry by entry.
fn redact_archive(
    mut input: impl BufRead,
    output: impl Write,
    rel: &str,
    spool_near: &Path,
    rules: &Compiled,
    tok: Option<&Tokenizer>,
    out: &mut Vec<FileCounts>,
) -> Result<(), RedactError> {
    let bad = |reason: String| RedactError::Archive {
        path: rel.to_string(),
        reason,
    };
    let gz = input
        .fill_buf()
        .map_err(|e| bad(e.to_string()))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gz {
        Box::new(GzDecoder::new(input))
    } else {
        Box::new(input)
    };
    let sink = if gz {
        ArchiveOut::Gz(Box::new(GzEncoder::new(output, Compression::default())))
    } else {
        ArchiveOut::Plain(output)
    };
    let mut archive = tar::Archive::new(reader);
    let mut builder = tar::Builder::new(sink);
    let entries = archive.entries().map_err(|e| bad(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(e.to_string()))?;
        let entry_path = entry.path().map_err(|e| bad(e.to_string()))?.into_owned();
        let inner = format!(
            "{rel}/{}",
            entry_path.to_string_lossy().trim_start_matches("./")
        );
        let mut header = entry.header().clone();
        let kind = header.entry_type();
        if kind.is_file() {
            let mut spool = spool_beside(spool_near).map_err(|e| RedactError::io(&inner, e))?;
            {
                let mut w = BufWriter::new(&mut spool);
                if is_archive(&inner) {
                    redact_archive(
                        BufReader::new(&mut entry),
                        &mut w,
                        &inner,
                        spool_near,
                        rules,
                        tok,
                        out,
                    )?;
                } else {
                    let mut counts = Counts::default();
                    redact_stream_with(
                        BufReader::new(&mut entry),
                        &mut w,
                        rules,
                        &inner,
                        &mut counts,
                        tok,
                    )?;
                    push_counts(out, &inner, counts);
                }
                w.flush().map_err(|e| RedactError::io(&inner, e))?;
            }
            let size = spool
                .seek(SeekFrom::End(0))
                .and_then(|n| spool.seek(SeekFrom::Start(0)).map(|_| n))
                .map_err(|e| RedactError::io(&inner, e))?;
            header.set_size(size);
            builder
                .append_data(&mut header, &entry_path, &mut spool)
                .map_err(|e| bad(e.to_string()))?;
        } else if kind.is_symlink() || kind.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(|e| bad(e.to_string()))?
                .ok_or_else(|| bad(format!("{inner}: link without a target")))?
                .into_owned();
            builder
                .append_link(&mut header, &entry_path, &target)
                .map_err(|e| bad(e.to_string()))?;
        } else {
            // Directories, devices, fifos: header and whatever data they carry, unchanged.
            builder
                .append_data(&mut header, &entry_path, &mut entry)
                .map_err(|e| bad(e.to_string()))?;
        }
    }
    let sink = builder.into_inner().map_err(|e| bad(e.to_string()))?;
    let mut inner = sink.finish().map_err(|e| bad(e.to_string()))?;
    inner.flush().map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::MASK;

    #[test]
    fn archive_names() {
        assert!(is_archive("a/b.tar"));
        assert!(is_archive("a/b.TGZ"));
        assert!(is_archive("b.tar.gz"));
        assert!(!is_archive("b.gz"));
        assert!(!is_archive("b.tarx"));
    }

    #[test]
    fn tree_redacts_in_place_and_skips_symlinks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::write(root.join("sub/a.txt"), "Pwd=hunter2;\n").expect("write");
        fs::write(root.join("clean.txt"), "nothing here\n").expect("write");
        let outside = tempfile::tempdir().expect("tempdir");
        fs::write(outside.path().join("o.txt"), "Pwd=outside;\n").expect("write");
        std::os::unix::fs::symlink(outside.path().join("o.txt"), root.join("link.txt"))
            .expect("link");
        let rules = Compiled::defaults().expect("defaults");
        let report = redact_tree(root, &rules, 4).expect("redacts");
        assert_eq!(
            fs::read_to_string(root.join("sub/a.txt")).expect("read"),
            format!("Pwd={MASK};\n")
        );
        assert_eq!(
            fs::read_to_string(outside.path().join("o.txt")).expect("read"),
            "Pwd=outside;\n"
        );
        assert_eq!(report.files.len(), 1);
        assert_eq!(report.files[0].path, "sub/a.txt");
        let mode = fs::metadata(root.join("sub/a.txt"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        let mode = fs::metadata(root.join("clean.txt"))
            .expect("meta")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(root.join("sub"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.txt")]);
    }

    #[test]
    fn unreadable_archive_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("x.tar.gz"), b"\x1f\x8bnot really gzip").expect("write");
        let rules = Compiled::defaults().expect("defaults");
        let err = redact_tree(dir.path(), &rules, 1).expect_err("fails");
        assert!(matches!(err, RedactError::Archive { .. }), "{err:?}");
        assert_eq!(
            fs::read(dir.path().join("x.tar.gz")).expect("read"),
            b"\x1f\x8bnot really gzip"
        );
    }
}
