//! A 50 MB single-line file is redacted with bounded memory (alone in a child process, so the
//! process peak RSS measured here belongs to this test alone).

use crate::support;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use troubleshoot_agent::redact::{Compiled, MASK, redact_tree};

/// Peak resident set size of this process in KiB (Linux `VmHWM`).
fn peak_rss_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[test]
fn fifty_megabyte_line_with_bounded_memory() {
    if support::alone::rerun(
        module_path!(),
        "fifty_megabyte_line_with_bounded_memory",
        &[],
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("big.log");
    let filler = b"abcdefgh,".repeat(1024);
    let mut written = 0usize;
    {
        let mut w = BufWriter::new(File::create(&path).expect("create"));
        w.write_all(b"Pwd=firstsecret;").expect("write");
        while written < 50 * 1024 * 1024 {
            w.write_all(&filler).expect("write");
            written += filler.len();
        }
        // Middle and end secrets, no final newline.
        w.write_all(b"Pwd=lastsecret;").expect("write");
        w.flush().expect("flush");
    }
    let input_len = fs::metadata(&path).expect("meta").len();
    let before = peak_rss_kib();

    let rules = Compiled::defaults().expect("defaults");
    let report = redact_tree(dir.path(), &rules, 1).expect("redacts");

    let grown_mib = (peak_rss_kib().saturating_sub(before)) / 1024;
    eprintln!("peak RSS growth: {grown_mib} MiB");
    // Reading the line whole would grow the peak by at least its 50 MB; windows keep it far lower.
    assert!(grown_mib < 40, "peak RSS grew by {grown_mib} MiB");

    assert_eq!(report.files.len(), 1);
    let f = &report.files[0];
    assert_eq!(f.oversized_lines, 1);
    assert_eq!(
        f.by_redactor
            .get("Redact 'Pwd' values commonly found in database connection strings"),
        Some(&2)
    );

    // Stream the output back in chunks with an overlap, so a secret across a chunk edge is still seen.
    let expected_len =
        input_len as usize - "firstsecret".len() - "lastsecret".len() + 2 * MASK.len();
    let mut r = File::open(&path).expect("open");
    let mut total = 0usize;
    let mut carry: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    let mut first = true;
    loop {
        let n = r.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        total += n;
        let mut window = std::mem::take(&mut carry);
        window.extend_from_slice(&chunk[..n]);
        if first {
            assert!(window.starts_with(format!("Pwd={MASK};").as_bytes()));
            first = false;
        }
        for secret in [&b"firstsecret"[..], b"lastsecret"] {
            assert!(!window.windows(secret.len()).any(|w| w == secret));
        }
        assert!(!window.contains(&b'\n'));
        carry = window[window.len().saturating_sub(64)..].to_vec();
    }
    assert_eq!(total, expected_len);
    assert!(carry.ends_with(format!("Pwd={MASK};").as_bytes()));
}
