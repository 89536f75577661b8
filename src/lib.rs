//! troubleshoot-agent: declarative, scheduled troubleshoot support-bundle collection.

pub mod agent;
pub mod alerts;
pub mod bundle;
pub mod cli;
pub mod collect;
pub mod diagnostic;
pub mod digest;
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub mod pipeline;
pub mod plan;
pub mod redact;
pub mod schedule;
pub mod secret_ref;
pub mod settings;
pub mod spec;
pub mod state;
pub mod trust;
pub mod units;
pub mod upload;
pub mod yaml;
