//! `copy` (host): copies files and directories matched by a glob into `<collectorName|copy>/`.

use super::{Ctx, Error};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncReadExt;

/// Deeper trees than this are cut off (a safety net; symlinks are never followed in recursion,
/// so loops cannot happen, but bind mounts and /proc can be very deep).
const MAX_DEPTH: usize = 64;

/// The `copy` host collector.
pub async fn copy(ctx: &Ctx<'_>) -> Result<(), Error> {
    let name = ctx.name.unwrap_or("copy");
    let pattern = ctx.required("path")?;
    let paths = glob::glob(pattern)
        .map_err(|e| Error::Spec(format!("`path` {pattern:?} is not a valid glob: {e}")))?;
    let mut notes = Vec::new();
    let mut matched = 0usize;
    for item in paths {
        if ctx.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let path = match item {
            Ok(p) => p,
            // Unreadable directories met while expanding the glob.
            Err(e) => {
                notes.push(format!("{}: {}", e.path().display(), e.error()));
                continue;
            }
        };
        matched += 1;
        let base = path
            .file_name()
            .map_or_else(|| "root".to_string(), |b| b.to_string_lossy().into_owned());
        let dest = vec![super::sanitize_component(name), base];
        // The matched path itself is followed when it is a symlink (e.g. /etc/resolv.conf); a
        // symlink loop fails here with ELOOP instead of hanging.
        match tokio::fs::metadata(&path).await {
            Ok(md) if md.is_dir() => copy_tree(ctx, &path, &dest, &mut notes).await?,
            Ok(md) if md.is_file() => copy_file(ctx, &path, &dest, true, &mut notes).await?,
            Ok(md) => notes.push(skip_note(&path, md.file_type())),
            Err(e) => notes.push(format!("{}: {e}", path.display())),
        }
    }
    if matched == 0 && notes.is_empty() {
        return Err(Error::Other(format!("no files matched {pattern}")));
    }
    if !notes.is_empty() {
        let dir = super::sanitize_component(name);
        // Two copy collectors may share a name (host/default.yaml's `syslog`): keep both lists.
        let text = super::output::go_json(&notes, None)?;
        ctx.out
            .write_new(&[dir.as_str()], "errors", ".json", text.as_bytes())
            .await?;
    }
    Ok(())
}

fn skip_note(path: &Path, ft: std::fs::FileType) -> String {
    let what = if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_block_device() || ft.is_char_device() {
        "a device"
    } else if ft.is_symlink() {
        "a symlink (not followed inside directories)"
    } else {
        "not a regular file"
    };
    format!("{}: skipped: {what}", path.display())
}

/// Copies the contents of `src` (a directory) into `dest` (bundle-relative components), never
/// following symlinks and skipping FIFOs, sockets and devices with a note. Per-file problems go to
/// `notes`; only failures to write the bundle are errors.
pub async fn copy_tree(
    ctx: &Ctx<'_>,
    src: &Path,
    dest: &[String],
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let mut stack: Vec<(PathBuf, Vec<String>, usize)> = vec![(src.to_path_buf(), dest.to_vec(), 0)];
    while let Some((dir, dest, depth)) = stack.pop() {
        if ctx.cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if depth > MAX_DEPTH {
            notes.push(format!(
                "{}: skipped: deeper than {MAX_DEPTH} levels",
                dir.display()
            ));
            continue;
        }
        let mut rd = match tokio::fs::read_dir(&dir).await {
            Ok(rd) => rd,
            Err(e) => {
                notes.push(format!("{}: {e}", dir.display()));
                continue;
            }
        };
        let mut any = false;
        loop {
            let entry = match rd.next_entry().await {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    notes.push(format!("{}: {e}", dir.display()));
                    break;
                }
            };
            any = true;
            let path = entry.path();
            let mut child_dest = dest.clone();
            child_dest.push(entry.file_name().to_string_lossy().into_owned());
            match entry.file_type().await {
                Ok(ft) if ft.is_dir() => stack.push((path, child_dest, depth + 1)),
                Ok(ft) if ft.is_file() => copy_file(ctx, &path, &child_dest, false, notes).await?,
                Ok(ft) => notes.push(skip_note(&path, ft)),
                Err(e) => notes.push(format!("{}: {e}", path.display())),
            }
        }
        if !any {
            // Keep empty directories visible in the staging tree (the archive stores files only).
            let refs: Vec<&str> = dest.iter().map(String::as_str).collect();
            let (abs, _) = ctx.out.prepare(&refs).await?;
            tokio::fs::create_dir_all(&abs)
                .await
                .map_err(|e| Error::io(format!("create {}", abs.display()), e))?;
        }
    }
    Ok(())
}

/// Streams one regular file into the bundle with the size cap. Opens with `O_NONBLOCK` (and
/// `O_NOFOLLOW` unless `follow`), then re-checks the opened file is regular, so a path swapped for
/// a FIFO after the directory listing can never block us. Reads to EOF rather than trusting
/// `st_size`, which is 0 for /proc files.
async fn copy_file(
    ctx: &Ctx<'_>,
    src: &Path,
    dest: &[String],
    follow: bool,
    notes: &mut Vec<String>,
) -> Result<(), Error> {
    let mut flags = libc::O_NONBLOCK;
    if !follow {
        flags |= libc::O_NOFOLLOW;
    }
    let file = match tokio::fs::OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(src)
        .await
    {
        Ok(f) => f,
        Err(e) => {
            notes.push(format!("{}: {e}", src.display()));
            return Ok(());
        }
    };
    match file.metadata().await {
        Ok(md) if md.is_file() => {}
        Ok(md) => {
            notes.push(skip_note(src, md.file_type()));
            return Ok(());
        }
        Err(e) => {
            notes.push(format!("{}: {e}", src.display()));
            return Ok(());
        }
    }
    let refs: Vec<&str> = dest.iter().map(String::as_str).collect();
    let (abs, rel) = ctx.out.prepare(&refs).await?;
    let mut out = tokio::fs::File::create(&abs)
        .await
        .map_err(|e| Error::io(format!("create {}", abs.display()), e))?;
    let cap = ctx.opts.copy_size_cap;
    let mut limited = file.take(cap);
    let copied = tokio::io::copy(&mut limited, &mut out).await;
    // The file is recorded even on a read error: what was read so far is useful evidence.
    ctx.out.record(rel);
    match copied {
        Ok(n) if n == cap => {
            let mut file = limited.into_inner();
            let mut probe = [0u8; 1];
            if matches!(file.read(&mut probe).await, Ok(1)) {
                notes.push(format!(
                    "{}: truncated at {cap} bytes (copy size cap)",
                    src.display()
                ));
            }
        }
        Ok(_) => {}
        Err(e) => notes.push(format!("{}: {e}", src.display())),
    }
    Ok(())
}
