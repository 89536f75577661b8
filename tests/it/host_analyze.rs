//! Our host collectors' files read by our host analyzers: a spec whose analyzers must parse each
//! file to decide (a pass means the file was read and understood; an unreadable or misshapen
//! file would give "Analyzer Failed").

use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use troubleshoot_agent::analyze::{DirView, Severity, analyze};
use troubleshoot_agent::collect::host::{self, HostOptions};
use troubleshoot_agent::spec::parse_spec_text;

const SPEC: &str = r#"apiVersion: troubleshoot.sh/v1beta2
kind: SupportBundle
metadata: {name: host-analyze}
spec:
  hostCollectors:
    - cpu: {}
    - memory: {}
    - hostOS: {}
    - diskUsage: {collectorName: root, path: /}
    - ipv4Interfaces: {}
  hostAnalyzers:
    - cpu:
        outcomes:
          - fail: {when: "count < 1", message: no cpu}
          - pass: {when: "logical >= 1", message: cpus}
    - memory:
        outcomes:
          - fail: {when: "< 1Mi", message: no memory}
          - pass: {when: ">= 1Mi", message: memory}
    - hostOS:
        outcomes:
          - fail: {when: "kernelVersion < 2.6", message: ancient}
          - pass: {when: "kernelVersion >= 2.6", message: kernel}
    - diskUsage:
        collectorName: root
        outcomes:
          - fail: {when: "total < 1Ki", message: no disk}
          - pass: {when: "used/total <= 100%", message: disk}
    - ipv4Interfaces:
        outcomes:
          - fail: {when: "count < 0", message: impossible}
          - pass: {when: "count >= 0", message: interfaces}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyzers_read_what_our_host_collectors_write() {
    let file = parse_spec_text(Path::new("host-analyze.yaml"), SPEC);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("version.yaml"), "kind: SupportBundle\n").expect("version");
    let cancel = CancellationToken::new();
    // A hang guard only.
    tokio::time::timeout(
        Duration::from_secs(300),
        host::collect(
            &file.spec.host_collectors,
            dir.path(),
            &cancel,
            &HostOptions::default(),
            chrono::Utc::now(),
        ),
    )
    .await
    .expect("host collection hung");
    let a = analyze(&DirView::new(dir.path()), &file.spec, chrono::Utc::now());
    let got: Vec<(Option<Severity>, String, String)> = a
        .results
        .iter()
        .map(|r| (r.severity, r.title.clone(), r.message.clone()))
        .collect();
    let pass = |title: &str, message: &str| (Some(Severity::Pass), title.into(), message.into());
    assert_eq!(
        got,
        [
            pass("Number of CPUs", "cpus"),
            pass("Amount of Memory", "memory"),
            pass("Host OS Info", "kernel"),
            pass("Disk Usage root", "disk"),
            pass("IPv4 Interfaces", "interfaces"),
        ],
        "errors: {:?}",
        a.errors
    );
}
