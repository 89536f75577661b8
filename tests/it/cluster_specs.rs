//! `collect.clusterSpecs`: the agent (`trigger`, the real binary) reads specs stored in labelled
//! Secrets and ConfigMaps of the test API server at run time, collects what they ask for, applies
//! their redactors, names each loaded spec in the run record, records a malformed one as failed
//! while the run goes on, and (without `followSpecURI`) never fetches a spec's `uri:`.

use crate::support;
use crate::support::kube_api::{Cluster, KubeApiServer};
use crate::support::triggered::Triggered;

use base64::Engine;
use serde_json::{Value, json};
use std::time::Duration;

const LABEL: (&str, &str) = ("troubleshoot.sh/kind", "support-bundle");

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn object(kind: &str, ns: &str, name: &str, labelled: bool, data: Value) -> Value {
    let labels = if labelled {
        json!({LABEL.0: LABEL.1})
    } else {
        json!({"app": "other"})
    };
    json!({"apiVersion": "v1", "kind": kind,
           "metadata": {"name": name, "namespace": ns, "labels": labels},
           "data": data})
}

fn bundle_spec(file: &str, text: &str, uri: Option<&str>) -> String {
    let uri = uri.map(|u| format!("  uri: {u}\n")).unwrap_or_default();
    format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: stored\nspec:\n{uri}  collectors:\n    - data:\n        name: {file}\n        data: \"{text}\"\n  hostCollectors:\n    - run: {{collectorName: as-root, command: touch, args: [/tmp/tsa-cluster-spec-ran-as-root]}}\n"
    )
}

const REDACTOR: &str = "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nmetadata:\n  name: stored\nspec:\n  redactors:\n    - name: stored-word\n      removals:\n        values: [\"cluster-secret-word\"]\n";

fn run_job(server: &KubeApiServer, cluster_specs: &str) -> Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let kubeconfig = dir.path().join("kubeconfig");
    server
        .write_kubeconfig(&kubeconfig, "default")
        .expect("kubeconfig");
    let job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  \
         schedule: \"0 2 * * *\"\n  collect:\n    kubeconfig: {}\n    clusterSpecs: {cluster_specs}\n",
        kubeconfig.display()
    );
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    Triggered::run(dir, &[], Duration::from_secs(120))
}

fn loaded(record: &Value) -> Vec<(String, String)> {
    record["clusterSpecs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[test]
fn stored_specs_are_collected_recorded_and_their_uri_is_not_fetched() {
    let mut cluster = Cluster::baseline();
    cluster.add_namespace("apps");
    cluster.add_namespace("elsewhere");
    let server_uri_path = "/spec-from-uri.yaml";
    // The spec's uri points at the test server itself (loopback), which records every request.
    let probe = KubeApiServer::start(Cluster::baseline());
    let uri = format!("{}{server_uri_path}", probe.url());
    let spec = bundle_spec("stored/hello.txt", "hello cluster-secret-word", Some(&uri));
    let objects = [
        object(
            "ConfigMap",
            "apps",
            "bundle",
            true,
            json!({"support-bundle-spec": spec}),
        ),
        object(
            "Secret",
            "apps",
            "redact",
            true,
            json!({"redactor-spec": b64(REDACTOR)}),
        ),
        object(
            "Secret",
            "apps",
            "broken",
            true,
            json!({"support-bundle-spec": b64("apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  collectors: [: bad\n")}),
        ),
        object(
            "ConfigMap",
            "apps",
            "unlabelled",
            false,
            json!({"support-bundle-spec": bundle_spec("stored/unlabelled.txt", "no", None)}),
        ),
        object(
            "ConfigMap",
            "elsewhere",
            "other-namespace",
            true,
            json!({"support-bundle-spec": bundle_spec("stored/elsewhere.txt", "no", None)}),
        ),
    ];
    for o in objects {
        cluster.insert_value(o, None).expect("insert");
    }
    let server = KubeApiServer::start(cluster);
    let run = run_job(&server, "{namespaces: [apps]}");

    // What the stored spec asks for is collected, with the stored redactor applied.
    let hello = run.text("stored/hello.txt");
    assert!(hello.starts_with("hello "), "{hello}");
    assert!(
        !hello.contains("cluster-secret-word"),
        "not redacted: {hello}"
    );
    assert!(!run.exists("stored/unlabelled.txt"));
    assert!(!run.exists("stored/elsewhere.txt"));
    assert_eq!(run.collector("title", "data")["status"], "succeeded");

    // The record names each spec read, with its digest; the malformed one failed and the run went on.
    let record = &run.record;
    assert_eq!(
        loaded(record),
        [
            (
                "apps/Secret/broken/support-bundle-spec".into(),
                "failed".into()
            ),
            ("apps/Secret/redact/redactor-spec".into(), "loaded".into()),
            (
                "apps/ConfigMap/bundle/support-bundle-spec".into(),
                "loaded".into()
            ),
        ],
        "{:#}",
        record["clusterSpecs"]
    );
    let specs = record["clusterSpecs"].as_array().expect("clusterSpecs");
    let bundle = &specs[2];
    assert_eq!(
        bundle["sha256"].as_str(),
        Some(troubleshoot_agent::digest::sha256_hex(spec.as_bytes()).as_str()),
        "{bundle:#}"
    );
    assert!(
        bundle["error"]
            .as_str()
            .unwrap_or_default()
            .contains("was not fetched"),
        "{bundle:#}"
    );
    // Host collectors from the cluster are never run on the agent's host.
    assert!(
        bundle["error"]
            .as_str()
            .unwrap_or_default()
            .contains("hostCollectors were not run"),
        "{bundle:#}"
    );
    assert!(!std::path::Path::new("/tmp/tsa-cluster-spec-ran-as-root").exists());
    let broken = specs[0]["error"].as_str().unwrap_or_default();
    assert!(broken.contains("not valid YAML"), "{broken}");
    assert!(
        ["succeeded", "succeeded-with-errors"].contains(&record["status"].as_str().unwrap_or("")),
        "{record:#}"
    );

    // The listing asked for the label, and the spec's uri was never requested.
    let lists: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| {
            r.query
                .contains("labelSelector=troubleshoot.sh%2Fkind%3Dsupport-bundle")
        })
        .map(|r| r.path.clone())
        .collect();
    assert!(
        lists.iter().any(|p| p == "/api/v1/namespaces/apps/secrets")
            && lists
                .iter()
                .any(|p| p == "/api/v1/namespaces/apps/configmaps"),
        "{lists:?}"
    );
    assert!(
        probe
            .requests()
            .iter()
            .all(|r| !r.path.contains(server_uri_path)),
        "the spec's uri was fetched"
    );
}

#[test]
fn follow_spec_uri_and_cluster_specs_are_refused_with_the_cli_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("job.yaml");
    std::fs::write(
        &file,
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: u\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    clusterSpecs: {}\n    followSpecURI: true\n    engine: support-bundle\n",
    )
    .expect("job");
    let out = support::agent(dir.path())
        .arg("validate")
        .arg(&file)
        .output()
        .expect("validate");
    let err = support::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("job.yaml:9:20")
            && err.contains("`followSpecURI: true` is not supported with `engine: support-bundle`"),
        "{err}"
    );
    assert!(
        err.contains("job.yaml:8:19")
            && err.contains("`clusterSpecs` is not supported with `engine: support-bundle` yet"),
        "{err}"
    );
}
