//! The rules on real files: tests run as root, so "another user" is `nobody` (65534).

use super::*;
use std::os::unix::fs::{PermissionsExt, chown, symlink};

const NOBODY: u32 = 65534;

fn strict() -> Policy {
    Policy::new(false)
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A 0700 root-owned directory under /tmp (root-owned and sticky) with a 0644 file in it.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("f.yaml");
    std::fs::write(&file, "a: 1\n").expect("write");
    set_mode(&file, 0o644);
    (dir, file)
}

fn refused(path: &Path, policy: &Policy) -> Vec<Problem> {
    match read(path, 1024, policy, &mut Walk::default()) {
        Err(ReadError::Refused(problems)) => problems,
        other => panic!("{}: expected a refusal, got {other:?}", path.display()),
    }
}

#[test]
fn a_private_file_under_a_root_owned_sticky_dir_is_read() {
    let (dir, file) = setup();
    assert_eq!(
        std::fs::symlink_metadata("/tmp").expect("stat").mode() & 0o1777,
        0o1777,
        "the test relies on /tmp being 1777"
    );
    let read = read(&file, 1024, &strict(), &mut Walk::default()).expect("trusted");
    assert_eq!(read.bytes, b"a: 1\n");
    assert!(read.allowed.is_empty(), "{:?}", read.allowed);
    // A root-owned sticky directory of our own is fine as well.
    set_mode(dir.path(), 0o1777);
    assert!(read_ok(&file));
}

fn read_ok(path: &Path) -> bool {
    read(path, 1024, &strict(), &mut Walk::default()).is_ok()
}

#[test]
fn a_group_writable_file_is_refused() {
    let (_dir, file) = setup();
    set_mode(&file, 0o664);
    assert_eq!(
        refused(&file, &strict()),
        vec![Problem::Writable {
            path: file.clone(),
            who: Who::Group,
            mode: 0o664
        }]
    );
}

#[test]
fn a_world_writable_directory_above_is_refused() {
    let (dir, _) = setup();
    let sub = dir.path().join("jobs.d");
    std::fs::create_dir(&sub).expect("mkdir");
    let file = sub.join("a.yaml");
    std::fs::write(&file, "x").expect("write");
    set_mode(&file, 0o600);
    set_mode(dir.path(), 0o777);
    let problems = refused(&file, &strict());
    let top = std::fs::canonicalize(dir.path()).expect("canonical");
    assert_eq!(
        problems,
        vec![Problem::Writable {
            path: top,
            who: Who::World,
            mode: 0o777
        }]
    );
    assert!(
        problems[0].hint().contains("chmod go-w"),
        "{}",
        problems[0].hint()
    );
}

#[test]
fn files_and_directories_owned_by_another_user_are_refused() {
    let (dir, file) = setup();
    chown(&file, Some(NOBODY), None).expect("chown");
    assert!(matches!(
        refused(&file, &strict())[..],
        [Problem::Owner { uid: NOBODY, .. }]
    ));
    chown(&file, Some(0), None).expect("chown");
    assert!(read_ok(&file));
    chown(dir.path(), Some(NOBODY), None).expect("chown");
    let problems = refused(&file, &strict());
    let top = std::fs::canonicalize(dir.path()).expect("canonical");
    assert!(
        matches!(&problems[..], [Problem::Owner { path, uid: NOBODY, .. }] if *path == top),
        "{problems:?}"
    );
    // A sticky world-writable directory owned by someone else is no excuse.
    set_mode(dir.path(), 0o1777);
    assert_eq!(refused(&file, &strict()).len(), 2);
}

#[test]
fn the_agent_user_is_trusted_like_root() {
    let (dir, file) = setup();
    chown(dir.path(), Some(NOBODY), None).expect("chown");
    chown(&file, Some(NOBODY), None).expect("chown");
    let as_nobody = Policy::for_uid(NOBODY, false);
    assert!(read(&file, 1024, &as_nobody, &mut Walk::default()).is_ok());
    assert_eq!(refused(&file, &Policy::for_uid(1000, false)).len(), 2);
}

#[test]
fn a_fifo_or_a_device_is_refused_without_blocking() {
    let (dir, _) = setup();
    let fifo = dir.path().join("spec.yaml");
    let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).expect("cstring");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo");
    // No writer ever opens it: a blocking open would hang this test.
    assert!(matches!(
        refused(&fifo, &strict())[..],
        [Problem::NotRegular {
            kind: FileKind::Fifo,
            ..
        }]
    ));
    assert!(matches!(
        refused(Path::new("/dev/zero"), &strict())[..],
        [Problem::NotRegular {
            kind: FileKind::CharDevice,
            ..
        }]
    ));
    assert!(matches!(
        refused(dir.path(), &strict())[..],
        [Problem::NotRegular {
            kind: FileKind::Directory,
            ..
        }]
    ));
    // The flag is about ownership and permissions, not about what can be read at all.
    assert!(matches!(
        read(&fifo, 1024, &Policy::new(true), &mut Walk::default()),
        Err(ReadError::Refused(_))
    ));
}

#[test]
fn a_file_over_the_cap_is_refused() {
    let (_dir, file) = setup();
    std::fs::write(&file, vec![b'a'; 2048]).expect("write");
    assert_eq!(
        refused(&file, &strict()),
        vec![Problem::TooLarge {
            path: file.clone(),
            size: 2048,
            cap: 1024
        }]
    );
    let exact = read(&file, 2048, &strict(), &mut Walk::default()).expect("at the cap");
    assert_eq!(exact.bytes.len(), 2048);
}

#[test]
fn a_symlink_is_checked_on_its_target_and_its_own_directory() {
    let (good, file) = setup();
    let bad = tempfile::tempdir().expect("tempdir");
    let target = bad.path().join("spec.yaml");
    std::fs::write(&target, "x").expect("write");
    set_mode(&target, 0o644);
    set_mode(bad.path(), 0o777);
    let bad_dir = std::fs::canonicalize(bad.path()).expect("canonical");
    // A trusted link to an untrusted place.
    let link = good.path().join("link.yaml");
    symlink(&target, &link).expect("symlink");
    let problems = refused(&link, &strict());
    assert!(
        matches!(&problems[..], [Problem::Writable { path, .. }] if *path == bad_dir),
        "{problems:?}"
    );
    // An untrusted link to a trusted file: whoever can write the link's directory chooses
    // what is read.
    let link = bad.path().join("link.yaml");
    symlink(&file, &link).expect("symlink");
    let problems = refused(&link, &strict());
    assert!(
        matches!(&problems[..], [Problem::Writable { path, .. }] if *path == bad_dir),
        "{problems:?}"
    );
    // A relative ConfigMap-style chain inside a trusted directory is fine.
    let data = good.path().join("..2026_01_01");
    std::fs::create_dir(&data).expect("mkdir");
    std::fs::write(data.join("job.yaml"), "y").expect("write");
    symlink("..2026_01_01", good.path().join("..data")).expect("symlink");
    symlink("..data/job.yaml", good.path().join("job.yaml")).expect("symlink");
    let read = read(
        &good.path().join("job.yaml"),
        1024,
        &strict(),
        &mut Walk::default(),
    )
    .expect("trusted chain");
    assert_eq!(read.bytes, b"y");
}

#[test]
fn the_insecure_flag_turns_permission_problems_into_warnings() {
    let (dir, file) = setup();
    set_mode(&file, 0o666);
    set_mode(dir.path(), 0o777);
    chown(&file, Some(NOBODY), None).expect("chown");
    let lenient = Policy::new(true);
    let read = read(&file, 1024, &lenient, &mut Walk::default()).expect("allowed");
    assert_eq!(read.allowed.len(), 3, "{:?}", read.allowed);
    let d = read.allowed[0].to_diagnostic(&file, &lenient);
    assert!(!d.is_error());
    assert!(d.message.contains(INSECURE_FLAG), "{}", d.message);
    let d = read.allowed[0].to_diagnostic(&file, &strict());
    assert!(d.is_error());
    assert!(d.message.starts_with("not trusted: "), "{}", d.message);
}

#[test]
fn a_secret_must_not_be_readable_by_others() {
    let (_dir, file) = setup();
    let problems = match read_secret(&file, 1024, &strict(), &mut Walk::default()) {
        Err(ReadError::Refused(p)) => p,
        other => panic!("{other:?}"),
    };
    assert!(
        matches!(
            problems[..],
            [Problem::Readable {
                who: Who::World,
                mode: 0o644,
                ..
            }]
        ),
        "{problems:?}"
    );
    set_mode(&file, 0o600);
    assert!(read_secret(&file, 1024, &strict(), &mut Walk::default()).is_ok());
}

#[test]
fn state_directories_are_checked_with_their_ancestors() {
    let (dir, _) = setup();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).expect("mkdir");
    set_mode(&state, 0o700);
    check_state_dir(&state, &strict()).expect("trusted");
    set_mode(dir.path(), 0o775);
    let err = check_state_dir(&state, &strict()).expect_err("group-writable parent");
    let text = err.to_string();
    assert!(text.contains("group-writable"), "{text}");
    assert!(text.contains("chmod go-w"), "{text}");
    check_state_dir(&state, &Policy::new(true)).expect("allowed by the flag");
    set_mode(dir.path(), 0o700);
    // A link to it from a directory others can write: they could point it elsewhere.
    let open = tempfile::tempdir().expect("tempdir");
    set_mode(open.path(), 0o777);
    let link = open.path().join("state");
    symlink(&state, &link).expect("symlink");
    let text = check_state_dir(&link, &strict())
        .expect_err("a link in a world-writable directory")
        .to_string();
    assert!(text.contains("world-writable (mode 0777)"), "{text}");
    set_mode(open.path(), 0o755);
    check_state_dir(&link, &strict()).expect("a link in a trusted directory");
}

#[test]
fn a_missing_file_is_an_io_error() {
    let (dir, _) = setup();
    assert!(matches!(
        read(&dir.path().join("nope.yaml"), 1024, &strict(), &mut Walk::default()),
        Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::NotFound
    ));
}
