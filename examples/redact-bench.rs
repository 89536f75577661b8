//! `redact-bench`: exists only for `bench/redact.sh`. It runs the library's redaction engine
//! (`redact::redact_tree`, the same call the pipeline's redact phase makes) over a tree in place,
//! and prints the pattern set that `rg` is given as the scan floor.
//!
//! Usage:
//!   redact-bench redact DIR [PARALLEL=4] [extended|upstream]   (prints seconds, files, masks, peak RSS)
//!   redact-bench patterns [extended|upstream]                   (one pattern a line)

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubleshoot_agent::redact::{DefaultSet, compile_with, redact_tree};

/// Peak resident set size in KiB, from /proc/self/status.
fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn set(arg: Option<&String>) -> Option<DefaultSet> {
    match arg.map(String::as_str) {
        None | Some("extended") => Some(DefaultSet::Extended),
        Some("upstream") => Some(DefaultSet::Upstream),
        Some(_) => None,
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("redact") if args.len() >= 3 => {
            let parallel = args.get(3).and_then(|p| p.parse().ok()).unwrap_or(4);
            let Some(set) = set(args.get(4)) else {
                eprintln!("set: extended | upstream");
                return ExitCode::from(2);
            };
            let start = Instant::now();
            let result = compile_with(&[], set)
                .and_then(|rules| redact_tree(Path::new(&args[2]), &rules, parallel));
            match result {
                Ok(report) => {
                    println!(
                        "seconds={:.3} files_with_masks={} masks={} vmhwm_kib={}",
                        start.elapsed().as_secs_f64(),
                        report.files.len(),
                        report.totals.values().sum::<u64>(),
                        vm_hwm_kib().unwrap_or(0)
                    );
                    for (name, n) in &report.totals {
                        eprintln!("{n:>10}  {name}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("redact: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Some("patterns") => {
            let Some(set) = set(args.get(2)) else {
                eprintln!("set: extended | upstream");
                return ExitCode::from(2);
            };
            match compile_with(&[], set) {
                Ok(rules) => {
                    for p in rules.patterns() {
                        println!("{p}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("patterns: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: redact-bench redact DIR [PARALLEL] [extended|upstream] | patterns [extended|upstream]"
            );
            ExitCode::from(2)
        }
    }
}
