//! troubleshoot-agent: declarative, scheduled troubleshoot support-bundle collection.

pub(crate) mod agent;
pub(crate) mod alerts;
pub mod analyze;
pub mod bundle;
pub mod changes;
pub mod cli;
pub mod collect;
pub(crate) mod diagnostic;
pub mod digest;
#[doc(hidden)]
pub mod fuzzing;
pub mod gotmpl;
pub mod jobs;
pub(crate) mod lease;
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
    use std::path::Path;
    use std::process::Output;

    fn check_layers(args: &[&std::ffi::OsStr]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check-layers");
        std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .output()
            .expect("run scripts/check-layers (needs python3)")
    }

    /// Dependencies point down DESIGN.md's module table and form no cycle: `scripts/check-layers`
    /// reads every `crate::` path in src/ and fails on an upward import or a cycle.
    #[test]
    fn modules_import_only_lower_layers() {
        let out = check_layers(&[]);
        assert!(
            out.status.success(),
            "scripts/check-layers failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The check fails on what it must refuse: an upward import (state -> plan, through a
    /// `crate::{...}` group and a `super::` chain) and the cycle it closes.
    #[test]
    fn check_layers_refuses_an_upward_import_and_a_cycle() {
        let src = tempfile::tempdir().expect("tempdir");
        let write = |rel: &str, text: &str| {
            let path = src.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        write("plan/mod.rs", "use crate::state::StateDir;\n");
        write(
            "state/mod.rs",
            "// crate::agent in a comment is no import\nconst S: &str = \"crate::agent\";\nmod x;\n",
        );
        write(
            "state/x.rs",
            "mod inner {\n    use super::super::super::{yaml, plan::Applied};\n}\n",
        );
        let out = check_layers(&["--src".as_ref(), src.path().as_os_str()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(
            stderr.contains("state imports plan, a higher layer (src/state/x.rs:2)"),
            "{stderr}"
        );
        assert!(stderr.contains("cycle: "), "{stderr}");
        assert!(!stderr.contains("agent"), "{stderr}");
    }
}
