//! Symlinks in a bundle: which are archived, and the relative target each is stored with.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

use super::Reason;

/// The source root as given (made absolute) and canonical, to recognise absolute links into it.
pub(crate) struct SourceRoots {
    given: Option<PathBuf>,
    canonical: Option<PathBuf>,
}

impl SourceRoots {
    pub(crate) fn new(source: &Path) -> Self {
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

/// Why a symlink is left out of the archive (recorded in the bundle's skipped list).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkSkip {
    /// `readlink` failed.
    #[error("cannot read link: {}", Reason(.0))]
    Unreadable(io::Error),
    /// The link has an empty target.
    #[error("symlink with an empty target")]
    Empty,
    /// The target resolves outside the bundle tree.
    #[error("symlink to {} points outside the bundle; not archived", .0.display())]
    Outside(PathBuf),
}

/// The relative target to store for the symlink at `rel`, or why it is left out.
pub(crate) fn link_target(
    roots: &SourceRoots,
    source: &Path,
    rel: &Path,
) -> Result<PathBuf, LinkSkip> {
    let raw = fs::read_link(source.join(rel)).map_err(LinkSkip::Unreadable)?;
    if raw.as_os_str().is_empty() {
        return Err(LinkSkip::Empty);
    }
    let parent: Vec<&OsStr> = rel.parent().map(|p| p.iter().collect()).unwrap_or_default();
    if raw.is_absolute() {
        // Rewrite links into the tree relative; anything else would point at the reader's own
        // machine after extraction, so it is left out rather than followed or stored.
        let inside = roots
            .inside(&normalize(&raw))
            .ok_or_else(|| LinkSkip::Outside(raw.clone()))?;
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
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| LinkSkip::Outside(raw.clone()))?;
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                .to_string()
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
                .to_string()
                .contains("/etc/hostname")
        );
    }
}
