//! The `--version` string: the package version and, when known, the git commit (used by build.rs
//! and by tests/it/packaging.rs, which checks the fallback outside a git checkout).

use std::path::Path;
use std::process::Command;

/// `VERSION (commit HASH)` when `commit` is known, else `VERSION`.
pub fn version_string(version: &str, commit: Option<&str>) -> String {
    match commit {
        Some(c) => format!("{version} (commit {c})"),
        None => version.to_string(),
    }
}

/// The commit checked out in `dir`: `override_commit` ($TROUBLESHOOT_AGENT_COMMIT, for builds from
/// a tarball that know their commit) wins; else `git rev-parse HEAD`; `None` when neither works
/// (no git installed, or not a checkout: a source tarball).
pub fn commit(dir: &Path, override_commit: Option<&str>) -> Option<String> {
    if let Some(c) = override_commit.map(str::trim).filter(|c| !c.is_empty()) {
        return Some(c.to_string());
    }
    let out = git(dir, &["rev-parse", "--short=12", "HEAD"])?;
    Some(out).filter(|c| c.chars().all(|ch| ch.is_ascii_hexdigit()) && !c.is_empty())
}

/// The files whose change means a new commit: HEAD and the branch it points at (in a worktree
/// they live in different git directories), and packed-refs; only those that exist.
pub fn git_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    if let Some(git_dir) = git(dir, &["rev-parse", "--absolute-git-dir"]) {
        files.push(format!("{git_dir}/HEAD"));
    }
    if let Some(common) = git(
        dir,
        &["rev-parse", "--path-format=absolute", "--git-common-dir"],
    ) {
        files.push(format!("{common}/packed-refs"));
        if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
            files.push(format!("{common}/{branch}"));
        }
    }
    // A missing file would make cargo rerun the build script on every build.
    files.retain(|f| Path::new(f).exists());
    files
}

/// One line of git's output, `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
