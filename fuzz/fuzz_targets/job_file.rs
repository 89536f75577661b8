//! The job-file loader (`validate` on one file's text) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use troubleshoot_agent::fuzzing::load_job_bytes;
use troubleshoot_agent::jobs::MAX_FILE_BYTES;

fuzz_target!(|data: &[u8]| {
    // The reader refuses larger files before parsing.
    if data.len() as u64 > MAX_FILE_BYTES {
        return;
    }
    // Relative `collect.specs` resolve beside a job file that does not exist, so they are not
    // found. Absolute ones are read: keep the fuzzer off device files and FIFOs, which block or
    // never end (`/dev/zero`), a property of the files rather than of the parser.
    const SPECIAL: [&[u8]; 4] = [b"/dev", b"/proc", b"/sys", b"/run"];
    if SPECIAL
        .iter()
        .any(|p| data.windows(p.len()).any(|w| w == *p))
    {
        return;
    }
    if let Some(report) = load_job_bytes(Path::new("/nonexistent/fuzz/job.yaml"), data) {
        // A report with jobs is valid, so it must name them.
        assert!(report.jobs.len() <= report.job_names.len());
    }
});
