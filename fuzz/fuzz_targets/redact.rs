//! The redaction engine with the default redactors on arbitrary input; the property is
//! `troubleshoot_agent::fuzzing::check_redact`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use troubleshoot_agent::redact::Compiled;

fuzz_target!(|data: &[u8]| {
    static RULES: OnceLock<Compiled> = OnceLock::new();
    let rules = RULES.get_or_init(|| Compiled::defaults().expect("default redactors compile"));
    troubleshoot_agent::fuzzing::check_redact(rules, data);
});
