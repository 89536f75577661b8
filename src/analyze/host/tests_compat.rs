//! Our host analyzers against answers recorded from troubleshoot v0.133 itself on the same
//! bundle and specs (tests/data/analyze/host/PROVENANCE.md).

use super::super::{DirView, analyze};
use super::tests::short;
use crate::spec::parse_spec_text;
use chrono::Utc;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/analyze/host")
}

/// `(severity, title, message)` of troubleshoot's recorded results.
fn recorded(name: &str) -> Vec<(char, String, String)> {
    let text = std::fs::read_to_string(data_dir().join(name)).expect("recorded results");
    let results: Vec<Value> = serde_json::from_str(&text).expect("json");
    results
        .iter()
        .map(|r| {
            let flag = |k: &str| r[k].as_bool().unwrap_or(false);
            let s = if flag("IsPass") {
                'P'
            } else if flag("IsWarn") {
                'W'
            } else if flag("IsFail") {
                'F'
            } else {
                '-'
            };
            let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
            (s, text("Title"), text("Message"))
        })
        .collect()
}

fn ours(spec_file: &str) -> Vec<(char, String, String)> {
    ours_on("bundle", spec_file)
}

fn ours_on(bundle: &str, spec_file: &str) -> Vec<(char, String, String)> {
    let dir = data_dir();
    let text = std::fs::read_to_string(dir.join(spec_file)).expect("spec");
    let file = parse_spec_text(Path::new(spec_file), &text);
    assert!(!file.has_errors(), "{:?}", file.diagnostics);
    let a = analyze(&DirView::new(&dir.join(bundle)), &file.spec, Utc::now());
    assert!(a.unsupported.is_empty(), "{:?}", a.unsupported);
    short(&a)
}

/// Equal, except that "Analyzer Failed" messages need only agree on the prefix and, where the
/// cause is ours to word the same (a quantity, a parse of the spec), on the text after the
/// last `: `. Go and serde word JSON syntax errors differently.
fn same(ours: &[(char, String, String)], theirs: &[(char, String, String)]) {
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ours {ours:#?}\ntheirs {theirs:#?}"
    );
    for (o, t) in ours.iter().zip(theirs) {
        assert_eq!((o.0, &o.1), (t.0, &t.1), "ours {o:?} theirs {t:?}");
        const FAILED: &str = "Analyzer Failed: analyze: ";
        if t.2.starts_with(FAILED) {
            assert!(o.2.starts_with(FAILED), "ours {o:?} theirs {t:?}");
            let cause = |m: &str| m.rsplit(": ").next().unwrap_or("").to_string();
            if t.2.contains("could not parse quantity") || t.2.contains("desired value") {
                assert_eq!(cause(&o.2), cause(&t.2), "ours {o:?} theirs {t:?}");
            }
        } else {
            assert_eq!(o.2, t.2, "ours {o:?} theirs {t:?}");
        }
    }
}

#[test]
fn a_planted_host_bundle_gives_what_troubleshoot_gives() {
    same(&ours("spec.yaml"), &recorded("spec.troubleshoot.json"));
}

#[test]
fn quantities_convert_exactly_when_kubernetes_as_int64_does() {
    same(
        &ours("quantities.yaml"),
        &recorded("quantities.troubleshoot.json"),
    );
}

#[test]
fn network_certificate_registry_and_device_analyzers_give_what_troubleshoot_gives() {
    same(
        &ours_on("bundle2", "spec2.yaml"),
        &recorded("spec2.troubleshoot.json"),
    );
}

#[test]
fn per_node_files_certificates_text_and_json_give_what_troubleshoot_gives() {
    same(
        &ours_on("bundle3", "spec3.yaml"),
        &recorded("spec3.troubleshoot.json"),
    );
}
