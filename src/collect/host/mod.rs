//! Host collectors run natively: troubleshoot's `hostCollectors` types, its output paths and JSON
//! shapes (TROUBLESHOOT-FORMAT.md §1.8), written under `host-collectors/` of a bundle staging root.

mod certificate;
mod certs;
pub mod cgroup;
mod copy;
mod dns;
mod docker_config;
pub(crate) mod env;
mod fio;
pub(crate) mod http;
pub(crate) mod http_tls;
mod journald;
mod kernel;
pub mod limits;
mod netns;
mod network;
pub mod output;
mod packages;
pub(crate) mod process;
mod registry;
mod run;
mod subnet;
mod system;

use crate::collect::Error;
use crate::spec::Entry;
use serde_json::Value;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use output::{safe_relative, sanitize_component};
// Kept here for the pipeline's imports; the types live in `collect::outcome`.
pub use crate::collect::{CollectorOutcome, CollectorStatus};

/// Tuning for one host collection run.
#[derive(Clone, Debug)]
pub struct HostOptions {
    /// How many collectors run at once.
    pub max_parallel: usize,
    /// Cap on each captured stream of `run`/`journald` (stdout and stderr separately), in bytes.
    pub run_output_cap: u64,
    /// Cap on each file `copy` writes, in bytes.
    pub copy_size_cap: u64,
    /// The run's resource limits, applied to every process a collector starts.
    pub limits: Option<limits::Plan>,
}

impl HostOptions {
    /// What each child process applies to itself.
    pub fn child_limits(&self) -> Option<limits::ChildLimits> {
        self.limits.as_ref().map(|p| p.child)
    }
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            max_parallel: 4,
            run_output_cap: 64 * 1024 * 1024,
            copy_size_cap: 256 * 1024 * 1024,
            limits: None,
        }
    }
}

/// The reason recorded for types this build does not run.
pub const UNSUPPORTED_REASON: &str = "not supported by the builtin engine in this build";

/// The host collector types this build runs, with their default titles.
///
/// Upstream gives `time` the title "TCP Port Status" and `hostServices` "Block Devices" (copy-paste
/// bugs, FORMAT §1.8). Titles name the error files, so copying them would make two collectors share
/// one error file; per the format doc's rule for named bugs we use the titles a user expects.
pub const SUPPORTED: &[(&str, &str)] = &[
    ("cpu", "CPU Info"),
    ("memory", "Amount of Memory"),
    ("hostOS", "Host OS Info"),
    ("diskUsage", "Disk Usage"),
    ("time", "Time"),
    ("ipv4Interfaces", "IPv4 Interfaces"),
    ("kernelModules", "Kernel Modules"),
    ("sysctl", "Sysctl"),
    ("hostServices", "Host Services"),
    ("blockDevices", "Block Devices"),
    ("systemPackages", "System Packages"),
    ("run", "Run Host"),
    ("copy", "copy"),
    ("journald", "journald"),
    ("certificate", "Certificate Key Pair"),
    ("http", "HTTP"),
    ("tcpPortStatus", "TCP Port Status"),
    ("udpPortStatus", "UDP Port Status"),
    ("tcpConnect", "TCP Connection Attempt"),
    ("tcpLoadBalancer", "TCP Load Balancer"),
    ("httpLoadBalancer", "HTTP Load Balancer"),
    ("kernelConfigs", "Kernel Configs"),
    ("cgroups", "Cgroups"),
    ("filesystemPerformance", "Filesystem Performance"),
    ("kubernetes", "Kubernetes"),
    ("subnetAvailable", "Subnet Available"),
    ("certificatesCollection", "Host Certificates Collection"),
    ("dns", "dns"),
    (
        "networkNamespaceConnectivity",
        "Host Network Namespace Connectivity",
    ),
    ("registryImages", "Registry Images"),
];

/// Why `kubernetes` entries collect nothing: troubleshoot v0.133 accepts the type in specs but has
/// no collector behind it (its host collector table has no case for it), so its bundles hold
/// nothing for it either.
pub const KUBERNETES_REASON: &str =
    "troubleshoot v0.133 defines no host collector for `kubernetes`; nothing to collect";

/// The title of `entry`: its `collectorName`, else the type's default title, else the type key.
pub fn title_of(entry: &Entry) -> String {
    if let Some(name) = entry.collector_name.as_deref().filter(|n| !n.is_empty()) {
        return name.to_string();
    }
    SUPPORTED
        .iter()
        .find(|(k, _)| *k == entry.kind)
        .map_or_else(|| entry.kind.clone(), |(_, t)| (*t).to_string())
}

/// Everything one collector needs while it runs.
pub(crate) struct Ctx<'a> {
    /// Where it writes.
    pub out: &'a output::Output,
    /// The spec body.
    pub body: &'a Value,
    /// `collectorName`, when set and non-empty.
    pub name: Option<&'a str>,
    /// Cancels the whole run.
    pub cancel: &'a CancellationToken,
    /// Caps and parallelism.
    pub opts: &'a HostOptions,
}

impl Ctx<'_> {
    /// A string field of the body (`None` when absent or not a string).
    pub fn str(&self, key: &str) -> Option<&str> {
        self.body.get(key).and_then(Value::as_str)
    }

    /// A string field that must be present and non-empty.
    pub fn required(&self, key: &str) -> Result<&str, Error> {
        self.str(key)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Spec(format!("`{key}` is required")))
    }

    /// A boolean field (YAML `true` or the strings "true"/"false"), false when absent.
    pub fn bool(&self, key: &str) -> bool {
        match self.body.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        }
    }

    /// An integer field written as a number or a numeric string.
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.body.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A list of strings (non-strings are skipped).
    pub fn strings(&self, key: &str) -> Vec<String> {
        match self.body.get(key) {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// A Go duration field (`timeout: 30s`), `None` when absent.
    pub fn duration(&self, key: &str) -> Result<Option<Duration>, Error> {
        match self.str(key) {
            None | Some("") => Ok(None),
            Some(s) => parse_go_duration(s).map(Some).ok_or_else(|| {
                Error::Spec(format!("`{key}`: {s:?} is not a duration like 30s or 5m"))
            }),
        }
    }
}

/// Parses a Go `time.ParseDuration` string such as `1h30m`, `2.5s`, `5000ms` (negative is rejected).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    Duration::try_from_secs_f64(total).ok()
}

/// Runs every host collector entry; results go under `out_root` (the bundle's staging root, so
/// paths are `host-collectors/...` and for copy `<collectorName|copy>/...`).
///
/// Never fails as a whole: each collector's failure becomes
/// `host-collectors/errors/<title>-error.json` and a Failed outcome. Outcomes are in entry order.
pub async fn collect(
    entries: &[Entry],
    out_root: &Path,
    cancel: &CancellationToken,
    opts: &HostOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<CollectorOutcome> {
    let sem = Arc::new(Semaphore::new(opts.max_parallel.max(1)));
    let mut set = JoinSet::new();
    let mut outcomes: Vec<Option<CollectorOutcome>> = vec![None; entries.len()];
    for (i, entry) in entries.iter().enumerate() {
        let title = title_of(entry);
        let skip = |reason: &str| CollectorOutcome::skipped(&entry.kind, &title, reason);
        if entry.exclude {
            outcomes[i] = Some(skip("excluded"));
            continue;
        }
        if entry.kind == "kubernetes" {
            outcomes[i] = Some(skip(KUBERNETES_REASON));
            continue;
        }
        if !SUPPORTED.iter().any(|(k, _)| *k == entry.kind) {
            outcomes[i] = Some(skip(UNSUPPORTED_REASON));
            continue;
        }
        let (entry, root, cancel, opts, sem) = (
            entry.clone(),
            out_root.to_path_buf(),
            cancel.clone(),
            opts.clone(),
            sem.clone(),
        );
        set.spawn(async move {
            // Wait for a slot, or give up at once when the run is cancelled meanwhile.
            let permit = tokio::select! {
                p = sem.acquire_owned() => p.ok(),
                () = cancel.cancelled() => None,
            };
            let outcome = match permit {
                Some(_permit) if !cancel.is_cancelled() => {
                    run_one(&entry, title, &root, &cancel, &opts, now).await
                }
                _ => CollectorOutcome::skipped(&entry.kind, &title, "cancelled"),
            };
            (i, outcome)
        });
    }
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, outcome)) => outcomes[i] = Some(outcome),
            // A panicking collector is a bug; its slot is filled below so nothing is dropped.
            Err(e) => tracing::error!("host collector task failed: {e}"),
        }
    }
    outcomes
        .into_iter()
        .zip(entries)
        .map(|(o, entry)| {
            o.unwrap_or_else(|| CollectorOutcome {
                kind: entry.kind.clone(),
                title: title_of(entry),
                status: CollectorStatus::Failed,
                files: Vec::new(),
                duration: Duration::ZERO,
                error: Some("collector task panicked".into()),
            })
        })
        .collect()
}

async fn run_one(
    entry: &Entry,
    title: String,
    root: &Path,
    cancel: &CancellationToken,
    opts: &HostOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> CollectorOutcome {
    let started = Instant::now();
    let out = output::Output::new(root);
    let ctx = Ctx {
        out: &out,
        body: &entry.body,
        name: entry.collector_name.as_deref().filter(|n| !n.is_empty()),
        cancel,
        opts,
    };
    let result = dispatch(&entry.kind, &ctx).await;
    let (status, error) = match result {
        Ok(()) => (CollectorStatus::Succeeded, None),
        Err(Error::Cancelled) => (
            CollectorStatus::Skipped {
                reason: "cancelled".into(),
            },
            None,
        ),
        Err(e) => {
            let msg = e.to_string();
            match output::write_error_file(root, &title, &msg, now).await {
                Ok(rel) => out.record(rel),
                Err(werr) => tracing::error!("could not write the error file for {title}: {werr}"),
            }
            (CollectorStatus::Failed, Some(msg))
        }
    };
    CollectorOutcome {
        kind: entry.kind.clone(),
        title,
        status,
        files: out.into_files(),
        duration: started.elapsed(),
        error,
    }
}

async fn dispatch(kind: &str, ctx: &Ctx<'_>) -> Result<(), Error> {
    match kind {
        "cpu" => system::cpu(ctx).await,
        "memory" => system::memory(ctx).await,
        "hostOS" => system::host_os(ctx).await,
        "diskUsage" => system::disk_usage(ctx).await,
        "time" => system::time(ctx).await,
        "ipv4Interfaces" => system::ipv4_interfaces(ctx).await,
        "hostServices" => system::host_services(ctx).await,
        "blockDevices" => system::block_devices(ctx).await,
        "kernelModules" => kernel::kernel_modules(ctx).await,
        "sysctl" => kernel::sysctl(ctx).await,
        "kernelConfigs" => kernel::kernel_configs(ctx).await,
        "cgroups" => kernel::cgroups(ctx).await,
        "systemPackages" => packages::system_packages(ctx).await,
        "run" => run::run(ctx).await,
        "copy" => copy::copy(ctx).await,
        "journald" => journald::journald(ctx).await,
        "certificate" => certificate::certificate(ctx).await,
        "http" => http::http(ctx).await,
        "httpLoadBalancer" => http::http_load_balancer(ctx).await,
        "tcpPortStatus" => network::tcp_port_status(ctx).await,
        "udpPortStatus" => network::udp_port_status(ctx).await,
        "tcpConnect" => network::tcp_connect(ctx).await,
        "tcpLoadBalancer" => network::tcp_load_balancer(ctx).await,
        "filesystemPerformance" => fio::filesystem_performance(ctx).await,
        "subnetAvailable" => subnet::subnet_available_collector(ctx).await,
        "certificatesCollection" => certs::certificates_collection(ctx).await,
        "dns" => dns::dns(ctx).await,
        "networkNamespaceConnectivity" => netns::connectivity(ctx).await,
        "registryImages" => registry::registry_images(ctx).await,
        other => Err(Error::Other(format!("{other}: {UNSUPPORTED_REASON}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_go_duration("5m"), Some(Duration::from_secs(300)));
        assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_go_duration("5000ms"), Some(Duration::from_secs(5)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_go_duration("10"), None);
        assert_eq!(parse_go_duration("-1s"), None);
        assert_eq!(parse_go_duration("abc"), None);
        assert_eq!(parse_go_duration(""), None);
    }

    #[test]
    fn supported_matches_capabilities() {
        use crate::collect::capabilities::builtin_supports;
        use crate::spec::{HOST_COLLECTOR_KEYS, Section};
        for key in HOST_COLLECTOR_KEYS {
            assert_eq!(
                builtin_supports(Section::HostCollectors, key),
                SUPPORTED.iter().any(|(k, _)| k == key),
                "{key}"
            );
        }
    }
}
