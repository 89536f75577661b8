//! Unpacking a `copy`'s tar stream: regular files and folders only, under the copy's folder and
//! never outside it (absolute names and `..` refused, links not created, no symlink followed),
//! within a byte cap. Blocking code: the caller runs it on a blocking thread.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Writes the tar stream as `archive.tar` under `dest` (a fresh file: an existing symlink there
/// is replaced, never followed), at most `cap` bytes.
pub(super) fn keep_archive(mut reader: impl Read, dest: &Path, cap: u64) -> Extracted {
    let mut out = Extracted::default();
    let target = dest.join("archive.tar");
    let written = std::fs::create_dir_all(dest)
        .and_then(|()| match std::fs::remove_file(&target) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .and_then(|()| {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&target)?;
            std::io::copy(&mut (&mut reader).take(cap), &mut file)
        });
    match written {
        Ok(n) => {
            out.files.push("archive.tar".into());
            if n >= cap && reader.read(&mut [0u8; 1]).is_ok_and(|m| m > 0) {
                out.problems.push(format!(
                    "archive.tar: stopped at the copy size cap of {cap} bytes"
                ));
            }
        }
        Err(e) => out.problems.push(format!("{}: {e}", target.display())),
    }
    out
}

/// What unpacking an archive gave.
#[derive(Debug, Default)]
pub struct Extracted {
    /// Files written, relative to the destination.
    pub files: Vec<String>,
    /// Entries refused or skipped, and read errors, worded for the errors file.
    pub problems: Vec<String>,
}

/// Unpacks the tar stream `reader` under `dest`: regular files and folders only, no entry outside
/// `dest` (absolute paths and `..` are refused, links are not created, no existing symlink is
/// followed), at most `cap` bytes of file data in all.
pub fn extract(reader: impl Read, dest: &Path, cap: u64) -> Extracted {
    let mut out = Extracted::default();
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => {
            out.problems.push(format!("reading the archive: {e}"));
            return out;
        }
    };
    let mut total = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.problems.push(format!("reading the archive: {e}"));
                break;
            }
        };
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let parts = match entry_parts(&raw) {
            Ok(p) => p,
            Err(why) => {
                out.problems.push(format!("refused {raw:?}: {why}"));
                continue;
            }
        };
        if parts.is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        let target = parts.iter().fold(dest.to_path_buf(), |p, c| p.join(c));
        let rel = parts.join("/");
        if kind.is_dir() {
            if let Err(e) = safe_create_dirs(dest, &parts) {
                out.problems.push(format!("{rel}: {e}"));
            }
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            let link = entry
                .link_name_bytes()
                .map(|l| String::from_utf8_lossy(&l).into_owned())
                .unwrap_or_default();
            out.problems.push(format!(
                "refused {raw:?}: a link (to {link:?}); links are not copied"
            ));
            continue;
        }
        if !(kind.is_file() || kind == tar::EntryType::Continuous) {
            out.problems
                .push(format!("skipped {raw:?}: not a regular file ({kind:?})"));
            continue;
        }
        if let Err(e) = safe_create_dirs(dest, &parts[..parts.len() - 1]) {
            out.problems.push(format!("{rel}: {e}"));
            continue;
        }
        let remaining = cap.saturating_sub(total);
        match write_entry(&mut entry, &target, remaining) {
            Ok((n, complete)) => {
                total += n;
                out.files.push(rel.clone());
                if !complete {
                    out.problems.push(format!(
                        "{rel}: truncated: the copy size cap of {cap} bytes was reached; the rest of the archive was not read"
                    ));
                    break;
                }
            }
            Err(e) => out.problems.push(format!("{rel}: {e}")),
        }
    }
    out
}

/// Why an archive entry name is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum Refused {
    #[error("an absolute path")]
    Absolute,
    #[error("a path leaving the copy's folder")]
    Leaves,
    #[error("a NUL in the name")]
    Nul,
}

/// The components of an archive entry name, or why it is refused.
fn entry_parts(raw: &str) -> Result<Vec<String>, Refused> {
    if raw.starts_with('/') {
        return Err(Refused::Absolute);
    }
    let mut parts = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(Refused::Leaves),
            c if c.contains('\0') => return Err(Refused::Nul),
            c => parts.push(c.to_string()),
        }
    }
    Ok(parts)
}

/// Creates `dest/parts...`, refusing to go through anything that is not a real folder.
fn safe_create_dirs(dest: &Path, parts: &[String]) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    let mut p: PathBuf = dest.to_path_buf();
    for c in parts {
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(md) if md.is_dir() => {}
            Ok(_) => {
                return Err(std::io::Error::other(format!(
                    "{} exists and is not a folder",
                    p.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir(&p)?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes one file entry (never through a symlink); returns the bytes written and whether the
/// whole entry fit under `cap`.
fn write_entry(entry: &mut impl Read, target: &Path, cap: u64) -> std::io::Result<(u64, bool)> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(target)?;
    let mut limited = entry.take(cap);
    let n = std::io::copy(&mut limited, &mut file)?;
    if n < cap {
        return Ok((n, true));
    }
    let mut probe = [0u8; 1];
    let more = limited.into_inner().read(&mut probe)?;
    Ok((n, more == 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_names_leaving_the_folder_are_refused() {
        assert_eq!(entry_parts("./a/b.txt").expect("ok"), ["a", "b.txt"]);
        assert_eq!(entry_parts("/etc/passwd"), Err(Refused::Absolute));
        assert_eq!(entry_parts("a/../../x"), Err(Refused::Leaves));
        assert_eq!(entry_parts(".."), Err(Refused::Leaves));
    }
}
