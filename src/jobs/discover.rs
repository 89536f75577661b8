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

pub(super) fn is_yaml_name(file_name: &str) -> bool {
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

/// What one entry of the jobs directory is, by the rules of [`list_dir`].
#[derive(Debug)]
pub(super) enum Entry {
    /// A job file to read.
    JobFile,
    /// Skipped on purpose, with the reason.
    Ignored(&'static str),
    /// It could not be looked at (dangling symlink, loop, permissions).
    Unreadable(io::Error),
    /// Nothing is there (any more).
    Gone,
}

/// Classifies the entry `path` (named `file_name`) of the jobs directory as [`list_dir`] would,
/// for a pass that looks at a few changed entries rather than listing the directory.
pub(super) fn classify(path: &Path, file_name: &str) -> Entry {
    if path.symlink_metadata().is_err() {
        return Entry::Gone;
    }
    if let Some(reason) = ignore_reason(file_name) {
        return Entry::Ignored(reason);
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && is_yaml_name(file_name) => Entry::JobFile,
        Ok(meta) if meta.is_file() => Entry::Ignored("not a *.yaml or *.yml file"),
        Ok(meta) if meta.is_dir() => Entry::Ignored("directory (subdirectories are not read)"),
        Ok(_) => Entry::Ignored("not a regular file"),
        Err(err) => Entry::Unreadable(err),
    }
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

    #[test]
    fn classify_agrees_with_the_listing() {
        use super::{Entry, classify, list_dir};
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path();
        std::fs::write(p.join("a.yaml"), "x").expect("write");
        std::fs::write(p.join("notes.md"), "x").expect("write");
        std::fs::write(p.join(".hidden.yaml"), "x").expect("write");
        std::fs::create_dir(p.join("sub.yaml")).expect("mkdir");
        std::os::unix::fs::symlink(p.join("missing.yaml"), p.join("dangling.yaml"))
            .expect("symlink");
        std::os::unix::fs::symlink(p.join("a.yaml"), p.join("link.yml")).expect("symlink");
        let listing = list_dir(p).expect("list");
        let name = |path: &std::path::Path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_string()
        };
        for f in &listing.files {
            assert!(matches!(classify(f, &name(f)), Entry::JobFile), "{f:?}");
        }
        for i in &listing.ignored {
            match classify(&i.path, &name(&i.path)) {
                Entry::Ignored(reason) => assert_eq!(reason, i.reason),
                other => panic!("{:?}: {other:?}", i.path),
            }
        }
        for (u, _) in &listing.unreadable {
            assert!(
                matches!(classify(u, &name(u)), Entry::Unreadable(_)),
                "{u:?}"
            );
        }
        assert_eq!(
            listing.files.len() + listing.ignored.len() + listing.unreadable.len(),
            6
        );
        assert!(matches!(
            classify(&p.join("never.yaml"), "never.yaml"),
            Entry::Gone
        ));
    }
}
