//! Unit tests of [`super`] (rule compilation) and of the Go regex port it uses.

use super::*;
use crate::spec::{FileSelector, RegexRemoval, Removals};

fn replace(pattern: &str, line: &str) -> String {
    let (re, _) = build(pattern).expect("compiles");
    match Replacer::new(re).replace_all(line.as_bytes()) {
        Some((out, _)) => String::from_utf8(out).expect("utf8"),
        None => line.to_string(),
    }
}

#[test]
fn port_renames_duplicate_groups_and_escapes_dash() {
    assert_eq!(
        port_go_regex(r"(?P<mask>a)(?P<x>b)(?P<mask>c)"),
        r"(?P<mask_1>a)(?P<x>b)(?P<mask_2>c)"
    );
    assert_eq!(port_go_regex(r"[\w\d\S-_]+"), r"[\w\d\S\-_]+");
    // A dash after an ordinary character is a range and stays.
    assert_eq!(port_go_regex(r"[a-z\d-]"), r"[a-z\d-]");
    // Inside a class, `(?P<` is not a group.
    assert_eq!(port_go_regex(r"[(?P<mask>]"), r"[(?P<mask>]");
    assert_eq!(
        port_go_regex(r"(?<drop>a)(?<drop>b)"),
        r"(?P<drop_1>a)(?P<drop_2>b)"
    );
    assert!(build(r"\b(?P<mask>[^:\/]*)(:)(?P<mask>[\w\d\S-_]+)").is_ok());
}

#[test]
fn group_names_are_stripped_for_the_chunk_filter() {
    assert_eq!(
        strip_group_names(r"(?P<mask>a)\(?P<x>[(?P<y>]"),
        r"(a)\(?P<x>[(?P<y>]"
    );
    assert_eq!(strip_group_names(r"(?<drop>b)(?:c)"), r"(b)(?:c)");
}

#[test]
fn template_masks_drops_and_keeps() {
    assert_eq!(
        replace(r"(a)(?P<mask>b)(c)", "xabcx abc"),
        "xa***HIDDEN***cx a***HIDDEN***c"
    );
    assert_eq!(replace(r"(a)(?P<drop>b)(?P<keep>c)", "abc"), "ac");
    // Text outside groups is removed, like Go's template expansion.
    assert_eq!(replace(r"abc(123)", "test abc123"), "test 123");
    assert_eq!(
        replace(r"(?P<mask>b)|(?P<mask>c)", "bc"),
        "***HIDDEN******HIDDEN******HIDDEN******HIDDEN***"
    );
}

#[test]
fn ascii_classes_like_go() {
    // Go's \w does not match "é"; with Unicode on, Rust's would, masking more than upstream.
    assert_eq!(replace(r"(?P<mask>\w+)", "é1"), "é***HIDDEN***");
    assert_eq!(replace(r"(?P<mask>\d+)", "١٢3"), "١٢***HIDDEN***");
    // Invalid UTF-8 still matches byte-wise.
    let (re, _) = build(r"(x)(?P<mask>[^;]*)(;)").expect("compiles");
    let (out, n) = Replacer::new(re)
        .replace_all(b"x\xff\xfe;")
        .expect("matches");
    assert_eq!(out, b"x***HIDDEN***;".to_vec());
    assert_eq!(n, 1);
}

#[test]
fn unicode_fallback_for_non_ascii_classes() {
    let (_, ascii) = build(r"(?P<mask>\p{Greek}+)").expect("falls back");
    assert!(!ascii);
    assert_eq!(
        replace(r"(?P<mask>\p{Greek}+)", "a αβ b"),
        "a ***HIDDEN*** b"
    );
}

fn rule(name: &str) -> RedactorRule {
    RedactorRule {
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn bad_regex_is_a_typed_error_naming_redactor_and_pattern() {
    let mut r = rule("mine");
    r.removals.regex.push(RegexRemoval {
        selector: None,
        redactor: Some("(unclosed".into()),
    });
    let err = compile(&[r.clone()]).expect_err("must fail");
    match &err {
        RedactError::Regex {
            redactor, pattern, ..
        } => {
            assert_eq!(redactor, "mine.regex.0");
            assert_eq!(pattern, "(unclosed");
        }
        other => panic!("unexpected {other:?}"),
    }
    let problems = check_rule(&r);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("removals.regex[0].redactor \"(unclosed\" does not compile"));
}

#[test]
fn check_rule_reports_globs_empty_values_and_paths() {
    let r = RedactorRule {
        name: "x".into(),
        file_selector: Some(FileSelector {
            file: Some("a[b".into()),
            files: vec!["ok/*.json".into()],
        }),
        removals: Removals {
            values: vec!["".into(), "fine".into()],
            regex: vec![RegexRemoval {
                selector: Some("[".into()),
                redactor: Some("ok".into()),
            }],
            yaml_path: vec!["a..b".into(), "a.*.0".into()],
        },
        ..Default::default()
    };
    let p = check_rule(&r);
    assert_eq!(p.len(), 4, "{p:?}");
    assert!(p[0].contains("a[b"));
    assert!(p[1].contains("values[0]"));
    assert!(p[2].contains("regex[0].selector"));
    assert!(p[3].contains("yamlPath[0]"));
    assert!(check_rule(&rule("clean")).is_empty());
}

#[test]
fn names_follow_troubleshoot() {
    let mut named = rule("n");
    named.removals.values = vec!["a".into(), "b".into()];
    named.removals.regex = vec![
        RegexRemoval {
            selector: None,
            redactor: Some("x".into()),
        },
        RegexRemoval {
            selector: Some("s".into()),
            redactor: Some("y".into()),
        },
    ];
    named.removals.yaml_path = vec!["a.b".into()];
    let mut unnamed = rule("");
    unnamed.removals.values = vec!["z".into()];
    let c = compile(&[named, unnamed]).expect("compiles");
    let names = c.names();
    assert_eq!(names.len(), default_count(DefaultSet::Extended) + 6);
    assert_eq!(
        &names[default_count(DefaultSet::Extended)..],
        &[
            "n.literal.0",
            "n.literal.1",
            "n.regex.0",
            "n.multiLine.1",
            "n.yaml.0",
            "unnamed-1.literal.0"
        ]
    );
}

#[test]
fn file_selector_scopes_rules() {
    let mut r = rule("scoped");
    r.file_selector = Some(FileSelector {
        file: Some("logs/*.log".into()),
        files: vec![],
    });
    r.removals.values = vec!["v".into()];
    let c = compile(&[r]).expect("compiles");
    let base = c.ops_for("other/x.log").len();
    assert_eq!(c.ops_for("logs/x.log").len(), base + 1);
    assert_eq!(c.ops_for("logs/deeper/x.log").len(), base);
    // Kurl defaults only on kurl files.
    let kurl = "cluster-resources/custom-resources/installers.cluster.kurl.sh.json";
    assert_eq!(c.ops_for(kurl).len(), base + KURL_YAML.len());
}
