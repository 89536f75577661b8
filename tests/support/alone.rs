//! Reruns one test alone in a child process of the test binary. The integration tests share one
//! process (`tests/it`), so a test that measures the whole process (its peak RSS), needs its own
//! environment variables or must run under another user would be disturbed by, or disturb, the
//! tests running in parallel threads. Such a test starts with
//!
//! ```ignore
//! if support::alone::rerun(module_path!(), "the_test_name", &[]) {
//!     return; // the parent: the child ran the body and passed
//! }
//! ```
//!
//! and its body then runs only in the child (`--exact`, one test thread, nothing else).

use std::process::Command;

/// The wrapper that runs the child as `nobody` (uid and gid 65534, no supplementary groups), for
/// tests run as root that need a permission denied. setpriv comes with util-linux.
pub const AS_NOBODY: [&str; 4] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
];

/// Set in the child to the test it runs.
const CHILD: &str = "TSA_TEST_ALONE";

/// The test's name as the harness knows it: `module_path!()` without the crate, then `name`.
fn full_name(module: &str, name: &str) -> String {
    let module = module.split_once("::").map_or("", |(_, rest)| rest);
    if module.is_empty() {
        name.to_string()
    } else {
        format!("{module}::{name}")
    }
}

/// Whether this process is the child running test `name` of `module` alone.
pub fn is_child(module: &str, name: &str) -> bool {
    std::env::var(CHILD).is_ok_and(|t| t == full_name(module, name))
}

/// The command that runs test `name` of `module` alone in a child, after `wrapper` (a program and
/// its arguments the test binary is run through, e.g. `setpriv …`; empty for none). Ignored tests
/// run too: a soak-tier test reruns itself the same way.
pub fn command(module: &str, name: &str, wrapper: &[&str]) -> Command {
    let test = full_name(module, name);
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        &test,
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD, &test);
    cmd
}

/// Runs `cmd` (from [`command`]) and fails unless exactly that one test ran and passed; returns
/// its stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .expect("run the test binary in a child process");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "the test did not pass alone in a child process ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// In the parent: runs test `name` of `module` alone in a child process with `env` added, fails
/// unless it passed there, and returns `true` (the caller returns). In that child: returns
/// `false`, and the caller runs the test's body.
pub fn rerun(module: &str, name: &str, env: &[(&str, &str)]) -> bool {
    if is_child(module, name) {
        return false;
    }
    let mut cmd = command(module, name, &[]);
    cmd.envs(env.iter().copied());
    let stdout = run(&mut cmd);
    print!("{stdout}");
    true
}

/// In the parent: reruns test `name` of `module` alone in a new network namespace (`unshare
/// --net`, root only) and returns `true` once it passed there. In that child: brings loopback up
/// and returns `false` (run the body). For tests whose specs name outside hosts: in the namespace
/// nothing but loopback exists, so a name lookup or a connection fails at once and nothing leaves
/// the machine.
pub fn offline(module: &str, name: &str) -> bool {
    if is_child(module, name) {
        let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
            .into_iter()
            .find(|p| std::path::Path::new(p).is_file())
            .expect("iproute2's ip (scripts/test installs it)");
        let status = Command::new(ip)
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("run ip");
        assert!(status.success(), "ip link set lo up: {status}");
        return false;
    }
    let stdout = run(&mut command(module, name, &["unshare", "--net"]));
    print!("{stdout}");
    true
}
