//! Read-only views of a bundle: a staged directory, or a `.tar.gz` archive.
//!
//! Analyzers see bundle-relative paths with `/` separators (`cluster-resources/nodes.json`) and
//! never the file system. Symlinks inside a bundle (the `logs` collector links into
//! `cluster-resources/pods/logs/`) are followed only while they stay inside the bundle: a link
//! that climbs out, or is absolute, reads as missing, so a collected link can never make the
//! agent (root) read a file outside the bundle into `analysis.json`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Why a bundle file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    /// No such file in the bundle (or a link that leaves it).
    #[error("{0}: file not found in the bundle")]
    NotFound(String),
    /// The bundle could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The bundle-relative path, or the bundle itself.
        path: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A glob that does not compile.
    #[error("invalid file pattern {pattern:?}: {message}")]
    Pattern {
        /// The glob as written.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ViewError {
    /// Whether the file is simply absent.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ViewError::NotFound(_))
    }
}

/// A read-only bundle.
pub trait BundleView: Send + Sync {
    /// The bytes of the file at `path` (bundle-relative, `/`-separated).
    fn read(&self, path: &str) -> Result<Vec<u8>, ViewError>;
    /// Every file path of the bundle (links to files included), sorted.
    fn paths(&self) -> Result<&[String], ViewError>;

    /// The paths matching `pattern` (Go `filepath.Glob` rules: `*` and `?` never match `/`),
    /// sorted.
    fn glob(&self, pattern: &str) -> Result<Vec<String>, ViewError> {
        let (compiled, head) = compile_glob(pattern)?;
        Ok(starting_with(self.paths()?, head)
            .iter()
            .filter(|p| compiled.matches_with(p, GLOB_OPTIONS))
            .cloned()
            .collect())
    }

    /// The directories (bundle-relative, the parents of [`BundleView::paths`]) matching
    /// `pattern`, sorted. troubleshoot reads every path its glob matches, and a directory fails
    /// that read: an analyzer whose pattern reaches a directory ends in an error there.
    fn glob_dirs(&self, pattern: &str) -> Result<Vec<String>, ViewError> {
        let (compiled, head) = compile_glob(pattern)?;
        // A matching directory starts with the head, and so do the paths below it.
        let mut dirs = std::collections::BTreeSet::new();
        for path in starting_with(self.paths()?, head) {
            let mut end = path.len();
            while let Some(slash) = path[..end].rfind('/') {
                if !dirs.insert(&path[..slash]) {
                    break;
                }
                end = slash;
            }
        }
        Ok(dirs
            .into_iter()
            .filter(|d| compiled.matches_with(d, GLOB_OPTIONS))
            .map(str::to_string)
            .collect())
    }
}

/// Go's `filepath.Glob` semantics: `*` and `?` never match `/`; a leading dot is not special.
const GLOB_OPTIONS: glob::MatchOptions = glob::MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

/// `pattern` (a leading `/` ignored) compiled, with its literal head (the text before its first
/// wildcard).
fn compile_glob(pattern: &str) -> Result<(glob::Pattern, &str), ViewError> {
    let pattern = pattern.trim_start_matches('/');
    let compiled = glob::Pattern::new(pattern).map_err(|e| ViewError::Pattern {
        pattern: pattern.to_string(),
        message: e.msg.to_string(),
    })?;
    let head = &pattern[..pattern.find(['*', '?', '[']).unwrap_or(pattern.len())];
    Ok((compiled, head))
}

/// The run of the sorted `paths` that start with `head`, found by binary search: only those can
/// match a pattern with that literal head, and a spec with an analyzer per deployment globs
/// thousands of times over a bundle of thousands of files.
fn starting_with<'a>(paths: &'a [String], head: &str) -> &'a [String] {
    let start = paths.partition_point(|p| p.as_str() < head);
    let len = paths[start..].partition_point(|p| p.starts_with(head));
    &paths[start..start + len]
}

/// Joins `rel` onto the directory of `from` and normalises `.`/`..`; `None` when it leaves the
/// bundle.
fn resolve_relative(from: &str, target: &str) -> Option<String> {
    if target.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = from.split('/').collect();
    parts.pop();
    for seg in target.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Splits a bundle-relative path into clean segments; `None` for `..` or an empty path.
fn clean(path: &str) -> Option<Vec<&str>> {
    let segs: Vec<&str> = path
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    if segs.is_empty() || segs.contains(&"..") {
        return None;
    }
    Some(segs)
}

/// Links followed per lookup before giving up (a loop).
const MAX_LINKS: usize = 40;

/// A bundle staged as a directory tree.
#[derive(Debug)]
pub struct DirView {
    root: PathBuf,
    paths: OnceLock<Result<Vec<String>, WalkError>>,
}

impl DirView {
    /// A view of the bundle whose root is `root` (the directory holding `version.yaml`).
    pub fn new(root: &Path) -> DirView {
        DirView {
            root: root.to_path_buf(),
            paths: OnceLock::new(),
        }
    }

    /// A view of an extracted bundle: `dir` itself when it holds `version.yaml`, else its first
    /// sub-directory (as troubleshoot finds the root).
    pub fn open(dir: &Path) -> Result<DirView, ViewError> {
        if dir.join("version.yaml").is_file() {
            return Ok(DirView::new(dir));
        }
        let io_err = |source| ViewError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io_err)?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        subdirs.sort();
        Ok(DirView::new(subdirs.first().map_or(dir, PathBuf::as_path)))
    }

    /// Resolves `path` to a file path inside the root, following links that stay inside.
    fn locate(&self, path: &str) -> Result<PathBuf, ViewError> {
        let not_found = || ViewError::NotFound(path.to_string());
        let mut pending: Vec<String> = clean(path)
            .ok_or_else(not_found)?
            .into_iter()
            .rev()
            .map(str::to_string)
            .collect();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(seg) = pending.pop() {
            if seg == ".." {
                done.pop().ok_or_else(not_found)?;
                continue;
            }
            if seg.is_empty() || seg == "." {
                continue;
            }
            done.push(seg);
            let here = self.root.join(done.join("/"));
            let meta = std::fs::symlink_metadata(&here).map_err(|_| not_found())?;
            if meta.file_type().is_symlink() {
                links += 1;
                let target = std::fs::read_link(&here).map_err(|_| not_found())?;
                let target = target.to_str().ok_or_else(not_found)?;
                if links > MAX_LINKS || target.starts_with('/') {
                    return Err(not_found());
                }
                done.pop();
                pending.extend(target.split('/').rev().map(str::to_string));
            }
        }
        let full = self.root.join(done.join("/"));
        if full.is_file() {
            Ok(full)
        } else {
            Err(not_found())
        }
    }

    fn walk(&self) -> Result<Vec<String>, WalkError> {
        let mut out = Vec::new();
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            let failed = |e: io::Error| WalkError {
                dir: dir.clone(),
                source: std::sync::Arc::new(e),
            };
            let entries = std::fs::read_dir(&dir).map_err(failed)?;
            for entry in entries {
                let entry = entry.map_err(failed)?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                let child = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                if kind.is_dir() {
                    stack.push((entry.path(), child));
                } else if kind.is_file() || (kind.is_symlink() && self.locate(&child).is_ok()) {
                    // A link is listed when it reaches a file inside the bundle; links to
                    // directories are not descended (no loops).
                    out.push(child);
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

/// A directory of an unpacked bundle that could not be listed (kept for every later ask, so
/// shared and cloned).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{}: {source}", dir.display())]
struct WalkError {
    dir: PathBuf,
    source: std::sync::Arc<io::Error>,
}

impl BundleView for DirView {
    fn read(&self, path: &str) -> Result<Vec<u8>, ViewError> {
        let full = self.locate(path)?;
        std::fs::read(&full).map_err(|source| ViewError::Io {
            path: path.to_string(),
            source,
        })
    }

    fn paths(&self) -> Result<&[String], ViewError> {
        match self.paths.get_or_init(|| self.walk()) {
            Ok(paths) => Ok(paths),
            Err(e) => Err(ViewError::Io {
                path: self.root.display().to_string(),
                source: io::Error::new(e.source.kind(), e.clone()),
            }),
        }
    }
}

/// Files up to this size are kept in memory when a `.tar.gz` is indexed; larger ones are read
/// again from the archive when asked for (a bundle can hold gigabytes of logs).
pub const KEEP_IN_MEMORY: u64 = 1 << 20;
/// At most this much file content is kept in memory for one archive.
pub const MEMORY_BUDGET: u64 = 64 << 20;

#[derive(Debug)]
enum TarEntry {
    /// A small file's bytes.
    Kept(Vec<u8>),
    /// A file read again on demand: its index among the archive's entries.
    Reread(usize),
    /// A link, with its target resolved to a bundle path (`None`: it leaves the bundle).
    Link(Option<String>),
}

/// A bundle read from a `.tar.gz`, indexed once.
#[derive(Debug)]
pub struct TarView {
    archive: PathBuf,
    prefix: String,
    entries: BTreeMap<String, TarEntry>,
    paths: Vec<String>,
}

impl TarView {
    /// Indexes the archive at `path`. The bundle root is the archive root when it holds
    /// `version.yaml`, else the first entry's top folder.
    pub fn open(path: &Path) -> Result<TarView, ViewError> {
        let io_err = |source| ViewError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut raw: Vec<(String, TarEntry)> = Vec::new();
        let mut budget = MEMORY_BUDGET;
        let file = File::open(path).map_err(io_err)?;
        let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
        for (index, entry) in archive.entries().map_err(io_err)?.enumerate() {
            let mut entry = entry.map_err(io_err)?;
            let Ok(name) = entry.path().map(|p| p.to_string_lossy().into_owned()) else {
                continue;
            };
            let name = name.trim_start_matches("./").to_string();
            let kind = entry.header().entry_type();
            if kind.is_file() {
                let size = entry.size();
                if size <= KEEP_IN_MEMORY && size <= budget {
                    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
                    entry.read_to_end(&mut bytes).map_err(io_err)?;
                    budget -= size;
                    raw.push((name, TarEntry::Kept(bytes)));
                } else {
                    raw.push((name, TarEntry::Reread(index)));
                }
            } else if kind.is_symlink() {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.to_string_lossy().into_owned());
                let resolved = target.and_then(|t| resolve_relative(&name, &t));
                raw.push((name, TarEntry::Link(resolved)));
            }
        }
        let prefix = if raw.iter().any(|(n, _)| n == "version.yaml") {
            String::new()
        } else {
            raw.first()
                .and_then(|(n, _)| n.split_once('/'))
                .map(|(top, _)| format!("{top}/"))
                .unwrap_or_default()
        };
        let mut entries = BTreeMap::new();
        for (name, entry) in raw {
            let Some(rel) = name.strip_prefix(&prefix) else {
                continue;
            };
            let entry = match entry {
                TarEntry::Link(target) => {
                    TarEntry::Link(target.and_then(|t| t.strip_prefix(&prefix).map(str::to_string)))
                }
                other => other,
            };
            entries.insert(rel.to_string(), entry);
        }
        let mut view = TarView {
            archive: path.to_path_buf(),
            prefix,
            entries,
            paths: Vec::new(),
        };
        view.paths = view
            .entries
            .keys()
            .filter(|p| view.target(p).is_some())
            .cloned()
            .collect();
        Ok(view)
    }

    /// The file entry `path` names, following links.
    fn target(&self, path: &str) -> Option<(&str, &TarEntry)> {
        let mut path = path;
        for _ in 0..MAX_LINKS {
            let (key, entry) = self.entries.get_key_value(path)?;
            match entry {
                TarEntry::Link(Some(target)) => path = target,
                TarEntry::Link(None) => return None,
                file => return Some((key, file)),
            }
        }
        None
    }

    fn reread(&self, wanted: usize, path: &str) -> Result<Vec<u8>, ViewError> {
        let io_err = |source| ViewError::Io {
            path: path.to_string(),
            source,
        };
        let file = File::open(&self.archive).map_err(io_err)?;
        let mut archive = tar::Archive::new(flate2::read::MultiGzDecoder::new(file));
        for (index, entry) in archive.entries().map_err(io_err)?.enumerate() {
            let mut entry = entry.map_err(io_err)?;
            if index == wanted {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).map_err(io_err)?;
                return Ok(bytes);
            }
        }
        Err(ViewError::NotFound(format!("{}{path}", self.prefix)))
    }
}

impl BundleView for TarView {
    fn read(&self, path: &str) -> Result<Vec<u8>, ViewError> {
        let key = clean(path)
            .map(|s| s.join("/"))
            .ok_or_else(|| ViewError::NotFound(path.to_string()))?;
        match self.target(&key) {
            Some((_, TarEntry::Kept(bytes))) => Ok(bytes.clone()),
            Some((name, TarEntry::Reread(index))) => self.reread(*index, name),
            _ => Err(ViewError::NotFound(path.to_string())),
        }
    }

    fn paths(&self) -> Result<&[String], ViewError> {
        Ok(&self.paths)
    }
}

/// Opens `path` as a bundle: a directory, or a `.tar.gz` archive.
pub fn open(path: &Path) -> Result<Box<dyn BundleView>, ViewError> {
    if path.is_dir() {
        Ok(Box::new(DirView::open(path)?))
    } else {
        Ok(Box::new(TarView::open(path)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().join("b");
        std::fs::create_dir_all(root.join("cluster-resources/pods/logs/ns/p")).expect("mkdir");
        std::fs::create_dir_all(root.join("all-logs/p")).expect("mkdir");
        std::fs::write(root.join("version.yaml"), "kind: SupportBundle\n").expect("write");
        std::fs::write(
            root.join("cluster-resources/pods/logs/ns/p/c.log"),
            "hello\n",
        )
        .expect("write");
        std::os::unix::fs::symlink(
            "../../cluster-resources/pods/logs/ns/p/c.log",
            root.join("all-logs/p/c.log"),
        )
        .expect("link");
        std::fs::write(dir.path().join("secret"), "outside\n").expect("write");
        std::os::unix::fs::symlink("../../secret", root.join("all-logs/escape")).expect("link");
        std::os::unix::fs::symlink("/etc/hostname", root.join("all-logs/abs")).expect("link");
        dir
    }

    fn check(view: &dyn BundleView) {
        assert_eq!(view.read("all-logs/p/c.log").expect("read"), b"hello\n");
        assert_eq!(
            view.read("/version.yaml").expect("read"),
            b"kind: SupportBundle\n"
        );
        assert!(
            view.read("all-logs/escape")
                .expect_err("escape")
                .is_not_found()
        );
        assert!(view.read("all-logs/abs").expect_err("abs").is_not_found());
        assert!(view.read("../secret").expect_err("dotdot").is_not_found());
        assert!(view.read("all-logs").expect_err("dir").is_not_found());
        assert_eq!(
            view.glob("all-logs/*/*.log").expect("glob"),
            vec!["all-logs/p/c.log".to_string()]
        );
        // `*` never crosses a `/`.
        assert!(view.glob("all-logs/*.log").expect("glob").is_empty());
        // Directories, for the analyzers whose glob reaches one (troubleshoot's read fails there).
        assert_eq!(
            view.glob_dirs("*").expect("glob"),
            vec!["all-logs".to_string(), "cluster-resources".to_string()]
        );
        assert_eq!(
            view.glob_dirs("cluster-resources/pods/logs/*/*")
                .expect("glob"),
            vec!["cluster-resources/pods/logs/ns/p".to_string()]
        );
        assert!(view.glob_dirs("all-logs/*/*.log").expect("glob").is_empty());
        assert_eq!(
            view.paths().expect("paths"),
            [
                "all-logs/p/c.log",
                "cluster-resources/pods/logs/ns/p/c.log",
                "version.yaml"
            ]
        );
    }

    #[test]
    fn a_directory_bundle_follows_links_only_inside_the_bundle() {
        let dir = staged();
        check(&DirView::open(dir.path()).expect("open parent finds the root"));
        check(&DirView::open(&dir.path().join("b")).expect("open root"));
    }

    #[test]
    fn a_tar_bundle_reads_small_and_large_files_and_links_inside_the_bundle() {
        let dir = staged();
        let big = "x".repeat(usize::try_from(KEEP_IN_MEMORY).expect("fits") + 10);
        std::fs::write(dir.path().join("b/big.txt"), &big).expect("write");
        let archive = dir.path().join("b.tar.gz");
        let out = std::process::Command::new("tar")
            .arg("czf")
            .arg(&archive)
            .arg("-C")
            .arg(dir.path())
            .args(["b", "secret"])
            .output()
            .expect("tar");
        assert!(out.status.success(), "{out:?}");
        let view = TarView::open(&archive).expect("open");
        assert_eq!(view.read("big.txt").expect("big").len(), big.len());
        assert!(matches!(
            view.entries.get("big.txt"),
            Some(TarEntry::Reread(_))
        ));
        // `secret` sits outside the top folder: not part of the bundle.
        assert!(view.read("secret").is_err());
        std::fs::remove_file(dir.path().join("b/big.txt")).expect("rm");
        let view = TarView::open(&archive).expect("open");
        let mut paths = view.paths().expect("paths").to_vec();
        paths.retain(|p| p != "big.txt");
        assert_eq!(
            paths,
            [
                "all-logs/p/c.log",
                "cluster-resources/pods/logs/ns/p/c.log",
                "version.yaml"
            ]
        );
        assert!(
            view.read("all-logs/escape")
                .expect_err("escape")
                .is_not_found()
        );
        assert!(view.read("all-logs/abs").expect_err("abs").is_not_found());
    }
}
