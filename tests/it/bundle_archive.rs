//! Archive-level tests of `bundle::write_bundle`: layout, links, modes, special files,
//! permissions, digests, GNU tar round trip, a full disk and a SIGKILL mid-archive.

use std::ffi::CString;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::alone;
use sha2::{Digest, Sha256};
use troubleshoot_agent::bundle::{
    BundleError, BundleOptions, EntryKind, list_archive, remove_stale_temps, write_bundle,
};

const TOP: &str = "support-bundle-2025-12-10T17_26_38";

fn write(root: &Path, rel: &str, data: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// A 250-character relative path (two components, each under the 255-byte limit).
fn long_rel() -> String {
    let rel = format!(
        "cluster-resources/{}/{}.log",
        "d".repeat(110),
        "f".repeat(117)
    );
    assert_eq!(rel.len(), 250);
    rel
}

fn mkfifo(p: &Path) {
    let c = CString::new(p.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o644) };
    assert_eq!(rc, 0, "mkfifo: {}", std::io::Error::last_os_error());
}

/// Builds a representative tree; returns (tempdir, source root, path outside the tree).
fn sample_tree() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(
        &src,
        "version.yaml",
        b"apiVersion: troubleshoot.sh/v1beta2\n",
    );
    write(&src, "host-collectors/system/cpu.json", b"{\"cpus\": 2}");
    write(
        &src,
        "cluster-resources/pods/default.json",
        b"{\"items\": null}",
    );
    write(
        &src,
        "cluster-resources/pods/logs/default/run-example/collector.log",
        b"hello\nworld\n",
    );
    write(&src, "cluster-resources/pods-errors.json", b"[]");
    write(&src, "empty.txt", b"");
    write(&src, &long_rel(), b"long name content\n");
    fs::create_dir_all(src.join("run-example")).unwrap();
    symlink(
        "../cluster-resources/pods/logs/default/run-example/collector.log",
        src.join("run-example/run-example.log"),
    )
    .unwrap();
    // Absolute link into the tree: must be stored relative.
    symlink(
        src.join("host-collectors/system/cpu.json"),
        src.join("run-example/abs-inside.json"),
    )
    .unwrap();
    // Absolute link out of the tree: must be left out with a reason.
    fs::write(tmp.path().join("secret.txt"), b"outside").unwrap();
    symlink(
        tmp.path().join("secret.txt"),
        src.join("run-example/abs-outside.txt"),
    )
    .unwrap();
    // Long link target (> 100 bytes) to exercise the GNU long-link record.
    symlink(
        format!("../{}", long_rel()),
        src.join("run-example/long-target.log"),
    )
    .unwrap();
    // Empty directory: no entry at all (there are no directory entries).
    fs::create_dir_all(src.join("empty-dir")).unwrap();
    mkfifo(&src.join("host-collectors/fifo"));
    let _sock = std::os::unix::net::UnixListener::bind(src.join("host-collectors/sock")).unwrap();
    std::mem::forget(_sock); // keep the socket file; the fd is closed at exit
    (tmp, src)
}

#[test]
fn layout_links_modes_owners_and_special_files() {
    let (tmp, src) = sample_tree();
    // A character device too, if this container lets root create one.
    let dev = src.join("host-collectors/null");
    let c = CString::new(dev.as_os_str().as_bytes()).unwrap();
    // SAFETY: valid path; creates /dev/null's node (1,3) or fails with EPERM.
    let have_dev =
        unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3)) } == 0;
    if !have_dev {
        println!(
            "device node not tested: mknod: {}",
            std::io::Error::last_os_error()
        );
    }

    let dest = tmp.path().join("out.tar.gz");
    let info = write_bundle(&src, &dest, TOP, &BundleOptions::default()).unwrap();
    let entries = list_archive(&dest).unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();

    // One top folder, no directory entries, forward slashes, sorted.
    assert!(
        names.iter().all(|n| n.starts_with(&format!("{TOP}/"))),
        "{names:#?}"
    );
    assert!(entries.iter().all(|e| e.kind != EntryKind::Directory));
    assert!(names.iter().all(|n| !n.contains('\\') && !n.contains("//")));
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert!(!names.iter().any(|n| n.contains("empty-dir")));

    // Long names survive.
    assert!(names.contains(&format!("{TOP}/{}", long_rel()).as_str()));

    // Files 0600, owner-less, mtime from the source.
    for e in &entries {
        assert_eq!((e.uid, e.gid), (0, 0), "{}", e.name);
        assert_eq!((e.user.as_str(), e.group.as_str()), ("", ""), "{}", e.name);
        if e.kind == EntryKind::File {
            assert_eq!(e.mode, 0o600, "{}", e.name);
            let rel = e.name.strip_prefix(&format!("{TOP}/")).unwrap();
            let m = fs::symlink_metadata(src.join(rel)).unwrap();
            assert_eq!(e.mtime as i64, m.mtime(), "{}", e.name);
            assert_eq!(e.size, m.len());
        }
    }

    // Links: relative kept, absolute-inside rewritten, long target kept, outside skipped.
    let link = |n: &str| {
        entries
            .iter()
            .find(|e| e.name == format!("{TOP}/{n}"))
            .map(|e| (e.kind, e.link_target.clone().unwrap_or_default()))
    };
    assert_eq!(
        link("run-example/run-example.log").unwrap(),
        (
            EntryKind::Symlink,
            "../cluster-resources/pods/logs/default/run-example/collector.log".into()
        )
    );
    assert_eq!(
        link("run-example/abs-inside.json").unwrap(),
        (
            EntryKind::Symlink,
            "../host-collectors/system/cpu.json".into()
        )
    );
    assert_eq!(
        link("run-example/long-target.log").unwrap().1,
        format!("../{}", long_rel())
    );
    assert!(link("run-example/abs-outside.txt").is_none());

    let reason = |rel: &str| {
        info.skipped
            .iter()
            .find(|(p, _)| p == rel)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| panic!("{rel} not in skipped: {:#?}", info.skipped))
    };
    assert!(reason("run-example/abs-outside.txt").contains("outside the bundle"));
    assert!(reason("host-collectors/fifo").contains("FIFO"));
    assert!(reason("host-collectors/sock").contains("socket"));
    if have_dev {
        assert!(reason("host-collectors/null").contains("character device"));
    }
    assert_eq!(
        info.skipped.len(),
        if have_dev { 4 } else { 3 },
        "{:#?}",
        info.skipped
    );
    assert_eq!(info.files, 7);
    assert_eq!(info.symlinks, 3);
    assert_eq!(entries.len(), 10);
}

#[test]
fn size_and_sha256_match_a_reread_and_result_is_0600() {
    let (tmp, src) = sample_tree();
    for threads in [1, 2] {
        let dest = tmp.path().join(format!("out-{threads}.tar.gz"));
        let opts = BundleOptions {
            threads,
            ..BundleOptions::default()
        };
        let info = write_bundle(&src, &dest, TOP, &opts).unwrap();
        let bytes = fs::read(&dest).unwrap();
        assert_eq!(info.size, bytes.len() as u64);
        let hex: String = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(info.sha256, hex);
        assert_eq!(info.path, dest);
        assert_eq!(
            fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
            0o600
        );
        // Nothing but the results is left in the folder (no temp files).
        let left: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

/// Every regular file and link under `root`, relative, with content or link target.
fn snapshot(root: &Path) -> Vec<(String, String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String, Vec<u8>)>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            let m = fs::symlink_metadata(&p).unwrap();
            if m.is_dir() {
                walk(root, &p, out);
            } else if m.file_type().is_symlink() {
                out.push((
                    rel,
                    "link".into(),
                    fs::read_link(&p).unwrap().as_os_str().as_bytes().to_vec(),
                ));
            } else if m.is_file() {
                out.push((rel, "file".into(), fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn round_trips_through_gnu_tar() {
    let (tmp, src) = sample_tree();
    for threads in [1, 2] {
        let dest = tmp.path().join(format!("rt-{threads}.tar.gz"));
        let opts = BundleOptions {
            threads,
            ..BundleOptions::default()
        };
        write_bundle(&src, &dest, TOP, &opts).unwrap();

        let out = Command::new("tar").arg("tzf").arg(&dest).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect();
        let ours: Vec<String> = list_archive(&dest)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(listed, ours);

        let x = tmp.path().join(format!("x-{threads}"));
        fs::create_dir(&x).unwrap();
        let st = Command::new("tar")
            .arg("xzf")
            .arg(&dest)
            .arg("-C")
            .arg(&x)
            .status()
            .unwrap();
        assert!(st.success());
        // The extracted top folder equals the source minus what was reported skipped.
        let got = snapshot(&x.join(TOP));
        let skipped = [
            "run-example/abs-outside.txt",
            "host-collectors/fifo",
            "host-collectors/sock",
        ];
        let want: Vec<_> = snapshot(&src)
            .into_iter()
            .filter(|(rel, _, _)| !skipped.contains(&rel.as_str()))
            .map(|(rel, kind, data)| {
                // The absolute link comes back relative.
                if rel == "run-example/abs-inside.json" {
                    (rel, kind, b"../host-collectors/system/cpu.json".to_vec())
                } else {
                    (rel, kind, data)
                }
            })
            .collect();
        assert_eq!(got, want);
        // And the links resolve inside the extracted tree.
        let via_link = fs::read(x.join(TOP).join("run-example/run-example.log")).unwrap();
        assert_eq!(via_link, b"hello\nworld\n");
    }
}

#[test]
fn the_archive_never_contains_its_own_temp_when_written_inside_the_tree() {
    let (_tmp, src) = sample_tree();
    let dest = src.join("self.tar.gz");
    write_bundle(&src, &dest, TOP, &BundleOptions::default()).unwrap();
    // Written again: the first archive is now a normal file and is included; the temp never is.
    let info = write_bundle(&src, &dest, TOP, &BundleOptions::default()).unwrap();
    let names: Vec<String> = list_archive(&dest)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");
    assert!(names.contains(&format!("{TOP}/self.tar.gz")));
    assert!(!info.skipped.iter().any(|(p, _)| p.contains(".tmp-")));
}

#[test]
fn bad_arguments_fail_cleanly() {
    let (tmp, src) = sample_tree();
    let opts = BundleOptions::default();
    let dest = tmp.path().join("o.tar.gz");
    for bad in ["", "..", "a/b"] {
        assert!(matches!(
            write_bundle(&src, &dest, bad, &opts),
            Err(BundleError::InvalidTop { .. })
        ));
    }
    let lvl = BundleOptions {
        compression_level: 10,
        ..BundleOptions::default()
    };
    assert!(matches!(
        write_bundle(&src, &dest, TOP, &lvl),
        Err(BundleError::InvalidOption(_))
    ));
    let e = write_bundle(&tmp.path().join("nope"), &dest, TOP, &opts).unwrap_err();
    assert!(e.to_string().contains("no such file or directory"), "{e}");
    // A destination folder that does not exist: clean error, nothing created.
    let missing = tmp.path().join("no-such-dir/o.tar.gz");
    let e = write_bundle(&src, &missing, TOP, &opts).unwrap_err();
    assert!(e.to_string().contains("while creating"), "{e}");
    assert!(!tmp.path().join("no-such-dir").exists());
    assert!(!dest.exists());
}

/// Unmounts a tmpfs when the test ends, pass or fail.
struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_leaves_neither_temp_nor_final_file() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // 4 MiB of incompressible bytes cannot fit a 1 MiB tmpfs even gzipped.
    let mut noise = vec![0u8; 4 << 20];
    let mut x: u64 = 88172645463325252;
    for chunk in noise.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    write(&src, "big.bin", &noise);
    let mnt = tmp.path().join("mnt");
    fs::create_dir(&mnt).unwrap();
    let out = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .stderr(Stdio::piped())
        .output();
    let mounted = matches!(&out, Ok(o) if o.status.success());
    if !mounted {
        println!(
            "tmpfs not mounted ({}); checking a write into a missing folder instead",
            match &out {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                Err(e) => e.to_string(),
            }
        );
        let dest = mnt.join("gone/o.tar.gz");
        assert!(write_bundle(&src, &dest, TOP, &BundleOptions::default()).is_err());
        assert_eq!(fs::read_dir(&mnt).unwrap().count(), 0);
        return;
    }
    let _guard = Mounted(mnt.clone());
    for threads in [1, 2] {
        let dest = mnt.join("o.tar.gz");
        let opts = BundleOptions {
            threads,
            ..BundleOptions::default()
        };
        let err = write_bundle(&src, &dest, TOP, &opts).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("no space left on device while writing ") && msg.ends_with("o.tar.gz"),
            "{msg}"
        );
        let left: Vec<_> = fs::read_dir(&mnt)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }
}

/// The child half of the tests that archive in another process (to drop privileges, or to be
/// killed mid-archive): archives BUNDLE_CHILD_SRC into BUNDLE_CHILD_DEST and prints what was
/// skipped.
fn archive_as_child() {
    let src = std::env::var("BUNDLE_CHILD_SRC").expect("BUNDLE_CHILD_SRC");
    let dest = std::env::var("BUNDLE_CHILD_DEST").expect("BUNDLE_CHILD_DEST");
    let level = std::env::var("BUNDLE_CHILD_LEVEL")
        .ok()
        .and_then(|l| l.parse().ok())
        .unwrap_or(6);
    let opts = BundleOptions {
        compression_level: level,
        ..BundleOptions::default()
    };
    match write_bundle(Path::new(&src), Path::new(&dest), TOP, &opts) {
        Ok(info) => {
            for (p, r) in &info.skipped {
                println!("SKIPPED\t{p}\t{r}");
            }
            println!("FILES\t{}", info.files);
        }
        Err(e) => println!("ERROR\t{e}"),
    }
}

/// Test `name` again, in a child process (run through `wrapper`) that archives `src` into `dest`.
fn child(name: &str, src: &Path, dest: &Path, wrapper: &[&str]) -> Command {
    let mut c = alone::command(module_path!(), name, wrapper);
    c.env("BUNDLE_CHILD_SRC", src)
        .env("BUNDLE_CHILD_DEST", dest);
    c
}

#[test]
fn unreadable_file_is_skipped_with_a_reason_and_the_bundle_continues() {
    let name = "unreadable_file_is_skipped_with_a_reason_and_the_bundle_continues";
    if alone::is_child(module_path!(), name) {
        archive_as_child();
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src, "a/readable.json", b"{}");
    write(&src, "a/secret.key", b"nope");
    fs::set_permissions(src.join("a/secret.key"), fs::Permissions::from_mode(0o000)).unwrap();
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    for d in [tmp.path(), &src, &src.join("a")] {
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(&out_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let dest = out_dir.join("o.tar.gz");

    // Root reads a mode-000 file: as root, the archiving child runs as nobody.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let wrapper: &[&str] = if root { &alone::AS_NOBODY } else { &[] };
    let stdout = alone::run(&mut child(name, &src, &dest, wrapper));
    assert!(
        stdout.contains("SKIPPED\ta/secret.key\tcannot open: permission denied"),
        "{stdout}"
    );
    assert!(stdout.contains("FILES\t1"), "{stdout}");
    let names: Vec<String> = list_archive(&dest)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, [format!("{TOP}/a/readable.json")]);
}

#[test]
fn sigkill_mid_archive_never_publishes_the_final_name() {
    let name = "sigkill_mid_archive_never_publishes_the_final_name";
    if alone::is_child(module_path!(), name) {
        archive_as_child();
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    // 96 MiB of noise at level 9 in a debug build takes many seconds: plenty of time to kill.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..48 {
        let mut buf = vec![0u8; 2 << 20];
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes());
        }
        write(&src, &format!("logs/{i:02}.log"), &buf);
    }
    let out_dir = tmp.path().join("out");
    fs::create_dir(&out_dir).unwrap();
    let dest = out_dir.join("big.tar.gz");
    let mut c = child(name, &src, &dest, &[])
        .env("BUNDLE_CHILD_LEVEL", "9")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let temp = out_dir.join(format!(".big.tar.gz.tmp-{}", c.id()));
    let deadline = Instant::now() + Duration::from_secs(60);
    // Kill once the archive has real bytes in it: mid-way, not before it started.
    loop {
        if fs::metadata(&temp).map(|m| m.len() > 0).unwrap_or(false) {
            break;
        }
        assert!(
            c.try_wait().unwrap().is_none(),
            "child finished before it could be killed"
        );
        assert!(Instant::now() < deadline, "temp file never grew");
        std::thread::sleep(Duration::from_millis(2));
    }
    c.kill().unwrap(); // SIGKILL
    c.wait().unwrap();
    assert!(!dest.exists(), "a killed run published the final name");
    assert!(
        temp.exists(),
        "expected the half-written temp to remain after SIGKILL"
    );

    // Cleanup removes the dead process's temp, keeps other files and live processes' temps.
    fs::write(out_dir.join("keep.tar.gz"), b"x").unwrap();
    let ours = out_dir.join(format!(".mine.tar.gz.tmp-{}", std::process::id()));
    fs::write(&ours, b"x").unwrap();
    assert_eq!(remove_stale_temps(&out_dir).unwrap(), 1);
    assert!(!temp.exists());
    assert!(ours.exists() && out_dir.join("keep.tar.gz").exists());
    assert_eq!(remove_stale_temps(&out_dir).unwrap(), 0);
}

#[test]
fn list_archive_reads_the_upstream_baseline() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/compat/bundles/baseline-v0.12x.tar.gz");
    if !p.exists() {
        println!("compat corpus missing at {}; nothing to read", p.display());
        return;
    }
    let entries = list_archive(&p).unwrap();
    assert_eq!(entries.len(), 149);
    let v = entries
        .iter()
        .find(|e| e.name == "supportbundle/version.yaml")
        .unwrap();
    assert_eq!((v.kind, v.mode, v.size), (EntryKind::File, 0o644, 101));
    let mut f = fs::File::open(&p).unwrap();
    let mut head = [0u8; 2];
    f.read_exact(&mut head).unwrap();
    assert_eq!(head, [0x1f, 0x8b]);
}
