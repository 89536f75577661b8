//! The job-file loader (`validate` on one file's text) on arbitrary bytes; the property is
//! `troubleshoot_agent::fuzzing::check_job_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| troubleshoot_agent::fuzzing::check_job_file(data));
