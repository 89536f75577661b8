//! Support-bundle collection: the troubleshoot spec model today, the collectors in later work.

pub mod external;
pub mod host;
pub mod spec;
