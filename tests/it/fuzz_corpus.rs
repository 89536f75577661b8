//! The fuzz targets' properties (`troubleshoot_agent::fuzzing::check_*`) in every test run: each
//! seed of `fuzz/seeds/`, the example job files, the compat specs and bundle files, and a fixed
//! number of mutations of each (byte flips, cuts, splices of YAML-significant tokens, repeats).
//! No coverage guidance: that is `scripts/fuzz` (libFuzzer, in `./scripts/test --soak`); this
//! keeps the properties and every input a fuzzer once found (`fuzz/seeds/`) checked in CI without
//! the instrumented build. `TSA_SOAK=1` multiplies the mutations.

use crate::support;

use std::path::{Path, PathBuf};
use troubleshoot_agent::redact::Compiled;

/// Tokens that change YAML and JSON structure when spliced in.
const TOKENS: [&[u8]; 22] = [
    b":",
    b": ",
    b"- ",
    b"\n",
    b"\n  ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"<<: *a\n",
    b"!!binary ",
    b"'",
    b"\"",
    b"#",
    b"|\n",
    b">-\n",
    b"---\n",
    b"\t",
    b"\\u0000",
];

/// A deterministic xorshift generator: the same mutations in every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 | 3 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            4 if !out.is_empty() => {
                // Repeat a slice: deep nesting, long lines, many keys.
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let piece = out[start..end].repeat(1 + rng.below(8));
                out.splice(at..at, piece);
            }
            _ => {
                let byte = rng.next() as u8;
                out.insert(at, byte);
            }
        }
    }
    out
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The seeds of one target: its `fuzz/seeds/` directory and the extra corpus `scripts/fuzz` gives
/// it, capped at `max_bytes` each.
fn corpus(target: &str, extra: &[PathBuf], max_bytes: u64) -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = Vec::new();
    files_under(&root.join("fuzz/seeds").join(target), &mut paths);
    for dir in extra {
        files_under(dir, &mut paths);
    }
    let inputs: Vec<Vec<u8>> = paths
        .iter()
        .filter(|p| p.metadata().is_ok_and(|m| m.len() <= max_bytes))
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    assert!(
        inputs.len() >= 3,
        "{target}: too few seeds ({} files)",
        inputs.len()
    );
    inputs
}

fn mutations_per_seed() -> usize {
    if std::env::var_os("TSA_SOAK").is_some() {
        400
    } else {
        12
    }
}

/// Runs `check` on each seed and its mutations; on a panic, says which input (as an escaped
/// string a test or `fuzz/seeds/` can take).
fn replay(target: &str, seeds: &[Vec<u8>], check: impl Fn(&[u8]) + std::panic::RefUnwindSafe) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut inputs = 0usize;
    for seed in seeds {
        let mut cases = vec![seed.clone()];
        for _ in 0..mutations_per_seed() {
            cases.push(mutate(&mut rng, seed));
        }
        for case in cases {
            inputs += 1;
            if std::panic::catch_unwind(|| check(&case)).is_err() {
                panic!(
                    "{target}: the property failed on {:?}",
                    String::from_utf8_lossy(&case)
                );
            }
        }
    }
    eprintln!("{target}: {inputs} inputs");
}

#[test]
fn job_file_loader_properties_hold_on_seeds_and_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = corpus("job_file", &[root.join("config.example.d")], 64 * 1024);
    replay(
        "job_file",
        &seeds,
        troubleshoot_agent::fuzzing::check_job_file,
    );
}

#[test]
fn spec_loader_properties_hold_on_seeds_and_mutations() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = corpus(
        "spec",
        &[
            support::compat_dir().join("specs"),
            root.join("config.example.d/specs"),
        ],
        64 * 1024,
    );
    replay("spec", &seeds, troubleshoot_agent::fuzzing::check_spec);
}

#[test]
fn redaction_properties_hold_on_seeds_and_mutations() {
    let rules = Compiled::defaults().expect("default redactors compile");
    let seeds = corpus(
        "redact",
        &[support::compat_dir().join("cluster-resources")],
        64 * 1024,
    );
    // The first byte chooses the bundle path: give every seed each of the three.
    let seeds: Vec<Vec<u8>> = seeds
        .iter()
        .flat_map(|s| {
            (0u8..3).map(move |p| {
                let mut v = vec![p];
                v.extend_from_slice(s);
                v
            })
        })
        .collect();
    replay("redact", &seeds, |data| {
        troubleshoot_agent::fuzzing::check_redact(&rules, data)
    });
}
