//! Support-bundle collection: host collectors, in-cluster collectors through the Kubernetes API,
//! and the external `support-bundle` CLI engine. The troubleshoot document model is `crate::spec`.

pub mod capabilities;
pub mod cluster;
mod error;
pub(crate) mod external;
pub mod host;
mod outcome;
pub mod registry;
pub mod x509;

pub use error::Error;
pub use outcome::{CollectorOutcome, CollectorStatus};
