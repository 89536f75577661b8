//! Support-bundle collection: the troubleshoot spec model, host collectors, in-cluster collectors
//! through the Kubernetes API, and the external `support-bundle` CLI engine.

pub mod cluster;
pub mod external;
pub mod host;
pub mod spec;
