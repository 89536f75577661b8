//! Golden tests: the specs whose troubleshoot behaviour is recorded under
//! tests/data/lenient (see its README) load as troubleshoot reads them, and every oddity is a
//! located warning with a suggestion. `UPDATE_GOLDEN=1` rewrites the `.agent.txt` files.

use super::*;
use std::fmt::Write as _;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lenient/support-bundle-v0.133.0")
}

/// The loaded entries and every diagnostic, as text.
fn render(name: &str, text: &str) -> String {
    let file = parse_spec_text(Path::new(name), text);
    let mut out = String::new();
    for section in Section::ALL {
        for e in file.spec.section(section) {
            let name = e.collector_name.as_deref().unwrap_or("-");
            let _ = writeln!(
                out,
                "{section} {} name={name} exclude={} at {}:{}",
                e.kind, e.exclude, e.loc.line, e.loc.column
            );
        }
    }
    for r in &file.spec.redactors {
        let _ = writeln!(out, "redactor {} values={:?}", r.name, r.removals.values);
    }
    for d in &file.diagnostics {
        let _ = writeln!(out, "{d}");
    }
    out
}

#[test]
fn recorded_specs_match_their_golden_output() {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/data/lenient")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    let mut mismatches = Vec::new();
    for name in names {
        let text = std::fs::read_to_string(dir().join(&name)).expect("spec");
        let got = render(&name, &text);
        let golden = dir().join(name.replace(".yaml", ".agent.txt"));
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&golden, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&golden).unwrap_or_default();
        if got != want {
            mismatches.push(format!("{}:\n{got}", golden.display()));
        }
    }
    assert!(
        mismatches.is_empty(),
        "golden mismatch (UPDATE_GOLDEN=1 to rewrite):\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn lenient_cases_run_like_troubleshoot_and_never_error() {
    let text = std::fs::read_to_string(dir().join("typos-and-empty-entries.yaml")).expect("spec");
    let file = parse_spec_text(Path::new("s.yaml"), &text);
    assert!(!file.has_errors(), "{:#?}", file.diagnostics);
    // What support-bundle ran (typos-and-empty-entries.summary.txt): memory (twice), time.
    let kinds: Vec<_> = file
        .spec
        .host_collectors
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["memory", "memory", "time"]);
    assert!(file.spec.host_collectors.iter().all(|e| !e.exclude));
    let kinds: Vec<_> = file
        .spec
        .host_analyzers
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["memory"]);

    // The brief's own examples: a typo'd field and `selectors:` in in-cluster collectors.
    let text = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: t\nspec:\n  collectors:\n    - exec:\n        comtainerName: app\n        selectors: [app=x]\n    - goldpinger:\n";
    let file = parse_spec_text(Path::new("s.yaml"), text);
    assert!(!file.has_errors(), "{:#?}", file.diagnostics);
    let found: Vec<_> = file
        .diagnostics
        .iter()
        .map(|d| (d.line, d.column, d.hint.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        found,
        [
            (8, 9, "did you mean `containerName`?".to_string()),
            (9, 9, "did you mean `selector`?".to_string()),
            (
                10,
                7,
                "write `goldpinger: {}` to run it with its defaults".to_string()
            ),
        ]
    );
    assert_eq!(file.spec.collectors.len(), 1);
}
