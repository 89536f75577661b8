//! The agent's `clusterResources` collection alone, into a directory (no archive, no redaction):
//! the benchmark's counterpart of `kubectl get <resources> -A -o json` (bench/kube_collect.sh).
//!
//! ```text
//! cargo run --release --features bench --example kube-collect -- KUBECONFIG OUT_DIR
//! ```

use std::path::PathBuf;
use troubleshoot_agent::collect::cluster::{self, ClusterOptions};
use troubleshoot_agent::spec::Entry;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kubeconfig, out] = args.as_slice() else {
        eprintln!("usage: kube-collect KUBECONFIG OUT_DIR");
        std::process::exit(2);
    };
    let entry = Entry {
        kind: "clusterResources".into(),
        body: serde_json::json!({}),
        file: PathBuf::from("<bench>"),
        loc: Default::default(),
        collector_name: None,
        exclude: false,
    };
    let opts = ClusterOptions {
        kubeconfig: Some(PathBuf::from(kubeconfig)),
        ..ClusterOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let outcomes = runtime.block_on(cluster::collect(
        &[entry],
        std::path::Path::new(out),
        &opts,
        tokio_util::sync::CancellationToken::new(),
        chrono::Utc::now(),
    ));
    for o in &outcomes {
        eprintln!(
            "{} {:?} {} files {:?}",
            o.title,
            o.status,
            o.files.len(),
            o.error
        );
    }
    let failed = outcomes.iter().any(|o| {
        !matches!(
            o.status,
            troubleshoot_agent::collect::CollectorStatus::Succeeded
        )
    });
    std::process::exit(i32::from(failed));
}
