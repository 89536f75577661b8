use super::*;
use serde_json::json;

fn pod(ns: &str, name: &str, image: &str, restarts: u64) -> serde_json::Value {
    json!({
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": restarts.to_string()},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"containerStatuses": [{"name": "app", "restartCount": restarts}]},
    })
}

fn fp(files: &[(&str, serde_json::Value)]) -> Fingerprint {
    let mut f = Fingerprint::new();
    for (rel, v) in files {
        f.add_file(rel, &serde_json::to_vec(v).expect("json"));
    }
    f
}

fn pods(items: Vec<serde_json::Value>) -> (&'static str, serde_json::Value) {
    (
        "cluster-resources/pods/default.json",
        json!({"kind": "PodList", "items": items}),
    )
}

#[test]
fn a_fingerprint_keeps_keys_and_hashes_of_what_the_bundle_says() {
    let f = fp(&[
        pods(vec![pod("default", "web", "nginx:1", 2)]),
        (
            "cluster-resources/nodes.json",
            json!({"kind": "NodeList", "items": [{"metadata": {"name": "n1"},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}}]}),
        ),
        (
            "cluster-resources/events/default.json",
            json!({"kind": "EventList", "items": [
                {"metadata": {"name": "e1", "namespace": "default"}, "type": "Warning",
                 "reason": "BackOff", "message": "back-off", "count": 3,
                 "involvedObject": {"kind": "Pod", "name": "web"}},
                {"metadata": {"name": "e2", "namespace": "default"}, "type": "Normal",
                 "reason": "Pulled", "involvedObject": {"kind": "Pod", "name": "web"}}]}),
        ),
        (
            "custom-resources/widgets.example.com/default.json",
            json!([{"kind": "Widget", "metadata": {"name": "w", "namespace": "default"}}]),
        ),
        (
            "host-collectors/system/hostos_info.json",
            json!({"kernelVersion": "6.1.0", "platform": "debian", "platformVersion": "12"}),
        ),
        (
            "host-collectors/system/packages-packages.json",
            json!({"packages": [{"name": "curl", "details": "Package: curl\nVersion: 7.88\n"},
                                {"name": "gone", "details": ""}]}),
        ),
        (
            "host-collectors/system/systemctl_services.json",
            json!([{"Unit": "ssh.service", "Load": "loaded", "Active": "active", "Sub": "running"}]),
        ),
        (
            "host-collectors/system/block_devices.json",
            json!([{"name": "sda", "type": "disk", "size": 100, "filesystem_type": "", "mountpoint": ""}]),
        ),
        (
            "analysis.json",
            json!([{"insight": {"primary": "Kernel"}, "severity": "warn"},
                   {"insight": {"primary": "Kernel"}, "severity": "debug"},
                   {"insight": {"primary": "Disk"}, "severity": "error"}]),
        ),
    ]);
    assert_eq!(
        f.objects.keys().collect::<Vec<_>>(),
        [
            "Event/default/e1",
            "Event/default/e2",
            "Node/n1",
            "Pod/default/web",
            "Widget/default/w"
        ]
    );
    assert_eq!(f.restarts["default/web/app"], 2);
    assert_eq!(f.nodes["n1"]["Ready"], "True");
    assert_eq!(f.events.len(), 1, "only Warning events: {:?}", f.events);
    let (key, count) = f.events.iter().next().expect("event");
    assert!(key.starts_with("default/Pod/web/BackOff/"), "{key}");
    assert_eq!(*count, 3);
    assert_eq!(f.host["kernel"], "6.1.0");
    assert_eq!(f.host["os"], "debian 12");
    assert_eq!(f.host["package:curl"], "7.88");
    assert_eq!(f.host["package:gone"], "not installed");
    assert_eq!(f.host["service:ssh.service"], "active/running");
    assert_eq!(f.host["disk:sda"], "disk size=100 fs= mount=");
    assert_eq!(f.analysis["Kernel"], "warn");
    assert_eq!(f.analysis["Kernel #2"], "pass");
    assert_eq!(f.analysis["Disk"], "fail");
}

#[test]
fn status_and_resource_version_do_not_change_an_objects_hash() {
    let a = fp(&[pods(vec![pod("default", "web", "nginx:1", 0)])]);
    let b = fp(&[pods(vec![pod("default", "web", "nginx:1", 5)])]);
    let c = fp(&[pods(vec![pod("default", "web", "nginx:2", 5)])]);
    assert_eq!(a.objects, b.objects);
    assert_ne!(b.objects, c.objects);
}

#[test]
fn unparsable_and_unrelated_files_add_nothing() {
    let mut f = Fingerprint::new();
    f.add_file("cluster-resources/pods/default.json", b"{truncated");
    f.add_file("analysis.json", b"{}");
    assert_eq!(f, Fingerprint::new());
}

/// Table: (what, old, new, expected counts, expected summary).
#[test]
fn compare_reports_each_kind_of_change() {
    let base = || {
        let mut f = Fingerprint::new();
        f.objects.insert("Pod/default/web".into(), "h1".into());
        f.objects.insert("Pod/default/old".into(), "h2".into());
        f.restarts.insert("default/web/app".into(), 1);
        f.events.insert("default/Pod/web/BackOff/x".into(), 2);
        f.nodes
            .insert("n1".into(), [("Ready".into(), "True".into())].into());
        f.host.insert("kernel".into(), "6.1".into());
        f.analysis.insert("Disk".into(), "pass".into());
        f.analysis.insert("Gone".into(), "warn".into());
        f
    };
    type Edit = fn(&mut Fingerprint);
    type Case = (&'static str, Edit, Vec<(Category, usize)>, &'static str);
    let cases: Vec<Case> = vec![
        ("nothing", |_| {}, vec![], "no changes"),
        (
            "analysis flips, appears, clears",
            |f| {
                f.analysis.insert("Disk".into(), "fail".into());
                f.analysis.insert("New".into(), "warn".into());
                f.analysis.remove("Gone");
            },
            vec![(Category::Analysis, 3)],
            "3 analysis",
        ),
        (
            "objects added, removed, changed",
            |f| {
                f.objects.insert("Pod/default/web".into(), "h9".into());
                f.objects.remove("Pod/default/old");
                f.objects.insert("Pod/default/new".into(), "h3".into());
            },
            vec![(Category::Objects, 3)],
            "3 objects (+1 -1 ~1)",
        ),
        (
            "restart rose; a new container with restarts; a fall is not a change",
            |f| {
                f.restarts.insert("default/web/app".into(), 4);
                f.restarts.insert("default/new/app".into(), 1);
                f.restarts.insert("default/fresh/app".into(), 0);
            },
            vec![(Category::Restarts, 2)],
            "2 restarts",
        ),
        (
            "event count rose, new event",
            |f| {
                f.events.insert("default/Pod/web/BackOff/x".into(), 3);
                f.events.insert("default/Pod/db/Failed/y".into(), 1);
            },
            vec![(Category::Events, 2)],
            "2 events",
        ),
        (
            "node condition changed, node added",
            |f| {
                f.nodes
                    .insert("n1".into(), [("Ready".into(), "False".into())].into());
                f.nodes
                    .insert("n2".into(), [("Ready".into(), "True".into())].into());
            },
            vec![(Category::Nodes, 2)],
            "2 nodes",
        ),
        (
            "kernel and package",
            |f| {
                f.host.insert("kernel".into(), "6.2".into());
                f.host.insert("package:curl".into(), "8.0".into());
            },
            vec![(Category::Host, 2)],
            "2 host",
        ),
    ];
    for (what, edit, counts, summary) in cases {
        let old = base();
        let mut new = base();
        edit(&mut new);
        let changes = compare(&old, &new);
        assert_eq!(changes.counts(), counts.into_iter().collect(), "{what}");
        assert_eq!(changes.summary_line(), summary, "{what}");
        assert_eq!(changes.is_empty(), summary == "no changes", "{what}");
    }
}

#[test]
fn compare_says_before_and_after() {
    let mut old = Fingerprint::new();
    old.analysis.insert("Disk".into(), "pass".into());
    old.nodes
        .insert("n1".into(), [("Ready".into(), "True".into())].into());
    old.restarts.insert("default/web/app".into(), 1);
    let mut new = Fingerprint::new();
    new.analysis.insert("Disk".into(), "fail".into());
    new.analysis.insert("Mem".into(), "warn".into());
    new.nodes
        .insert("n1".into(), [("Ready".into(), "Unknown".into())].into());
    new.restarts.insert("default/web/app".into(), 3);
    let c = compare(&old, &new);
    assert_eq!(
        serde_json::to_value(&c).expect("json"),
        json!({
            "analysis": [
                {"key": "Disk", "before": "pass", "after": "fail"},
                {"key": "Mem", "after": "warn"}
            ],
            "objects": {"added": [], "removed": [], "changed": []},
            "restarts": [{"key": "default/web/app", "before": 1, "after": 3}],
            "events": [],
            "nodes": [{"key": "n1/Ready", "before": "True", "after": "Unknown"}],
            "host": []
        })
    );
    let summary = c.summary(Some("20250101T000000Z".into()));
    assert_eq!(
        serde_json::to_value(&summary).expect("json"),
        json!({"summary": "2 analysis, 1 restarts, 1 nodes",
               "counts": {"analysis": 2, "restarts": 1, "nodes": 1},
               "since": "20250101T000000Z"})
    );
}

fn write_bundle(dir: &std::path::Path, kernel: &str) {
    let root = dir.join("bundle");
    std::fs::create_dir_all(root.join("host-collectors/system")).expect("mkdir");
    std::fs::write(root.join("version.yaml"), "kind: SupportBundle\n").expect("write");
    std::fs::write(
        root.join("host-collectors/system/hostos_info.json"),
        json!({"kernelVersion": kernel}).to_string(),
    )
    .expect("write");
    // A link is never followed, even to a file inside the bundle.
    std::fs::create_dir_all(root.join("cluster-resources")).expect("mkdir");
    std::os::unix::fs::symlink(
        "../host-collectors/system/hostos_info.json",
        root.join("cluster-resources/nodes.json"),
    )
    .expect("link");
}

#[test]
fn directories_and_archives_give_the_same_fingerprint() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_bundle(dir.path(), "6.1");
    let from_dir = Fingerprint::of_path(dir.path()).expect("parent dir");
    assert_eq!(from_dir.host["kernel"], "6.1");
    assert_eq!(
        Fingerprint::of_path(&dir.path().join("bundle")).expect("root"),
        from_dir
    );
    let archive = dir.path().join("b.tar.gz");
    let out = std::process::Command::new("tar")
        .arg("czf")
        .arg(&archive)
        .arg("-C")
        .arg(dir.path())
        .arg("bundle")
        .output()
        .expect("tar");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(Fingerprint::of_path(&archive).expect("tar"), from_dir);
    // An archive without a top folder.
    let flat = dir.path().join("flat.tar.gz");
    let out = std::process::Command::new("tar")
        .arg("czf")
        .arg(&flat)
        .arg("-C")
        .arg(dir.path().join("bundle"))
        .args(["version.yaml", "host-collectors"])
        .output()
        .expect("tar");
    assert!(out.status.success(), "{out:?}");
    assert_eq!(Fingerprint::of_path(&flat).expect("flat"), from_dir);
}

#[test]
fn what_is_not_a_bundle_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Fingerprint::of_path(dir.path()).expect_err("empty dir");
    assert!(err.to_string().contains("not a support bundle"), "{err}");
    let text = dir.path().join("x.tar.gz");
    std::fs::write(&text, "hello").expect("write");
    let err = Fingerprint::of_path(&text).expect_err("not gzip");
    assert!(
        err.to_string().starts_with(&text.display().to_string()),
        "{err}"
    );
    let err = Fingerprint::of_path(&dir.path().join("missing")).expect_err("missing");
    assert!(err.to_string().contains("missing"), "{err}");
}
