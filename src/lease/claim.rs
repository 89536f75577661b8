//! Claiming a scheduled slot before its run starts (issue 19 item 2, the claim half): one Lease
//! per job, `<lease-name>.<job>`, whose annotation records the latest slot claimed. A claim is a
//! replace carrying the `resourceVersion` read, so of two replicas claiming one slot only one
//! write succeeds, and a slot at or before the recorded one is never claimed again.
//!
//! Why an update of one object per job rather than a create-only object per run: the number of
//! objects stays the number of jobs (a `* * * * *` job would otherwise leave 1,440 objects a
//! day, to be garbage-collected with list and delete rights), and the RBAC stays get, create and
//! update on leases. Why a Lease: the agent already has exactly those rights on leases.

use super::claim_log::{ClaimLog, ClaimedRun, slot_text};
use super::elector::Leadership;
use crate::state::records::Trigger;
use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kube::api::{Api, PostParams};
use std::time::{Duration, Instant};
use tokio::sync::watch;

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

/// How a holder identity or run id read from a Lease is shown in a skip reason: anyone who may
/// write the Lease writes these, and the reason reaches run records, `status` and terminals, so
/// control characters and anything outside a replica name's alphabet become `?` and the text is
/// capped.
fn shown(raw: &str) -> String {
    const MAX: usize = 128;
    let mut out: String = raw
        .chars()
        .take(MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._:+/@".contains(c) {
                c
            } else {
                '?'
            }
        })
        .collect();
    if raw.chars().count() > MAX {
        out.push('…');
    }
    out
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

    /// This replica's identity (the `replica` of its own claims).
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// Claims `slot` of `job` for run `run`, started by `trigger`, at `now` (the agent's clock).
    pub async fn claim(
        &self,
        job: &str,
        (slot, now): (DateTime<Utc>, DateTime<Utc>),
        run: &str,
        trigger: Trigger,
    ) -> Result<(), ClaimError> {
        let claim = ClaimedRun {
            job: job.to_string(),
            scheduled_at: slot,
            run_id: run.to_string(),
            trigger,
            replica: self.identity.clone(),
            claimed_at: Some(now),
        };
        match tokio::time::timeout(self.timeout, self.try_claim(claim)).await {
            Ok(r) => r,
            Err(_) => Err(self.no_answer()),
        }
    }

    fn no_answer(&self) -> ClaimError {
        ClaimError::Api(format!("no answer within {:?}", self.timeout))
    }

    fn lease_name(&self, job: &str) -> String {
        format!("{}.{job}", self.prefix)
    }

    /// What `job`'s claim Lease records (nothing when no slot of it was ever claimed).
    pub async fn read(&self, job: &str) -> Result<ClaimLog, ClaimError> {
        let read = async {
            let name = self.lease_name(job);
            let lease = (self.api.get_opt(&name).await)
                .map_err(|e| ClaimError::Api(format!("lease {name}: {e}")))?;
            Ok(lease.map_or_else(ClaimLog::default, |l| log_of(job, &l)))
        };
        match tokio::time::timeout(self.timeout, read).await {
            Ok(r) => r,
            Err(_) => Err(self.no_answer()),
        }
    }

    async fn try_claim(&self, claim: ClaimedRun) -> Result<(), ClaimError> {
        let (job, slot) = (claim.job.clone(), claim.scheduled_at);
        let name = self.lease_name(&job);
        let api_error = |e: kube::Error| ClaimError::Api(format!("lease {name}: {e}"));
        let existing = self.api.get_opt(&name).await.map_err(api_error)?;
        let log = existing
            .as_ref()
            .map(|l| log_of(&job, l))
            .unwrap_or_default();
        if !log.claimable(slot) {
            let by = (existing.as_ref().and_then(|l| l.spec.as_ref()))
                .and_then(|s| s.holder_identity.clone())
                .unwrap_or_default();
            return Err(ClaimError::Taken {
                slot: slot_text(slot),
                by: shown(&by),
                run: shown(&log.latest_run),
                latest: log.latest.map(slot_text).unwrap_or_default(),
            });
        }
        let spec = LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            ..LeaseSpec::default()
        };
        let lease = Lease {
            metadata: kube::api::ObjectMeta {
                name: Some(name.clone()),
                annotations: Some(log.with_claim(claim)),
                resource_version: (existing.as_ref())
                    .and_then(|l| l.metadata.resource_version.clone()),
                ..Default::default()
            },
            spec: Some(spec),
        };
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

/// What `lease` (the claim Lease of `job`) records.
fn log_of(job: &str, lease: &Lease) -> ClaimLog {
    let holder = (lease.spec.as_ref())
        .and_then(|s| s.holder_identity.as_deref())
        .unwrap_or_default();
    ClaimLog::read(job, lease.metadata.annotations.as_ref(), holder)
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn lease_text_in_a_reason_is_printable_and_capped() {
        assert_eq!(shown("agent-7f9c.node-a"), "agent-7f9c.node-a");
        assert_eq!(shown("evil\u{1b}[2J\nname"), "evil??2J?name");
        let long = "a".repeat(300);
        assert_eq!(shown(&long).chars().count(), 129);
        assert!(shown(&long).ends_with('…'));
    }
}
