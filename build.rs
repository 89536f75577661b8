//! Build script: the git commit for `--version` (see build/version.rs).

#[path = "build/version.rs"]
mod version;

fn main() {
    let dir =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let override_commit = std::env::var("TROUBLESHOOT_AGENT_COMMIT").ok();
    let commit = version::commit(&dir, override_commit.as_deref());
    let pkg = std::env::var("CARGO_PKG_VERSION").expect("cargo sets it");
    println!(
        "cargo:rustc-env=TSA_VERSION={}",
        version::version_string(&pkg, commit.as_deref())
    );
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/version.rs");
    println!("cargo:rerun-if-env-changed=TROUBLESHOOT_AGENT_COMMIT");
    for file in version::git_files(&dir) {
        println!("cargo:rerun-if-changed={file}");
    }
}
