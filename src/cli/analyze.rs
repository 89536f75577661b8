//! `analyze BUNDLE [--spec FILE]...`: troubleshoot's analyzers on any bundle (a `.tar.gz` or a
//! directory, made by this agent or by `support-bundle`), printed as a table, JSON (the
//! `analysis.json` elements) or YAML.
//!
//! Exit codes follow troubleshoot's preflight: 0 all passed, 3 a fail, 4 a warn (and no fail),
//! 2 a spec problem (unreadable or invalid spec, a bad `when`), 1 anything else.

use super::args::{AnalyzeArgs, AnalyzeFormat, GlobalArgs, Output};
use super::{eprint_diagnostics, style};
use crate::analyze::{self, Analysis, Severity};
use crate::spec::{self, TroubleshootSpec};
use anyhow::Context as _;
use std::path::Path;

/// Exit codes of `analyze`.
mod code {
    pub const PASS: u8 = 0;
    pub const OTHER: u8 = 1;
    pub const SPEC: u8 = 2;
    pub const FAIL: u8 = 3;
    pub const WARN: u8 = 4;
}

/// The analyzers troubleshoot runs on a bundle when no spec is given.
const DEFAULT_SPEC: &str = "apiVersion: troubleshoot.sh/v1beta2
kind: Analyzer
metadata:
  name: defaultAnalyzers
spec:
  analyzers:
    - clusterVersion:
        outcomes:
          - fail:
              when: \"< 1.13.0\"
              message: The application requires at Kubernetes 1.13.0 or later, and recommends 1.15.0.
              uri: https://www.kubernetes.io
          - warn:
              when: \"< 1.15.0\"
              message: Your cluster meets the minimum version of Kubernetes, but we recommend you update to 1.15.0 or later.
              uri: https://kubernetes.io
          - pass:
              when: \">= 1.15.0\"
              message: Your cluster meets the recommended and required versions of Kubernetes.
";

/// Runs `analyze`.
pub fn run(global: &GlobalArgs, args: &AnalyzeArgs) -> anyhow::Result<u8> {
    let Some(spec) = load_specs(&args.specs) else {
        return Ok(code::SPEC);
    };
    let view = match analyze::open(&args.bundle) {
        Ok(view) => view,
        Err(e) => {
            eprintln!(
                "{}: cannot read the bundle {}: {e}",
                style::error_label(style::stderr_colour()),
                args.bundle.display()
            );
            return Ok(code::OTHER);
        }
    };
    let analysis = analyze::analyze(view.as_ref(), &spec, chrono::Utc::now());
    for e in &analysis.errors {
        eprintln!(
            "warning: analyzer {} ({:?}) did not run: {}",
            e.kind, e.title, e.message
        );
    }
    for kind in &analysis.unsupported {
        eprintln!("warning: {kind} is not supported by this build; skipped");
    }
    let format = args.format.unwrap_or(match global.output {
        Output::Json => AnalyzeFormat::Json,
        Output::Text | Output::Wide => AnalyzeFormat::Table,
    });
    print(&analysis, format)?;
    let (_, warn, fail) = analysis.counts();
    Ok(if analysis.errors.iter().any(|e| e.spec_problem) {
        code::SPEC
    } else if fail > 0 {
        code::FAIL
    } else if warn > 0 {
        code::WARN
    } else {
        code::PASS
    })
}

/// The merged analyzers of `paths` (troubleshoot's defaults without any); `None` after printing
/// the problems when a spec is unreadable or invalid.
fn load_specs(paths: &[std::path::PathBuf]) -> Option<TroubleshootSpec> {
    if paths.is_empty() {
        let defaults =
            spec::parse_analyzer_spec_text(Path::new("<default analyzers>"), DEFAULT_SPEC);
        return Some(defaults.spec);
    }
    let mut merged = TroubleshootSpec::default();
    let mut ok = true;
    for path in paths {
        // Analyzers only read the bundle, so any readable spec will do (no trust check).
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) => {
                eprintln!(
                    "{}: cannot read the spec {}: {e}",
                    style::error_label(style::stderr_colour()),
                    path.display()
                );
                ok = false;
                continue;
            }
        };
        let file = spec::parse_analyzer_spec_text(path, &text);
        eprint_diagnostics(&file.diagnostics);
        ok &= !file.has_errors();
        merged.merge(file.spec);
    }
    merged.dedup();
    ok.then_some(merged)
}

fn print(analysis: &Analysis, format: AnalyzeFormat) -> anyhow::Result<()> {
    match format {
        AnalyzeFormat::Json => println!("{}", analysis.to_json()),
        AnalyzeFormat::Yaml => {
            let values = analyze::analysis_values(&analysis.results);
            print!(
                "{}",
                serde_saphyr::to_string(&values).context("cannot write YAML")?
            );
        }
        AnalyzeFormat::Table => {
            let mut table = comfy_table::Table::new();
            table.load_preset(comfy_table::presets::NOTHING);
            table.set_header(["SEVERITY", "TITLE", "MESSAGE"]);
            for r in &analysis.results {
                let severity = match r.severity {
                    Some(Severity::Fail) => "fail",
                    Some(Severity::Warn) => "warn",
                    Some(Severity::Pass) => "pass",
                    None => "-",
                };
                table.add_row([severity.to_string(), r.title.clone(), r.message.clone()]);
            }
            println!("{table}");
            let (pass, warn, fail) = analysis.counts();
            println!("{pass} passed, {warn} warned, {fail} failed");
        }
    }
    Ok(())
}
