//! The Kubernetes API calls each in-cluster collector makes, as RBAC permissions: the one table
//! the deployment manifests' ClusterRoles are checked against (tests/it/deploy_manifests.rs).
//!
//! clusterResources' rows come from the very lists it walks ([`super::resources`]' kinds), so a
//! kind added there needs its permission in `deploy/` before the manifest test passes; a
//! collector type added to [`super::SUPPORTED`] without a row here fails this module's tests.

use super::resources::{KINDS_CLUSTER_SCOPED, KINDS_CRDS, KINDS_NAMESPACED};
use std::collections::BTreeSet;

/// An RBAC verb the collectors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verb {
    /// Read one object (or a subresource such as `pods/log`).
    Get,
    /// List objects.
    List,
    /// Create an object (a pod, an exec session, a review).
    Create,
    /// Delete an object.
    Delete,
}

impl Verb {
    /// The verb as RBAC spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Delete => "delete",
        }
    }
}

/// Which ClusterRole of the manifests grants a collector's permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `troubleshoot-agent-read`, bound by default: reads only.
    Read,
    /// `troubleshoot-agent-exec`, opt-in: runs commands in pods and starts pods.
    Exec,
}

/// One permission: verbs on a resource (`pods`, `pods/log`) of an API group (`""` is core).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Permission {
    /// API group (`""` for the core group).
    pub group: &'static str,
    /// Resource plural, with `/subresource` where one is called.
    pub resource: &'static str,
    /// The verbs used.
    pub verbs: &'static [Verb],
}

const fn p(group: &'static str, resource: &'static str, verbs: &'static [Verb]) -> Permission {
    Permission {
        group,
        resource,
        verbs,
    }
}

use Verb::{Create, Delete, Get, List};

/// What one collector type calls beyond the kinds clusterResources lists.
#[derive(Clone, Copy, Debug)]
pub struct Collector {
    /// The spec's collector type (`clusterInfo`, `exec`, ...).
    pub kind: &'static str,
    /// The role that grants it.
    pub role: Role,
    /// Resource permissions.
    pub permissions: &'static [Permission],
    /// Non-resource URLs it GETs (discovery, `/version`).
    pub urls: &'static [&'static str],
}

/// Every in-cluster collector type this build runs ([`super::SUPPORTED`]), with its calls.
pub const COLLECTORS: &[Collector] = &[
    Collector {
        kind: "clusterInfo",
        role: Role::Read,
        permissions: &[],
        urls: &["/version"],
    },
    Collector {
        kind: "clusterResources",
        role: Role::Read,
        // Plus every kind of `KINDS_*` with `list` (see `resources_rows`).
        permissions: &[
            // namespaces.json: listed, or each selected one read.
            p("", "namespaces", &[Get, List]),
            // image-pull-secrets/: secrets of type dockerconfigjson (usernames only are kept).
            p("", "secrets", &[List]),
            // Logs of unhealthy pods.
            p("", "pods/log", &[Get]),
            // auth-cani-list/ and the RBAC pre-check of every collector.
            p("authorization.k8s.io", "selfsubjectrulesreviews", &[Create]),
        ],
        // resources.json and groups.json.
        urls: &["/api", "/api/*", "/apis", "/apis/*"],
    },
    Collector {
        kind: "logs",
        role: Role::Read,
        permissions: &[p("", "pods", &[List]), p("", "pods/log", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "configMap",
        role: Role::Read,
        permissions: &[p("", "configmaps", &[Get, List])],
        urls: &[],
    },
    Collector {
        kind: "secret",
        role: Role::Read,
        permissions: &[p("", "secrets", &[Get, List])],
        urls: &[],
    },
    // `data` never calls the API; `http` only to read a `tls.secret`.
    Collector {
        kind: "data",
        role: Role::Read,
        permissions: &[],
        urls: &[],
    },
    Collector {
        kind: "http",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    Collector {
        kind: "exec",
        role: Role::Exec,
        // The exec websocket is a GET that API servers before 1.35 authorize as `get` and later
        // ones as `create` (AuthorizePodWebsocketUpgradeCreatePermission).
        permissions: &[p("", "pods", &[List]), p("", "pods/exec", &[Get, Create])],
        urls: &[],
    },
    Collector {
        kind: "copy",
        role: Role::Exec,
        permissions: &[p("", "pods", &[List]), p("", "pods/exec", &[Get, Create])],
        urls: &[],
    },
    Collector {
        kind: "runPod",
        role: Role::Exec,
        permissions: &[
            p("", "pods", &[Create, Get, Delete]),
            p("", "pods/log", &[Get]),
            // Why a pod did not start: its events.
            p("", "events", &[List]),
        ],
        urls: &[],
    },
    Collector {
        kind: "run",
        role: Role::Exec,
        permissions: &[
            p("", "pods", &[Create, Get, Delete]),
            p("", "pods/log", &[Get]),
            p("", "events", &[List]),
        ],
        urls: &[],
    },
    // Issue 20's collectors through the API.
    Collector {
        kind: "helm",
        role: Role::Read,
        // Release Secrets (`owner=helm`), decoded; only chart, versions, dates and statuses leave.
        permissions: &[p("", "secrets", &[List])],
        urls: &[],
    },
    Collector {
        kind: "supportBundleMetadata",
        role: Role::Read,
        permissions: &[p("", "secrets", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "customMetrics",
        role: Role::Read,
        // The metrics API authorizes `get` on `<resource>/<metric>`: any metric, hence `*`.
        permissions: &[p("custom.metrics.k8s.io", "*", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "longhorn",
        role: Role::Read,
        permissions: &[
            p("longhorn.io", "*", &[List]),
            p("", "pods", &[List]),
            p("", "pods/log", &[Get]),
        ],
        urls: &[],
    },
    Collector {
        kind: "nodeMetrics",
        // Not a read right: `nodes/proxy` GET reaches the whole kubelet API, its exec websocket
        // included, so it is granted only with the opt-in role.
        role: Role::Exec,
        permissions: &[p("", "nodes", &[List]), p("", "nodes/proxy", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "goldpinger",
        // `services/proxy` GET reaches any Service's HTTP endpoints: opt-in, like nodes/proxy.
        role: Role::Exec,
        permissions: &[p("", "services", &[List]), p("", "services/proxy", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "ceph",
        role: Role::Exec,
        permissions: &[p("", "pods", &[List]), p("", "pods/exec", &[Get, Create])],
        urls: &[],
    },
    Collector {
        kind: "sonobuoy",
        role: Role::Exec,
        permissions: &[p("", "pods", &[Get]), p("", "pods/exec", &[Get, Create])],
        urls: &[],
    },
    Collector {
        kind: "registryImages",
        role: Role::Read,
        // The image pull secret `imagePullSecret.name` names; the registries are not the API's.
        permissions: &[p("", "secrets", &[Get])],
        urls: &[],
    },
    // The database collectors connect from the agent; the API only for a `tls.secret`.
    Collector {
        kind: "postgres",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    Collector {
        kind: "mysql",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    Collector {
        kind: "mssql",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    Collector {
        kind: "redis",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    Collector {
        kind: "clickhouse",
        role: Role::Read,
        permissions: DB_TLS_SECRET,
        urls: &[],
    },
    // Issue 20's collectors that run pods and DaemonSets.
    Collector {
        kind: "certificates",
        role: Role::Read,
        // The named secrets and ConfigMaps, read one by one.
        permissions: &[p("", "secrets", &[Get]), p("", "configmaps", &[Get])],
        urls: &[],
    },
    Collector {
        kind: "copyFromHost",
        role: Role::Exec,
        permissions: &[
            p("apps", "daemonsets", &[Create, Get, List, Delete]),
            p("", "pods", &[List, Delete]),
            p("", "pods/exec", &[Get, Create]),
        ],
        urls: &[],
    },
    Collector {
        kind: "collectd",
        role: Role::Exec,
        permissions: &[
            p("apps", "daemonsets", &[Create, Get, List, Delete]),
            p("", "pods", &[List, Delete]),
            p("", "pods/exec", &[Get, Create]),
            // A pod whose host path does not exist has a FailedMount event.
            p("", "events", &[List]),
        ],
        urls: &[],
    },
    Collector {
        kind: "runDaemonSet",
        role: Role::Exec,
        permissions: &[
            p("apps", "daemonsets", &[Create, Get, List, Delete]),
            p("", "pods", &[Get, List, Delete]),
            p("", "pods/log", &[Get]),
        ],
        urls: &[],
    },
    Collector {
        kind: "sysctl",
        role: Role::Exec,
        permissions: &[
            p("", "nodes", &[List]),
            p("", "pods", &[Create, Get, Delete]),
            p("", "pods/log", &[Get]),
        ],
        urls: &[],
    },
    Collector {
        kind: "dns",
        role: Role::Exec,
        permissions: &[
            p("", "pods", &[Create, Get, List, Delete]),
            p("", "pods/log", &[Get]),
            // `default/kubernetes` and `kube-system/kube-dns`.
            p("", "services", &[Get]),
            p("", "endpoints", &[Get]),
            // The CoreDNS and KubeDNS configuration.
            p("", "configmaps", &[Get]),
        ],
        urls: &[],
    },
    Collector {
        kind: "etcd",
        role: Role::Exec,
        permissions: &[
            p("", "nodes", &[List]),
            p("", "pods", &[Create, Get, List, Delete]),
            p("", "pods/exec", &[Get, Create]),
        ],
        urls: &[],
    },
];

/// A database collector's one call: its `tls.secret`.
const DB_TLS_SECRET: &[Permission] = &[p("", "secrets", &[Get])];

/// One granted (group, resource, verb).
pub type Triple = (String, String, String);

fn group_of(group_version: &str) -> &str {
    group_version.rsplit_once('/').map_or("", |(g, _)| g)
}

/// The kinds clusterResources lists, as `list` permissions.
fn resources_rows() -> impl Iterator<Item = Triple> {
    KINDS_NAMESPACED
        .iter()
        .chain(KINDS_CLUSTER_SCOPED)
        .chain(std::iter::once(&KINDS_CRDS))
        .flat_map(|k| {
            // Every group of the versions tried (they share one group today).
            k.versions
                .iter()
                .map(|v| group_of(v))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(|g| (g.to_string(), k.plural.to_string(), "list".to_string()))
        })
}

/// The collector row of `kind`, if it has one.
pub fn collector(kind: &str) -> Option<&'static Collector> {
    COLLECTORS.iter().find(|c| c.kind == kind)
}

/// Every (group, resource, verb) the collectors granted by `role` use. The Exec role's set
/// leaves out what the Read role already grants (it is bound beside it).
pub fn resource_rules(role: Role) -> BTreeSet<Triple> {
    let mut out = BTreeSet::new();
    for c in COLLECTORS.iter().filter(|c| c.role == role) {
        for perm in c.permissions {
            for v in perm.verbs {
                out.insert((
                    perm.group.to_string(),
                    perm.resource.to_string(),
                    v.as_str().to_string(),
                ));
            }
        }
        if c.kind == "clusterResources" {
            out.extend(resources_rows());
        }
    }
    if role == Role::Exec {
        let read = resource_rules(Role::Read);
        out.retain(|t| !read.contains(t));
    }
    out
}

/// The non-resource URLs the collectors granted by `role` GET.
pub fn url_rules(role: Role) -> BTreeSet<String> {
    COLLECTORS
        .iter()
        .filter(|c| c.role == role)
        .flat_map(|c| c.urls.iter().map(|u| (*u).to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_supported_collector_has_exactly_one_row() {
        for kind in super::super::SUPPORTED {
            let rows = COLLECTORS.iter().filter(|c| c.kind == *kind).count();
            assert_eq!(
                rows, 1,
                "in-cluster collector `{kind}` needs one row in COLLECTORS (src/collect/cluster/permissions.rs) \
                 naming the API calls it makes, and deploy/ must grant them"
            );
        }
        for c in COLLECTORS {
            assert!(
                super::super::SUPPORTED.contains(&c.kind),
                "`{}` has a permission row but is not a supported collector",
                c.kind
            );
        }
    }

    #[test]
    fn the_rbac_precheck_asks_only_for_what_the_table_grants() {
        for c in COLLECTORS {
            let mut granted = resource_rules(Role::Read);
            if c.role == Role::Exec {
                granted.extend(resource_rules(Role::Exec));
            }
            for by_selector in [false, true] {
                for (verb, group, resource) in super::super::rbac::needs(c.kind, by_selector) {
                    let t = (group.to_string(), resource.to_string(), verb.to_string());
                    assert!(
                        granted.contains(&t),
                        "`{}` pre-checks {t:?}, which its role does not grant",
                        c.kind
                    );
                }
            }
        }
    }

    #[test]
    fn read_role_is_read_only_and_exec_adds_pods() {
        let read = resource_rules(Role::Read);
        assert!(read.iter().all(|(g, r, v)| v == "get"
            || v == "list"
            || (g == "authorization.k8s.io" && r == "selfsubjectrulesreviews")));
        assert!(read.contains(&("apps".into(), "deployments".into(), "list".into())));
        let exec = resource_rules(Role::Exec);
        assert!(exec.contains(&("".into(), "pods/exec".into(), "create".into())));
        assert!(!exec.contains(&("".into(), "pods".into(), "list".into())));
    }
}
