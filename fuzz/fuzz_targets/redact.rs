//! The redaction engine with the default redactors on arbitrary input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use troubleshoot_agent::fuzzing::redact_bytes;
use troubleshoot_agent::redact::Compiled;

/// Bundle paths that select different default chains: line redactors only, and line redactors
/// then the scoped kurl yamlPath redactors (whole documents, re-serialized).
const PATHS: [&str; 3] = [
    "host-collectors/run-host/x.txt",
    "cluster-resources/pods/default.json",
    "cluster-resources/custom-resources/installers.cluster.kurl.sh.yaml",
];

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<Compiled> = OnceLock::new();
    let rules = RULES.get_or_init(|| Compiled::defaults().expect("default redactors compile"));
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let index = usize::from(first) % PATHS.len();
    let path = PATHS[index];
    let (out, counts) = redact_bytes(rules, path, input).expect("in-memory redaction succeeds");
    if counts.binary {
        assert_eq!(out, input, "binary files are copied untouched");
    } else if index < 2 && counts.oversized_lines == 0 {
        // Line redactors replace within lines: the line structure is kept.
        let lines = |b: &[u8]| b.iter().filter(|&&c| c == b'\n').count();
        assert_eq!(
            lines(out.as_slice()),
            lines(input),
            "redaction changed the number of lines"
        );
    }
});
