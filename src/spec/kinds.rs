//! The type keys troubleshoot recognises in each list of a spec (TROUBLESHOOT-FORMAT.md §1.7, §1.8, §2, §4).

use std::fmt;

/// Which list of a spec an entry came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    /// `spec.collectors`: in-cluster collectors.
    Collectors,
    /// `spec.hostCollectors` (or `collectors` of a `HostCollector` document).
    HostCollectors,
    /// `spec.analyzers`: in-cluster analyzers.
    Analyzers,
    /// `spec.hostAnalyzers`.
    HostAnalyzers,
}

/// In-cluster collector keys.
pub const COLLECTOR_KEYS: &[&str] = &[
    "clusterInfo",
    "clusterResources",
    "secret",
    "configMap",
    "logs",
    "run",
    "runPod",
    "runDaemonSet",
    "exec",
    "data",
    "copy",
    "copyFromHost",
    "http",
    "postgres",
    "mysql",
    "mssql",
    "redis",
    "clickhouse",
    "collectd",
    "ceph",
    "longhorn",
    "registryImages",
    "sysctl",
    "certificates",
    "helm",
    "goldpinger",
    "sonobuoy",
    "nodeMetrics",
    "customMetrics",
    "dns",
    "etcd",
    "supportBundleMetadata",
    "s3Status",
];

/// Host collector keys.
pub const HOST_COLLECTOR_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "hostOS",
    "diskUsage",
    "time",
    "ipv4Interfaces",
    "kernelModules",
    "sysctl",
    "hostServices",
    "blockDevices",
    "systemPackages",
    "kernelConfigs",
    "cgroups",
    "run",
    "copy",
    "journald",
    "filesystemPerformance",
    "tcpConnect",
    "tcpPortStatus",
    "udpPortStatus",
    "tcpLoadBalancer",
    "httpLoadBalancer",
    "http",
    "certificate",
    "certificatesCollection",
    "subnetAvailable",
    "dns",
    "networkNamespaceConnectivity",
    "registryImages",
    // Accepted by troubleshoot v0.133's schema; it has no collector behind it.
    "kubernetes",
];

/// In-cluster analyzer keys.
pub const ANALYZER_KEYS: &[&str] = &[
    "clusterVersion",
    "deploymentStatus",
    "statefulsetStatus",
    "replicasetStatus",
    "jobStatus",
    "clusterPodStatuses",
    "nodeResources",
    "textAnalyze",
    "yamlCompare",
    "jsonCompare",
    "event",
    "configMap",
    "secret",
    "storageClass",
    "customResourceDefinition",
    "ingress",
    "imagePullSecret",
    "containerRuntime",
    "distribution",
    "clusterResource",
    "ingressClass",
    "clusterContainerStatuses",
    "postgres",
    "mysql",
    "mssql",
    "redis",
    "clickhouse",
    "cephStatus",
    "velero",
    "longhorn",
    "registryImages",
    "weaveReport",
    "sysctl",
    "certificates",
    "goldpinger",
    "nodeMetrics",
    "http",
    "s3Status",
];

/// Host analyzer keys.
pub const HOST_ANALYZER_KEYS: &[&str] = &[
    "memory",
    "cpu",
    "diskUsage",
    "time",
    "hostOS",
    "tcpLoadBalancer",
    "httpLoadBalancer",
    "tcpPortStatus",
    "udpPortStatus",
    "http",
    "blockDevices",
    "systemPackages",
    "kernelModules",
    "tcpConnect",
    "ipv4Interfaces",
    "subnetAvailable",
    "subnetContainsIP",
    "filesystemPerformance",
    "certificate",
    "certificatesCollection",
    "hostServices",
    "textAnalyze",
    "kernelConfigs",
    "jsonCompare",
    "networkNamespaceConnectivity",
    "sysctl",
    "registryImages",
];

impl Section {
    /// Every section, in spec order.
    pub const ALL: [Section; 4] = [
        Section::Collectors,
        Section::HostCollectors,
        Section::Analyzers,
        Section::HostAnalyzers,
    ];

    /// The SupportBundle `spec` key of this list.
    pub fn as_str(self) -> &'static str {
        match self {
            Section::Collectors => "collectors",
            Section::HostCollectors => "hostCollectors",
            Section::Analyzers => "analyzers",
            Section::HostAnalyzers => "hostAnalyzers",
        }
    }

    /// The section named by a SupportBundle `spec` key.
    pub fn from_key(key: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.as_str() == key)
    }

    /// The type keys this list accepts.
    pub fn keys(self) -> &'static [&'static str] {
        match self {
            Section::Collectors => COLLECTOR_KEYS,
            Section::HostCollectors => HOST_COLLECTOR_KEYS,
            Section::Analyzers => ANALYZER_KEYS,
            Section::HostAnalyzers => HOST_ANALYZER_KEYS,
        }
    }

    /// The recognised spelling of `key` in this list, when it is one.
    pub fn recognise(self, key: &str) -> Option<&'static str> {
        self.keys().iter().copied().find(|k| *k == key)
    }

    /// The in-cluster/host counterpart (where a misplaced key most likely belongs).
    pub fn sibling(self) -> Section {
        match self {
            Section::Collectors => Section::HostCollectors,
            Section::HostCollectors => Section::Collectors,
            Section::Analyzers => Section::HostAnalyzers,
            Section::HostAnalyzers => Section::Analyzers,
        }
    }

    /// What one item of this list is called in messages.
    pub fn item_noun(self) -> &'static str {
        match self {
            Section::Collectors => "collector",
            Section::HostCollectors => "host collector",
            Section::Analyzers => "analyzer",
            Section::HostAnalyzers => "host analyzer",
        }
    }

    /// The body field that names an entry (`collectorName`, or `checkName` for analyzers).
    pub fn name_field(self) -> &'static str {
        match self {
            Section::Collectors | Section::HostCollectors => "collectorName",
            Section::Analyzers | Section::HostAnalyzers => "checkName",
        }
    }
}

/// Serialized as its `spec` key (`hostCollectors`).
impl serde::Serialize for Section {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tables_have_no_duplicates_and_round_trip() {
        for section in Section::ALL {
            let keys = section.keys();
            let unique: HashSet<_> = keys.iter().collect();
            assert_eq!(unique.len(), keys.len(), "{section}");
            assert_eq!(Section::from_key(section.as_str()), Some(section));
            for key in keys {
                assert_eq!(section.recognise(key), Some(*key));
            }
        }
        assert_eq!(Section::from_key("redactors"), None);
    }
}
