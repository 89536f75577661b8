//! Resource limits of the processes a job runs (`spec.resources`, the agent's `defaultResources`).
//!
//! Mechanisms, best first: a transient systemd scope when the agent runs under systemd, a child
//! cgroup (v2) when the agent's own cgroup is writable with the controllers enabled, else per-process
//! limits set in the child between fork and exec: `setrlimit(RLIMIT_AS)` for `memoryMax`,
//! `setpriority` for `nice`, `ioprio_set` (best-effort class) for `ioWeight`. This build applies the
//! last one everywhere; the first two are detected and reported, so the run record says truthfully
//! what was applied and what a better mechanism would have added (`cpuWeight` needs a cgroup).

use serde::Serialize;
use std::path::Path;

/// What a job asks for, its own fields over the agent defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Requested {
    /// Relative CPU weight, 1-10000 (cgroup `cpu.weight`; 100 is the kernel default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_weight: Option<u32>,
    /// Memory ceiling in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<u64>,
    /// Relative I/O weight, 1-10000 (cgroup `io.weight`; 100 is the kernel default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_weight: Option<u32>,
    /// Scheduling niceness, -20..19.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
}

impl Requested {
    /// Whether anything is asked for at all.
    pub fn is_empty(&self) -> bool {
        *self == Requested::default()
    }
}

/// The mechanism that enforced a run's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mechanism {
    /// Per-process limits set between fork and exec.
    #[serde(rename = "rlimit+nice+ioprio")]
    RlimitNice,
}

/// What this host offers besides the per-process limits (detected once per run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSupport {
    /// The agent runs as a systemd service (a transient scope could hold each collector).
    pub systemd: bool,
    /// The agent's own cgroup v2 directory is writable and has memory, cpu and io available.
    pub cgroup_v2_writable: bool,
}

impl HostSupport {
    /// Looks at `/run/systemd/system`, `$INVOCATION_ID`, `/proc/self/cgroup` and the cgroup mount.
    pub fn detect() -> Self {
        let systemd = Path::new("/run/systemd/system").is_dir()
            && std::env::var_os("INVOCATION_ID").is_some();
        HostSupport {
            systemd,
            cgroup_v2_writable: own_cgroup_v2_writable(Path::new("/sys/fs/cgroup")),
        }
    }
}

/// Whether the agent's cgroup (the `0::/path` line of `/proc/self/cgroup`) under the unified
/// mount at `root` is writable by it and offers the memory, cpu and io controllers.
fn own_cgroup_v2_writable(root: &Path) -> bool {
    let Ok(cgroups) = std::fs::read_to_string("/proc/self/cgroup") else {
        return false;
    };
    let Some(rel) = cgroups.lines().find_map(|l| l.strip_prefix("0::")) else {
        return false;
    };
    let dir = root.join(rel.trim_start_matches('/'));
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    let has = |c: &str| controllers.split_whitespace().any(|x| x == c);
    if !(has("memory") && has("cpu") && has("io")) {
        return false;
    }
    let Ok(c_dir) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path we own; no other precondition.
    unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) == 0 }
}

/// The per-process limits a child applies to itself before exec; plain numbers, so the hook
/// allocates nothing and calls only async-signal-safe system calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChildLimits {
    /// `RLIMIT_AS` (soft and hard), bytes.
    pub address_space: Option<u64>,
    /// `setpriority(PRIO_PROCESS, 0, n)`.
    pub nice: Option<i32>,
    /// `ioprio_set` best-effort level, 0 (highest) to 7.
    pub io_level: Option<u8>,
}

impl ChildLimits {
    /// Applies the limits to the calling process. Called in the child after fork: only
    /// async-signal-safe calls, no allocation.
    pub fn apply_to_self(&self) -> std::io::Result<()> {
        if let Some(bytes) = self.address_space {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            // SAFETY: setrlimit(2) with a valid pointer to a stack value.
            if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(nice) = self.nice {
            // SAFETY: setpriority(2) on this process (who = 0); no memory is passed.
            if unsafe { libc::setpriority(libc::PRIO_PROCESS as _, 0, nice) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        if let Some(level) = self.io_level {
            const IOPRIO_WHO_PROCESS: libc::c_long = 1;
            const IOPRIO_CLASS_BE: libc::c_long = 2;
            const IOPRIO_CLASS_SHIFT: u32 = 13;
            let prio = (IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | libc::c_long::from(level.min(7));
            // SAFETY: ioprio_set(2) on this process (who = 0); no memory is passed.
            if unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// A run's limits: what the children apply and what the record says.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The mechanism that enforces them.
    pub applied: Mechanism,
    /// What the job (with the agent defaults) asked for.
    pub requested: Requested,
    /// What each collector process gets.
    pub enforced: Enforced,
    /// Asked for but not enforced by this mechanism, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
    /// What the host offers beyond the applied mechanism.
    pub host: HostSupport,
    /// For the hook.
    #[serde(skip)]
    pub child: ChildLimits,
}

/// The enforced values, for the record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enforced {
    /// `RLIMIT_AS` in bytes: virtual address space per process, not resident memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rlimit_as: Option<u64>,
    /// Niceness.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nice: Option<i32>,
    /// Best-effort I/O priority level (0 highest, 7 lowest; 4 is the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ioprio_best_effort_level: Option<u8>,
}

/// The limits for `requested` on a host offering `host`; `None` when nothing is asked for.
pub fn plan(requested: Requested, host: HostSupport) -> Option<Plan> {
    if requested.is_empty() {
        return None;
    }
    let io_level = requested.io_weight.map(io_level_for_weight);
    let child = ChildLimits {
        address_space: requested.memory_max,
        nice: requested.nice,
        io_level,
    };
    let mut not_enforced = Vec::new();
    if let Some(w) = requested.cpu_weight {
        not_enforced.push(format!(
            "cpuWeight {w}: a CPU weight needs a cgroup, which this build does not create yet{}; \
             use `nice` to lower the collectors' CPU priority",
            if host.systemd || host.cgroup_v2_writable {
                " (this host has one available)"
            } else {
                ""
            }
        ));
    }
    Some(Plan {
        applied: Mechanism::RlimitNice,
        requested,
        enforced: Enforced {
            rlimit_as: child.address_space,
            nice: child.nice,
            ioprio_best_effort_level: io_level,
        },
        not_enforced,
        host,
        child,
    })
}

/// The best-effort I/O level that approximates a cgroup I/O weight: 100 (the default weight) is
/// level 4 (the default level); each tenfold weight is two levels.
pub fn io_level_for_weight(weight: u32) -> u8 {
    let w = f64::from(weight.clamp(1, 10_000));
    let level = 4.0 - 2.0 * (w / 100.0).log10();
    level.round().clamp(0.0, 7.0) as u8
}

/// One line for a collector's error: what was in force.
pub fn summary(plan: &Plan) -> String {
    let mut parts = Vec::new();
    if let Some(b) = plan.enforced.rlimit_as {
        parts.push(format!("memoryMax {b} bytes as RLIMIT_AS"));
    }
    if let Some(n) = plan.enforced.nice {
        parts.push(format!("nice {n}"));
    }
    if let Some(l) = plan.enforced.ioprio_best_effort_level {
        parts.push(format!("I/O priority best-effort {l}"));
    }
    if parts.is_empty() {
        parts.push("none enforceable".into());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_weights_map_to_levels() {
        assert_eq!(io_level_for_weight(100), 4);
        assert_eq!(io_level_for_weight(1000), 2);
        assert_eq!(io_level_for_weight(10_000), 0);
        assert_eq!(io_level_for_weight(10), 6);
        assert_eq!(io_level_for_weight(1), 7);
        assert_eq!(io_level_for_weight(20), 5);
    }

    #[test]
    fn cpu_weight_is_reported_not_enforced() {
        assert!(plan(Requested::default(), HostSupport::default()).is_none());
        let p = plan(
            Requested {
                cpu_weight: Some(50),
                memory_max: Some(64 << 20),
                ..Requested::default()
            },
            HostSupport::default(),
        )
        .unwrap();
        assert_eq!(p.child.address_space, Some(64 << 20));
        assert_eq!(p.not_enforced.len(), 1);
        assert!(p.not_enforced[0].starts_with("cpuWeight 50"));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["applied"], "rlimit+nice+ioprio");
        assert_eq!(json["enforced"]["rlimitAs"], 64 << 20);
    }

    #[test]
    fn a_child_gets_its_limits() {
        // A real child: sh reports its own limits after the hook applied them.
        use std::os::unix::process::CommandExt;
        let limits = ChildLimits {
            address_space: Some(256 << 20),
            nice: Some(7),
            io_level: Some(6),
        };
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", "ulimit -v; cut -d' ' -f19 /proc/self/stat"]);
        // SAFETY: the hook only makes async-signal-safe system calls.
        unsafe { cmd.pre_exec(move || limits.apply_to_self()) };
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines, ["262144", "7"], "{text}");
    }
}
