//! The troubleshoot spec loader on arbitrary bytes; the property is
//! `troubleshoot_agent::fuzzing::check_spec`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| troubleshoot_agent::fuzzing::check_spec(data));
