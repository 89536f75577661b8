//! The troubleshoot spec loader on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;
use troubleshoot_agent::fuzzing::load_spec_bytes;

fuzz_target!(|data: &[u8]| {
    let _ = load_spec_bytes(Path::new("/nonexistent/fuzz/spec.yaml"), data);
});
