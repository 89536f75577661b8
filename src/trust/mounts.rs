//! Whether nobody can write a path through any mount this process can see: the case of a
//! Kubernetes ConfigMap volume, whose root directory the kubelet makes 0777 (an emptyDir on
//! tmpfs) but mounts read-only into the container.
//!
//! A group- or world-writable directory or file is harmless when the filesystem holding it has
//! no writable mount in this mount namespace: the read-only mount cannot be written through,
//! and making it writable (a remount, a new mount) takes CAP_SYS_ADMIN, which is root's. The
//! kubelet writes the volume from the host's namespace, as root. A read-only bind mount of a
//! directory that is also mounted read-write somewhere visible (`mount --bind -o ro /srv/x
//! /etc/troubleshoot/jobs.d`) does not count: whoever may write `/srv/x` writes the job files.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether `meta` (of a file or directory found at `path`) is on a filesystem whose every mount
/// in `/proc/self/mountinfo` is read-only. Any doubt (no mountinfo, no read-only flag) is `false`.
pub(super) fn read_only_everywhere(path: &Path, meta: &std::fs::Metadata) -> bool {
    let on_read_only_mount = rustix::fs::statvfs(path)
        .is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY));
    if !on_read_only_mount {
        return false;
    }
    match std::fs::read_to_string("/proc/self/mountinfo") {
        Ok(text) => no_writable_mount(&text, meta.dev()),
        Err(_) => false,
    }
}

/// Whether every mount of device `dev` in `mountinfo` (proc(5)'s format) is read-only, and there
/// is at least one.
fn no_writable_mount(mountinfo: &str, dev: u64) -> bool {
    let (major, minor) = (libc::major(dev), libc::minor(dev));
    let want = format!("{major}:{minor}");
    let mut seen = false;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        // id parent major:minor root mount-point mount-options ...
        let (Some(device), Some(options)) = (fields.get(2), fields.get(5)) else {
            return false;
        };
        if *device != want {
            continue;
        }
        seen = true;
        if !options.split(',').any(|o| o == "ro") {
            return false;
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "\
22 1 0:21 / /proc rw,nosuid - proc proc rw
30 22 0:45 / /etc/troubleshoot/jobs.d ro,relatime - tmpfs tmpfs rw,size=1024k
31 22 0:46 / /var/lib/kubelet/x rw,relatime - tmpfs tmpfs rw
32 22 0:46 /sub /srv/jobs ro,relatime - tmpfs tmpfs rw
";

    #[test]
    fn only_a_device_mounted_read_only_everywhere_counts() {
        let dev = |major, minor| libc::makedev(major, minor);
        assert!(no_writable_mount(INFO, dev(0, 45)), "the ConfigMap volume");
        assert!(
            !no_writable_mount(INFO, dev(0, 46)),
            "a read-only bind of a filesystem also mounted read-write"
        );
        assert!(!no_writable_mount(INFO, dev(0, 21)), "a writable mount");
        assert!(!no_writable_mount(INFO, dev(9, 9)), "not mounted at all");
        assert!(!no_writable_mount("garbage\n", dev(0, 45)), "unreadable");
    }
}
