//! `parse-keys`: exists only for `bench/parse_keys.sh`. Times parsing one mapping of N keys
//! through three paths of the library and prints the median time per key:
//!
//! - `yaml`: `yaml::parse_documents` alone (the located tree every loader builds first);
//! - `job`: a job file whose `metadata.labels` has N keys, through the job-file loader `validate`
//!   uses once a file is read (`jobs::load_text`; the 1 MiB cap of the reader is not applied, so
//!   100,000 keys fit);
//! - `spec`: a troubleshoot spec whose one `http` collector sends N headers, through the spec
//!   loader (`spec::parse_spec_text`);
//! - `warn`: a spec document with N unknown top-level fields, so N warnings, each quoting its
//!   source line.
//!
//! Usage: `parse-keys PATH N [REPS=5]` (PATH = yaml | job | spec | warn); prints
//! `PATH N bytes median_s per_key_us`.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubleshoot_agent::fuzzing::{load_job_bytes, load_spec_bytes};
use troubleshoot_agent::yaml::parse_documents;

fn keys(out: &mut String, indent: &str, n: usize) {
    for i in 0..n {
        out.push_str(&format!("{indent}key-{i:07}: value-{i}\n"));
    }
}

fn text(path: &str, n: usize) -> Option<String> {
    let mut s = String::new();
    match path {
        "yaml" => {
            s.push_str("data:\n");
            keys(&mut s, "  ", n);
        }
        "job" => {
            s.push_str(
                "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: big\n  labels:\n",
            );
            keys(&mut s, "    ", n);
            s.push_str("spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n        - cpu: {}\n");
        }
        "spec" => {
            s.push_str("apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: big\nspec:\n  collectors:\n    - http:\n        collectorName: big\n        get:\n          url: http://127.0.0.1:1/\n          headers:\n");
            keys(&mut s, "            ", n);
        }
        "warn" => {
            s.push_str("apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: big\nspec:\n  collectors: []\n");
            keys(&mut s, "", n);
        }
        _ => return None,
    }
    Some(s)
}

/// One parse of `text` through `path`; panics if the text does not load, so a broken generator
/// cannot time an early error instead of the parse.
fn run(path: &str, text: &str) {
    let file = Path::new("/nonexistent/parse-keys.yaml");
    match path {
        "yaml" => {
            let docs = parse_documents(text).expect("parses");
            assert_eq!(docs.len(), 1);
        }
        "job" => {
            let report = load_job_bytes(file, text.as_bytes()).expect("utf-8");
            assert!(!report.is_rejected(), "{:?}", report.diagnostics.first());
        }
        _ => {
            let spec = load_spec_bytes(file, text.as_bytes()).expect("utf-8");
            assert!(!spec.has_errors(), "{:?}", spec.diagnostics.first());
            if path == "warn" {
                assert!(spec.diagnostics.len() >= text.lines().count() - 6);
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), Some(n)) = (args.first(), args.get(1).and_then(|n| n.parse().ok())) else {
        eprintln!("usage: parse-keys yaml|job|spec|warn N [REPS=5]");
        return ExitCode::from(2);
    };
    let reps: usize = args.get(2).and_then(|r| r.parse().ok()).unwrap_or(5).max(1);
    let Some(text) = text(path, n) else {
        eprintln!("parse-keys: unknown path {path:?} (yaml, job, spec or warn)");
        return ExitCode::from(2);
    };
    let mut times: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            run(path, &text);
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "{path} {n} {} {median:.6} {:.3}",
        text.len(),
        median * 1e6 / n.max(1) as f64
    );
    ExitCode::SUCCESS
}
