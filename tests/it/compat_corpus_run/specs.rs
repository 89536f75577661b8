//! One test per corpus spec file run: what each of its collectors must do on the test cluster.

use super::*;

/// The kubelet's `stats/summary` of the baseline's one node, through the node proxy.
const STATS: (&str, &str) = (
    "/api/v1/nodes/primary-node/proxy/stats/summary",
    r#"{"node": {"nodeName": "primary-node"}, "pods": []}"#,
);

#[test]
fn all_kubernetes_collectors() {
    if support::alone::offline(module_path!(), "all_kubernetes_collectors") {
        return;
    }
    let rel = "examples/collect/host/all-kubernetes-collectors.yaml";
    let extra = vec![
        object(
            "ConfigMap",
            "default",
            "example-configmap",
            json!({}),
            json!({"k": "v"}),
        ),
        object(
            "Secret",
            "default",
            "example-secret",
            json!({}),
            json!({"k": "dg=="}),
        ),
        pod("default", "example-0", json!({"app": "example"}), "example"),
    ];
    use Want::*;
    run_spec_serving(rel, Cluster::baseline(), extra, &[STATS]).check(
        rel,
        &[
            ("cluster-resources", Wrote("cluster-resources/pods/")),
            ("cluster-info", Wrote("cluster-info/cluster_version.json")),
            // The custom metrics API is not served by this cluster.
            (
                "custom-metrics/custom-metrics",
                Absent("metrics/errors.json"),
            ),
            ("node-metrics", Wrote("node-metrics/primary-node.json")),
            (
                "configmap/example-configmap",
                Wrote("configmaps/default/example-configmap.json"),
            ),
            (
                "secret/example-secret",
                Wrote("secrets/default/example-secret.json"),
            ),
            ("logs/example-logs", Wrote("example-0/example.log")),
            ("run/run-example", Wrote("run-example/run-example.log")),
            (
                "run-pod/run-pod-example",
                Wrote("run-pod-example/run-pod-example.log"),
            ),
            (
                "run-daemonset/run-daemonset-example",
                Wrote("run-daemonset-example/primary-node.log"),
            ),
            (
                "exec/exec-example",
                Wrote("exec-example/default/example-0/exec-example-stdout.txt"),
            ),
            ("data/static-data", Wrote("static-data.txt/static-data")),
            (
                "copy-from-host/copy-from-host-example",
                Wrote("copy-from-host-example/primary-node/archive.tar"),
            ),
            // https://www.google.com: no name resolves in the test's network namespace.
            (
                "http/http-get-example",
                HttpError(
                    "http-get-example.json",
                    "invalid-address www.google.com:443",
                ),
            ),
            // localhost: nothing listens on the databases' ports.
            (
                "postgres/postgres-example",
                Db("postgres/postgres-example.json"),
            ),
            ("mysql/mysql-example", Db("mysql/mysql-example.json")),
            ("mssql/mssql-example", Db("mssql/mssql-example.json")),
            ("redis/redis-example", Db("redis/redis-example.json")),
            (
                "collectd/collectd-example",
                Wrote("collectd/rrd/primary-node/archive.tar"),
            ),
            // No rook-ceph or longhorn-system namespace, no Longhorn types.
            ("ceph/ceph-example", Nothing),
            ("longhorn/longhorn-example", Nothing),
            // docker.io through the (closed) proxy: the failure is in the result file.
            (
                "registry-images/registry-images-example",
                Wrote("registry/registry-images-example.json"),
            ),
            ("sysctl/sysctl-example", Wrote("sysctl/primary-node")),
            // tls-secret is absent: said in the result.
            ("certificates", Wrote("certificates/certificates.json")),
            // No release example-release.
            ("helm", Absent("helm/errors.json")),
            // No goldpinger service.
            ("goldpinger", Absent("goldpinger/error.txt")),
            (
                "sonobuoy",
                Failed("sonobuoy pod sonobuoy in namespace sonobuoy not found"),
            ),
            ("dns", Wrote("dns/debug.json")),
            // The baseline is k3s (etcd is embedded), as troubleshoot says.
            (
                "etcd",
                Failed("current k8s distribution does not support etcd collector"),
            ),
            (
                "copy/copy-example",
                Wrote("default/example-0/tmp/copied.txt"),
            ),
        ],
    );
}

#[test]
fn db_collector() {
    if support::alone::offline(module_path!(), "db_collector") {
        return;
    }
    let rel = "examples/support-bundle/db-collector.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            // localhost:3306 and host `server`: nothing to connect to.
            ("mysql/mysql", Db("mysql/mysql.json")),
            ("redis/my-redis", Db("redis/my-redis.json")),
        ],
    );
}

#[test]
fn e2e() {
    if support::alone::offline(module_path!(), "e2e") {
        return;
    }
    let rel = "examples/support-bundle/e2e.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            ("cluster-resources", Wrote("cluster-resources/pods/")),
            ("cluster-info", Wrote("cluster-info/cluster_version.json")),
            ("data", Wrote("config/replicas.txt")),
            ("run-pod/static-hi", Wrote("static-hi.log")),
        ],
    );
}

#[test]
fn sample_collect_entire_configmap() {
    if support::alone::offline(module_path!(), "sample_collect_entire_configmap") {
        return;
    }
    let rel = "examples/support-bundle/sample-collect-entire-configmap.yaml";
    // kurl-current-config exists, kurl-last-config does not: both configmap entries share the
    // title `configmap`, and each writes its file (the absent one with an error beside it).
    let extra = vec![object(
        "ConfigMap",
        "kurl",
        "kurl-current-config",
        json!({}),
        json!({"installer": "current"}),
    )];
    let run = run_spec(rel, Cluster::baseline(), extra);
    run.check(
        rel,
        &[(
            "configmap",
            Want::Wrote("configmaps/kurl/kurl-current-config.json"),
        )],
    );
    assert!(
        run.run
            .exists("configmaps-errors/kurl/kurl-last-config.json")
    );
}

#[test]
fn sample_supportbundle() {
    if support::alone::offline(module_path!(), "sample_supportbundle") {
        return;
    }
    let rel = "examples/support-bundle/sample-supportbundle.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            (
                "Host OS Info",
                Wrote("host-collectors/system/hostos_info.json"),
            ),
            // No pod in `default` has app=example,component=nginx.
            ("logs/app=example,component=nginx", Nothing),
            ("logs/all-logs", Wrote("all-logs/coredns-")),
            ("run-pod/static-hi", Wrote("static-hi.log")),
        ],
    );
}

#[test]
fn secret_collectors() {
    if support::alone::offline(module_path!(), "secret_collectors") {
        return;
    }
    let rel = "examples/support-bundle/secret-collectors.yaml";
    let extra = vec![object(
        "Secret",
        "default",
        "my-app-config",
        json!({"app": "my-app"}),
        json!({"database-password": "aHVudGVyMg==", "user": "YXBw"}),
    )];
    let secret = Want::Wrote("secrets/default/my-app-config");
    run_spec(rel, Cluster::baseline(), extra).check(
        rel,
        &[
            ("secret/basic-secret", secret),
            ("secret/specific-key-with-value", secret),
            ("secret/all-secret-data", secret),
            ("secret/combined-collection", secret),
            ("secret/secrets-by-selector-all-data", secret),
            ("secret/secrets-by-selector-basic", secret),
        ],
    );
}

#[test]
fn v1beta3_configmap_example() {
    if support::alone::offline(module_path!(), "v1beta3_configmap_example") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/configmap-example.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            (
                "postgres/dev-database",
                DbError("postgres/dev-database.json", "refused"),
            ),
            (
                "redis/dev-redis",
                DbError("redis/dev-redis.json", "refused"),
            ),
            // The example's Secret holds a `mysql://` URL, which is not a MySQL DSN: refused
            // by the driver's parser, as go-sql-driver refuses it.
            (
                "mysql/staging-mysql",
                DbError("mysql/staging-mysql.json", "unknown network"),
            ),
        ],
    );
}

#[test]
fn v1beta3_cross_namespace_secrets() {
    if support::alone::offline(module_path!(), "v1beta3_cross_namespace_secrets") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/cross-namespace-secrets.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            (
                "postgres/shared-database",
                DbError("postgres/shared-database.json", "refused"),
            ),
            (
                "redis/shared-cache",
                DbError("redis/shared-cache.json", "refused"),
            ),
        ],
    );
}

#[test]
fn v1beta3_multiple_databases() {
    if support::alone::offline(module_path!(), "v1beta3_multiple_databases") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/multiple-databases.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            (
                "postgres/primary-db",
                DbError("postgres/primary-db.json", "refused"),
            ),
            (
                "postgres/replica-db",
                DbError("postgres/replica-db.json", "refused"),
            ),
            ("redis/cache", DbError("redis/cache.json", "refused")),
            ("mysql/local-mysql", Db("mysql/local-mysql.json")),
            (
                "mssql/legacy-db",
                DbError("mssql/legacy-db.json", "refused"),
            ),
        ],
    );
}

#[test]
fn v1beta3_optional_secrets() {
    if support::alone::offline(module_path!(), "v1beta3_optional_secrets") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/optional-secrets.yaml";
    use Want::*;
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[
            (
                "postgres/required-db",
                DbError("postgres/required-db.json", "refused"),
            ),
            ("postgres/optional-db", Db("postgres/optional-db.json")),
            (
                "postgres/partially-optional",
                Db("postgres/partially-optional.json"),
            ),
        ],
    );
}

#[test]
fn v1beta3_postgres_with_secret() {
    if support::alone::offline(module_path!(), "v1beta3_postgres_with_secret") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/postgres-with-secret.yaml";
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[(
            "postgres/main-database",
            Want::DbError("postgres/main-database.json", "refused"),
        )],
    );
}

#[test]
fn v1beta3_postgres_with_tls() {
    if support::alone::offline(module_path!(), "v1beta3_postgres_with_tls") {
        return;
    }
    let rel = "examples/support-bundle/v1beta3/postgres-with-tls.yaml";
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[(
            // The example's TLS Secret holds placeholder PEM (`...`), read from the cluster.
            "postgres/secure-database",
            Want::DbError(
                "postgres/secure-database.json",
                "clientcert: base64 decode error",
            ),
        )],
    );
}

#[test]
fn weave_analyzer() {
    if support::alone::offline(module_path!(), "weave_analyzer") {
        return;
    }
    let rel = "examples/support-bundle/weave-analyzer.yaml";
    // No weave-net pods (the baseline runs flannel): troubleshoot's exec error file.
    run_spec(rel, Cluster::baseline(), Vec::new()).check(
        rel,
        &[(
            "exec/weave-report",
            Want::Absent("kots/kurl/weave-errors.json"),
        )],
    );
}

#[test]
fn in_cluster_default() {
    if support::alone::offline(module_path!(), "in_cluster_default") {
        return;
    }
    let rel = "troubleshoot-specs/in-cluster/default.yaml";
    use Want::*;
    // A kURL/KOTS spec on a k3s cluster: most of what it looks for is not there.
    run_spec_serving(rel, Cluster::baseline(), Vec::new(), &[STATS]).check(
        rel,
        &[
            ("cluster-resources", Wrote("cluster-resources/pods/")),
            ("cluster-info", Wrote("cluster-info/cluster_version.json")),
            (
                "run-pod/ekco-resources",
                Wrote("ekco-resources/ekco-resources.log"),
            ),
            (
                "copy-from-host/copy apiserver audit logs",
                Wrote("logs/primary-node/apiserver/"),
            ),
            (
                "copy-from-host/copy kURL logs",
                Wrote("logs/primary-node/kurl/"),
            ),
            ("ceph", Nothing),
            ("longhorn", Nothing),
            (
                "exec/kotsadm-goroutines",
                Absent("kots/admin_console-errors.json"),
            ),
            (
                "exec/kotsadm-operator-goroutines",
                Absent("kots/admin_console-errors.json"),
            ),
            ("logs/velero-logs", Nothing),
            ("logs/kurl-control-plane", Nothing),
            ("logs/kotsadm-postgres-db", Nothing),
            ("logs/kotsadm-api", Nothing),
            ("logs/kotsadm-operator", Nothing),
            ("logs/kotsadm", Nothing),
            ("logs/kurl-proxy-kotsadm", Nothing),
            ("logs/kotsadm-dex", Nothing),
            ("logs/kotsadm-fs-minio", Nothing),
            ("logs/kotsadm-s3-ops", Nothing),
            ("logs/registry", Nothing),
            ("logs/ekc-operator", Nothing),
            (
                "secret/kotsadm-replicated-registry",
                Wrote("secrets/default/kotsadm-replicated-registry/.dockerconfigjson.json"),
            ),
            ("logs/rook-ceph-logs", Nothing),
            ("logs/coredns-logs", Wrote("logs/coredns/coredns-")),
            ("exec/weave-status", Absent("kots/kurl/weave-errors.json")),
            ("exec/weave-report", Absent("kots/kurl/weave-errors.json")),
            ("logs/rqlite-logs", Nothing),
            ("logs/weave-net", Nothing),
            ("logs/minio", Nothing),
            ("logs/ha-minio", Nothing),
            ("logs/openebs-logs", Nothing),
            (
                "exec/goldpinger-statistics",
                Absent("kots/goldpinger-errors.json"),
            ),
            (
                "copy-from-host/kurl-host-preflights",
                Wrote("kots/kurl/host-preflights/primary-node/"),
            ),
            (
                "configmap/coredns",
                Wrote("configmaps/kube-system/coredns.json"),
            ),
            (
                "configmap/kube-proxy",
                Absent("configmaps-errors/kube-system/kube-proxy.json"),
            ),
            (
                "configmap/kubeadm-config",
                Absent("configmaps-errors/kube-system/kubeadm-config.json"),
            ),
            (
                "configmap/kubelet-config",
                Absent("configmaps-errors/kube-system/kubelet-config.json"),
            ),
            (
                "configmap/kurl-config",
                Absent("configmaps-errors/kube-system/kurl-config.json"),
            ),
            (
                "configmap/weave-net",
                Absent("configmaps-errors/kube-system/weave-net.json"),
            ),
            (
                "configmap/ekco-config",
                Absent("configmaps-errors/kurl/ekco-config.json"),
            ),
            (
                "configmap/kurl-current-config",
                Absent("configmaps-errors/kurl/kurl-current-config.json"),
            ),
            (
                "configmap/kurl-last-config",
                Absent("configmaps-errors/kurl/kurl-last-config.json"),
            ),
            ("logs/projectcontour-logs", Nothing),
            (
                "run-pod/rqlite-status",
                Wrote("rqlite-status/rqlite-status.log"),
            ),
            (
                "run-pod/rqlite-nodes",
                Wrote("rqlite-nodes/rqlite-nodes.log"),
            ),
            // https://replicated.app: no name resolves in the test's network namespace.
            (
                "http/replicated.app-health-check",
                HttpError(
                    "replicated.app-health-check.json",
                    "invalid-address replicated.app:443",
                ),
            ),
            ("node-metrics", Wrote("node-metrics/primary-node.json")),
        ],
    );
}
