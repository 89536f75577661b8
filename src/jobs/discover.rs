//! Which entries of a jobs directory are job files, and why the others are not read.

use serde::Serialize;
use std::io;
use std::path::{Path, PathBuf};

/// An entry of the jobs directory that is not read, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ignored {
    /// The entry.
    pub path: PathBuf,
    /// Why it is skipped.
    pub reason: &'static str,
}

/// What a jobs directory holds.
#[derive(Debug, Default)]
pub struct Listing {
    /// Job files to read, sorted by path.
    pub files: Vec<PathBuf>,
    /// Entries skipped on purpose.
    pub ignored: Vec<Ignored>,
    /// Entries that could not even be looked at (a symlink loop, a dangling link, permissions).
    pub unreadable: Vec<(PathBuf, io::Error)>,
}

/// Why a file name is not a job file, or `None` when it is one.
///
/// Editors, package managers and Kubernetes ConfigMap mounts leave files next to the real ones;
/// reading them would apply half-written or stale jobs.
pub fn ignore_reason(file_name: &str) -> Option<&'static str> {
    if file_name.starts_with("..") {
        Some("Kubernetes ConfigMap internal entry")
    } else if file_name.starts_with(".#")
        || (file_name.starts_with('#') && file_name.ends_with('#'))
    {
        Some("editor lock or autosave file")
    } else if file_name.starts_with('.') {
        Some("hidden file")
    } else if file_name.ends_with('~')
        || file_name.ends_with(".swp")
        || file_name.ends_with(".swx")
        || file_name == "4913"
    {
        Some("editor backup or swap file")
    } else if file_name.contains(".dpkg-")
        || file_name.ends_with(".rpmnew")
        || file_name.ends_with(".rpmsave")
        || file_name.ends_with(".rpmorig")
        || file_name.ends_with(".ucf-dist")
        || file_name.ends_with(".ucf-old")
    {
        Some("package manager leftover")
    } else {
        None
    }
}

fn is_yaml_name(file_name: &str) -> bool {
    file_name.ends_with(".yaml") || file_name.ends_with(".yml")
}

/// Lists `dir`: job files (symlinks followed) and the entries skipped, each with its reason.
pub fn list_dir(dir: &Path) -> io::Result<Listing> {
    let mut listing = Listing::default();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            listing.ignored.push(Ignored {
                path,
                reason: "file name is not valid UTF-8",
            });
            continue;
        };
        if let Some(reason) = ignore_reason(name) {
            listing.ignored.push(Ignored { path, reason });
            continue;
        }
        // `metadata` follows symlinks, which is what ConfigMap mounts need; a loop or a dangling
        // link shows up here as an error for this entry only.
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && is_yaml_name(name) => listing.files.push(path),
            Ok(meta) if meta.is_file() => listing.ignored.push(Ignored {
                path,
                reason: "not a *.yaml or *.yml file",
            }),
            Ok(meta) if meta.is_dir() => listing.ignored.push(Ignored {
                path,
                reason: "directory (subdirectories are not read)",
            }),
            Ok(_) => listing.ignored.push(Ignored {
                path,
                reason: "not a regular file",
            }),
            Err(err) => listing.unreadable.push((path, err)),
        }
    }
    listing.files.sort();
    listing.ignored.sort_by(|a, b| a.path.cmp(&b.path));
    listing.unreadable.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(listing)
}

#[cfg(test)]
mod tests {
    use super::{ignore_reason, is_yaml_name};

    #[test]
    fn leftovers_are_ignored_and_yaml_is_read() {
        for name in [
            "..data",
            "..2024_01_01",
            ".hidden.yaml",
            "job.yaml~",
            ".job.yaml.swp",
            "4913",
            "#job.yaml#",
            ".#job.yaml",
            "job.yaml.dpkg-dist",
            "job.yaml.dpkg-old",
            "job.yaml.rpmnew",
            "job.yaml.rpmsave",
        ] {
            assert!(ignore_reason(name).is_some(), "{name} should be ignored");
        }
        for name in ["job.yaml", "job.yml", "a-b.c.yaml"] {
            assert_eq!(ignore_reason(name), None, "{name} should be read");
            assert!(is_yaml_name(name));
        }
        assert!(!is_yaml_name("README.md"));
        assert!(!is_yaml_name("job.json"));
    }
}
