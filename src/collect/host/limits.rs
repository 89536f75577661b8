//! Resource limits of the processes a job runs (`spec.resources`, the agent's `defaultResources`).
//!
//! Mechanisms, best first: a cgroup (v2) per run when the agent's own cgroup is writable (under
//! systemd: delegated, `Delegate=yes`), see [`super::cgroup`]: `memory.max`, `cpu.weight` and
//! `io.weight` for the controllers it offers; then, for what no cgroup covers, per-process limits
//! set in the child between fork and exec: `setrlimit(RLIMIT_AS)` for `memoryMax`, `ioprio_set`
//! (best-effort class) for `ioWeight`. `nice` is always `setpriority`. The run record says which
//! mechanism held each limit and which could not be enforced (`cpuWeight` needs the cpu
//! controller).

use super::cgroup::{CgroupLimits, Controller, Usable};
use serde::Serialize;
use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

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

/// The mechanism that held a run's processes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mechanism {
    /// A cgroup of the run's own (with per-process limits for what its controllers lack).
    #[serde(rename = "cgroup-v2")]
    CgroupV2,
    /// Per-process limits set between fork and exec.
    #[serde(rename = "rlimit+nice+ioprio")]
    RlimitNice,
}

/// What this host offers besides the per-process limits (detected once per run).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HostSupport {
    /// The agent runs as a systemd service.
    pub systemd: bool,
    /// Run cgroups can be made (the agent's cgroup v2 directory is writable and, under systemd,
    /// delegated).
    pub cgroup_v2_writable: bool,
    /// The controllers run cgroups can use, of memory, cpu and io.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cgroup_controllers: Vec<&'static str>,
    /// Why run cgroups cannot be made here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup_unusable: Option<String>,
    /// Where run cgroups go.
    #[serde(skip)]
    pub cgroup: Option<Usable>,
}

impl HostSupport {
    /// Looks at `$INVOCATION_ID`, `/proc/self/cgroup` and the cgroup2 mount (`/sys/fs/cgroup`,
    /// or `/sys/fs/cgroup/unified` on hybrid hosts).
    pub fn detect() -> Self {
        let systemd = Path::new("/run/systemd/system").is_dir()
            && std::env::var_os("INVOCATION_ID").is_some();
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let found =
            super::cgroup::detect(Path::new("/sys/fs/cgroup"), &own, systemd).or_else(|first| {
                super::cgroup::detect(Path::new("/sys/fs/cgroup/unified"), &own, systemd)
                    .map_err(|_| first)
            });
        Self::with(systemd, found)
    }

    /// The support a detection result gives; `found`'s error becomes the note shown where limits are reported.
    pub fn with<E: std::fmt::Display>(systemd: bool, found: Result<Usable, E>) -> Self {
        match found {
            Ok(usable) => HostSupport {
                systemd,
                cgroup_v2_writable: true,
                cgroup_controllers: usable.controllers.iter().map(|c| c.name()).collect(),
                cgroup_unusable: None,
                cgroup: Some(usable),
            },
            Err(reason) => HostSupport {
                systemd,
                cgroup_unusable: Some(reason.to_string()),
                ..HostSupport::default()
            },
        }
    }
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
    /// The run cgroup's open `cgroup.procs`, joined first.
    pub cgroup_procs: Option<RawFd>,
}

impl ChildLimits {
    /// Applies the limits to the calling process. Called in the child after fork: only
    /// async-signal-safe calls, no allocation.
    pub fn apply_to_self(&self) -> std::io::Result<()> {
        if let Some(fd) = self.cgroup_procs {
            super::cgroup::join(fd)?;
        }
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
    /// The mechanism that holds the run's processes.
    pub applied: Mechanism,
    /// What the job (with the agent defaults) asked for.
    pub requested: Requested,
    /// What each collector process gets.
    pub enforced: Enforced,
    /// Asked for but not enforced by this mechanism, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_enforced: Vec<String>,
    /// What the host offers.
    pub host: HostSupport,
    /// For the hook.
    #[serde(skip)]
    pub child: ChildLimits,
}

/// The enforced values, for the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enforced {
    /// The run's cgroup and what it limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cgroup: Option<EnforcedCgroup>,
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

/// A run cgroup in the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnforcedCgroup {
    /// Its directory (set once it exists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// `memory.max`, bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<u64>,
    /// `cpu.weight`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_weight: Option<u32>,
    /// `io.weight`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_weight: Option<u32>,
    /// Processes the kernel's OOM killer killed in it (read when the run's processes are done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oom_kills: Option<u64>,
}

impl Plan {
    /// What the run cgroup is to be given (`None`: no run cgroup).
    pub fn cgroup_limits(&self) -> Option<CgroupLimits> {
        self.enforced.cgroup.as_ref().map(|c| CgroupLimits {
            memory_max: c.memory_max,
            cpu_weight: c.cpu_weight,
            io_weight: c.io_weight,
        })
    }
}

/// The limits for `requested` on a host offering `host`; `None` when nothing is asked for.
pub fn plan(requested: Requested, host: HostSupport) -> Option<Plan> {
    if requested.is_empty() {
        return None;
    }
    let usable = host.cgroup.as_ref();
    let in_cgroup = |c: Controller| usable.is_some_and(|u| u.has(c));
    let cgroup = usable.map(|_| EnforcedCgroup {
        memory_max: requested
            .memory_max
            .filter(|_| in_cgroup(Controller::Memory)),
        cpu_weight: requested.cpu_weight.filter(|_| in_cgroup(Controller::Cpu)),
        io_weight: requested.io_weight.filter(|_| in_cgroup(Controller::Io)),
        ..EnforcedCgroup::default()
    });
    let io_level = requested
        .io_weight
        .filter(|_| !in_cgroup(Controller::Io))
        .map(io_level_for_weight);
    let child = ChildLimits {
        address_space: requested
            .memory_max
            .filter(|_| !in_cgroup(Controller::Memory)),
        nice: requested.nice,
        io_level,
        cgroup_procs: None,
    };
    let mut not_enforced = Vec::new();
    if let Some(w) = requested.cpu_weight.filter(|_| !in_cgroup(Controller::Cpu)) {
        let why = match (usable, &host.cgroup_unusable) {
            (Some(u), _) => format!(
                "the agent's cgroup {} does not offer the cpu controller",
                u.base.display()
            ),
            (None, Some(reason)) => format!("no run cgroup: {reason}"),
            (None, None) => "no run cgroup".to_string(),
        };
        not_enforced.push(format!(
            "cpuWeight {w}: a CPU weight needs a cgroup with the cpu controller ({why}); \
             use `nice` to lower the collectors' CPU priority"
        ));
    }
    Some(Plan {
        applied: if cgroup.is_some() {
            Mechanism::CgroupV2
        } else {
            Mechanism::RlimitNice
        },
        requested,
        enforced: Enforced {
            cgroup,
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
    if let Some(c) = &plan.enforced.cgroup {
        if let Some(b) = c.memory_max {
            parts.push(format!(
                "memoryMax {b} bytes as the run cgroup's memory.max"
            ));
        }
        if let Some(w) = c.cpu_weight {
            parts.push(format!("cpu.weight {w}"));
        }
        if let Some(w) = c.io_weight {
            parts.push(format!("io.weight {w}"));
        }
    }
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
    fn a_run_cgroup_takes_what_its_controllers_offer() {
        let usable = Usable {
            base: PathBuf::from("/sys/fs/cgroup/x"),
            controllers: vec![Controller::Memory, Controller::Io],
        };
        let p = plan(
            Requested {
                cpu_weight: Some(50),
                memory_max: Some(64 << 20),
                io_weight: Some(20),
                nice: Some(5),
            },
            HostSupport::with(false, Ok::<_, super::super::cgroup::Unusable>(usable)),
        )
        .unwrap();
        assert_eq!(p.applied, Mechanism::CgroupV2);
        // Memory and I/O in the cgroup, so neither RLIMIT_AS nor ioprio; nice per process.
        assert_eq!(p.child.address_space, None);
        assert_eq!(p.child.io_level, None);
        assert_eq!(p.child.nice, Some(5));
        assert_eq!(
            p.cgroup_limits(),
            Some(CgroupLimits {
                memory_max: Some(64 << 20),
                cpu_weight: None,
                io_weight: Some(20),
            })
        );
        assert_eq!(p.not_enforced.len(), 1);
        assert!(
            p.not_enforced[0].contains("does not offer the cpu controller"),
            "{:?}",
            p.not_enforced
        );
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["applied"], "cgroup-v2");
        assert_eq!(
            json["host"]["cgroupControllers"],
            serde_json::json!(["memory", "io"])
        );

        // No cgroup: the per-process fallbacks, and the reason in the note.
        let p = plan(
            Requested {
                cpu_weight: Some(50),
                memory_max: Some(64 << 20),
                ..Requested::default()
            },
            HostSupport::with(
                false,
                Err(super::super::cgroup::Unusable::NotCgroup2(
                    "/sys/fs/cgroup".into(),
                )),
            ),
        )
        .unwrap();
        assert_eq!(p.applied, Mechanism::RlimitNice);
        assert_eq!(p.child.address_space, Some(64 << 20));
        assert!(p.not_enforced[0].contains("not a cgroup2 mount"));
    }

    #[test]
    fn a_child_gets_its_limits() {
        // A real child: sh reports its own limits after the hook applied them.
        use std::os::unix::process::CommandExt;
        let limits = ChildLimits {
            address_space: Some(256 << 20),
            nice: Some(7),
            io_level: Some(6),
            cgroup_procs: None,
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
