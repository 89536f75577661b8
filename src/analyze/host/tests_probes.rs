//! Table tests of host http, certificatesCollection and networkNamespaceConnectivity.

use super::super::{DirView, analyze};
use super::tests::{bundle, holds, host_spec, run_host, short};
use chrono::{TimeZone, Utc};

const HTTP: &str = "host-collectors/http/result.json";

#[test]
fn http_status_codes_errors_and_expressions() {
    let ok =
        r#"{"response":{"status":200,"body":"{}","headers":{"Content-Type":"application/json"}}}"#;
    let failed = r#"{"error":{"message":"dial tcp 10.0.0.1:443: connect: connection refused"}}"#;
    for (data, when, want) in [
        (ok, "statusCode == 200", "true"),
        (ok, "statusCode = 200", "true"),
        (ok, "statusCode === 200", "true"),
        (ok, "statusCode != 200", "false"),
        (ok, "statusCode >= 400", "false"),
        (ok, "statusCode >= 200 && statusCode < 300", "true"),
        (ok, "statusCode == 404 || statusCode == 200", "true"),
        (ok, "error", "false"),
        (failed, "error", "true"),
        (failed, "statusCode == 200", "false"),
        // Go's json reads field names case-insensitively.
        (r#"{"Error":{"message":"x"}}"#, "error", "true"),
    ] {
        assert_eq!(holds(HTTP, data, "http", when), want, "{when} on {data}");
    }
    for bad in ["status == 200", "statusCode ~ 200", "statusCode == ok"] {
        assert!(
            holds(HTTP, ok, "http", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
        assert!(
            holds(HTTP, failed, "http", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
    let spec = "- http:\n    collectorName: api\n    outcomes:\n      - fail: {when: error, message: down}\n      - pass: {when: \"statusCode == 200\", message: up}\n";
    let a = run_host(&[("host-collectors/http/api.json", ok)], spec);
    assert_eq!(short(&a), [('P', "HTTP Request".into(), "up".into())]);
}

const CERTS: &str = "host-collectors/certificatesCollection/certificatesCollection.json";

fn certs_run(
    data: &str,
    outcomes: &str,
    now: chrono::DateTime<Utc>,
) -> Vec<(char, String, String)> {
    let dir = bundle(&[(CERTS, data)]);
    let spec = host_spec(&format!(
        "- certificatesCollection:\n    outcomes:\n{outcomes}"
    ));
    short(&analyze(&DirView::new(dir.path()), &spec, now))
}

#[test]
fn certificates_collection_judges_each_certificate_against_now() {
    let data = r#"[
      {"certificatePath":"/etc/kubernetes/pki/apiserver.crt","certificateChain":[
        {"certificate":"apiserver","subject":"CN=kube-apiserver","issuer":"CN=kubernetes","notAfter":"2027-01-10T00:00:00Z","notBefore":"2026-01-10T00:00:00Z","isValid":true,"isCA":false}]},
      {"certificatePath":"/etc/old.crt","certificateChain":[
        {"certificate":"old","notAfter":"2020-01-01T00:00:00Z","notBefore":"2019-01-01T00:00:00Z","isValid":false}]},
      {"certificatePath":"/etc/none.crt","message":"cert-missing"}
    ]"#;
    let outcomes = "      - fail: {when: \"notAfter < Today\", message: expired}\n      - warn: {when: \"notAfter < Today + 60 days\", message: expiring soon}\n      - pass: {when: \"notAfter > Today\", message: valid}\n";
    let title = "Host Certificates Collection".to_string();
    // 2026-12-07: the apiserver certificate expires within 60 days. The warn only drops the
    // passes gathered before it, so a pass outcome listed after the warn still adds its pass
    // (an upstream quirk, kept).
    let now = Utc
        .with_ymd_and_hms(2026, 12, 7, 0, 0, 0)
        .single()
        .expect("time");
    assert_eq!(
        certs_run(data, outcomes, now),
        [
            (
                'W',
                title.clone(),
                "expiring soon in 60 days, obtained from /etc/kubernetes/pki/apiserver.crt".into()
            ),
            (
                'P',
                title.clone(),
                "valid, obtained from /etc/kubernetes/pki/apiserver.crt".into()
            ),
            (
                'F',
                title.clone(),
                "expired, obtained from /etc/old.crt".into()
            ),
            (
                'F',
                title.clone(),
                "Certificate is missing, cannot be obtained from /etc/none.crt".into()
            ),
        ]
    );
    // With the pass listed first, the warn drops it.
    let warn_last = "      - pass: {when: \"notAfter > Today\", message: valid}\n      - warn: {when: \"notAfter < Today + 60 days\", message: soon}\n";
    assert_eq!(
        certs_run(data, warn_last, now)[..1],
        [(
            'W',
            title.clone(),
            "soon in 60 days, obtained from /etc/kubernetes/pki/apiserver.crt".into()
        )]
    );
    // Half a year earlier it is simply valid.
    let then = Utc
        .with_ymd_and_hms(2026, 6, 1, 0, 0, 0)
        .single()
        .expect("time");
    assert_eq!(
        certs_run(data, outcomes, then)[0],
        (
            'P',
            title.clone(),
            "valid, obtained from /etc/kubernetes/pki/apiserver.crt".into()
        )
    );
    // Nothing to judge: a warn "no results"; no file: the analyzer fails.
    assert_eq!(
        certs_run("[]", outcomes, now),
        [('W', title.clone(), "no results".into())]
    );
    let a = run_host(
        &[],
        &format!("- certificatesCollection:\n    outcomes:\n{outcomes}"),
    );
    assert!(
        short(&a)[0]
            .2
            .contains("failed to get contents of certificatesCollection.json")
    );
    assert!(
        certs_run("{", outcomes, now)[0]
            .2
            .contains("failed to parse certificatesCollection.json")
    );
}

#[test]
fn network_namespace_connectivity_passes_or_fails_on_success_with_templates() {
    let path = "host-collectors/system/networkNamespaceConnectivity.json";
    let spec = "- networkNamespaceConnectivity:\n    outcomes:\n      - pass: {message: \"{{ .FromCIDR }} reaches {{ .ToCIDR }}\"}\n      - fail: {message: \"{{ .FromCIDR }} cannot reach {{ .ToCIDR }}: {{ .ErrorMessage }}\"}\n";
    let good = r#"{"from_cidr":"10.0.0.0/24","to_cidr":"10.0.1.0/24","errors":{},"output":{"logs":["ok"]},"success":true}"#;
    let bad = r#"{"from_cidr":"10.0.0.0/24","to_cidr":"10.0.1.0/24","errors":{"tcp_client":"timeout","udp_client":"refused"},"success":false}"#;
    let title = "Network Namespace Connectivity".to_string();
    assert_eq!(
        short(&run_host(&[(path, good)], spec)),
        [('P', title.clone(), "10.0.0.0/24 reaches 10.0.1.0/24".into())]
    );
    assert_eq!(
        short(&run_host(&[(path, bad)], spec)),
        [(
            'F',
            title.clone(),
            "10.0.0.0/24 cannot reach 10.0.1.0/24: UDP connection failed with: refused\nTCP connection failed with: timeout\n".into()
        )]
    );
    // Per node the title stays plain, as troubleshoot.
    let named = spec.replace(":\n    outcomes", ":\n    collectorName: nnc\n    outcomes");
    let nodes = [
        (
            "host-collectors/system/node_list.json",
            r#"{"nodes":["n1"]}"#,
        ),
        ("host-collectors/system/n1/nnc.json", good),
    ];
    assert_eq!(short(&run_host(&nodes, &named))[0].1, title);
    assert!(run_host(&[], spec).results.is_empty());
}

#[test]
fn registry_images_count_verified_missing_and_failed_images() {
    let path = "host-collectors/registry-images/images.json";
    let data = r#"{"images":{
        "registry.example.com/app:1.0":{"exists":true},
        "registry.example.com/db:2.0":{"exists":false},
        "registry.example.com/cache:3":{"exists":false,"error":"unauthorized"}}}"#;
    for (when, want) in [
        ("verified == 1", "true"),
        ("missing > 0", "true"),
        ("errors >= 2", "false"),
        (" missing === 1 ", "true"),
    ] {
        assert_eq!(holds(path, data, "registryImages", when), want, "{when}");
    }
    for bad in ["present == 1", "missing != 0", "missing > none", "missing"] {
        assert!(
            holds(path, data, "registryImages", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
    let spec = "- registryImages:\n    outcomes:\n      - fail: {when: \"missing > 0\", message: \"missing: {{ .Missing }}; errors: {{ .Errors }}\"}\n      - pass: {message: \"all {{ .Verified }} there {{ if }}\"}\n";
    assert_eq!(
        short(&run_host(&[(path, data)], spec)),
        [(
            'F',
            "Registry Images".to_string(),
            "missing: [registry.example.com/db:2.0]; errors: [registry.example.com/cache:3]"
                .to_string()
        )]
    );
    // A message template that does not render is kept as written.
    let only = r#"{"images":{"a:1":{"exists":true}}}"#;
    assert_eq!(
        short(&run_host(&[(path, only)], spec))[0].2,
        "all {{ .Verified }} there {{ if }}"
    );
}

#[test]
fn filesystem_performance_compares_sync_latencies() {
    let path = "host-collectors/filesystemPerformance/filesystemPerformance.json";
    let data = r#"{"fio version":"fio-3.33","jobs":[{"jobname":"fsperf","job options":{"rw":"write"},
        "sync":{"lat_ns":{"min":200,"max":30000000,"mean":1500000.7,"percentile":{
          "1.000000":400,"50.000000":1000000,"90.000000":5000000,"99.000000":12000000,"99.900000":25000000}}}}]}"#;
    for (when, want) in [
        ("p99 < 10ms", "false"),
        ("p99 <= 12ms", "true"),
        ("p50 == 1ms", "true"),
        ("P90 > 4.5ms", "true"),
        ("p999 >= 25ms", "true"),
        ("average < 1500us", "false"),
        ("average < 1501us", "true"),
        ("min === 200ns", "true"),
        ("max > 1s", "false"),
        ("p5 == 0s", "true"),
        ("fileNotCollected", "false"),
    ] {
        assert_eq!(
            holds(path, data, "filesystemPerformance", when),
            want,
            "{when}"
        );
    }
    for bad in ["p99 < 10", "p98 < 1ms", "p99 != 1ms", "p99 <"] {
        assert!(
            holds(path, data, "filesystemPerformance", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
    let spec = "- filesystemPerformance:\n    outcomes:\n      - fail: {when: \"p99 > 10ms\", message: \"slow: p99 {{ .P99 }}, avg {{ .Average }}, min {{ .Min }}\"}\n";
    assert_eq!(
        short(&run_host(&[(path, data)], spec)),
        [(
            'F',
            "Filesystem Performance".into(),
            "slow: p99 12ms, avg 1.5ms, min 200ns".into()
        )]
    );
    // Nothing matched: a result with the title and no severity.
    let a = run_host(&[(path, data)], &spec.replace("p99 > 10ms", "p99 > 1s"));
    assert_eq!(
        short(&a),
        [('-', "Filesystem Performance".into(), String::new())]
    );
    // No fsperf job: the analyzer fails.
    let other = r#"{"jobs":[{"jobname":"other"}]}"#;
    assert!(
        short(&run_host(&[(path, other)], spec))[0]
            .2
            .contains("no job named 'fsperf'")
    );
    // A node's file that cannot be read, with a first outcome fileNotCollected: that outcome.
    let nodes = [(
        "host-collectors/system/node_list.json",
        r#"{"nodes":["n1"]}"#,
    )];
    let nc = "- filesystemPerformance:\n    outcomes:\n      - warn: {when: fileNotCollected, message: not collected}\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&nodes, nc)),
        [('W', "Filesystem Performance".into(), "not collected".into())]
    );
    assert!(
        short(&run_host(&nodes, spec))[0]
            .2
            .contains("failed to get collected file")
    );
}
