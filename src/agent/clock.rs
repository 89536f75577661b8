//! The agent's wall clock: the system clock, optionally shifted so tests can put "now" just
//! before a slot instead of waiting for it.

use chrono::{DateTime, Duration, Utc};

/// Reads the time for the daemon and its runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Clock {
    offset: Duration,
}

impl Clock {
    /// The system clock shifted by `offset`.
    pub fn shifted(offset: Duration) -> Self {
        Clock { offset }
    }

    /// Now.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset
    }
}
