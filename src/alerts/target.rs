//! Who is told about a run: the `notify` entries of a job file (serde + schema types), owned by
//! the module that delivers them and named by the job file model (`jobs::model` re-exports them).

use crate::secret_ref::SecretRef;
use crate::units::HumanDuration;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Time limit of each webhook request (`notify[].webhook.timeout`).
pub const WEBHOOK_TIMEOUT: HumanDuration = HumanDuration(Duration::from_secs(10));
/// Webhook requests in all, the first included (`notify[].webhook.attempts`).
pub const WEBHOOK_ATTEMPTS: u32 = 3;

fn webhook_timeout() -> HumanDuration {
    WEBHOOK_TIMEOUT
}
fn webhook_attempts() -> u32 {
    WEBHOOK_ATTEMPTS
}

/// One notification target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotifyTarget {
    /// A JSON webhook.
    Webhook(Webhook),
}

/// A webhook called with a JSON run summary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Webhook {
    /// URL (http or https).
    pub url: String,
    /// Events that trigger it.
    pub on: Vec<NotifyEvent>,
    /// With `on: [changed]`: only these kinds of change raise `changed` (all kinds when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed_only: Vec<crate::changes::Category>,
    /// Request headers; values are secret references, never inline.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, SecretRef>,
    /// Time limit of each request.
    #[serde(default = "webhook_timeout")]
    pub timeout: HumanDuration,
    /// Requests in all, the first included; a failed request (no answer, 408, 429, 5xx) is retried
    /// with exponential backoff and jitter.
    #[serde(default = "webhook_attempts")]
    pub attempts: u32,
}

/// A run outcome that can be notified.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum NotifyEvent {
    /// The run failed.
    Failed,
    /// The run succeeded.
    Succeeded,
    /// The run produced its bundle but some collectors failed.
    SucceededWithErrors,
    /// The run hit its timeout.
    TimedOut,
    /// A fire was missed.
    Missed,
    /// An upload failed.
    UploadFailed,
    /// Analysis found a failure.
    AnalysisFailed,
    /// Analysis found a warning.
    AnalysisWarned,
    /// Something changed since the job's previous completed run (see `changedOnly`).
    Changed,
}
