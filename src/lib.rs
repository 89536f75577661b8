//! troubleshoot-agent
