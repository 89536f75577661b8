//! Tests of [`StateDir`]: symlinks planted inside the state directory, as a restore from backup
//! or an operator's mistake would leave them.

use super::*;
use std::os::unix::fs::{PermissionsExt, symlink};

struct Setup {
    _tmp: tempfile::TempDir,
    state: PathBuf,
    /// A directory outside the state directory that symlinks point to; must stay untouched.
    outside: PathBuf,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let state = tmp.path().join("state");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&state).expect("mkdir state");
    std::fs::create_dir(&outside).expect("mkdir outside");
    Setup {
        _tmp: tmp,
        state,
        outside,
    }
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn assert_symlink_error(err: &StateError, link: &Path) {
    match err {
        StateError::Symlink { path } => assert_eq!(path, link, "{err}"),
        other => panic!(
            "expected a symlink error naming {}: {other}",
            link.display()
        ),
    }
    let text = err.to_string();
    assert!(text.contains(&link.display().to_string()), "{text}");
    assert!(text.contains("is a symlink"), "{text}");
}

#[test]
fn files_and_directories_are_created_private_and_read_back() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    let runs = s.state.join("jobs/a/runs");
    dir.create_dir_all(&runs).expect("mkdir -p");
    dir.create_dir_all(&runs).expect("again: already there");
    let mode = std::fs::metadata(&runs).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let file = runs.join("r.json");
    dir.write_atomic(&file, b"one").expect("write");
    dir.write_atomic(Path::new("jobs/a/runs/r.json"), b"two")
        .expect("a relative path works too");
    assert_eq!(dir.read(&file).expect("read"), b"two");
    let mode = std::fs::metadata(&file).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(listing(&runs), ["r.json"], "no temp file left behind");
    let entries = dir.read_dir(Path::new("jobs/a")).expect("ls");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].name, "runs");
    assert_eq!(entries[0].kind, EntryKind::Dir);
    assert_eq!(entries[0].path, s.state.join("jobs/a/runs"));
    assert!(
        dir.read_optional(&runs.join("none.json"))
            .expect("missing is fine")
            .is_none()
    );
    dir.rename(&file, &runs.join("s.json")).expect("rename");
    dir.remove_file(&runs.join("s.json")).expect("rm");
    assert!(listing(&runs).is_empty());
}

#[test]
fn paths_outside_the_state_directory_are_refused() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    for bad in [
        s.outside.join("x"),
        s.state.join("jobs/../../outside/x"),
        PathBuf::from("../outside/x"),
    ] {
        let err = dir.write_atomic(&bad, b"x").expect_err("outside");
        assert!(matches!(err, StateError::Outside { .. }), "{err}");
    }
    assert!(listing(&s.outside).is_empty());
}

#[test]
fn a_symlinked_directory_is_never_written_through() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    dir.create_dir_all(&s.state.join("jobs/a")).expect("mkdir");
    let link = s.state.join("jobs/a/runs");
    symlink(&s.outside, &link).expect("plant symlink");
    let err = dir
        .create_dir_all(&link.join("deeper"))
        .expect_err("mkdir through a symlink");
    assert_symlink_error(&err, &link);
    let err = dir
        .write_atomic(&link.join("r.json"), b"x")
        .expect_err("write through a symlink");
    assert_symlink_error(&err, &link);
    let err = dir
        .create(&link.join("new"), Create::New)
        .expect_err("create through a symlink");
    assert_symlink_error(&err, &link);
    let results = dir.write_atomic_all(
        &(0..10)
            .map(|i| {
                let d = if i == 3 { &link } else { &s.state };
                (d.join(format!("f{i}")), b"x".to_vec())
            })
            .collect::<Vec<_>>(),
    );
    for (i, r) in results.iter().enumerate() {
        if i == 3 {
            assert_symlink_error(r.as_ref().expect_err("through the symlink"), &link);
        } else {
            assert!(r.is_ok(), "{r:?}");
        }
    }
    assert!(listing(&s.outside).is_empty(), "nothing landed outside");
    let err = dir.read_dir(&link).expect_err("listing through a symlink");
    assert_symlink_error(&err, &link);
}

#[test]
fn a_symlinked_state_subdirectory_high_up_is_named() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    symlink(&s.outside, s.state.join("jobs")).expect("plant symlink");
    let err = dir
        .create_dir_all(&s.state.join("jobs/a/runs"))
        .expect_err("mkdir");
    assert_symlink_error(&err, &s.state.join("jobs"));
    std::fs::create_dir_all(s.outside.join("a/runs")).expect("a tree behind the link");
    let err = dir
        .write_atomic(&s.state.join("jobs/a/runs/r.json"), b"x")
        .expect_err("write");
    assert_symlink_error(&err, &s.state.join("jobs"));
    assert!(listing(&s.outside.join("a/runs")).is_empty());
}

#[test]
fn a_symlinked_file_is_not_read_replaced_or_removed() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    let target = s.outside.join("precious");
    std::fs::write(&target, b"keep me").expect("write target");
    let link = s.state.join("applied.json");
    symlink(&target, &link).expect("plant symlink");
    assert_symlink_error(&dir.read(&link).expect_err("read"), &link);
    assert_symlink_error(&dir.write_atomic(&link, b"x").expect_err("write"), &link);
    assert_symlink_error(
        &dir.create(&link, Create::Truncate).expect_err("truncate"),
        &link,
    );
    assert_symlink_error(&dir.remove_file(&link).expect_err("rm"), &link);
    assert_symlink_error(
        &dir.rename(&s.state.join("x"), &link)
            .expect_err("rename over"),
        &link,
    );
    assert_eq!(std::fs::read(&target).expect("read target"), b"keep me");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link still there")
            .file_type()
            .is_symlink()
    );
    assert_eq!(dir.kind(&link).expect("kind"), Some(EntryKind::Symlink));
}

#[test]
fn remove_dir_all_unlinks_symlinks_inside_without_following_them() {
    let s = setup();
    let dir = StateDir::open(&s.state).expect("open");
    let staging = s.state.join("jobs/a/staging/run1");
    dir.create_dir_all(&staging.join("top/sub")).expect("mkdir");
    std::fs::write(staging.join("top/sub/f"), b"x").expect("write");
    std::fs::write(s.outside.join("kept"), b"x").expect("write");
    symlink(&s.outside, staging.join("top/dirlink")).expect("symlink");
    symlink(s.outside.join("kept"), staging.join("top/sub/filelink")).expect("symlink");
    dir.remove_dir_all(&staging).expect("rm -r");
    assert!(!staging.exists());
    assert_eq!(listing(&s.outside), ["kept"]);
    dir.remove_dir_all(&staging).expect("missing is fine");

    let link = s.state.join("jobs/a/staging/run2");
    symlink(&s.outside, &link).expect("symlink");
    assert_symlink_error(&dir.remove_dir_all(&link).expect_err("rm -r a link"), &link);
    assert_eq!(listing(&s.outside), ["kept"]);
}

#[test]
fn the_state_directory_itself_may_be_a_symlink() {
    let s = setup();
    let link = s.outside.join("state-link");
    symlink(&s.state, &link).expect("symlink");
    let dir = StateDir::open(&link).expect("open through the operator's symlink");
    dir.create_dir_all(&link.join("uploads")).expect("mkdir");
    dir.write_atomic(&link.join("uploads/x.json"), b"x")
        .expect("write");
    assert_eq!(listing(&s.state.join("uploads")), ["x.json"]);
}
