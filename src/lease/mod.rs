//! Leader election on a `coordination.k8s.io/v1` Lease (`run --mode cluster`): one replica
//! leads and starts runs, the others stand by. See docs/cluster.md.
//!
//! [`decide`] holds the rules as plain functions, [`client`] the Lease API calls, [`elector`]
//! the loop that joins them. The agent asks [`Leadership::leads`] before it starts a run.

pub mod claim;
pub mod claim_log;
pub mod client;
pub mod decide;
pub mod elector;

pub use claim::{ClaimError, Claims};
pub use claim_log::ClaimedRun;
pub use client::LeaseClient;
pub use decide::{Timings, TimingsError};
pub use elector::{Election, Leadership};

use crate::collect::cluster::access;
use std::path::PathBuf;
use std::time::Duration;

/// Where the Lease is and who campaigns for it.
#[derive(Clone, Debug)]
pub struct Options {
    /// This replica's holder identity.
    pub identity: String,
    /// The Lease's namespace; `None`: the kubeconfig's (or the pod's) namespace.
    pub namespace: Option<String>,
    /// The Lease's name.
    pub name: String,
    /// Lease duration, renew deadline, retry period.
    pub timings: Timings,
    /// kubeconfig file (`None`: as kubectl finds one, then the in-cluster service account).
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context.
    pub context: Option<String>,
}

/// Why the election could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The timings cannot keep one leader.
    #[error("leader election: {0}")]
    Timings(#[from] TimingsError),
    /// No cluster configuration was found.
    #[error(
        "leader election (--mode cluster) needs the Kubernetes API: {}; run in a pod with a service account, or set `kubeconfig`",
        access::NO_CONFIG
    )]
    NoCluster,
    /// The configuration could not be used.
    #[error("leader election: {0}")]
    Connect(String),
}

/// What cluster mode runs: the election, the Lease it is about, and the slot claims.
pub struct Started {
    /// The election loop.
    pub election: Election,
    /// `namespace/name` of the Lease.
    pub lease: String,
    /// Claims of scheduled slots (`<name>.<job>` Leases).
    pub claims: Claims,
}

/// Connects to the cluster and starts campaigning.
pub async fn start(options: Options) -> Result<Started, StartError> {
    options.timings.check()?;
    let source =
        access::discover_here(options.kubeconfig.as_deref()).ok_or(StartError::NoCluster)?;
    // A call never outlives a renew deadline: the loop bounds each one by what is left of it.
    let read_timeout = options.timings.renew_deadline.max(Duration::from_secs(1));
    let access = access::connect(&source, options.context.as_deref(), read_timeout)
        .await
        .map_err(|e| StartError::Connect(e.to_string()))?;
    let namespace = options.namespace.unwrap_or(access.default_namespace);
    let client = LeaseClient::new(access.client.clone(), &namespace, &options.name);
    let lease = client.describe();
    let identity = options.identity.clone();
    let election = Election::spawn(client, options.identity, options.timings.clone());
    let claims = Claims::new(
        access.client,
        &namespace,
        &options.name,
        &identity,
        election.watch(),
        options.timings.renew_deadline,
    );
    Ok(Started {
        election,
        lease,
        claims,
    })
}
