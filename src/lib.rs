//! troubleshoot-agent: declarative, scheduled troubleshoot support-bundle collection.

pub(crate) mod agent;
pub(crate) mod alerts;
pub mod bundle;
pub mod cli;
pub mod collect;
pub(crate) mod diagnostic;
pub mod digest;
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub(crate) mod pipeline;
pub mod plan;
pub mod redact;
pub mod schedule;
pub(crate) mod secret_ref;
pub(crate) mod settings;
pub mod spec;
pub mod state;
pub(crate) mod trust;
pub(crate) mod units;
pub mod upload;
pub mod yaml;

#[cfg(test)]
mod tests {
    /// Dependencies point down DESIGN.md's module table and form no cycle: `scripts/check-layers`
    /// reads every `crate::` path in src/ and fails on an upward import or a cycle.
    #[test]
    fn modules_import_only_lower_layers() {
        let root = env!("CARGO_MANIFEST_DIR");
        let out = std::process::Command::new("python3")
            .arg(format!("{root}/scripts/check-layers"))
            .output()
            .expect("run scripts/check-layers (needs python3)");
        assert!(
            out.status.success(),
            "scripts/check-layers failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
