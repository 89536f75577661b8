//! Reading and writing the Lease (`coordination.k8s.io/v1`): get, create, and replace with a
//! `resourceVersion` precondition. Each call is bounded by the caller's timeout.

use super::decide::LeaseRecord;
use chrono::{DateTime, Utc};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::time::Duration;

/// Why a Lease call failed.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// Another replica wrote first (409: a stale `resourceVersion`, or the Lease was created
    /// meanwhile). Not a fault: the next read shows who holds it.
    #[error("{0}: another replica wrote the Lease first")]
    Conflict(String),
    /// No answer in time.
    #[error("{what}: no answer within {after:?}")]
    Timeout {
        /// The call.
        what: String,
        /// The bound.
        after: Duration,
    },
    /// The API refused or failed the call.
    #[error("{what}: {message}{hint}")]
    Api {
        /// The call.
        what: String,
        /// The server's message or the transport error.
        message: String,
        /// What to do, when known.
        hint: &'static str,
    },
}

/// The Lease named `name` in `namespace`.
#[derive(Clone)]
pub struct LeaseClient {
    api: Api<Lease>,
    name: String,
    namespace: String,
}

/// A Lease as read: its record and version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Read {
    /// Its spec.
    pub record: LeaseRecord,
    /// `metadata.resourceVersion`.
    pub resource_version: String,
}

const RBAC_HINT: &str = "; the agent needs get, create and update on leases (coordination.k8s.io) in this namespace: see docs/cluster.md";

impl LeaseClient {
    /// A client for `namespace`/`name`.
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        LeaseClient {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// `namespace/name`.
    pub fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    fn error(&self, verb: &str, e: kube::Error) -> LeaseError {
        let what = format!("{verb} lease {}", self.describe());
        match e {
            kube::Error::Api(status) if status.code == 409 => LeaseError::Conflict(what),
            kube::Error::Api(status) => LeaseError::Api {
                what,
                hint: if status.code == 403 { RBAC_HINT } else { "" },
                message: status.message,
            },
            other => LeaseError::Api {
                what,
                message: other.to_string(),
                hint: "",
            },
        }
    }

    async fn bounded<T>(
        &self,
        verb: &str,
        within: Duration,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, LeaseError> {
        match tokio::time::timeout(within, call).await {
            Ok(r) => r.map_err(|e| self.error(verb, e)),
            Err(_) => Err(LeaseError::Timeout {
                what: format!("{verb} lease {}", self.describe()),
                after: within,
            }),
        }
    }

    /// Reads it; `None` when it does not exist.
    pub async fn get(&self, within: Duration) -> Result<Option<Read>, LeaseError> {
        let lease = self
            .bounded("get", within, self.api.get_opt(&self.name))
            .await?;
        Ok(lease.map(|l| read_of(&l)))
    }

    /// Creates it with `record`; [`LeaseError::Conflict`] when it exists.
    pub async fn create(&self, record: &LeaseRecord, within: Duration) -> Result<Read, LeaseError> {
        let lease = self.lease(record, None);
        let created = self
            .bounded(
                "create",
                within,
                self.api.create(&PostParams::default(), &lease),
            )
            .await?;
        Ok(read_of(&created))
    }

    /// Replaces its spec with `record` if it is still at `resource_version`.
    pub async fn replace(
        &self,
        record: &LeaseRecord,
        resource_version: &str,
        within: Duration,
    ) -> Result<Read, LeaseError> {
        let lease = self.lease(record, Some(resource_version.to_string()));
        let replaced = self
            .bounded(
                "update",
                within,
                self.api.replace(&self.name, &PostParams::default(), &lease),
            )
            .await?;
        Ok(read_of(&replaced))
    }

    fn lease(&self, record: &LeaseRecord, resource_version: Option<String>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: record.holder.clone(),
                lease_duration_seconds: record.lease_duration_secs,
                acquire_time: record.acquire_time.map(micro),
                renew_time: record.renew_time.map(micro),
                lease_transitions: Some(record.transitions),
                ..LeaseSpec::default()
            }),
        }
    }
}

fn micro(t: DateTime<Utc>) -> MicroTime {
    let ts = k8s_openapi::jiff::Timestamp::from_microsecond(t.timestamp_micros())
        .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH);
    MicroTime(ts)
}

fn chrono_of(t: &MicroTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros(t.0.as_microsecond())
}

fn read_of(lease: &Lease) -> Read {
    let spec = lease.spec.clone().unwrap_or_default();
    Read {
        record: LeaseRecord {
            holder: spec.holder_identity,
            lease_duration_secs: spec.lease_duration_seconds,
            acquire_time: spec.acquire_time.as_ref().and_then(chrono_of),
            renew_time: spec.renew_time.as_ref().and_then(chrono_of),
            transitions: spec.lease_transitions.unwrap_or(0),
        },
        resource_version: lease.metadata.resource_version.clone().unwrap_or_default(),
    }
}
