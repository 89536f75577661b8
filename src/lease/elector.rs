//! The election loop: every retry period, read the Lease and act on [`decide`]; publish who
//! leads. The only I/O of the election; the decisions are in [`super::decide`].
//!
//! A leader's belief has an end: [`Leadership::leading_until`], the renew deadline counted from
//! when its last successful renewal was sent. Whoever asks [`Leadership::leads`] compares that
//! instant with the clock, so a leader whose API calls hang stops starting runs on time even
//! while this loop is still waiting for an answer.

use super::client::{LeaseClient, LeaseError};
use super::decide::{self, Action, Observed, Timings};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tracing::{debug, info, warn};

/// Who leads, as this replica knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leadership {
    /// This replica's identity.
    pub identity: String,
    /// The Lease, `namespace/name`.
    pub lease: String,
    /// While this replica leads: until when (monotonic) it may act without renewing.
    pub leading_until: Option<Instant>,
    /// The holder the Lease named at the last read (may be this replica).
    pub holder: Option<String>,
    /// Changes of leader this replica has seen.
    pub transitions: u64,
    /// The last failure to read or write the Lease, until one succeeds.
    pub error: Option<String>,
}

impl Leadership {
    /// Nobody known to lead yet.
    pub fn new(identity: &str, lease: &str) -> Self {
        Leadership {
            identity: identity.to_string(),
            lease: lease.to_string(),
            leading_until: None,
            holder: None,
            transitions: 0,
            error: None,
        }
    }

    /// Whether this replica leads at `now` (and so may start runs).
    pub fn leads(&self, now: Instant) -> bool {
        self.leading_until.is_some_and(|until| now < until)
    }

    /// Who leads as far as this replica knows at `now`: itself, else the Lease's holder.
    pub fn leader(&self, now: Instant) -> Option<&str> {
        if self.leads(now) {
            return Some(&self.identity);
        }
        self.holder.as_deref().filter(|h| *h != self.identity)
    }
}

/// A running election; [`Election::stop`] ends it and hands the Lease back.
pub struct Election {
    rx: watch::Receiver<Leadership>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Election {
    /// Starts campaigning for `client`'s Lease as `identity`.
    pub fn spawn(client: LeaseClient, identity: String, timings: Timings) -> Election {
        let (tx, rx) = watch::channel(Leadership::new(&identity, &client.describe()));
        let (stop_tx, stop_rx) = oneshot::channel();
        let elector = Elector {
            client,
            identity,
            timings,
            observed: None,
            tx,
        };
        let task = tokio::spawn(elector.run(stop_rx));
        Election {
            rx,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    /// Who leads, updated after every attempt.
    pub fn watch(&self) -> watch::Receiver<Leadership> {
        self.rx.clone()
    }

    /// Stops campaigning; a leader releases the Lease so a standby takes over at once.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The outcome of one attempt.
enum Attempt {
    /// We hold the Lease (created, renewed or taken over).
    Leading {
        /// Who held it before (a takeover).
        took_from: Option<String>,
    },
    /// Another replica does.
    Following(String),
}

struct Elector {
    client: LeaseClient,
    identity: String,
    timings: Timings,
    observed: Option<Observed>,
    tx: watch::Sender<Leadership>,
}

impl Elector {
    async fn run(mut self, mut stop: oneshot::Receiver<()>) {
        info!(lease = %self.client.describe(), identity = %self.identity, "leader election: campaigning");
        loop {
            let started = Instant::now();
            let current = self.tx.borrow().clone();
            // A leader's call may take until its deadline, a follower's a renew deadline.
            let budget = current
                .leading_until
                .filter(|_| current.leads(started))
                .map_or(self.timings.renew_deadline, |u| u - started);
            let outcome = tokio::select! {
                r = self.attempt(started + budget) => r,
                _ = &mut stop => break,
            };
            self.publish(current, started, outcome);
            let next = started + self.timings.retry_period;
            tokio::select! {
                () = tokio::time::sleep_until(next.into()) => {}
                _ = &mut stop => break,
            }
        }
        self.release().await;
    }

    fn publish(&self, before: Leadership, started: Instant, outcome: Result<Attempt, LeaseError>) {
        let mut next = before.clone();
        match outcome {
            Ok(Attempt::Leading { took_from }) => {
                if !before.leads(started) {
                    info!(lease = %self.client.describe(), identity = %self.identity, previous = took_from.as_deref().unwrap_or("nobody"), "leader election: this replica leads");
                }
                next.leading_until = Some(decide::leading_until(started, &self.timings));
                next.holder = Some(self.identity.clone());
                next.error = None;
            }
            Ok(Attempt::Following(holder)) => {
                if before.leads(started) {
                    warn!(leader = %holder, "leader election: another replica holds the Lease; this replica stops leading");
                }
                next.leading_until = None;
                next.holder = Some(holder);
                next.error = None;
            }
            Err(LeaseError::Conflict(what)) => {
                debug!("leader election: {what}; reading it again");
                // Someone else wrote since our read: whatever we believed is stale.
                next.leading_until = None;
                next.error = None;
            }
            Err(e) => {
                warn!("leader election: {e}");
                next.error = Some(e.to_string());
            }
        }
        let now = Instant::now();
        if before.leads(started) && !next.leads(now) {
            warn!(lease = %self.client.describe(), "leader election: this replica no longer leads (no renewal within the renew deadline, or another replica wrote the Lease); it starts no run");
            next.leading_until = None;
        }
        if before.leader(started) != next.leader(now) && next.leader(now).is_some() {
            next.transitions += 1;
        }
        self.tx.send_replace(next);
    }

    /// One read-decide-write, all before `deadline`.
    async fn attempt(&mut self, deadline: Instant) -> Result<Attempt, LeaseError> {
        let left = || deadline.saturating_duration_since(Instant::now());
        let read = self.client.get(left()).await?;
        let now = Instant::now();
        self.observed = read
            .map(|r| decide::observe(self.observed.as_ref(), r.record, r.resource_version, now));
        let action = decide::decide(
            self.observed.as_ref(),
            &self.identity,
            &self.timings,
            now,
            chrono::Utc::now(),
        );
        let took_from = self
            .observed
            .as_ref()
            .and_then(|o| o.record.holder().map(str::to_string))
            .filter(|h| *h != self.identity);
        let written = match action {
            Action::Follow { holder, expires_in } => {
                debug!(leader = %holder, expires_in = ?expires_in, "leader election: following");
                return Ok(Attempt::Following(holder));
            }
            Action::Create(record) => self.client.create(&record, left()).await?,
            Action::Update {
                record,
                resource_version,
                ..
            } => {
                (self.client)
                    .replace(&record, &resource_version, left())
                    .await?
            }
        };
        let now = Instant::now();
        self.observed = Some(decide::observe(
            self.observed.as_ref(),
            written.record,
            written.resource_version,
            now,
        ));
        Ok(Attempt::Leading { took_from })
    }

    /// At shutdown: a leader hands the Lease back (bounded by one retry period).
    async fn release(&mut self) {
        let current = self.tx.borrow().clone();
        let Some(observed) = &self.observed else {
            return;
        };
        if !current.leads(Instant::now()) {
            return;
        }
        let record = decide::released(&observed.record, chrono::Utc::now());
        let within = self.timings.retry_period.max(Duration::from_secs(1));
        match (self.client)
            .replace(&record, &observed.resource_version, within)
            .await
        {
            Ok(_) => info!(lease = %self.client.describe(), "leader election: released the Lease"),
            Err(e) => warn!("leader election: could not release the Lease: {e}"),
        }
        let mut next = current;
        next.leading_until = None;
        next.holder = None;
        self.tx.send_replace(next);
    }
}
