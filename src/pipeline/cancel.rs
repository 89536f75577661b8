//! Cancelling a run, with the reason kept so the record can say `timed-out` or `interrupted`.

use std::sync::{Arc, Mutex};
use tokio_util::sync::CancellationToken;

/// Why a run was stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// The job's `timeout` passed.
    Timeout,
    /// A newer fire replaced it (`concurrencyPolicy: Replace`).
    Replaced,
    /// The agent is shutting down and the grace period ran out.
    Shutdown,
}

/// A cancellation handle shared by the executor and the pipeline; the first reason wins.
#[derive(Clone, Debug, Default)]
pub struct Cancel {
    token: CancellationToken,
    reason: Arc<Mutex<Option<CancelReason>>>,
}

impl Cancel {
    /// Stops the run for `reason` (ignored if it was already stopped).
    pub fn cancel(&self, reason: CancelReason) {
        if let Ok(mut r) = self.reason.lock()
            && r.is_none()
        {
            *r = Some(reason);
        }
        self.token.cancel();
    }

    /// Why the run was stopped, if it was.
    pub fn reason(&self) -> Option<CancelReason> {
        self.reason.lock().ok().and_then(|r| *r)
    }

    /// The token collectors watch.
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Whether the run was stopped.
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}
