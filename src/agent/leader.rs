//! The agent's side of cluster mode: whether this replica may start runs, and what status,
//! `/readyz`, metrics and refused triggers say about who leads. In host mode every answer is
//! "this agent leads".

use super::control::{Control, TriggerRefused};
use super::metrics::Metrics;
use super::status::ClusterStatus;
use crate::lease::Leadership;
use std::time::Instant;
use tokio::sync::{mpsc, watch};

/// Asked before any run starts.
#[derive(Clone, Debug, Default)]
pub struct Gate {
    /// `None` in host mode.
    election: Option<watch::Receiver<Leadership>>,
    /// Transitions already counted in the metric.
    counted: u64,
}

impl Gate {
    /// Host mode: always leads.
    pub fn host() -> Self {
        Gate::default()
    }

    /// Cluster mode: leads while the election says so.
    pub fn cluster(election: watch::Receiver<Leadership>) -> Self {
        Gate {
            election: Some(election),
            counted: 0,
        }
    }

    /// Whether runs may start now. Read at the moment of the decision: a leader whose renew
    /// deadline passed stops here even if the election loop has not reported yet.
    pub fn leads(&self) -> bool {
        self.election
            .as_ref()
            .is_none_or(|rx| rx.borrow().leads(Instant::now()))
    }

    /// Why a trigger is refused on a standby.
    pub fn refusal(&self) -> TriggerRefused {
        let leader = (self.election.as_ref())
            .and_then(|rx| rx.borrow().leader(Instant::now()).map(str::to_string));
        TriggerRefused::NotLeader { leader }
    }

    /// The `cluster` part of the status; `None` in host mode.
    pub fn status(&self) -> Option<ClusterStatus> {
        let rx = self.election.as_ref()?;
        let l = rx.borrow();
        let now = Instant::now();
        Some(ClusterStatus {
            identity: l.identity.clone(),
            lease: l.lease.clone(),
            leading: l.leads(now),
            leader: l.leader(now).map(str::to_string),
            transitions: l.transitions,
            error: l.error.clone(),
        })
    }

    /// Brings `troubleshoot_scheduler_leader{identity}` and `..._leader_transitions_total` up
    /// to date.
    pub fn observe(&mut self, metrics: &Metrics) {
        let Some(rx) = &self.election else { return };
        let (identity, leads, transitions) = {
            let l = rx.borrow();
            (l.identity.clone(), l.leads(Instant::now()), l.transitions)
        };
        metrics.observe_leader(&identity, leads);
        if transitions > self.counted {
            metrics
                .leader_transitions
                .inc_by(transitions - self.counted);
            self.counted = transitions;
        }
    }
}

/// Tells the control loop whenever the election's view changes, and once more when a leader's
/// renew deadline passes without news (so status and metrics follow at once).
pub fn forward(mut rx: watch::Receiver<Leadership>, tx: mpsc::Sender<Control>) {
    tokio::spawn(async move {
        loop {
            // A deadline already past was reported: wait for news only.
            let until = (rx.borrow_and_update().leading_until).filter(|u| *u > Instant::now());
            let changed = match until {
                Some(until) => tokio::select! {
                    r = rx.changed() => r,
                    () = tokio::time::sleep_until(until.into()) => Ok(()),
                },
                None => rx.changed().await,
            };
            if changed.is_err() || tx.send(Control::Leadership).await.is_err() {
                break;
            }
        }
    });
}
