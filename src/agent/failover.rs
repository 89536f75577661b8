//! Cluster mode: a replica that starts leading catches up the slots it passed as a standby
//! (slots missed during the failover), from the claims the cluster recorded: the host agent's
//! catch-up policy (`startingDeadline`, the latest slot only) with the job's claim Lease in
//! place of its local records. The decision is [`Timing::after_failover`]; this module reads
//! the claims off the control loop and sends each job's decision back as [`Control::CatchUp`].
//!
//! Exactly once: the catch-up run claims its slot like a scheduled run, so a slot the old
//! leader claimed in the meantime is recorded skipped, naming it; a slot this replica has a
//! record of (it ran or tried it before a blip in its leadership) is not caught up again.

use super::control::Control;
use super::timing::Timing;
use crate::lease::Claims;
use crate::state::{RunId, records};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use tokio::sync::mpsc;
use tracing::{info, warn};

/// What the check of one leadership term needs of each job.
pub(super) struct Passed {
    /// Job name.
    pub job: String,
    /// Its timing.
    pub timing: Timing,
    /// Up to where this replica's timer passed its slots.
    pub handled: DateTime<Utc>,
    /// Up to where an earlier leadership term of this replica decided them.
    pub checked: Option<DateTime<Utc>>,
}

/// Reads each job's claim Lease and sends what to catch up to the control loop.
pub(super) fn spawn(
    claims: Claims,
    jobs: Vec<Passed>,
    state_dir: PathBuf,
    clock: super::clock::Clock,
    tx: mpsc::Sender<Control>,
) {
    tokio::spawn(async move {
        for p in jobs {
            let claimed = match claims.read(&p.job).await {
                // Slots an earlier term decided are fenced like claimed ones.
                Ok(log) => log.latest.map(|c| p.checked.map_or(c, |d| c.max(d))),
                Err(e) => {
                    // Fail closed: a slot whose claims cannot be read is not caught up.
                    warn!(job = %p.job, "no catch-up after taking the lead: {e}");
                    continue;
                }
            };
            let mut caught = p.timing.after_failover(claimed, p.handled, clock.now());
            if let Some(slot) = caught.run {
                let id = RunId::scheduled(slot.nominal);
                let dir = state_dir.clone();
                let job = p.job.clone();
                let known = tokio::task::spawn_blocking(move || {
                    // Not followed: a link in the state directory is nobody's record.
                    std::fs::symlink_metadata(records::record_path(&dir, &job, id.as_str())).is_ok()
                })
                .await
                .unwrap_or(true);
                if known {
                    caught.run = None;
                }
            }
            if caught.is_empty() {
                continue;
            }
            info!(job = %p.job, slot = ?caught.run.map(|s| s.nominal), missed = caught.missed.as_ref().map_or(0, |m| m.count), "catching up the slots passed before this replica led");
            let message = Control::CatchUp { job: p.job, caught };
            if tx.send(message).await.is_err() {
                break;
            }
        }
    });
}
