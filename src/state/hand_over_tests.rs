//! Tests of [`hand_over`]'s rules on real directories (the tests run as root, which
//! `hand_over` needs; running it as another user is tested in `tests/it/state_init.rs`).

use super::*;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

const AGENT: Owner = Owner {
    uid: 65532,
    gid: 65532,
};

fn policy() -> Policy {
    Policy::for_uid(AGENT.uid, false)
}

/// A temp dir (root's, 0700) holding `vol`, root-owned with `mode`: a fresh Kubernetes volume.
fn volume(mode: u32) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let vol = tmp.path().join("vol");
    std::fs::create_dir(&vol).expect("mkdir");
    chmod(&vol, mode);
    (tmp, vol)
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).expect("chown");
}

fn ownership(path: &Path) -> Ownership {
    let m = std::fs::symlink_metadata(path).expect("stat");
    Ownership {
        uid: m.uid(),
        gid: m.gid(),
        mode: m.mode() & 0o7777,
    }
}

const HANDED: Ownership = Ownership {
    uid: 65532,
    gid: 65532,
    mode: 0o700,
};

#[test]
fn owner_is_numeric_uid_colon_gid() {
    assert_eq!(
        "65532:65532".parse::<Owner>().expect("valid"),
        AGENT,
        "the image's user"
    );
    assert_eq!(
        "0:10".parse::<Owner>().expect("valid"),
        Owner { uid: 0, gid: 10 }
    );
    for bad in [
        "65532",
        "65532:",
        ":1",
        "a:b",
        "troubleshoot:troubleshoot",
        "+1:2",
        "-1:2",
        "1:2:3",
        "4294967295:1",
        "99999999999:1",
        " 1:2",
    ] {
        let err = bad.parse::<Owner>().expect_err(bad).to_string();
        assert!(err.contains(&format!("`{bad}` is not UID:GID")), "{err}");
        assert!(err.contains("65532:65532"), "says what to write: {err}");
    }
}

#[test]
fn a_root_owned_world_writable_volume_is_handed_over_once() {
    let (_tmp, vol) = volume(0o777);
    let done = hand_over_as_root(&vol, AGENT, &policy()).expect("hand over");
    assert_eq!(done.dir, vol);
    assert_eq!(
        done.before,
        Some(Ownership {
            uid: 0,
            gid: 0,
            mode: 0o777
        })
    );
    assert_eq!(done.after, HANDED);
    assert!(done.changed());
    assert_eq!(ownership(&vol), HANDED);

    // The next pod start: nothing to do, and it says so.
    std::fs::write(vol.join("applied.json"), b"{}").expect("the agent's file");
    chown(&vol.join("applied.json"), AGENT.uid);
    let again = hand_over_as_root(&vol, AGENT, &policy()).expect("again");
    assert_eq!(again.before, Some(HANDED));
    assert!(!again.changed());
    assert_eq!(
        std::fs::read(vol.join("applied.json")).expect("kept"),
        b"{}"
    );
}

#[test]
fn an_fs_group_volume_loses_its_setgid_bit_and_group() {
    // What the kubelet makes of an emptyDir with `fsGroup: 2000`.
    let (_tmp, vol) = volume(0o777);
    std::os::unix::fs::chown(&vol, Some(0), Some(2000)).expect("chgrp");
    chmod(&vol, 0o2777);
    let done = hand_over_as_root(&vol, AGENT, &policy()).expect("hand over");
    assert_eq!(
        done.before,
        Some(Ownership {
            uid: 0,
            gid: 2000,
            mode: 0o2777
        })
    );
    assert_eq!(ownership(&vol), HANDED);
}

#[test]
fn a_missing_directory_is_created_for_the_agent() {
    let (_tmp, vol) = volume(0o755);
    let state = vol.join("state");
    let done = hand_over_as_root(&state, AGENT, &policy()).expect("create");
    assert_eq!(done.before, None);
    assert!(done.changed());
    assert_eq!(ownership(&state), HANDED);
    assert_eq!(ownership(&vol).mode, 0o755, "the parent is left alone");
}

#[test]
fn a_directory_below_a_world_writable_one_is_refused() {
    let (_tmp, vol) = volume(0o777);
    let state = vol.join("state");
    let err = hand_over_as_root(&state, AGENT, &policy()).expect_err("untrusted parent");
    let text = err.to_string();
    assert!(
        matches!(err, HandOverError::UntrustedParent { .. }),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} is world-writable (mode 0777)", vol.display())),
        "{text}"
    );
    assert!(text.contains("volume's mount point itself"), "{text}");
    assert!(!state.exists(), "nothing created");
    // For a test setup the flag lets it through, as it does for the agent.
    hand_over_as_root(&state, AGENT, &Policy::for_uid(AGENT.uid, true)).expect("allowed");
    assert_eq!(ownership(&state), HANDED);
}

#[test]
fn a_symlink_is_refused_and_its_target_left_alone() {
    let (tmp, vol) = volume(0o777);
    let link = tmp.path().join("link");
    symlink(&vol, &link).expect("symlink");
    let err = hand_over_as_root(&link, AGENT, &policy()).expect_err("symlink");
    assert!(matches!(err, HandOverError::Symlink { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{} is a symlink", link.display())),
        "{err}"
    );
    assert_eq!(ownership(&vol).uid, 0);
    assert_eq!(ownership(&vol).mode, 0o777);
    // A dangling one is not created through either.
    let dangling = tmp.path().join("dangling");
    symlink(tmp.path().join("nowhere"), &dangling).expect("symlink");
    let err = hand_over_as_root(&dangling, AGENT, &policy()).expect_err("dangling");
    assert!(matches!(err, HandOverError::Symlink { .. }), "{err}");
    assert!(!tmp.path().join("nowhere").exists());
}

#[test]
fn a_file_is_not_a_state_directory() {
    let (tmp, _vol) = volume(0o777);
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let err = hand_over_as_root(&file, AGENT, &policy()).expect_err("a file");
    assert_eq!(
        err.to_string(),
        format!(
            "{} is a regular file, not a directory: point --state-dir at a directory (or at a path that does not exist yet)",
            file.display()
        )
    );
    assert_eq!(ownership(&file).uid, 0);
    let err = hand_over_as_root(Path::new("/"), AGENT, &policy()).expect_err("/");
    assert!(matches!(err, HandOverError::NoName { .. }), "{err}");
}

#[test]
fn other_users_files_are_named_and_nothing_changes() {
    let (_tmp, vol) = volume(0o777);
    std::fs::create_dir_all(vol.join("jobs/a/runs")).expect("mkdir");
    for d in ["jobs", "jobs/a", "jobs/a/runs"] {
        chown(&vol.join(d), AGENT.uid);
    }
    std::fs::write(vol.join("jobs/a/runs/r.json"), b"{}").expect("write");
    chown(&vol.join("jobs/a/runs/r.json"), 65534);
    std::fs::write(vol.join("applied.json"), b"{}").expect("write");
    let err = hand_over_as_root(&vol, AGENT, &policy()).expect_err("foreign files");
    let text = err.to_string();
    assert!(
        matches!(&err, HandOverError::ForeignContents { found, more: 0, .. } if found.len() == 2),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{}/applied.json (uid 0), {}/jobs/a/runs/r.json (uid 65534)",
            vol.display(),
            vol.display()
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("chown -R 65532:65532 {}", vol.display())),
        "{text}"
    );
    assert_eq!(
        ownership(&vol),
        Ownership {
            uid: 0,
            gid: 0,
            mode: 0o777
        },
        "left as it was"
    );
    assert_eq!(ownership(&vol.join("applied.json")).uid, 0);
}

#[test]
fn many_foreign_entries_are_counted_not_all_named() {
    let (_tmp, vol) = volume(0o777);
    for i in 0..(MAX_NAMED + 3) {
        std::fs::write(vol.join(format!("f{i:02}")), b"").expect("write");
    }
    let err = hand_over_as_root(&vol, AGENT, &policy()).expect_err("foreign files");
    assert!(
        matches!(&err, HandOverError::ForeignContents { found, more: 3, .. } if found.len() == MAX_NAMED),
        "{err}"
    );
    assert!(err.to_string().contains(" and 3 more;"), "{err}");
}

#[test]
fn the_file_systems_lost_and_found_is_not_another_users_file() {
    let (_tmp, vol) = volume(0o777);
    std::fs::create_dir(vol.join("lost+found")).expect("mkdir");
    chmod(&vol.join("lost+found"), 0o700);
    hand_over_as_root(&vol, AGENT, &policy()).expect("a PVC's lost+found is fine");
    assert_eq!(ownership(&vol), HANDED);
    assert_eq!(ownership(&vol.join("lost+found")).uid, 0, "left alone");

    // Anywhere else, or as a file, it is just another root-owned entry.
    let (_tmp, vol) = volume(0o777);
    std::fs::create_dir(vol.join("jobs")).expect("mkdir");
    chown(&vol.join("jobs"), AGENT.uid);
    std::fs::create_dir(vol.join("jobs/lost+found")).expect("mkdir");
    let err = hand_over_as_root(&vol, AGENT, &policy()).expect_err("deeper");
    assert!(err.to_string().contains("jobs/lost+found (uid 0)"), "{err}");
}

#[test]
fn a_symlink_inside_is_judged_by_its_own_owner_and_not_followed() {
    let (tmp, vol) = volume(0o777);
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).expect("mkdir");
    std::fs::write(outside.join("x"), b"").expect("write");
    let link = vol.join("jobs");
    symlink(&outside, &link).expect("symlink");
    std::os::unix::fs::lchown(&link, Some(AGENT.uid), Some(AGENT.gid)).expect("lchown");
    // The agent's own link: not another user's entry, and not looked through (outside/x is
    // root's and would be refused).
    hand_over_as_root(&vol, AGENT, &policy()).expect("hand over");
    assert_eq!(ownership(&outside.join("x")).uid, 0);
}
