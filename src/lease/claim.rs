//! Claiming a scheduled slot before its run starts (issue 19 item 2, the claim half): one Lease
//! per job, `<lease-name>.<job>`, whose annotation records the latest slot claimed. A claim is a
//! replace carrying the `resourceVersion` read, so of two replicas claiming one slot only one
//! write succeeds, and a slot at or before the recorded one is never claimed again.
//!
//! Why an update of one object per job rather than a create-only object per run: the number of
//! objects stays the number of jobs (a `* * * * *` job would otherwise leave 1,440 objects a
//! day, to be garbage-collected with list and delete rights), and the RBAC stays get, create and
//! update on leases. Why a Lease: the agent already has exactly those rights on leases.

use super::elector::Leadership;
use chrono::{DateTime, SecondsFormat, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, PostParams};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The annotation holding the latest slot claimed (RFC 3339).
pub const SLOT_ANNOTATION: &str = "troubleshoot.sh/claimed-slot";
/// The annotation naming the run that claimed it.
pub const RUN_ANNOTATION: &str = "troubleshoot.sh/claimed-run";

/// Why a slot was not claimed.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Another replica (or an earlier leader) claimed this slot or a later one.
    #[error("slot {slot} was already claimed by {by} (run {run}; latest claimed slot {latest})")]
    Taken {
        /// The slot asked for.
        slot: String,
        /// Who claimed.
        by: String,
        /// Its run.
        run: String,
        /// The latest slot claimed.
        latest: String,
    },
    /// This replica does not lead (any more).
    #[error("this replica does not lead any more")]
    NotLeader,
    /// The API did not let the claim through in time (fail closed: the run does not start).
    #[error("could not claim the slot in the Kubernetes API: {0}")]
    Api(String),
}

/// Claims slots for this replica.
#[derive(Clone)]
pub struct Claims {
    api: Api<Lease>,
    prefix: String,
    identity: String,
    leadership: watch::Receiver<Leadership>,
    timeout: Duration,
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("prefix", &self.prefix)
            .field("identity", &self.identity)
            .finish()
    }
}

fn slot_text(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Claims {
    /// Claims in `namespace` as `identity`, with Leases named `<prefix>.<job>`.
    pub fn new(
        client: kube::Client,
        namespace: &str,
        prefix: &str,
        identity: &str,
        leadership: watch::Receiver<Leadership>,
        timeout: Duration,
    ) -> Self {
        Claims {
            api: Api::namespaced(client, namespace),
            prefix: prefix.to_string(),
            identity: identity.to_string(),
            leadership,
            timeout,
        }
    }

    /// Claims `slot` of `job` for run `run`.
    pub async fn claim(&self, job: &str, slot: DateTime<Utc>, run: &str) -> Result<(), ClaimError> {
        match tokio::time::timeout(self.timeout, self.try_claim(job, slot, run)).await {
            Ok(r) => r,
            Err(_) => Err(ClaimError::Api(format!(
                "no answer within {:?}",
                self.timeout
            ))),
        }
    }

    async fn try_claim(&self, job: &str, slot: DateTime<Utc>, run: &str) -> Result<(), ClaimError> {
        let name = format!("{}.{job}", self.prefix);
        let api_error = |e: kube::Error| ClaimError::Api(format!("lease {name}: {e}"));
        let existing = self.api.get_opt(&name).await.map_err(api_error)?;
        let mut annotations = BTreeMap::new();
        annotations.insert(SLOT_ANNOTATION.to_string(), slot_text(slot));
        annotations.insert(RUN_ANNOTATION.to_string(), run.to_string());
        let spec = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            ..LeaseSpec::default()
        };
        let mut lease = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                annotations: Some(annotations),
                ..Default::default()
            },
            spec: Some(spec),
        };
        if let Some(current) = &existing {
            let noted = |key: &str| {
                (current.metadata.annotations.as_ref())
                    .and_then(|a| a.get(key).cloned())
                    .unwrap_or_default()
            };
            let latest = noted(SLOT_ANNOTATION);
            let claimed = DateTime::parse_from_rfc3339(&latest).map(|t| t.with_timezone(&Utc));
            if claimed.is_ok_and(|c| c >= slot) {
                return Err(ClaimError::Taken {
                    slot: slot_text(slot),
                    by: (current.spec.as_ref())
                        .and_then(|s| s.holder_identity.clone())
                        .unwrap_or_default(),
                    run: noted(RUN_ANNOTATION),
                    latest,
                });
            }
            lease.metadata.resource_version = current.metadata.resource_version.clone();
        }
        // The last moment to check: a leader whose renew deadline passed claims nothing.
        if !self.leadership.borrow().leads(Instant::now()) {
            return Err(ClaimError::NotLeader);
        }
        let pp = PostParams::default();
        let written = match existing {
            None => self.api.create(&pp, &lease).await,
            Some(_) => self.api.replace(&name, &pp, &lease).await,
        };
        match written {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(s)) if s.code == 409 => Err(ClaimError::Taken {
                slot: slot_text(slot),
                by: "another replica".into(),
                run: "?".into(),
                latest: "?".into(),
            }),
            Err(e) => Err(api_error(e)),
        }
    }
}
