//! The defaults of the job file format, in one place (the schema and the docs read them here);
//! the webhook defaults live with their type in `alerts::target`.

use crate::units::HumanDuration;
use std::time::Duration;

/// `apiVersion` of a job file.
pub const API_VERSION: &str = "troubleshoot.sh/v1beta3";
/// `kind` of a job file.
pub const KIND: &str = "SupportBundleSchedule";

/// How long a run may take before it is cancelled (`spec.timeout`).
pub const TIMEOUT: HumanDuration = HumanDuration(Duration::from_secs(30 * 60));
/// The catch-up window after downtime (`spec.startingDeadline`).
pub const STARTING_DEADLINE: HumanDuration = HumanDuration(Duration::from_secs(60 * 60));
/// Spread of the fire time (`spec.jitter`): none.
pub const JITTER: HumanDuration = HumanDuration(Duration::ZERO);
/// Retries after a failed run (`spec.retry.limit`).
pub const RETRY_LIMIT: u32 = 0;
/// First retry delay, doubled on each further retry (`spec.retry.backoff`).
pub const RETRY_BACKOFF: HumanDuration = HumanDuration(Duration::from_secs(60));
/// Bundles kept per job (`spec.retention.keepLast`).
pub const KEEP_LAST: u32 = 14;
