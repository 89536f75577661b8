//! The kinds `clusterResources` lists: folders, API versions, plurals.

/// A per-namespace kind: its folder, the API versions to try in order, the plural, the item kind.
pub struct Kind {
    /// Folder under `cluster-resources/`.
    pub dir: &'static str,
    /// API group versions (`v1` is the core group), first that exists wins.
    pub versions: &'static [&'static str],
    /// Resource plural.
    pub plural: &'static str,
    /// Kind of one item.
    pub item_kind: &'static str,
}

const fn k(
    dir: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    item_kind: &'static str,
) -> Kind {
    Kind {
        dir,
        versions,
        plural,
        item_kind,
    }
}

/// The per-namespace folders, in troubleshoot's order.
pub const NAMESPACED: &[Kind] = &[
    k("pods", &["v1"], "pods", "Pod"),
    k(
        "pod-disruption-budgets",
        &["policy/v1", "policy/v1beta1"],
        "poddisruptionbudgets",
        "PodDisruptionBudget",
    ),
    k("services", &["v1"], "services", "Service"),
    k("deployments", &["apps/v1"], "deployments", "Deployment"),
    k("statefulsets", &["apps/v1"], "statefulsets", "StatefulSet"),
    k("daemonsets", &["apps/v1"], "daemonsets", "DaemonSet"),
    k("replicasets", &["apps/v1"], "replicasets", "ReplicaSet"),
    k("jobs", &["batch/v1"], "jobs", "Job"),
    k(
        "cronjobs",
        &["batch/v1", "batch/v1beta1"],
        "cronjobs",
        "CronJob",
    ),
    k(
        "ingress",
        &["networking.k8s.io/v1", "networking.k8s.io/v1beta1"],
        "ingresses",
        "Ingress",
    ),
    k(
        "network-policy",
        &["networking.k8s.io/v1"],
        "networkpolicies",
        "NetworkPolicy",
    ),
    k("resource-quota", &["v1"], "resourcequotas", "ResourceQuota"),
    k("limitranges", &["v1"], "limitranges", "LimitRange"),
    k("events", &["v1"], "events", "Event"),
    k(
        "pvcs",
        &["v1"],
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
    ),
    k("roles", &["rbac.authorization.k8s.io/v1"], "roles", "Role"),
    k(
        "rolebindings",
        &["rbac.authorization.k8s.io/v1"],
        "rolebindings",
        "RoleBinding",
    ),
    k("endpoints", &["v1"], "endpoints", "Endpoints"),
    k(
        "endpointslices",
        &["discovery.k8s.io/v1"],
        "endpointslices",
        "EndpointSlice",
    ),
    k(
        "serviceaccounts",
        &["v1"],
        "serviceaccounts",
        "ServiceAccount",
    ),
    k("leases", &["coordination.k8s.io/v1"], "leases", "Lease"),
    k("configmaps", &["v1"], "configmaps", "ConfigMap"),
];

/// The cluster-scoped files (`dir` is the file stem).
pub const CLUSTER_SCOPED: &[Kind] = &[
    k("nodes", &["v1"], "nodes", "Node"),
    k("pvs", &["v1"], "persistentvolumes", "PersistentVolume"),
    k(
        "storage-classes",
        &["storage.k8s.io/v1", "storage.k8s.io/v1beta1"],
        "storageclasses",
        "StorageClass",
    ),
    k(
        "ingress-classes",
        &["networking.k8s.io/v1"],
        "ingressclasses",
        "IngressClass",
    ),
    k(
        "priorityclasses",
        &["scheduling.k8s.io/v1"],
        "priorityclasses",
        "PriorityClass",
    ),
    k(
        "clusterroles",
        &["rbac.authorization.k8s.io/v1"],
        "clusterroles",
        "ClusterRole",
    ),
    k(
        "clusterrolebindings",
        &["rbac.authorization.k8s.io/v1"],
        "clusterrolebindings",
        "ClusterRoleBinding",
    ),
    k(
        "volumeattachments",
        &["storage.k8s.io/v1"],
        "volumeattachments",
        "VolumeAttachment",
    ),
    k(
        "certificatesigningrequests",
        &["certificates.k8s.io/v1"],
        "certificatesigningrequests",
        "CertificateSigningRequest",
    ),
    k(
        "validating-webhook-configurations",
        &["admissionregistration.k8s.io/v1"],
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
    ),
    k(
        "mutating-webhook-configurations",
        &["admissionregistration.k8s.io/v1"],
        "mutatingwebhookconfigurations",
        "MutatingWebhookConfiguration",
    ),
];

/// CustomResourceDefinitions, listed apart: their objects are listed too.
pub(in crate::collect::cluster) const CRDS: Kind = k(
    "custom-resource-definitions",
    &["apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1"],
    "customresourcedefinitions",
    "CustomResourceDefinition",
);

/// `/api/v1` or `/apis/<group>/<version>`.
pub fn base_path(group_version: &str) -> String {
    if group_version.contains('/') {
        format!("/apis/{group_version}")
    } else {
        format!("/api/{group_version}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_core_or_group() {
        assert_eq!(base_path("v1"), "/api/v1");
        assert_eq!(base_path("apps/v1"), "/apis/apps/v1");
    }
}
