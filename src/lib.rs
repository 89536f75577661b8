//! troubleshoot-agent: declarative, scheduled troubleshoot support-bundle collection.

pub mod collect;
pub mod diagnostic;
pub mod yaml;
