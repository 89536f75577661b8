//! troubleshoot-agent
pub mod schedule;
