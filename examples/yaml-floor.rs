//! The floor of `bench/validate_plan.sh`; it exists only for that benchmark.
//!
//! Reads every `*.yaml` file directly in a directory (sorted, as `validate` reads them), parses
//! each with the YAML crate alone (`serde_saphyr::from_str_multiple` into `serde_json::Value`,
//! the "bare YAML parse" floor of BENCHMARKS.md), single-threaded like the agent, and prints the
//! number of files, bytes and documents. Nothing of the agent's library is used, so the gap
//! between this and `validate`/`plan` is what the agent adds on top of parsing.
//!
//! Usage: `yaml-floor DIR`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: yaml-floor DIR");
        return ExitCode::from(2);
    };
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml") && p.is_file())
            .collect(),
        Err(e) => {
            eprintln!("yaml-floor: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    };
    paths.sort();
    let (mut bytes, mut documents) = (0usize, 0usize);
    for path in &paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("yaml-floor: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        };
        bytes += text.len();
        match serde_saphyr::from_str_multiple::<serde_json::Value, Vec<_>>(&text) {
            Ok(docs) => documents += docs.len(),
            Err(e) => {
                eprintln!("yaml-floor: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "{} files, {bytes} bytes, {documents} documents",
        paths.len()
    );
    ExitCode::SUCCESS
}
