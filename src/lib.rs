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

    /// Runs `scripts/<name>` (a python3 script) with `args`.
    fn script(name: &str, args: &[&std::ffi::OsStr]) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(name);
        std::process::Command::new("python3")
            .arg(script)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("run scripts/{name} (needs python3): {e}"))
    }

    fn check_layers(args: &[&std::ffi::OsStr]) -> Output {
        script("check-layers", args)
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

    fn check_sizes(args: &[&std::ffi::OsStr]) -> Output {
        script("check-sizes", args)
    }

    /// No file under src/ over 800 lines and no function over 100 lines outside tests
    /// (`scripts/check-sizes`; its ALLOW list names the known exceptions and why).
    #[test]
    fn files_and_functions_stay_small() {
        let out = check_sizes(&[]);
        assert!(
            out.status.success(),
            "scripts/check-sizes failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The size check fails on a long file and a long function, counts braces only outside
    /// comments and literals, and leaves test code alone.
    #[test]
    fn check_sizes_refuses_a_long_file_and_a_long_function() {
        let src = tempfile::tempdir().expect("tempdir");
        let write = |rel: &str, text: &str| {
            let path = src.path().join(rel);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        };
        let body = |n: usize| "    let _ = 1;\n".repeat(n);
        // 101 lines from `fn` to `}`, with a `}` in a string and in a comment on the way.
        let long = format!(
            "fn short() {{}}\n\nfn long() {{\n    let _ = \"}}\"; // }}\n{}}}\n",
            body(98)
        );
        write("a/mod.rs", &format!("mod b;\n#[cfg(test)]\nmod t;\n{long}"));
        // Exactly 100 lines: allowed.
        write("a/b.rs", &format!("fn edge() {{\n{}}}\n", body(98)));
        // Test code: a declared test file, an inline test module and a tests.rs may be long.
        write(
            "a/t.rs",
            &format!("fn in_test_file() {{\n{}}}\n", body(900)),
        );
        write(
            "c.rs",
            &format!(
                "#[cfg(test)]\nmod tests {{\n    fn in_tests() {{\n{}    }}\n}}\n",
                body(200)
            ),
        );
        write("d/tests.rs", &body(900));
        write("e.rs", &body(801));
        let out = check_sizes(&["--src".as_ref(), src.path().as_os_str()]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(!out.status.success(), "{stdout}");
        let rows: Vec<&str> = stdout.lines().collect();
        assert_eq!(
            rows,
            ["src/a/mod.rs:6 long 101", "src/e.rs:1 <file> 801"],
            "{stdout}"
        );
    }
}
