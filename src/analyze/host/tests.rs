//! Table tests of the host analyzers over small staged bundles. Cases marked "troubleshoot"
//! carry over the inputs and expected outcomes of troubleshoot v0.133's own tests.

pub(crate) use super::super::tests::bundle;
use super::super::{Analysis, DirView, Severity, TroubleshootSpec, analyze};
use crate::spec::parse_spec_text;
use chrono::Utc;
use std::path::Path;

/// The spec of a `hostAnalyzers:` YAML list.
pub(crate) fn host_spec(yaml: &str) -> TroubleshootSpec {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata: {{name: t}}\nspec:\n  hostAnalyzers:\n{}",
        yaml.lines()
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    let file = parse_spec_text(Path::new("t.yaml"), &text);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    file.spec
}

pub(crate) fn run_host(files: &[(&str, &str)], yaml: &str) -> Analysis {
    let dir = bundle(files);
    analyze(&DirView::new(dir.path()), &host_spec(yaml), Utc::now())
}

/// `(severity, title, message)` of each result, with `P`/`W`/`F`/`-` for the severity.
pub(crate) fn short(a: &Analysis) -> Vec<(char, String, String)> {
    a.results
        .iter()
        .map(|r| {
            let s = match r.severity {
                Some(Severity::Pass) => 'P',
                Some(Severity::Warn) => 'W',
                Some(Severity::Fail) => 'F',
                None => '-',
            };
            (s, r.title.clone(), r.message.clone())
        })
        .collect()
}

/// The message of the single result of analyzer `kind` (with `outcomes`) over `file` at `path`.
pub(crate) fn verdict(path: &str, data: &str, kind: &str, extra: &str, whens: &[&str]) -> String {
    let mut yaml = format!("- {kind}:\n{extra}    outcomes:\n");
    for (i, when) in whens.iter().enumerate() {
        yaml.push_str(&format!(
            "      - fail: {{when: {when:?}, message: \"m{i}\"}}\n"
        ));
    }
    yaml.push_str("      - pass: {message: else}\n");
    let a = run_host(&[(path, data)], &yaml);
    let r = short(&a);
    assert_eq!(r.len(), 1, "{r:?}");
    r[0].2.clone()
}

/// Whether `when` holds for `data`: `true`/`false`, or the failure message.
pub(crate) fn holds(path: &str, data: &str, kind: &str, when: &str) -> String {
    let msg = verdict(path, data, kind, "", &[when]);
    match msg.as_str() {
        "m0" => "true".into(),
        "else" => "false".into(),
        other => other.into(),
    }
}

const CPU: &str = "host-collectors/system/cpu.json";

#[test]
fn cpu_counts_arch_flags_and_levels() {
    let data = r#"{"logicalCount":8,"physicalCount":4,"flags":["cmov","cx8","fpu","fxsr","mmx","syscall","sse","sse2","cx16","lahf_lm","popcnt","ssse3","sse4_1","sse4_2","avx"],"machineArch":"x86_64"}"#;
    for (when, want) in [
        ("< 8", "false"),
        (">= 8", "true"),
        ("count == 8", "true"),
        ("logical > 7", "true"),
        ("physical < 8", "true"),
        ("physical === 4", "true"),
        ("Physical != 4", "false"),
        ("machineArch == x86_64", "true"),
        ("machineArch != x86_64", "false"),
        ("supports x86-64", "true"),
        ("supports x86-64-v2", "true"),
        ("supports x86-64-v3", "false"),
        ("supports x86-64-v4", "false"),
        ("hasFlags avx,sse2", "true"),
        ("hasflags avx,avx2", "false"),
    ] {
        assert_eq!(holds(CPU, data, "cpu", when), want, "{when}");
    }
    for bad in [
        "supports armv8",
        "< eight",
        "count =< 2",
        "lots of cpus here",
        "machineArch < x",
    ] {
        let got = holds(CPU, data, "cpu", bad);
        assert!(
            got.starts_with("Analyzer Failed: analyze: "),
            "{bad}: {got}"
        );
    }
    // A bare comparison takes the larger of the two counts.
    let odd = r#"{"logicalCount":2,"physicalCount":4,"flags":null,"machineArch":"arm64"}"#;
    assert_eq!(holds(CPU, odd, "cpu", "== 4"), "true");
    assert_eq!(holds(CPU, odd, "cpu", "hasFlags sse"), "false");
}

#[test]
fn default_titles_check_names_and_missing_or_malformed_files() {
    let spec = "- cpu:\n    outcomes:\n      - fail: {when: \"< 2\", message: few}\n      - pass: {message: ok}\n";
    let data = r#"{"logicalCount":4,"physicalCount":2}"#;
    assert_eq!(
        short(&run_host(&[(CPU, data)], spec)),
        [('P', "Number of CPUs".into(), "ok".into())]
    );
    let named = format!("- cpu:\n    checkName: Cores\n{}", &spec[7..]);
    assert_eq!(short(&run_host(&[(CPU, data)], &named))[0].1, "Cores");
    // No file and no node list: no result (troubleshoot logs "no outcome matched").
    let a = run_host(&[], spec);
    assert!(a.results.is_empty(), "{:?}", a.results);
    assert!(a.errors.is_empty());
    // A malformed file fails the analyzer under its default title.
    let a = run_host(&[(CPU, "{not json")], spec);
    let r = short(&a);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, 'F');
    assert_eq!(r[0].1, "Number of CPUs");
    assert!(
        r[0].2
            .starts_with("Analyzer Failed: analyze: host-collectors/system/cpu.json: ")
            && r[0]
                .2
                .contains("failed to compare < 2: failed to unmarshal data into CPUInfo"),
        "{}",
        r[0].2
    );
    assert_eq!(a.errors.len(), 1);
    assert!(a.errors[0].host);
    // An unconditional first outcome never reads the file, as troubleshoot.
    let a = run_host(
        &[(CPU, "{not json")],
        "- cpu:\n    outcomes:\n      - warn: {message: always}\n",
    );
    assert_eq!(short(&a), [('W', "Number of CPUs".into(), "always".into())]);
    // No outcome matches: no result.
    let a = run_host(
        &[(CPU, data)],
        "- cpu:\n    outcomes:\n      - fail: {when: \"< 2\", message: few}\n",
    );
    assert!(a.results.is_empty());
}

#[test]
fn per_node_results_come_from_the_node_list_when_there_is_no_local_file() {
    let files = [
        (
            "host-collectors/system/node_list.json",
            r#"{"nodes":["node-a","node-b"]}"#,
        ),
        (
            "host-collectors/system/node-a/cpu.json",
            r#"{"logicalCount":1}"#,
        ),
        (
            "host-collectors/system/node-b/cpu.json",
            r#"{"logicalCount":16}"#,
        ),
    ];
    let spec = "- cpu:\n    outcomes:\n      - fail: {when: \"< 2\", message: few}\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&files, spec)),
        [
            ('F', "Number of CPUs - Node node-a".into(), "few".into()),
            ('P', "Number of CPUs - Node node-b".into(), "ok".into()),
        ]
    );
    // A local file wins over the nodes.
    let mut with_local = files.to_vec();
    with_local.push((CPU, r#"{"logicalCount":3}"#));
    assert_eq!(
        short(&run_host(&with_local, spec)),
        [('P', "Number of CPUs".into(), "ok".into())]
    );
    // A listed node without its file fails the analyzer.
    let a = run_host(&files[..2], spec);
    let r = short(&a);
    assert_eq!(r.len(), 1);
    assert!(
        r[0].2
            .contains("failed to retrieve content for node node-b"),
        "{}",
        r[0].2
    );
    // An array where an object belongs is refused, as Go's decoder refuses it.
    let a = run_host(&[(CPU, "[8, 4]")], spec);
    assert!(
        short(&a)[0].2.contains("cannot unmarshal an array"),
        "{:?}",
        short(&a)
    );
    // A malformed node list too.
    let a = run_host(&[("host-collectors/system/node_list.json", "[")], spec);
    assert!(short(&a)[0].2.contains("failed to unmarshal node names"));
}

const TIME: &str = "host-collectors/system/time.json";

#[test]
fn time_zone_and_ntp_states() {
    let data = r#"{"timezone":"UTC","ntp_synchronized":true,"ntp_active":false}"#;
    for (when, want) in [
        ("timezone == UTC", "true"),
        ("timezone = UTC", "true"),
        ("timezone != UTC", "false"),
        ("timezone == EST", "false"),
        ("ntp == synchronized+inactive", "true"),
        ("ntp == synchronized+active", "false"),
        ("ntp == unsynchronized+active", "false"),
        ("ntp == unsynchronized+inactive", "false"),
    ] {
        assert_eq!(holds(TIME, data, "time", when), want, "{when}");
    }
    for bad in [
        "ntp != synchronized+active",
        "ntp == synced",
        "timezone < UTC",
        "zone == UTC",
        "timezone UTC",
    ] {
        assert!(
            holds(TIME, data, "time", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
    let spec = "- time:\n    outcomes:\n      - pass: {message: fine}\n";
    assert_eq!(short(&run_host(&[(TIME, data)], spec))[0].1, "Time");
}

const OS: &str = "host-collectors/system/hostos_info.json";

fn os(platform: &str, family: &str, version: &str, kernel: &str) -> String {
    format!(
        "{{\n \"name\": \"h\",\n \"kernelVersion\": \"{kernel}\",\n \"platformVersion\": \"{version}\",\n \"platform\": \"{platform}\",\n \"platformFamily\": \"{family}\"\n}}"
    )
}

#[test]
fn host_os_platforms_families_kernels_and_ranges() {
    // troubleshoot: TestAnalyzeHostOS conditional cases.
    let cases = [
        ("kernelVersion == 4.15", os("", "", "", "4.15.0"), "true"),
        ("kernelVersion < 4.15", os("", "", "", "4.16.0"), "false"),
        ("centos == 8.2", os("centos", "", "8.2", ""), "true"),
        ("centos < 8", os("centos", "", "7.2", ""), "true"),
        ("centos < 8", os("centos", "", "8.2", ""), "false"),
        ("centos < 8", os("redhat", "", "7.2", ""), "false"),
        ("rhel == 8.2", os("centos", "rhel", "8.2", ""), "true"),
        (
            "ubuntu == 20.04",
            os("ubuntu", "debian", "18.04", ""),
            "false",
        ),
        (
            "ubuntu > 20.04 || <= 18.04",
            os("ubuntu", "", "20.04", ""),
            "false",
        ),
        (
            "ubuntu > 20.04 || <= 18.04",
            os("ubuntu", "", "22.04", ""),
            "true",
        ),
        (
            "ubuntu > 20.04 || <= 18.04",
            os("ubuntu", "", "18.04", ""),
            "true",
        ),
        ("redhat >= 8 && < 9", os("redhat", "", "8.2", ""), "true"),
        ("redhat >= 8 && < 9", os("redhat", "", "9.2", ""), "false"),
        (
            "redhat >= 8 && < 9 || == 9.1.0",
            os("redhat", "", "9.2", ""),
            "false",
        ),
        (
            "redhat >= 8 && < 9 || == 9.2.0",
            os("redhat", "", "9.2", ""),
            "true",
        ),
        // Kernel of one exact distro version; kernels keep only their numeric prefix.
        (
            "centos-1.2.0-kernel >= 1.2.0",
            os("centos", "", "1.2.0", "1.2.0-1034-aws"),
            "true",
        ),
        (
            "ubuntu-20.04-kernel >= 5.4",
            os("ubuntu", "", "20.04", "5.15.0-91-generic"),
            "true",
        ),
        (
            "ubuntu-22.04-kernel >= 5.4",
            os("ubuntu", "", "20.04", "5.15.0-91-generic"),
            "false",
        ),
        (
            "kernelVersion >= 5.4",
            os("ubuntu", "", "20.04", "5.4.0-1034-gcp"),
            "true",
        ),
        // Leading zeros in a distro version are dropped.
        ("ubuntu >= 0.1", os("ubuntu", "", "00.1.2", "5.4.0"), "true"),
    ];
    for (when, data, want) in &cases {
        assert_eq!(holds(OS, data, "hostOS", when), *want, "{when} on {data}");
    }
    let data = os("ubuntu", "debian", "22.04", "6.1.0");
    for bad in [
        "invalid conditional",
        "ubuntu >= 20.04 and < 24.04",
        "ubuntu >= x",
        "ubuntu",
    ] {
        assert!(
            holds(OS, &data, "hostOS", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
}

const SERVICES: &str = "host-collectors/system/systemctl_services.json";

#[test]
fn host_services_match_the_first_unit_with_the_prefix() {
    let data = r#"[
      {"Unit":"containerd.service","Load":"loaded","Active":"active","Sub":"running"},
      {"Unit":"ufw.service","Load":"loaded","Active":"inactive","Sub":"dead"},
      {"Unit":"k3s.service","Load":"not-found","Active":"inactive","Sub":"dead"}
    ]"#;
    for (when, want) in [
        ("containerd = active", "true"),
        ("containerd == active,running", "true"),
        ("containerd == active,exited", "false"),
        ("containerd == *,running,loaded", "true"),
        ("containerd != active", "false"),
        ("ufw != active", "true"),
        ("ufw == inactive,*,loaded", "true"),
        ("k3s == inactive,dead,loaded", "false"),
        ("k3s <> inactive,dead,loaded", "true"),
        ("docker == active", "false"),
        ("docker != active", "false"),
    ] {
        assert_eq!(holds(SERVICES, data, "hostServices", when), want, "{when}");
    }
    assert!(holds(SERVICES, data, "hostServices", "ufw >= active").starts_with("Analyzer Failed"));
    assert!(holds(SERVICES, data, "hostServices", "ufw active").starts_with("Analyzer Failed"));
    let spec = "- hostServices:\n    outcomes:\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&[(SERVICES, "null")], spec))[0].1,
        "Host Services"
    );
}

const MODULES: &str = "host-collectors/system/kernel_modules.json";

#[test]
fn kernel_modules_give_every_match_then_an_agreeing_else() {
    let data = r#"{"ip_tables":{"size":32768,"instances":1,"status":"loaded"},
                   "nf_nat":{"size":0,"instances":0,"status":"loadable"}}"#;
    let spec = |outcomes: &str| format!("- kernelModules:\n    outcomes:\n{outcomes}");
    // troubleshoot: a match of each conditional outcome, then the else that agrees.
    let a = run_host(
        &[(MODULES, data)],
        &spec(
            "      - fail: {when: \"br_netfilter == loaded\", message: no-br}\n      - warn: {when: \"nf_nat != loaded\", message: nat-not-loaded}\n      - pass: {when: \"ip_tables,nf_nat == loaded,loadable\", message: both}\n      - pass: {message: fine}\n",
        ),
    );
    assert_eq!(
        short(&a),
        [
            ('W', "Kernel Modules".into(), "nat-not-loaded".into()),
            ('P', "Kernel Modules".into(), "both".into()),
            ('P', "Kernel Modules".into(), "fine".into()),
        ]
    );
    // A fail suppresses the else-pass, and a pass suppresses the else-fail.
    let a = run_host(
        &[(MODULES, data)],
        &spec(
            "      - fail: {when: \"br_netfilter != loaded\", message: missing}\n      - pass: {message: fine}\n",
        ),
    );
    assert_eq!(
        short(&a),
        [('F', "Kernel Modules".into(), "missing".into())]
    );
    let a = run_host(
        &[(MODULES, data)],
        &spec(
            "      - pass: {when: \"ip_tables == loaded\", message: ok}\n      - fail: {message: bad}\n",
        ),
    );
    assert_eq!(short(&a), [('P', "Kernel Modules".into(), "ok".into())]);
    // Nothing at all: a warn "no results".
    let a = run_host(
        &[(MODULES, data)],
        &spec("      - pass: {when: \"br_netfilter == loaded\", message: ok}\n"),
    );
    assert_eq!(
        short(&a),
        [('W', "Kernel Modules".into(), "no results".into())]
    );
    // The file is required: missing or malformed fails.
    let a = run_host(&[], &spec("      - pass: {message: ok}\n"));
    assert!(
        short(&a)[0]
            .2
            .starts_with("Analyzer Failed: analyze: failed to get collected file")
    );
    let a = run_host(&[(MODULES, "[1]")], &spec("      - pass: {message: ok}\n"));
    assert!(
        short(&a)[0]
            .2
            .contains("failed to unmarshal kernel modules")
    );
    let a = run_host(
        &[(MODULES, data)],
        &spec("      - pass: {when: \"ip_tables loaded\", message: ok}\n"),
    );
    assert!(short(&a)[0].2.contains("Expected exactly 3 parts"));
}

const PACKAGES: &str = "host-collectors/system/packages-packages.json";

#[test]
fn system_packages_give_one_result_per_package_with_templates() {
    let data = r#"{"os":"ubuntu","osVersion":"22.04","packages":[
        {"name":"iptables","details":"Package: iptables\nStatus: install ok installed\nVersion: 1.8.7-1ubuntu5\nInstalled-Size: 2000\n","exitCode":"0"},
        {"name":"nfs-common","details":"dpkg-query: package 'nfs-common' is not installed","exitCode":"1"}
    ]}"#;
    let spec = r#"- systemPackages:
    outcomes:
      - fail: {when: "{{ not .IsInstalled }}", message: "{{ .Name }} is missing on {{ .OS }} {{ .OSVersionMajor }}"}
      - pass: {when: "{{ .IsInstalled }}", message: "{{ .Name }} {{ .Version }} ({{ .InstalledSize }})"}
"#;
    assert_eq!(
        short(&run_host(&[(PACKAGES, data)], spec)),
        [
            (
                'P',
                "System Packages".into(),
                "iptables 1.8.7-1ubuntu5 (2000)".into()
            ),
            (
                'F',
                "System Packages".into(),
                "nfs-common is missing on ubuntu 22".into()
            ),
        ]
    );
    // collectorName picks the file; per node like the others.
    let named = spec.replace(
        "- systemPackages:\n",
        "- systemPackages:\n    collectorName: k8s\n",
    );
    let files = [
        (
            "host-collectors/system/node_list.json",
            r#"{"nodes":["n1"]}"#,
        ),
        ("host-collectors/system/n1/k8s-packages.json", data),
    ];
    let r = short(&run_host(&files, &named));
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].1, "System Packages - Node n1");
    // A when that is not a bool fails the analyzer.
    let bad = spec.replace("{{ .IsInstalled }}\"", "{{ .Name }}\"");
    let r = short(&run_host(&[(PACKAGES, data)], &bad));
    assert!(r[0].2.contains("as a boolean"), "{r:?}");
}

#[test]
fn network_status_analyzers_compare_the_status() {
    for (kind, dir, default_name, title) in [
        (
            "tcpPortStatus",
            "tcpPortStatus",
            "tcpPortStatus",
            "TCP Port Status",
        ),
        (
            "udpPortStatus",
            "udpPortStatus",
            "udpPortStatus",
            "UDP Port Status",
        ),
        (
            "tcpLoadBalancer",
            "tcpLoadBalancer",
            "tcpLoadBalancer",
            "TCP Load Balancer",
        ),
        (
            "httpLoadBalancer",
            "httpLoadBalancer",
            "httpLoadBalancer",
            "HTTP Load Balancer",
        ),
        ("tcpConnect", "connect", "connect", "TCP Connection Attempt"),
    ] {
        let data = r#"{"status":"address-in-use","message":"port 6443 is taken"}"#;
        let spec = format!(
            "- {kind}:\n    outcomes:\n      - fail: {{when: connection-refused, message: refused}}\n      - warn: {{when: address-in-use, message: in-use}}\n      - pass: {{message: ok}}\n"
        );
        let path = format!("host-collectors/{dir}/{default_name}.json");
        assert_eq!(
            short(&run_host(&[(&path, data)], &spec)),
            [('W', title.to_string(), "in-use".to_string())],
            "{kind}"
        );
        let named = spec.replace(":\n    outcomes", ":\n    collectorName: api\n    outcomes");
        let path = format!("host-collectors/{dir}/api.json");
        let ok = r#"{"status":"connected","message":""}"#;
        assert_eq!(
            short(&run_host(&[(&path, ok)], &named))[0].2,
            "ok",
            "{kind}"
        );
        let nodes = [
            (
                "host-collectors/system/node_list.json",
                r#"{"nodes":["a"]}"#,
            ),
            (
                &*format!("host-collectors/{dir}/a/api.json"),
                r#"{"status":"connection-refused"}"#,
            ),
        ];
        assert_eq!(
            short(&run_host(&nodes, &named)),
            [('F', format!("{title} - Node a"), "refused".to_string())],
            "{kind}"
        );
        let a = run_host(&[(&path, "\"connected\"")], &named);
        assert!(short(&a)[0].2.contains("NetworkStatusResult"), "{kind}");
    }
}

const MEMORY: &str = "host-collectors/system/memory.json";

#[test]
fn memory_compares_the_total_with_kubernetes_quantities() {
    // 8 GiB exactly.
    let data = r#"{"total":8589934592}"#;
    for (when, want) in [
        ("< 8Gi", "false"),
        (">= 8Gi", "true"),
        ("== 8Gi", "true"),
        ("=== 8589934592", "true"),
        ("> 8G", "true"),
        ("< 10Ti", "true"),
        ("< 1.5G", "false"),
        ("> 0.5k", "true"),
        ("> 7Gi", "true"),
        ("< 8e9", "false"),
    ] {
        assert_eq!(holds(MEMORY, data, "memory", when), want, "{when}");
    }
    // Quantities Kubernetes' AsInt64 does not convert are errors, as in troubleshoot.
    for bad in [
        "!= 8Gi",
        "< 500m",
        "< 8GB",
        "<8Gi",
        "< -1",
        "total < 8Gi",
        "<= 8.5Gi",
        "< 1.5Ti",
        "< 100Ti",
        "< 1.0",
    ] {
        let got = holds(MEMORY, data, "memory", bad);
        assert!(
            got.starts_with("Analyzer Failed: analyze: "),
            "{bad}: {got}"
        );
    }
    let spec = "- memory:\n    outcomes:\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&[(MEMORY, data)], spec))[0].1,
        "Amount of Memory"
    );
}

#[test]
fn disk_usage_sizes_shares_and_collector_names() {
    let path = "host-collectors/diskUsage/ephemeral.json";
    // 100 GiB disk, 85 GiB used.
    let data = r#"{"total_bytes":107374182400,"used_bytes":91268055040}"#;
    let extra = "    collectorName: ephemeral\n";
    let holds = |when: &str| match verdict(path, data, "diskUsage", extra, &[when]).as_str() {
        "m0" => "true".to_string(),
        "else" => "false".to_string(),
        other => other.to_string(),
    };
    for (when, want) in [
        ("total < 30Gi", "false"),
        ("total >= 100Gi", "true"),
        ("used > 80Gi", "true"),
        ("available < 20Gi", "true"),
        ("available <= 15Gi", "true"),
        ("Available == 15Gi", "true"),
        ("used/total > 80%", "true"),
        ("used/total > 0.9", "false"),
        ("available/total < 20%", "true"),
        ("available/total >= 0.15", "true"),
    ] {
        assert_eq!(holds(when), want, "{when}");
    }
    for bad in [
        "free < 1Gi",
        "used < lots",
        "used/total > x%",
        "used != 1Gi",
        "used < 1Gi extra",
    ] {
        assert!(holds(bad).starts_with("Analyzer Failed"), "{bad}");
    }
    // The title names the collector; without collectorName the file is diskUsage.json.
    let spec =
        "- diskUsage:\n    collectorName: ephemeral\n    outcomes:\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&[(path, data)], spec))[0].1,
        "Disk Usage ephemeral"
    );
    let spec =
        "- diskUsage:\n    outcomes:\n      - fail: {when: \"used/total > 80%\", message: full}\n";
    let plain = [("host-collectors/diskUsage/diskUsage.json", data)];
    assert_eq!(
        short(&run_host(&plain, spec)),
        [('F', "Disk Usage ".into(), "full".into())]
    );
    // Per node: host-collectors/diskUsage/<node>/<name>.json.
    let nodes = [
        (
            "host-collectors/system/node_list.json",
            r#"{"nodes":["n1","n2"]}"#,
        ),
        ("host-collectors/diskUsage/n1/diskUsage.json", data),
        (
            "host-collectors/diskUsage/n2/diskUsage.json",
            r#"{"total_bytes":100,"used_bytes":10}"#,
        ),
    ];
    assert_eq!(
        short(&run_host(&nodes, spec)),
        [('F', "Disk Usage  - Node n1".into(), "full".into())]
    );
}

#[test]
fn host_text_analyze_is_titled_regular_expression() {
    let files = [("host-collectors/run-host/uname.txt", "Linux 6.1.0 x86_64\n")];
    let spec = "- textAnalyze:\n    collectorName: run-host\n    fileName: uname.txt\n    regex: x86_64\n    outcomes:\n      - pass: {when: \"true\", message: intel}\n      - fail: {when: \"false\", message: other}\n";
    let a = run_host(
        &files,
        &spec.replace(
            "collectorName: run-host",
            "collectorName: host-collectors/run-host",
        ),
    );
    assert_eq!(
        short(&a),
        [('P', "Regular Expression".into(), "intel".into())]
    );
    let named = spec.replace("- textAnalyze:\n", "- textAnalyze:\n    checkName: Arch\n");
    let a = run_host(
        &files,
        &named.replace(
            "collectorName: run-host",
            "collectorName: host-collectors/run-host",
        ),
    );
    assert_eq!(short(&a), [('P', "Arch".into(), "intel".into())]);
    // No such file: a warn, as in-cluster.
    let a = run_host(&[], spec);
    assert_eq!(
        short(&a),
        [('W', "Regular Expression".into(), "No matching files".into())]
    );
}
