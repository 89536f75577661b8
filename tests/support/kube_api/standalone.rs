//! The test Kubernetes API server as a standalone process: the example `kube-test-server` (for
//! kubectl, manual checks and `bench/kube_collect.sh`) and the integration test that checks its
//! flags both run [`run`].

use super::{Cluster, Fault, GenSpec, KubeApiServer};
use clap::Parser;
use std::io::Write;

#[derive(Parser)]
#[command(about = "A test Kubernetes API server replaying a real cluster over plain HTTP")]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// `baseline` (the k3s bundle), `unhealthy` (analyzer fixtures) or
    /// `generated:pods=N,deployments=N,namespaces=N,configmaps=N,events=N` (added to the baseline).
    #[arg(long, default_value = "baseline")]
    cluster: String,
    /// A fault: `PATH_GLOB=FAULT` with FAULT one of 403|forbidden, 400-599, delay:5s, delay:200ms,
    /// garbage, truncate. Repeatable.
    #[arg(long = "fail", value_name = "PATH_GLOB=FAULT")]
    fail: Vec<String>,
    /// An RBAC denial: `[GROUP/]RESOURCE[@NAMESPACE]` (e.g. `pods@kube-system`, `apps/deployments`).
    #[arg(long = "deny", value_name = "[GROUP/]RESOURCE[@NS]")]
    deny: Vec<String>,
    /// Also write a kubeconfig pointing at the server to this file.
    #[arg(long)]
    kubeconfig: Option<std::path::PathBuf>,
}

/// Parses `args` (the program name first, as `std::env::args_os`), starts the server, prints its
/// URL on a line of its own and serves until the process is killed; bad flags exit 2 with a
/// message.
pub fn run<I, T>(args: I) -> !
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let args = Args::parse_from(args);
    let loading = std::time::Instant::now();
    let cluster = match args.cluster.as_str() {
        "baseline" => Cluster::baseline(),
        "unhealthy" => Cluster::unhealthy(),
        other => match other
            .strip_prefix("generated:")
            .or(if other == "generated" { Some("") } else { None })
        {
            Some(sizes) => match GenSpec::parse(sizes) {
                Ok(spec) => Cluster::generated(&spec),
                Err(e) => fail(&format!("--cluster {other}: {e}")),
            },
            None => fail(&format!(
                "--cluster {other}: expected baseline, unhealthy or generated:pods=N,..."
            )),
        },
    };
    eprintln!(
        "kube-test-server: {} loaded in {:.2?} ({} pods, {} deployments, {} namespaces)",
        args.cluster,
        loading.elapsed(),
        cluster.count("", "pods"),
        cluster.count("apps", "deployments"),
        cluster.count("", "namespaces")
    );
    let server = match KubeApiServer::start_on(cluster, args.port) {
        Ok(s) => s,
        Err(e) => fail(&format!("cannot listen on 127.0.0.1:{}: {e}", args.port)),
    };
    for f in &args.fail {
        let Some((pattern, fault)) = f.rsplit_once('=') else {
            fail(&format!("--fail {f}: expected PATH_GLOB=FAULT"));
        };
        match Fault::parse(fault) {
            Ok(fault) => {
                server.fail(pattern, fault);
            }
            Err(e) => fail(&format!("--fail {f}: {e}")),
        }
    }
    for d in &args.deny {
        let (what, ns) = match d.split_once('@') {
            Some((w, ns)) => (w, Some(ns)),
            None => (d.as_str(), None),
        };
        let (group, resource) = what.rsplit_once('/').unwrap_or(("", what));
        server.deny(group, resource, ns);
    }
    if let Some(path) = &args.kubeconfig
        && let Err(e) = server.write_kubeconfig(path, "default")
    {
        fail(&format!("--kubeconfig {}: {e}", path.display()));
    }
    println!("{}", server.url());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("kube-test-server: {msg}");
    std::process::exit(2);
}
