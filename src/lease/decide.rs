//! The election's decisions as plain functions: given the Lease as last read, when we saw it
//! change (on our monotonic clock), our identity and now, what to write. No I/O, no clock.
//!
//! The rules are client-go's (`leaderelection.tryAcquireOrRenew`): another holder's lease is
//! expired when `leaseDurationSeconds` have passed on OUR clock since we last saw its record
//! change, never by comparing its `renewTime` with our wall clock (replicas' clocks differ);
//! a takeover increments `leaseTransitions` and sets `acquireTime`.

use chrono::{DateTime, Utc};
use std::time::{Duration, Instant};

/// The fields of a Lease's spec the election uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeaseRecord {
    /// Who holds it (`None` or empty: nobody, e.g. released).
    pub holder: Option<String>,
    /// How long the holder's claim lasts after a renewal, in seconds.
    pub lease_duration_secs: Option<i32>,
    /// When the current holder acquired it.
    pub acquire_time: Option<DateTime<Utc>>,
    /// When the holder last renewed it (its wall clock; informative only).
    pub renew_time: Option<DateTime<Utc>>,
    /// How many times the holder changed.
    pub transitions: i32,
}

impl LeaseRecord {
    /// The holder, when there is one.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref().filter(|h| !h.is_empty())
    }
}

/// A Lease as we last read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Its spec.
    pub record: LeaseRecord,
    /// `metadata.resourceVersion`: the precondition of our next write.
    pub resource_version: String,
    /// When (our monotonic clock) we first saw this record: the holder's claim runs from here.
    pub seen_at: Instant,
}

/// Remembers a read: the time the record was first seen is kept while it does not change, so
/// a holder that stops renewing expires `leaseDurationSeconds` after its last change.
pub fn observe(
    previous: Option<&Observed>,
    record: LeaseRecord,
    resource_version: String,
    now: Instant,
) -> Observed {
    let seen_at = match previous {
        Some(p) if p.record == record => p.seen_at,
        _ => now,
    };
    Observed {
        record,
        resource_version,
        seen_at,
    }
}

/// What the election's timings are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timings {
    /// How long a claim lasts for the others after its last renewal.
    pub lease_duration: Duration,
    /// How long a leader keeps leading without a successful renewal (less than the lease
    /// duration: it stops before the others may take over).
    pub renew_deadline: Duration,
    /// Time between attempts.
    pub retry_period: Duration,
}

impl Default for Timings {
    /// client-go's defaults: 15 s, 10 s, 2 s.
    fn default() -> Self {
        Timings {
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// Why a set of timings cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimingsError {
    /// A leader could still believe it leads when the others may take over.
    #[error(
        "the renew deadline ({renew:?}) must be shorter than the lease duration ({lease:?}): a leader that cannot renew must stop leading before the others may take over"
    )]
    DeadlineNotBeforeExpiry {
        /// Renew deadline.
        renew: Duration,
        /// Lease duration.
        lease: Duration,
    },
    /// Fewer than one retry fits in the renew deadline.
    #[error(
        "the retry period ({retry:?}) must be shorter than the renew deadline ({renew:?}), or a single slow answer ends the leadership"
    )]
    RetryNotBeforeDeadline {
        /// Retry period.
        retry: Duration,
        /// Renew deadline.
        renew: Duration,
    },
    /// Leases count whole seconds.
    #[error("the lease duration ({0:?}) must be a whole number of seconds, at least 1s")]
    LeaseNotWholeSeconds(Duration),
}

impl Timings {
    /// Checks the ordering the election's safety rests on: retry < renew deadline < lease.
    pub fn check(&self) -> Result<(), TimingsError> {
        let lease = self.lease_duration;
        if lease.subsec_nanos() != 0 || lease.as_secs() == 0 {
            return Err(TimingsError::LeaseNotWholeSeconds(lease));
        }
        if self.renew_deadline >= lease {
            return Err(TimingsError::DeadlineNotBeforeExpiry {
                renew: self.renew_deadline,
                lease,
            });
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(TimingsError::RetryNotBeforeDeadline {
                retry: self.retry_period,
                renew: self.renew_deadline,
            });
        }
        Ok(())
    }
}

/// What to do after a read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// There is no Lease: create it, held by us.
    Create(LeaseRecord),
    /// Write this record over the one read (`resource_version` is the precondition): a renewal
    /// when we hold it, a takeover when it was free or expired.
    Update {
        /// The new spec.
        record: LeaseRecord,
        /// The version it replaces.
        resource_version: String,
        /// Another holder's claim is taken over (counted in `leaseTransitions`).
        takeover: bool,
    },
    /// Another replica holds a claim that has not expired.
    Follow {
        /// Who leads.
        holder: String,
        /// How long until its claim expires, unless it renews.
        expires_in: Duration,
    },
}

/// The record that says `me` holds the Lease from `now_wall`.
fn held_by(me: &str, lease_duration: Duration, now_wall: DateTime<Utc>) -> LeaseRecord {
    LeaseRecord {
        holder: Some(me.to_string()),
        lease_duration_secs: Some(i32::try_from(lease_duration.as_secs()).unwrap_or(i32::MAX)),
        acquire_time: Some(now_wall),
        renew_time: Some(now_wall),
        transitions: 0,
    }
}

/// Decides from the Lease as read (`None`: it does not exist).
pub fn decide(
    observed: Option<&Observed>,
    me: &str,
    timings: &Timings,
    now: Instant,
    now_wall: DateTime<Utc>,
) -> Action {
    let Some(observed) = observed else {
        return Action::Create(held_by(me, timings.lease_duration, now_wall));
    };
    let old = &observed.record;
    let mut record = held_by(me, timings.lease_duration, now_wall);
    record.transitions = old.transitions;
    match old.holder() {
        Some(holder) if holder == me => {
            // A renewal keeps when we acquired it.
            record.acquire_time = old.acquire_time.or(Some(now_wall));
            Action::Update {
                record,
                resource_version: observed.resource_version.clone(),
                takeover: false,
            }
        }
        Some(holder) => {
            let claim = old
                .lease_duration_secs
                .filter(|s| *s > 0)
                .map_or(timings.lease_duration, |s| {
                    Duration::from_secs(s.unsigned_abs().into())
                });
            let expires = observed.seen_at + claim;
            if now < expires {
                return Action::Follow {
                    holder: holder.to_string(),
                    expires_in: expires - now,
                };
            }
            record.transitions = old.transitions.saturating_add(1);
            Action::Update {
                record,
                resource_version: observed.resource_version.clone(),
                takeover: true,
            }
        }
        None => {
            // Released (or never held): taking it is a transition as in client-go.
            record.transitions = old.transitions.saturating_add(1);
            Action::Update {
                record,
                resource_version: observed.resource_version.clone(),
                takeover: true,
            }
        }
    }
}

/// Until when a leader may act on a renewal it sent at `sent_at` and saw succeed: the renew
/// deadline counted from the moment the request left, which is before the write happened and
/// so before any other replica could have seen it. The others wait a whole lease duration from
/// when they saw it, which is longer: the leader stops first.
pub fn leading_until(sent_at: Instant, timings: &Timings) -> Instant {
    sent_at + timings.renew_deadline
}

/// The record that hands the Lease back at a clean shutdown (as client-go's
/// `ReleaseOnCancel`): no holder and a one-second claim, so a standby takes over at once.
pub fn released(old: &LeaseRecord, now_wall: DateTime<Utc>) -> LeaseRecord {
    LeaseRecord {
        holder: None,
        lease_duration_secs: Some(1),
        acquire_time: Some(now_wall),
        renew_time: Some(now_wall),
        transitions: old.transitions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wall(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn timings() -> Timings {
        Timings::default()
    }

    fn record(holder: &str, secs: i32, transitions: i32) -> LeaseRecord {
        LeaseRecord {
            holder: Some(holder.into()),
            lease_duration_secs: Some(secs),
            acquire_time: Some(wall("2026-01-01T00:00:00Z")),
            renew_time: Some(wall("2026-01-01T00:00:05Z")),
            transitions,
        }
    }

    #[test]
    fn no_lease_is_created_held_by_us() {
        let now = Instant::now();
        let at = wall("2026-01-01T00:00:00Z");
        let action = decide(None, "a", &timings(), now, at);
        assert_eq!(
            action,
            Action::Create(LeaseRecord {
                holder: Some("a".into()),
                lease_duration_secs: Some(15),
                acquire_time: Some(at),
                renew_time: Some(at),
                transitions: 0,
            })
        );
    }

    #[test]
    fn another_holder_is_followed_until_its_claim_expires_on_our_clock() {
        let t0 = Instant::now();
        // Its renewTime is far in the past by our wall clock: that does not matter, only how
        // long we have seen the record unchanged.
        let seen = observe(None, record("b", 15, 3), "7".into(), t0);
        let later = wall("2030-01-01T00:00:00Z");
        let action = decide(
            Some(&seen),
            "a",
            &timings(),
            t0 + Duration::from_secs(14),
            later,
        );
        assert_eq!(
            action,
            Action::Follow {
                holder: "b".into(),
                expires_in: Duration::from_secs(1)
            }
        );
        match decide(
            Some(&seen),
            "a",
            &timings(),
            t0 + Duration::from_secs(15),
            later,
        ) {
            Action::Update {
                record,
                resource_version,
                takeover,
            } => {
                assert!(takeover);
                assert_eq!(resource_version, "7");
                assert_eq!(record.holder.as_deref(), Some("a"));
                assert_eq!(record.transitions, 4);
                assert_eq!(record.acquire_time, Some(later));
            }
            other => panic!("expected a takeover, got {other:?}"),
        }
    }

    #[test]
    fn a_renewal_seen_restarts_the_claim_and_an_unchanged_record_does_not() {
        let t0 = Instant::now();
        let first = observe(None, record("b", 15, 0), "1".into(), t0);
        // Read again 10 s later, unchanged (the holder stopped renewing): still seen at t0.
        let same = observe(
            Some(&first),
            record("b", 15, 0),
            "1".into(),
            t0 + Duration::from_secs(10),
        );
        assert_eq!(same.seen_at, t0);
        // Renewed (new renewTime): the claim runs from now.
        let mut renewed = record("b", 15, 0);
        renewed.renew_time = Some(wall("2026-01-01T00:00:07Z"));
        let t1 = t0 + Duration::from_secs(12);
        let next = observe(Some(&same), renewed, "2".into(), t1);
        assert_eq!(next.seen_at, t1);
        assert!(matches!(
            decide(
                Some(&next),
                "a",
                &timings(),
                t0 + Duration::from_secs(20),
                wall("2026-01-01T00:00:20Z")
            ),
            Action::Follow { .. }
        ));
    }

    #[test]
    fn the_holders_own_lease_duration_counts() {
        let t0 = Instant::now();
        let seen = observe(None, record("b", 40, 0), "1".into(), t0);
        assert!(matches!(
            decide(
                Some(&seen),
                "a",
                &timings(),
                t0 + Duration::from_secs(30),
                wall("2026-01-01T00:00:30Z")
            ),
            Action::Follow { .. }
        ));
    }

    #[test]
    fn our_own_lease_is_renewed_keeping_acquire_time_and_transitions() {
        let t0 = Instant::now();
        let seen = observe(None, record("a", 15, 2), "9".into(), t0);
        let now = wall("2026-01-01T00:01:00Z");
        // Even long after: we hold it, so we renew (nobody else took it, or the write conflicts).
        let action = decide(
            Some(&seen),
            "a",
            &timings(),
            t0 + Duration::from_secs(60),
            now,
        );
        assert_eq!(
            action,
            Action::Update {
                record: LeaseRecord {
                    holder: Some("a".into()),
                    lease_duration_secs: Some(15),
                    acquire_time: Some(wall("2026-01-01T00:00:00Z")),
                    renew_time: Some(now),
                    transitions: 2,
                },
                resource_version: "9".into(),
                takeover: false,
            }
        );
    }

    #[test]
    fn a_released_lease_is_taken_at_once() {
        let t0 = Instant::now();
        let gone = released(&record("b", 15, 5), wall("2026-01-01T00:00:09Z"));
        let seen = observe(None, gone, "3".into(), t0);
        match decide(
            Some(&seen),
            "a",
            &timings(),
            t0,
            wall("2026-01-01T00:00:10Z"),
        ) {
            Action::Update {
                record, takeover, ..
            } => {
                assert!(takeover);
                assert_eq!(record.transitions, 6);
            }
            other => panic!("expected a takeover, got {other:?}"),
        }
    }

    #[test]
    fn a_leader_stops_before_the_others_may_take_over() {
        let t = timings();
        let sent = Instant::now();
        // The others saw the write no earlier than it was sent.
        let others_may_take_over = sent + t.lease_duration;
        assert!(leading_until(sent, &t) < others_may_take_over);
    }

    #[test]
    fn timings_must_be_ordered() {
        assert_eq!(timings().check(), Ok(()));
        let bad = Timings {
            renew_deadline: Duration::from_secs(15),
            ..timings()
        };
        assert!(matches!(
            bad.check(),
            Err(TimingsError::DeadlineNotBeforeExpiry { .. })
        ));
        let bad = Timings {
            retry_period: Duration::from_secs(10),
            ..timings()
        };
        assert!(matches!(
            bad.check(),
            Err(TimingsError::RetryNotBeforeDeadline { .. })
        ));
        let bad = Timings {
            lease_duration: Duration::from_millis(1500),
            ..timings()
        };
        assert!(matches!(
            bad.check(),
            Err(TimingsError::LeaseNotWholeSeconds(_))
        ));
    }
}
