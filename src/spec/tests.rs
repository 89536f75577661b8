//! Unit tests: each kind of bad input gives one located finding with a useful hint.

use super::*;
use crate::diagnostic::Severity;

const HEAD: &str =
    "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: t\n";

fn parse(text: &str) -> SpecFile {
    parse_spec_text(Path::new("spec.yaml"), text)
}

fn bundle(spec_body: &str) -> SpecFile {
    parse(&format!("{HEAD}spec:\n{spec_body}"))
}

fn only(file: &SpecFile, severity: Severity) -> &Diagnostic {
    let found: Vec<_> = file
        .diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {severity:?}, got {:#?}",
        file.diagnostics
    );
    found[0]
}

fn errors(file: &SpecFile) -> Vec<&Diagnostic> {
    file.diagnostics.iter().filter(|d| d.is_error()).collect()
}

#[test]
fn entries_keep_type_body_name_exclude_and_location() {
    let file = bundle(
        "  collectors:\n    - clusterResources: {}\n    - logs:\n        collectorName: app\n        exclude: \"\"\n  hostCollectors:\n    - cpu:\n        exclude: true\n  analyzers:\n    - clusterVersion:\n        checkName: K8s\n        exclude: \"F\"\n  hostAnalyzers:\n    - memory: {}\n  afterCollection:\n    - callback: {uri: http://x}\n  runHostCollectorsInPod: true\n",
    );
    assert!(file.diagnostics.is_empty(), "{:#?}", file.diagnostics);
    let s = &file.spec;
    assert_eq!(s.collectors.len(), 2);
    let logs = &s.collectors[1];
    assert_eq!(logs.kind, "logs");
    assert_eq!(logs.collector_name.as_deref(), Some("app"));
    assert!(!logs.exclude);
    assert_eq!(logs.loc, Loc::new(8, 7));
    assert_eq!(logs.body["collectorName"], "app");
    assert_eq!(logs.file, Path::new("spec.yaml"));
    assert!(s.host_collectors[0].exclude);
    assert_eq!(s.analyzers[0].collector_name.as_deref(), Some("K8s"));
    assert!(!s.analyzers[0].exclude);
    assert_eq!(s.host_analyzers[0].kind, "memory");
    assert_eq!(s.after_collection.len(), 1);
    assert!(s.run_host_collectors_in_pod);
}

#[test]
fn unknown_type_is_a_located_warning_with_a_suggestion() {
    let file = bundle("  collectors:\n    - clusterResorces: {}\n");
    let d = only(&file, Severity::Warning);
    assert_eq!(
        d.message,
        "unknown collector type `clusterResorces` is ignored, as troubleshoot ignores it"
    );
    assert_eq!((d.line, d.column), (7, 7));
    assert_eq!(d.hint.as_deref(), Some("did you mean `clusterResources`?"));
    assert_eq!(d.path.as_deref(), Some("spec.collectors[0]"));
    assert_eq!(d.snippet.as_deref(), Some("    - clusterResorces: {}"));
    assert!(file.spec.collectors.is_empty());
}

#[test]
fn unknown_analyzer_and_host_types_are_warnings() {
    let file = bundle(
        "  analyzers:\n    - nodeResorces: {}\n    - notAThing: {}\n  hostCollectors:\n    - cpuu: {}\n",
    );
    assert!(errors(&file).is_empty(), "{:#?}", file.diagnostics);
    let errs: Vec<_> = file.diagnostics.iter().collect();
    assert_eq!(errs.len(), 3, "{:#?}", file.diagnostics);
    assert_eq!(
        errs[0].message,
        "unknown analyzer type `nodeResorces` is skipped (troubleshoot reports it as a failed `nil analyzer`)"
    );
    assert_eq!(
        errs[0].hint.as_deref(),
        Some("did you mean `nodeResources`?")
    );
    assert!(
        errs[1]
            .hint
            .as_deref()
            .is_some_and(|h| h.starts_with("recognised analyzer types: clusterVersion"))
    );
    assert!(
        errs[2]
            .message
            .starts_with("unknown host collector type `cpuu`")
    );
    assert!(file.spec.analyzers.is_empty() && file.spec.host_collectors.is_empty());
}

#[test]
fn a_type_from_the_other_list_is_a_warning_and_is_dropped() {
    let file = bundle("  analyzers:\n    - systemPackages: {}\n  collectors:\n    - cpu: {}\n");
    assert!(errors(&file).is_empty());
    assert_eq!(file.diagnostics.len(), 2);
    assert_eq!(
        file.diagnostics[0].message,
        "`systemPackages` is a host analyzer type, not an analyzer; troubleshoot ignores it here"
    );
    assert_eq!(
        file.diagnostics[0].hint.as_deref(),
        Some("move it under `hostAnalyzers`")
    );
    assert_eq!(
        file.diagnostics[1].hint.as_deref(),
        Some("move it under `hostCollectors`")
    );
    assert!(file.spec.analyzers.is_empty() && file.spec.collectors.is_empty());
}

#[test]
fn two_keys_in_one_item_warn_suggesting_indentation() {
    let file = bundle("  hostCollectors:\n    - cpu:\n      collectorName: x\n");
    assert!(errors(&file).is_empty(), "{:#?}", file.diagnostics);
    assert_eq!(file.diagnostics.len(), 2, "{:#?}", file.diagnostics);
    let d = &file.diagnostics[0];
    assert_eq!(
        d.message,
        "a host collector has 2 keys (`cpu`, `collectorName`); troubleshoot runs only `cpu` and ignores the rest"
    );
    assert_eq!((d.line, d.column), (7, 7));
    assert_eq!(
        d.hint.as_deref(),
        Some("indent the other fields under `cpu:`")
    );
    // `cpu:` has no body, so nothing runs (troubleshoot skips a nil collector too): one more warning.
    assert!(file.spec.host_collectors.is_empty());
}

#[test]
fn two_types_in_one_item_run_the_one_troubleshoot_checks_first() {
    // support-bundle v0.133 ran `memory` and not `hostOS` for this item (tests/data/lenient).
    let file = bundle("  hostCollectors:\n    - hostOS: {}\n      memory: {}\n");
    let d = only(&file, Severity::Warning);
    assert!(
        d.message.contains("troubleshoot runs only `memory`"),
        "{}",
        d.message
    );
    assert_eq!(
        d.hint.as_deref(),
        Some("start a new list item (`- `) for each host collector")
    );
    let kinds: Vec<_> = file
        .spec
        .host_collectors
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["memory"]);
}

#[test]
fn non_mapping_items_are_errors_and_empty_ones_warnings() {
    let file = bundle(
        "  collectors:\n    - {}\n    - clusterInfo\n    - clusterInfo: [1]\n    -\n  hostCollectors: {cpu: {}}\n",
    );
    let errs = errors(&file);
    assert_eq!(errs.len(), 4, "{:#?}", file.diagnostics);
    assert!(errs[0].message.contains("found a string"));
    assert_eq!(
        errs[1].message,
        "`clusterInfo` must be a mapping, found a list"
    );
    // A bare `-` crashes troubleshoot v0.133 (tests/data/lenient): it stays an error.
    assert_eq!(
        errs[2].message,
        "empty list entry where a collector belongs"
    );
    assert!(
        errs[3]
            .message
            .starts_with("`hostCollectors` must be a list")
    );
    let d = only(&file, Severity::Warning);
    assert_eq!(
        d.message,
        "empty collector (no type key) is ignored, as troubleshoot ignores it"
    );
    assert_eq!((d.line, d.column), (7, 7));
}

#[test]
fn a_type_with_no_body_warns_that_troubleshoot_skips_it() {
    let file = bundle("  collectors:\n    - clusterInfo:\n");
    let d = only(&file, Severity::Warning);
    assert!(d.message.contains("no body"));
    assert!(file.spec.collectors.is_empty());
}

#[test]
fn exclude_follows_go_parse_bool() {
    for (text, expected) in [
        ("true", true),
        ("false", false),
        ("\"1\"", true),
        ("\"t\"", true),
        ("\"T\"", true),
        ("\"TRUE\"", true),
        ("\"True\"", true),
        ("\"0\"", false),
        ("\"f\"", false),
        ("\"FALSE\"", false),
        ("\"\"", false),
    ] {
        let file = bundle(&format!(
            "  collectors:\n    - clusterInfo:\n        exclude: {text}\n"
        ));
        assert!(
            file.diagnostics.is_empty(),
            "{text}: {:#?}",
            file.diagnostics
        );
        assert_eq!(file.spec.collectors[0].exclude, expected, "{text}");
    }
}

#[test]
fn bad_exclude_string_warns_and_runs_but_other_values_are_errors() {
    // troubleshoot ignores the ParseBool error of a string: the collector runs.
    for bad in ["\"yes please\"", "\"tRuE\""] {
        let file = bundle(&format!(
            "  collectors:\n    - clusterInfo:\n        exclude: {bad}\n"
        ));
        let d = only(&file, Severity::Warning);
        assert!(
            d.message.contains("troubleshoot reads it as false"),
            "{}",
            d.message
        );
        assert_eq!((d.line, d.column), (8, 18), "{bad}");
        assert!(!file.spec.collectors[0].exclude);
    }
    // A number or a list does not decode into troubleshoot's BoolOrString.
    for bad in ["1", "[true]"] {
        let file = bundle(&format!(
            "  collectors:\n    - clusterInfo:\n        exclude: {bad}\n"
        ));
        let d = only(&file, Severity::Error);
        assert!(
            d.message.starts_with("`exclude` must be a boolean"),
            "{bad}: {}",
            d.message
        );
        assert_eq!((d.line, d.column), (8, 18), "{bad}");
        assert_eq!(
            d.path.as_deref(),
            Some("spec.collectors[0].clusterInfo.exclude")
        );
    }
}

#[test]
fn wrong_kind_and_api_version_are_errors_with_suggestions() {
    let file = parse("apiVersion: troubleshoot.sh/v1beta1\nkind: SupportBundel\nspec: {}\n");
    let errs = errors(&file);
    assert_eq!(errs.len(), 2, "{:#?}", file.diagnostics);
    assert_eq!(
        errs[0].message,
        "unsupported apiVersion `troubleshoot.sh/v1beta1`"
    );
    assert_eq!((errs[0].line, errs[0].column), (1, 13));
    assert!(errs[0].hint.is_some());
    assert_eq!(errs[1].message, "unsupported kind `SupportBundel`");
    assert_eq!(
        errs[1].hint.as_deref(),
        Some("did you mean `SupportBundle`?")
    );

    let file = parse("apiVersion: apps/v1\nkind: Deployment\n");
    assert_eq!(errors(&file).len(), 2);
    let file = parse("metadata: {}\n");
    assert_eq!(errors(&file).len(), 2, "missing apiVersion and kind");
}

#[test]
fn list_and_scalar_documents_are_errors() {
    let file = parse("- a\n- b\n---\njust text\n");
    let errs = errors(&file);
    assert_eq!(errs.len(), 2);
    assert_eq!(
        errs[0].message,
        "document 1 is a list, not a troubleshoot spec"
    );
    assert_eq!(errs[0].line, 1);
    assert_eq!(
        errs[1].message,
        "document 2 is a string, not a troubleshoot spec"
    );
}

#[test]
fn empty_file_is_an_error() {
    for text in ["", "# only a comment\n", "---\n"] {
        let file = parse(text);
        let d = only(&file, Severity::Error);
        assert!(d.message.contains("empty"), "{text:?}");
        assert_eq!(d.line, 0);
        assert!(d.hint.is_some());
    }
}

#[test]
fn syntax_errors_are_located_and_templates_get_a_rendering_hint() {
    let file = parse(&format!("{HEAD}spec:\n  collectors: [\n"));
    let d = only(&file, Severity::Error);
    assert!(d.message.starts_with("not valid YAML"), "{}", d.message);
    assert!(d.line > 0);

    let templated = "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundle\nspec:\n  collectors:\n  {{- if .Values.logs }}\n    - logs: {}\n  {{- end }}\n";
    let d = only(&parse(templated), Severity::Error).clone();
    assert!(
        d.hint
            .as_deref()
            .is_some_and(|h| h.contains("v1beta3 templated specs need rendering"))
    );
}

#[test]
fn quoted_templates_in_v1beta3_are_strings_with_a_warning() {
    let file = parse(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundle\nspec:\n  collectors:\n    - logs:\n        namespace: '{{ .Values.ns }}'\n  analyzers:\n    - clusterPodStatuses:\n        outcomes:\n          - fail: {message: '{{ .Name }}'}\n",
    );
    let d = only(&file, Severity::Warning);
    assert_eq!(d.line, 6);
    assert_eq!(
        file.spec.collectors[0].body["namespace"],
        "{{ .Values.ns }}"
    );
}

#[test]
fn unknown_spec_keys_warn_with_a_suggestion() {
    let file = bundle("  hostColectors: []\n");
    let d = only(&file, Severity::Warning);
    assert_eq!(
        d.message,
        "unknown field `hostColectors` in a `SupportBundle` spec is ignored"
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `hostCollectors`?"));
}

#[test]
fn collector_and_host_collector_kinds_fill_the_right_lists() {
    let file = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: HostCollector\nspec:\n  collectors:\n    - cpu: {}\n---\napiVersion: troubleshoot.replicated.com/v1beta1\nkind: Collector\nspec:\n  collectors:\n    - clusterInfo: {}\n",
    );
    assert!(file.diagnostics.is_empty(), "{:#?}", file.diagnostics);
    assert_eq!(file.spec.host_collectors[0].kind, "cpu");
    assert_eq!(file.spec.collectors[0].kind, "clusterInfo");
}

#[test]
fn preflight_documents_warn_and_add_nothing() {
    let file = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: HostPreflight\nspec:\n  collectors:\n    - cpu: {}\n",
    );
    let d = only(&file, Severity::Warning);
    assert!(d.message.contains("not used by support-bundle collection"));
    assert_eq!(file.spec, TroubleshootSpec::default());
}

#[test]
fn analyzer_documents_add_their_analyzers_and_host_analyzers() {
    let file = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Analyzer\nmetadata: {name: a}\nspec:\n  analyzers:\n    - clusterVersion: {outcomes: [{pass: {message: ok}}]}\n  hostAnalyzers:\n    - cpu: {outcomes: [{pass: {message: ok}}]}\n",
    );
    assert!(file.diagnostics.is_empty(), "{:#?}", file.diagnostics);
    assert_eq!(file.spec.analyzers[0].kind, "clusterVersion");
    assert_eq!(file.spec.host_analyzers[0].kind, "cpu");
}

#[test]
fn companion_secrets_warn_and_wrapped_specs_are_read_as_troubleshoot_reads_them() {
    let file = parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {uri: x}\n");
    assert!(
        only(&file, Severity::Warning)
            .message
            .contains("Secret `s` is not a troubleshoot spec")
    );
    // A ConfigMap's `support-bundle-spec`: its entries load, findings at their line in this file.
    let file = parse(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  support-bundle-spec: |\n    apiVersion: troubleshoot.sh/v1beta2\n    kind: SupportBundle\n    spec:\n      hostCollectors:\n        - cpu: {colectorName: x}\n        - memory: {}\n",
    );
    let d = only(&file, Severity::Warning);
    assert_eq!((d.line, d.column), (10, 17), "{d}");
    assert_eq!(
        d.snippet.as_deref(),
        Some("        - cpu: {colectorName: x}")
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `collectorName`?"));
    let kinds: Vec<_> = file
        .spec
        .host_collectors
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds, ["cpu", "memory"]);
    assert_eq!(file.spec.host_collectors[1].loc, Loc::new(11, 11));
    // A Secret's `data` is base64; an error inside is placed at the key.
    let inner = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nspec:\n  hostCollectors:\n    - cpu: 5\n    - memory: {}\n";
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(inner);
    let file = parse(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s}}\ndata:\n  support-bundle-spec: {b64}\n"
    ));
    let d = only(&file, Severity::Error);
    assert_eq!((d.line, d.column), (5, 3));
    assert_eq!(
        d.message,
        "in the spec wrapped in `data.support-bundle-spec` (its line 5): `cpu` must be a mapping, found an integer"
    );
    assert_eq!(file.spec.host_collectors.len(), 1);
    let bad =
        parse("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  redactor-spec: '%%%'\n");
    assert!(
        only(&bad, Severity::Error)
            .message
            .ends_with("`data.redactor-spec` is not base64")
    );
}

#[test]
fn redactors_are_typed_and_unknown_fields_are_warnings() {
    let good = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nspec:\n  redactors:\n    - name: r\n      fileSelector: {files: ['a/*.json']}\n      removals:\n        regex:\n          - selector: s\n            redactor: x\n        yamlPath: [a.b]\n",
    );
    assert!(good.diagnostics.is_empty(), "{:#?}", good.diagnostics);
    let rule = &good.spec.redactors[0];
    assert_eq!(rule.loc, Loc::new(5, 7));
    assert_eq!(rule.removals.regex[0].redactor.as_deref(), Some("x"));
    assert_eq!(rule.removals.yaml_path, ["a.b"]);

    let bad = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nspec:\n  redactors:\n    - name: r\n      removals:\n        valuess: [x]\n    - name: ok\n",
    );
    let d = only(&bad, Severity::Warning);
    assert_eq!(
        d.message,
        "unknown field `valuess` in `redactor` is ignored (as troubleshoot ignores it)"
    );
    assert_eq!((d.line, d.column), (7, 9));
    assert_eq!(
        d.path.as_deref(),
        Some("spec.redactors[0].removals.valuess")
    );
    assert_eq!(d.hint.as_deref(), Some("did you mean `values`?"));
    assert_eq!(
        bad.spec.redactors.len(),
        2,
        "both redactors are read, the first with nothing to remove"
    );

    let selector_only = parse(
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nspec:\n  redactors:\n    - removals:\n        regex: [{selector: s}]\n",
    );
    assert!(
        only(&selector_only, Severity::Error)
            .message
            .contains("needs a `redactor`")
    );
}

#[test]
fn run_in_pod_must_be_a_boolean() {
    let file = bundle("  runHostCollectorsInPod: sometimes\n");
    let d = only(&file, Severity::Error);
    assert_eq!(d.line, 6);
    assert_eq!(d.path.as_deref(), Some("spec.runHostCollectorsInPod"));
}

#[test]
fn inline_bundles_use_the_same_rules() {
    let text = "name: job\nbundle:\n  hostCollectors:\n    - cpu: {}\n    - memroy: {}\n";
    let docs = yaml::parse_documents(text).expect("parses");
    let node = docs[0].get("bundle").expect("bundle");
    let (spec, diags) = parse_inline_bundle(Path::new("job.yaml"), node, &SourceText::new(text));
    assert_eq!(spec.host_collectors.len(), 1);
    assert_eq!(diags.len(), 1);
    assert_eq!((diags[0].line, diags[0].column), (5, 7));
    assert_eq!(diags[0].path.as_deref(), Some("hostCollectors[1]"));
    assert_eq!(diags[0].hint.as_deref(), Some("did you mean `memory`?"));
    assert_eq!(diags[0].file, Path::new("job.yaml"));
}

#[test]
fn sha256_is_of_the_raw_bytes() {
    let file = parse("a");
    // SHA-256("a")
    assert_eq!(file.sha256[..4], [0xca, 0x97, 0x81, 0x12]);
}

#[test]
fn load_reports_missing_directory_and_non_utf8_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = load_spec_file(&dir.path().join("nope.yaml"));
    assert_eq!(missing.diagnostics.len(), 1);
    assert_eq!(missing.diagnostics[0].message, "spec file not found");
    assert_eq!(missing.diagnostics[0].line, 0);
    assert!(missing.diagnostics[0].hint.is_some());

    let as_dir = load_spec_file(dir.path());
    assert_eq!(as_dir.diagnostics.len(), 1);
    assert_eq!(
        as_dir.diagnostics[0].message,
        "spec path is a directory, not a file"
    );

    let latin1 = dir.path().join("latin1.yaml");
    std::fs::write(&latin1, b"kind: SupportBundle\nname: caf\xe9\n").expect("write");
    let bad = load_spec_file(&latin1);
    assert_eq!(bad.diagnostics.len(), 1);
    let d = &bad.diagnostics[0];
    assert!(d.is_error());
    assert_eq!(
        d.message,
        "spec file is not UTF-8 text (first invalid byte at offset 29, line 2)"
    );
    assert_eq!(d.hint.as_deref(), Some("save the spec as UTF-8 YAML"));
    assert_ne!(bad.sha256, [0; 32]);

    let good = dir.path().join("good.yaml");
    std::fs::write(
        &good,
        format!("{HEAD}spec:\n  collectors:\n    - clusterInfo: {{}}\n"),
    )
    .expect("write");
    let ok = load_spec_file(&good);
    assert!(ok.diagnostics.is_empty(), "{:#?}", ok.diagnostics);
    assert_eq!(ok.spec.collectors.len(), 1);
}

/// Set in the child of [`load_reports_permission_denied`] to the file it loads as nobody.
const DENIED_CHILD: &str = "TSA_SPEC_DENIED_CHILD";

#[test]
fn load_reports_permission_denied() {
    use std::os::unix::fs::PermissionsExt;
    let assert_denied = |path: &std::path::Path| {
        let file = load_spec_file(path);
        assert_eq!(file.diagnostics.len(), 1, "{:#?}", file.diagnostics);
        assert_eq!(
            file.diagnostics[0].message,
            "permission denied reading the spec file"
        );
        assert!(file.diagnostics[0].hint.is_some());
    };
    if let Some(path) = std::env::var_os(DENIED_CHILD) {
        assert_denied(std::path::Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    // Others may reach the file, not read it: the denial is the file's own mode.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let path = dir.path().join("secret.yaml");
    std::fs::write(&path, HEAD).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::read(&path).is_err() {
        assert_denied(&path);
        return;
    }
    // Root (CAP_DAC_OVERRIDE) reads a mode-000 file: this test runs again as nobody, in a child
    // process of this test binary, and loads the file there.
    let name = module_path!().split_once("::").map_or("", |(_, m)| m);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            &format!("{name}::load_reports_permission_denied"),
        ])
        .args(["--nocapture", "--test-threads=1"])
        .env(DENIED_CHILD, &path)
        .output()
        .expect("run setpriv (util-linux) to drop privileges");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "as nobody: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
