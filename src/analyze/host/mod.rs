//! Host analyzers (`spec.hostAnalyzers`), one module per family. Each reads this host's file
//! and, when the bundle has none, every node's file listed in
//! `host-collectors/system/node_list.json` (results titled `<title> - Node <node>`).

mod capacity;
mod common;
mod devices;
mod fsperf;
mod kernel;
pub(super) mod probes;
mod registry;
mod services;
mod status;
mod subnet;
mod system;

use super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use serde_json::Value;

/// The host analyzer types [`run`] implements (`analyze::supports` answers `validate` from it; a
/// test keeps it equal to `run`'s dispatch).
pub(super) const SUPPORTED: &[&str] = &[
    "cpu",
    "memory",
    "diskUsage",
    "textAnalyze",
    "time",
    "hostOS",
    "hostServices",
    "kernelModules",
    "systemPackages",
    "tcpPortStatus",
    "udpPortStatus",
    "tcpLoadBalancer",
    "httpLoadBalancer",
    "tcpConnect",
    "sysctl",
    "kernelConfigs",
    "certificate",
    "subnetAvailable",
    "subnetContainsIP",
    "blockDevices",
    "ipv4Interfaces",
    "http",
    "certificatesCollection",
    "networkNamespaceConnectivity",
    "registryImages",
    "jsonCompare",
    "filesystemPerformance",
];

/// The results of the host analyzer `kind` with `body`; `None` when this build does not
/// implement `kind`.
pub(super) fn run(
    ctx: &Ctx<'_>,
    kind: &str,
    body: &Value,
    meta: &Meta,
) -> Option<Result<Vec<AnalyzeResult>, AnalyzerError>> {
    Some(match kind {
        "cpu" => system::cpu(ctx, body, meta),
        "memory" => capacity::memory(ctx, body, meta),
        "diskUsage" => capacity::disk_usage(ctx, body, meta),
        // The in-cluster textAnalyze over the same files, titled "Regular Expression" by default.
        "textAnalyze" => {
            let meta = Meta {
                check_name: meta.title("Regular Expression"),
                ..meta.clone()
            };
            super::cluster::text::text_analyze(ctx, body, &meta)
        }
        "time" => system::time(ctx, body, meta),
        "hostOS" => system::host_os(ctx, body, meta),
        "hostServices" => services::host_services(ctx, body, meta),
        "kernelModules" => services::kernel_modules(ctx, body, meta),
        "systemPackages" => services::system_packages(ctx, body, meta),
        "tcpPortStatus" => status::status(&status::TCP_PORT_STATUS, ctx, body, meta),
        "udpPortStatus" => status::status(&status::UDP_PORT_STATUS, ctx, body, meta),
        "tcpLoadBalancer" => status::status(&status::TCP_LOAD_BALANCER, ctx, body, meta),
        "httpLoadBalancer" => status::status(&status::HTTP_LOAD_BALANCER, ctx, body, meta),
        "tcpConnect" => status::status(&status::TCP_CONNECT, ctx, body, meta),
        "sysctl" => kernel::sysctl(ctx, body, meta),
        "kernelConfigs" => kernel::kernel_configs(ctx, body, meta),
        "certificate" => subnet::certificate(ctx, body, meta),
        "subnetAvailable" => subnet::subnet_available(ctx, body, meta),
        "subnetContainsIP" => subnet::subnet_contains_ip(ctx, body, meta),
        "blockDevices" => devices::block_devices(ctx, body, meta),
        "ipv4Interfaces" => devices::ipv4_interfaces(ctx, body, meta),
        "http" => probes::http(ctx, body, meta),
        "certificatesCollection" => probes::certificates_collection(ctx, body, meta),
        "networkNamespaceConnectivity" => probes::network_namespace_connectivity(ctx, body, meta),
        "registryImages" => registry::registry_images(ctx, body, meta),
        "filesystemPerformance" => fsperf::filesystem_performance(ctx, body, meta),
        // The in-cluster jsonCompare over the same files, as troubleshoot shares it.
        "jsonCompare" => super::cluster::compare::compare(ctx, body, meta, true).map(|r| vec![r]),
        _ => return None,
    })
}

/// The title troubleshoot gives a host analyzer of `kind` without `checkName` (the title of its
/// "Analyzer Failed" result); `kind` itself for types not implemented here.
pub(super) fn default_title(kind: &str, body: &Value) -> String {
    let fixed = match kind {
        "cpu" => "Number of CPUs",
        "memory" => "Amount of Memory",
        "time" => "Time",
        "textAnalyze" => "Regular Expression",
        "hostOS" => "Host OS Info",
        "hostServices" => "Host Services",
        "kernelModules" => "Kernel Modules",
        "systemPackages" => "System Packages",
        "tcpPortStatus" => status::TCP_PORT_STATUS.title(),
        "udpPortStatus" => status::UDP_PORT_STATUS.title(),
        "tcpLoadBalancer" => status::TCP_LOAD_BALANCER.title(),
        "httpLoadBalancer" => status::HTTP_LOAD_BALANCER.title(),
        "tcpConnect" => status::TCP_CONNECT.title(),
        "sysctl" => "Sysctl",
        "kernelConfigs" => "Kernel Configs",
        "certificate" => "Certificate Key Pair",
        "subnetAvailable" => "Subnet Available",
        "subnetContainsIP" => "Subnet Contains IP",
        "blockDevices" => "Block Devices",
        "ipv4Interfaces" => "IPv4 Interfaces",
        "http" => "HTTP Request",
        "certificatesCollection" => "Host Certificates Collection",
        "networkNamespaceConnectivity" => "Network Namespace Connectivity",
        "registryImages" => "Registry Images",
        "filesystemPerformance" => "Filesystem Performance",
        "jsonCompare" => {
            let collector = common::text(body, "collectorName");
            return if collector.is_empty() {
                "Json Compare".to_string()
            } else {
                collector
            };
        }
        "diskUsage" => {
            return format!("Disk Usage {}", common::text(body, "collectorName"));
        }
        other => other,
    };
    fixed.to_string()
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_compat;
#[cfg(test)]
mod tests_kernel;
#[cfg(test)]
mod tests_probes;
