//! A cgroup (v2) per run: every process the run starts is placed in it, its `memory.max`,
//! `cpu.weight` and `io.weight` hold the job's limits where the controller is available, and
//! whatever is left in it when the run ends is killed before the directory is removed.
//!
//! Used when the agent's own cgroup is on a cgroup2 mount and writable, and, under systemd, only
//! when the unit delegates it (`Delegate=yes`: systemd marks the cgroup with the `trusted.delegate`
//! extended attribute). systemd's rule for a delegated cgroup is that processes live only in
//! leaves, so the agent first moves itself into a leaf of its own (`agent-process`) when the
//! kernel refuses to enable controllers beside it; run cgroups are its siblings.
//!
//! A transient scope over D-Bus (`systemd-run --scope`) would do the same under systemd without
//! delegation, at the cost of a D-Bus client; delegation is one line in the unit.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// cgroup2's file system magic number (`statfs(2)`'s `f_type`).
const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;

/// The leaf the agent moves itself into when its cgroup must hold only other cgroups.
pub const AGENT_LEAF: &str = "agent-process";

/// A cgroup controller a limit needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    /// `memory.max`.
    Memory,
    /// `cpu.weight`.
    Cpu,
    /// `io.weight`.
    Io,
}

impl Controller {
    /// The kernel's name.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Io => "io",
        }
    }
}

/// Where run cgroups can be made, and what they can limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Usable {
    /// The directory run cgroups are created in (the agent's cgroup, or the parent of its leaf).
    pub base: PathBuf,
    /// The controllers `base` offers (`cgroup.controllers`) among memory, cpu and io.
    pub controllers: Vec<Controller>,
}

impl Usable {
    /// Whether `c` is offered.
    pub fn has(&self, c: Controller) -> bool {
        self.controllers.contains(&c)
    }
}

/// Why run cgroups cannot be used on this host (the note `resources` shows).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// The path is not a cgroup2 filesystem.
    #[error("{} is not a cgroup2 mount", .0.display())]
    NotCgroup2(PathBuf),
    /// `/proc/self/cgroup` has no `0::` line.
    #[error("the agent has no cgroup v2 path in /proc/self/cgroup")]
    NoV2Path,
    /// Under systemd, only a delegated cgroup may be written.
    #[error(
        "the agent runs under systemd without a delegated cgroup (set Delegate=yes in the unit)"
    )]
    NotDelegated,
    /// The cgroup path cannot be passed to the kernel.
    #[error("the cgroup path contains a NUL byte")]
    NulInPath,
    /// The agent may not create cgroups there.
    #[error("{} is not writable", .0.display())]
    NotWritable(PathBuf),
}

/// Finds the agent's cgroup v2 directory from `/proc/self/cgroup` (`proc_self_cgroup`) under the
/// mount at `mount`, or says why run cgroups cannot be used here.
pub fn detect(mount: &Path, proc_self_cgroup: &str, systemd: bool) -> Result<Usable, Unusable> {
    if !is_cgroup2(mount) {
        return Err(Unusable::NotCgroup2(mount.to_path_buf()));
    }
    let rel = proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .ok_or(Unusable::NoV2Path)?
        .trim()
        .trim_start_matches('/');
    let own = if rel.is_empty() {
        mount.to_path_buf()
    } else {
        mount.join(rel)
    };
    // Back in our own leaf (an earlier run moved us): runs go beside it.
    let base = match own.file_name() {
        Some(name) if name == AGENT_LEAF => own.parent().unwrap_or(mount).to_path_buf(),
        _ => own,
    };
    if systemd && base != mount && !delegated(&base) {
        return Err(Unusable::NotDelegated);
    }
    let Ok(c_dir) = CString::new(base.as_os_str().as_encoded_bytes()) else {
        return Err(Unusable::NulInPath);
    };
    // SAFETY: access(2) reads a NUL-terminated path we own.
    if unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) } != 0 {
        return Err(Unusable::NotWritable(base));
    }
    let offered = std::fs::read_to_string(base.join("cgroup.controllers")).unwrap_or_default();
    let controllers = [Controller::Memory, Controller::Cpu, Controller::Io]
        .into_iter()
        .filter(|c| offered.split_whitespace().any(|o| o == c.name()))
        .collect();
    Ok(Usable { base, controllers })
}

fn is_cgroup2(path: &Path) -> bool {
    let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: statfs(2) with a NUL-terminated path and a zeroed out-parameter we own.
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut fs) } == 0) && fs.f_type as i64 == CGROUP2_SUPER_MAGIC
}

/// Whether systemd delegated `dir` (it sets `trusted.delegate`, or `user.delegate` for user
/// managers, on delegated cgroups since v251).
fn delegated(dir: &Path) -> bool {
    let Ok(c) = CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    ["trusted.delegate", "user.delegate"].iter().any(|name| {
        let name = CString::new(*name).expect("static name");
        let mut buf = [0u8; 8];
        // SAFETY: getxattr(2) with NUL-terminated names and a buffer of the length passed.
        unsafe {
            libc::getxattr(
                c.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            ) > 0
        }
    })
}

/// The values a run cgroup is given (each only when its controller is offered).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    /// `memory.max`, bytes.
    pub memory_max: Option<u64>,
    /// `cpu.weight`, 1-10000.
    pub cpu_weight: Option<u32>,
    /// `io.weight` (`default N`), 1-10000.
    pub io_weight: Option<u32>,
}

/// One run's cgroup. Dropping it kills what is left in it and removes it.
#[derive(Debug)]
pub struct RunCgroup {
    dir: PathBuf,
    procs: File,
}

/// Why a run cgroup could not be made.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the run's cgroup {path}: {source}")]
pub struct CgroupError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl RunCgroup {
    /// Creates `<base>/<name>` with `limits`, first enabling the controllers they need in `base`.
    pub fn create(
        usable: &Usable,
        name: &str,
        limits: CgroupLimits,
    ) -> Result<RunCgroup, CgroupError> {
        let at = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CgroupError { path, source }
        };
        let base = &usable.base;
        let wanted: Vec<Controller> = [
            (limits.memory_max.is_some(), Controller::Memory),
            (limits.cpu_weight.is_some(), Controller::Cpu),
            (limits.io_weight.is_some(), Controller::Io),
        ]
        .into_iter()
        .filter(|(asked, c)| *asked && usable.has(*c))
        .map(|(_, c)| c)
        .collect();
        if !wanted.is_empty() {
            enable_controllers(base, &wanted).map_err(at(base))?;
        }
        let dir = base.join(sanitize(name));
        match std::fs::create_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(at(&dir)(e)),
        }
        // From here on the directory is ours: a failure removes it again (Drop).
        let procs = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(dir.join("cgroup.procs"))
            .map_err(at(&dir))?;
        let group = RunCgroup { dir, procs };
        let write = |file: &str, value: String| {
            std::fs::write(group.dir.join(file), value).map_err(at(&group.dir.join(file)))
        };
        if let (Some(bytes), true) = (limits.memory_max, wanted.contains(&Controller::Memory)) {
            write("memory.max", bytes.to_string())?;
            // Without this the kernel swaps the run out instead of stopping it at the limit.
            let _ = write("memory.swap.max", "0".into());
        }
        if let (Some(w), true) = (limits.cpu_weight, wanted.contains(&Controller::Cpu)) {
            write("cpu.weight", w.clamp(1, 10_000).to_string())?;
        }
        if let (Some(w), true) = (limits.io_weight, wanted.contains(&Controller::Io)) {
            write("io.weight", format!("default {}", w.clamp(1, 10_000)))?;
        }
        Ok(group)
    }

    /// The cgroup directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The open `cgroup.procs`: a child writes `0` to it between fork and exec to join.
    pub fn procs_fd(&self) -> RawFd {
        self.procs.as_raw_fd()
    }

    /// How many processes the kernel's OOM killer killed in it (`memory.events`' `oom_kill`).
    pub fn oom_kills(&self) -> Option<u64> {
        let events = std::fs::read_to_string(self.dir.join("memory.events")).ok()?;
        events
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        // A collector's leftovers (a daemonised grandchild) die with the run: `cgroup.kill`
        // (Linux 5.14) kills them all at once, else each pid listed.
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_err() {
            for pid in std::fs::read_to_string(self.dir.join("cgroup.procs"))
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<libc::pid_t>().ok())
            {
                // SAFETY: kill(2) on a pid read from the cgroup; no memory is passed.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // rmdir fails while the killed processes are still being reaped: retry briefly.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::remove_dir(&self.dir) {
                Ok(()) => return,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
                Err(e) if Instant::now() >= deadline => {
                    tracing::warn!(cgroup = %self.dir.display(), "cannot remove the run's cgroup: {e}");
                    return;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// Joins the cgroup whose `cgroup.procs` is open as `fd`. Called in the child between fork and
/// exec: one write(2), no allocation.
pub fn join(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: write(2) of a static one-byte buffer to a descriptor the parent keeps open.
    if unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) } != 1 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Enables `wanted` in `base`'s `cgroup.subtree_control`. The kernel refuses (EBUSY) while
/// `base` holds processes itself and is not the root: the agent then moves into its leaf first.
fn enable_controllers(base: &Path, wanted: &[Controller]) -> std::io::Result<()> {
    let line: Vec<String> = wanted.iter().map(|c| format!("+{}", c.name())).collect();
    let line = line.join(" ");
    let control = base.join("cgroup.subtree_control");
    match std::fs::write(&control, &line) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
            let leaf = base.join(AGENT_LEAF);
            match std::fs::create_dir(&leaf) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
            // Writing our pid moves the whole process, every thread, into the leaf.
            let mut procs = OpenOptions::new()
                .write(true)
                .open(leaf.join("cgroup.procs"))?;
            procs.write_all(std::process::id().to_string().as_bytes())?;
            tracing::info!(cgroup = %leaf.display(), "moved the agent into a leaf cgroup so that run cgroups can be made beside it");
            std::fs::write(&control, &line)
        }
        Err(e) => Err(e),
    }
}

/// A cgroup name from a job name and run id: letters, digits, `-`, `_` and `.` only.
fn sanitize(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    match clean.trim_start_matches('.') {
        "" => "run".into(),
        s => s.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_path_components() {
        assert_eq!(sanitize("tsa-j-20261207T0100"), "tsa-j-20261207T0100");
        assert_eq!(sanitize("../x/y"), "_x_y");
        assert_eq!(sanitize(".."), "run");
        assert_eq!(sanitize("a b\nc"), "a_b_c");
    }

    #[test]
    fn detect_needs_a_cgroup2_mount() {
        // A plain directory is not a cgroup2 mount, whatever /proc/self/cgroup says.
        let dir = tempfile::tempdir().unwrap();
        let err = detect(dir.path(), "0::/\n", false).unwrap_err();
        assert!(matches!(err, Unusable::NotCgroup2(_)), "{err}");
        assert!(err.to_string().contains("not a cgroup2 mount"), "{err}");
    }
}
