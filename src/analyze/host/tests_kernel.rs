//! Table tests of sysctl, kernelConfigs, certificate, subnets, blockDevices, ipv4Interfaces.

use super::tests::{holds, run_host, short, verdict};

const SYSCTL: &str = "host-collectors/system/sysctl.json";

#[test]
fn sysctl_compares_text_for_equality_and_integers_otherwise() {
    let data =
        r#"{"net.ipv4.ip_forward":"1","vm.max_map_count":"262144","kernel.hostname":"web-1"}"#;
    for (when, want) in [
        ("net.ipv4.ip_forward = 1", "true"),
        ("net.ipv4.ip_forward == 0", "false"),
        ("vm.max_map_count >= 262144", "true"),
        ("vm.max_map_count < 65530", "false"),
        ("kernel.hostname === web-1", "true"),
        // Not anchored: the first `<param> <op> <value>` anywhere.
        ("when net.ipv4.ip_forward = 1", "true"),
    ] {
        assert_eq!(holds(SYSCTL, data, "sysctl", when), want, "{when}");
    }
    for (bad, why) in [
        ("net.ipv4.ip_forward != 1", "expected 3 parts"),
        ("vm.nope = 1", "does not exist on collected sysctl output"),
        (
            "kernel.hostname > 3",
            "cannot be used with provided operator",
        ),
        (
            "vm.max_map_count > lots",
            "cannot be used with provided operator",
        ),
        ("vm.max_map_count >== 1", "comparison operator"),
    ] {
        let got = holds(SYSCTL, data, "sysctl", bad);
        assert!(
            got.starts_with("Analyzer Failed") && got.contains(why),
            "{bad}: {got}"
        );
    }
    let spec = "- sysctl:\n    outcomes:\n      - pass: {message: ok}\n";
    assert_eq!(short(&run_host(&[(SYSCTL, data)], spec))[0].1, "Sysctl");
}

const KCONFIGS: &str = "host-collectors/system/kernel-configs.json";

#[test]
fn kernel_configs_pass_when_all_selected_are_there_and_list_the_missing() {
    let data = r#"{"CONFIG_CGROUPS":"y","CONFIG_OVERLAY_FS":"m","CONFIG_BRIDGE":"n"}"#;
    let spec = |selected: &str| {
        format!(
            "- kernelConfigs:\n    selectedConfigs: [{selected}]\n    outcomes:\n      - fail: {{message: \"missing: {{{{ .ConfigsNotFound }}}}\"}}\n      - pass: {{message: all there}}\n"
        )
    };
    assert_eq!(
        short(&run_host(
            &[(KCONFIGS, data)],
            &spec("CONFIG_CGROUPS=y, CONFIG_OVERLAY_FS=ym")
        )),
        [('P', "Kernel Configs".into(), "all there".into())]
    );
    assert_eq!(
        short(&run_host(
            &[(KCONFIGS, data)],
            &spec("CONFIG_CGROUPS=y, CONFIG_OVERLAY_FS=y, CONFIG_BPF=y, CONFIG_BRIDGE=ym")
        )),
        [(
            'F',
            "Kernel Configs".into(),
            "missing: CONFIG_OVERLAY_FS=y, CONFIG_BPF=y, CONFIG_BRIDGE=ym".into()
        )]
    );
    let got = short(&run_host(&[(KCONFIGS, data)], &spec("CONFIG_cgroups=y")));
    assert!(
        got[0].2.contains("invalid kernel config: CONFIG_cgroups=y"),
        "{got:?}"
    );
    // Per node, and nothing without files.
    let nodes = [
        (
            "host-collectors/system/node_list.json",
            r#"{"nodes":["n1"]}"#,
        ),
        ("host-collectors/system/n1/kernel-configs.json", data),
    ];
    assert_eq!(
        short(&run_host(&nodes, &spec("CONFIG_CGROUPS=y")))[0].1,
        "Kernel Configs - Node n1"
    );
    assert!(run_host(&[], &spec("CONFIG_CGROUPS=y")).results.is_empty());
}

#[test]
fn certificate_and_subnet_statuses() {
    let path = "host-collectors/certificate/certificate.json";
    assert_eq!(
        holds(path, "key-pair-valid\n", "certificate", "key-pair-valid"),
        "true"
    );
    assert_eq!(
        holds(path, "key-pair-switched", "certificate", "key-pair-valid"),
        "false"
    );
    let spec = "- certificate:\n    collectorName: etcd\n    outcomes:\n      - fail: {when: key-pair-mismatch, message: mismatch}\n      - pass: {message: ok}\n";
    let a = run_host(
        &[("host-collectors/certificate/etcd.json", "key-pair-mismatch")],
        spec,
    );
    assert_eq!(
        short(&a),
        [('F', "Certificate Key Pair".into(), "mismatch".into())]
    );

    let path = "host-collectors/subnetAvailable/result.json";
    let data =
        r#"{"CIDRRangeAlloc":"10.0.0.0/8","desiredCIDR":22,"status":"a-subnet-is-available"}"#;
    assert_eq!(
        holds(path, data, "subnetAvailable", "a-subnet-is-available"),
        "true"
    );
    assert_eq!(
        holds(path, data, "subnetAvailable", "no-subnet-available"),
        "false"
    );
    assert!(
        holds(path, "[]", "subnetAvailable", "no-subnet-available").starts_with("Analyzer Failed")
    );

    let contains = |cidr: &str, ip: &str, when: &str| {
        let extra = format!("    cidr: {cidr:?}\n    ip: {ip:?}\n");
        verdict("unused", "", "subnetContainsIP", &extra, &[when])
    };
    assert_eq!(contains("10.0.0.0/8", "10.1.2.3", "true"), "m0");
    assert_eq!(contains("10.0.0.0/8", "10.1.2.3", "false"), "else");
    assert_eq!(contains("10.0.0.0/8", "192.168.0.1", "false"), "m0");
    assert!(contains("10.0.0.0/8", "10.1.2.3", "yes").contains("unknown condition"));
    assert!(contains("10.0.0.0", "10.1.2.3", "true").contains("failed to parse CIDR 10.0.0.0"));
    assert!(contains("10.0.0.0/8", "ten", "true").contains("failed to parse IP address ten"));
}

const BLOCK: &str = "host-collectors/system/block_devices.json";

#[test]
fn block_devices_count_only_empty_fixed_unmounted_disks() {
    let dev = |name: &str,
               kind: &str,
               parent: &str,
               size: u64,
               fs: &str,
               mount: &str,
               ro: bool,
               rm: bool| {
        format!(
            r#"{{"name":"{name}","kernel_name":"{name}","parent_kernel_name":"{parent}","type":"{kind}","major":8,"minor":0,"size":{size},"filesystem_type":"{fs}","mountpoint":"{mount}","serial":"","read_only":{ro},"removable":{rm}}}"#
        )
    };
    let data = format!(
        "[{}]",
        [
            dev("sda", "disk", "", 100 << 30, "", "", false, false),
            dev("sda1", "part", "sda", 100 << 30, "ext4", "/", false, false),
            dev("sdb", "disk", "", 50 << 30, "", "", false, false),
            dev("sdc", "disk", "", 10 << 30, "", "", false, false),
            dev("sdd", "disk", "", 50 << 30, "xfs", "", false, false),
            dev("sde", "disk", "", 50 << 30, "", "", true, false),
            dev("sdf", "disk", "", 50 << 30, "", "", false, true),
            dev(
                "nvme0n1p2",
                "part",
                "nvme0n1",
                50 << 30,
                "",
                "",
                false,
                false
            ),
            dev("loop0", "loop", "", 50 << 30, "", "", false, false),
        ]
        .join(",")
    );
    // sdb and sdc count (sda has a child, sdd a file system, sde is read-only, sdf removable).
    for (when, extra, want) in [
        ("sd[a-z] == 2", "", "true"),
        (".* == 2", "", "true"),
        ("sdb == 1", "", "true"),
        (
            "sd[a-z] >= 2",
            "    minimumAcceptableSize: 21474836480\n",
            "false",
        ),
        (
            "sd[a-z] == 1",
            "    minimumAcceptableSize: 21474836480\n",
            "true",
        ),
        (".* == 3", "    includeUnmountedPartitions: true\n", "true"),
        (
            ".* == 4",
            "    includeUnmountedPartitions: true\n    additionalDeviceTypes: [loop]\n",
            "true",
        ),
        ("vd. > 0", "", "false"),
    ] {
        let got = verdict(BLOCK, &data, "blockDevices", extra, &[when]);
        let got = match got.as_str() {
            "m0" => "true",
            "else" => "false",
            other => other,
        };
        assert_eq!(got, want, "{when} {extra}");
    }
    for bad in ["sd[ == 1", "sda != 1", "sda == one", "sda=1"] {
        assert!(
            holds(BLOCK, &data, "blockDevices", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
}

const IPV4: &str = "host-collectors/system/ipv4Interfaces.json";

#[test]
fn ipv4_interfaces_count() {
    let data = r#"[{"Index":2,"MTU":1500,"Name":"eth0","HardwareAddr":"AhI0VniQ","Flags":19},
                   {"Index":3,"MTU":1450,"Name":"flannel.1","HardwareAddr":"","Flags":19}]"#;
    assert_eq!(holds(IPV4, data, "ipv4Interfaces", "count == 2"), "true");
    assert_eq!(holds(IPV4, data, "ipv4Interfaces", "count < 1"), "false");
    assert_eq!(holds(IPV4, "null", "ipv4Interfaces", "count == 0"), "true");
    for bad in ["interfaces == 2", "count != 2", "count == two", "== 2"] {
        assert!(
            holds(IPV4, data, "ipv4Interfaces", bad).starts_with("Analyzer Failed"),
            "{bad}"
        );
    }
    let spec = "- ipv4Interfaces:\n    outcomes:\n      - pass: {message: ok}\n";
    assert_eq!(
        short(&run_host(&[(IPV4, data)], spec))[0].1,
        "IPv4 Interfaces"
    );
}

#[test]
fn host_json_compare_is_the_in_cluster_one_with_a_host_error() {
    let files = [("host-collectors/run-host/cfg.json", r#"{"a":{"b":[1,2]}}"#)];
    let spec = "- jsonCompare:\n    collectorName: host-collectors/run-host\n    fileName: cfg.json\n    path: a.b\n    value: \"[2, 1]\"\n    outcomes:\n      - fail: {when: \"false\", message: differs}\n      - pass: {when: \"true\", message: same}\n";
    assert_eq!(
        short(&run_host(&files, spec)),
        [('P', "host-collectors/run-host".into(), "same".into())]
    );
    // A missing file is a fail result for a host analyzer, titled as troubleshoot titles it.
    let a = run_host(&[], spec);
    let r = short(&a);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].0, r[0].1.as_str()), ('F', "host-collectors/run-host"));
    assert!(r[0].2.starts_with("Analyzer Failed: analyze: "), "{r:?}");
    let unnamed = spec.replace("    collectorName: host-collectors/run-host\n", "");
    assert_eq!(short(&run_host(&[], &unnamed))[0].1, "Json Compare");
}
