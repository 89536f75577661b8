//! The test Kubernetes API server of `tests/support/kube_api` as a standalone process, for kubectl,
//! manual checks and the benchmark (`bench/kube_collect.sh`).
//!
//! ```text
//! cargo run --features bench --example kube-test-server -- --port 0 --cluster generated:pods=10000,deployments=2000,namespaces=200
//! ```
//!
//! Prints the server's URL on the first line of stdout, then serves until killed. The flags are in
//! `tests/support/kube_api/standalone.rs`.

#[path = "../tests/support/kube_api/mod.rs"]
mod kube_api;

fn main() {
    kube_api::standalone::run(std::env::args_os())
}
