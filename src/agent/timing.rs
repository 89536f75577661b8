//! When a job fires: the next slot, and what to do about slots that passed (catch-up, missed).
//! Pure functions of (schedule, jitter, deadline, last fire, now).

use crate::schedule::Timeline;
use crate::state::records::{MissedRecord, Trigger};
use chrono::{DateTime, Duration, Utc};

/// A slot is on time, not a catch-up, when the agent reaches it within this long.
pub const ON_TIME_TOLERANCE: Duration = Duration::seconds(60);

/// One fire of a job: the schedule's slot and when it runs (slot + jitter).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    /// The schedule's instant.
    pub nominal: DateTime<Utc>,
    /// When the run starts: nominal + the job's stable jitter.
    pub at: DateTime<Utc>,
}

/// What the schedule of one job needs, with its jitter already computed.
#[derive(Clone, Debug)]
pub struct Timing {
    /// What fires the job: its schedule or one-shot instant, within its active window.
    pub timeline: Timeline,
    /// Stable jitter offset of this job on this host.
    pub offset: Duration,
    /// Catch-up window.
    pub starting_deadline: Duration,
}

/// What passed slots call for.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// A run to start now, and why.
    pub run: Option<(Slot, Trigger)>,
    /// Slots that will not run.
    pub missed: Option<MissedRecord>,
    /// The next slot after everything decided here.
    pub next: Option<Slot>,
}

/// What the agent knows of a job's past fires when it puts the job on its timetable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recall {
    /// Nothing: the job is new to this agent, or (cluster mode) the claims hold its history.
    Unknown,
    /// Its records were read: the latest slot they name, if any.
    Records(Option<DateTime<Utc>>),
}

impl Timing {
    /// Up to where the job's slots count as handled when it is put on the timetable at `now`.
    /// A cron job decides the slots after its latest recorded one (catch-up or missed), and
    /// without records fires only slots from now on. A one-shot is done when its instant is
    /// recorded; otherwise that instant is still to decide, even when it passed (run within
    /// `startingDeadline`, else recorded missed): the user asked for that one instant. In
    /// cluster mode (`Unknown`) a passed instant is decided from the claims instead (see
    /// [`Timing::after_failover`]).
    pub fn start_from(&self, recall: Recall, now: DateTime<Utc>) -> DateTime<Utc> {
        let fresh = now - self.offset;
        match (self.timeline.once(), recall) {
            (Some(at), Recall::Records(last)) if last == Some(at) => at,
            (Some(at), Recall::Records(_)) => at - Duration::seconds(1),
            (None, Recall::Records(Some(last))) => last,
            (_, Recall::Records(None) | Recall::Unknown) => fresh,
        }
    }

    /// The first slot whose nominal instant is strictly after `after`.
    pub fn next_slot(&self, after: DateTime<Utc>) -> Option<Slot> {
        self.timeline.next_after(after).map(|fire| Slot {
            nominal: fire.at,
            at: fire.at + self.offset,
        })
    }

    /// Decides what to do at `now` about every slot after `last` (the latest slot already fired
    /// or recorded): at most one run (on time, or a catch-up within the deadline), the rest missed.
    pub fn decide(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
        // The common case, a timer reached on time with one slot passed, costs two lookups of
        // the next fire instead of counting the window; same result as the general path below.
        if let Some(first) = self.next_slot(last)
            && first.nominal <= now - self.offset
            && now - first.at <= ON_TIME_TOLERANCE
        {
            let next = self.next_slot(first.nominal);
            if next.is_none_or(|n| n.nominal > now - self.offset) {
                return Decision {
                    run: Some((first, Trigger::Schedule)),
                    missed: None,
                    next,
                };
            }
        }
        self.decide_counting(last, now)
    }

    /// [`Timing::decide`] by counting every slot in the window (catch-up after downtime).
    fn decide_counting(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> Decision {
        let passed = self.timeline.missed_between(last, now - self.offset);
        let Some(latest) = passed.latest else {
            return Decision {
                run: None,
                missed: None,
                next: self.next_slot(last.max(now - self.offset)),
            };
        };
        let slot = Slot {
            nominal: latest.at,
            at: latest.at + self.offset,
        };
        let lateness = now - slot.at;
        let next = self.next_slot(slot.nominal);
        let first = self
            .timeline
            .next_after(last)
            .map_or(slot.nominal, |f| f.at);
        let missed = |count: u64, last_missed: DateTime<Utc>| {
            (count > 0).then_some(MissedRecord {
                count,
                first,
                last: last_missed,
                capped: passed.count_is_capped,
            })
        };
        if passed.count == 1 && lateness <= ON_TIME_TOLERANCE {
            Decision {
                run: Some((slot, Trigger::Schedule)),
                missed: None,
                next,
            }
        } else if lateness <= self.starting_deadline {
            // Every slot but the latest is missed; the latest runs late, once.
            // Bounded like the count: no walk over every passed slot.
            let before_latest = self
                .timeline
                .missed_between(last, slot.nominal - Duration::seconds(1))
                .latest
                .map_or(slot.nominal, |f| f.at);
            Decision {
                run: Some((slot, Trigger::CatchUp)),
                missed: missed(passed.count - 1, before_latest),
                next,
            }
        } else {
            Decision {
                run: None,
                missed: missed(passed.count, slot.nominal),
                next,
            }
        }
    }
}

/// Why a run started by `trigger` at `now` does not run: alert- and `after`-started runs
/// outside the job's activeWindow are skipped. Scheduled fires never fall outside it (the
/// timeline has none there); manual runs, an operator's explicit request, and retries of a
/// run that started inside it are not limited.
pub fn outside_window(timeline: &Timeline, trigger: Trigger, now: DateTime<Utc>) -> Option<String> {
    use crate::schedule::WindowPosition;
    if !matches!(trigger, Trigger::Alert | Trigger::After) {
        return None;
    }
    let window = timeline.window();
    let show = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
    match window.position(now) {
        WindowPosition::Inside => None,
        WindowPosition::Before => Some(format!(
            "outside the job's activeWindow: it opens at {}",
            show(window.from).unwrap_or_default()
        )),
        WindowPosition::After => Some(format!(
            "outside the job's activeWindow: it ended at {}",
            show(window.until).unwrap_or_default()
        )),
    }
}

/// What a replica that starts leading does about the slots it passed while it stood by.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailoverCatchUp {
    /// The slot to run now, as a catch-up.
    pub run: Option<Slot>,
    /// The slots no replica ran and none will.
    pub missed: Option<MissedRecord>,
}

impl FailoverCatchUp {
    /// Nothing to run or record.
    pub fn is_empty(&self) -> bool {
        self.run.is_none() && self.missed.is_none()
    }
}

impl Timing {
    /// Decides, for a replica that starts leading at `now`, the slots after `claimed` (the
    /// latest slot the cluster claimed for the job, from its claim Lease) up to `passed` (the
    /// latest instant its own timer passed over as a standby; later slots fire as usual): the
    /// host agent's catch-up policy, with the claim in place of the local last fire. At most
    /// one run, the latest slot, if within `startingDeadline`; the rest missed. A slot at or
    /// before `claimed` ran (or runs) elsewhere and is never decided again; with no claim at
    /// all the job never ran in the cluster and nothing is caught up (as a job added to a host
    /// agent never fires a past slot).
    pub fn after_failover(
        &self,
        claimed: Option<DateTime<Utc>>,
        passed: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> FailoverCatchUp {
        // A one-shot never claimed in the cluster has its one slot still to decide, like a
        // one-shot a host agent has no record of.
        let once_unclaimed = self.timeline.once().map(|at| at - Duration::seconds(1));
        let Some(claimed) = claimed.or(once_unclaimed) else {
            return FailoverCatchUp::default();
        };
        // Only slots whose run time has come (clock steps aside).
        let until = passed.min(now - self.offset);
        let window = self.timeline.missed_between(claimed, until);
        let Some(latest) = window.latest else {
            return FailoverCatchUp::default();
        };
        let slot = Slot {
            nominal: latest.at,
            at: latest.at + self.offset,
        };
        let first = (self.timeline.next_after(claimed)).map_or(slot.nominal, |f| f.at);
        let missed = |count: u64, last: DateTime<Utc>| {
            (count > 0).then_some(MissedRecord {
                count,
                first,
                last,
                capped: window.count_is_capped,
            })
        };
        if now - slot.at <= self.starting_deadline {
            let before_latest = self
                .timeline
                .missed_between(claimed, slot.nominal - Duration::seconds(1))
                .latest
                .map_or(slot.nominal, |f| f.at);
            FailoverCatchUp {
                run: Some(slot),
                missed: missed(window.count - 1, before_latest),
            }
        } else {
            FailoverCatchUp {
                run: None,
                missed: missed(window.count, slot.nominal),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn timing(expr: &str, offset_s: i64, deadline_s: i64) -> Timing {
        Timing {
            timeline: Timeline::cron(Schedule::parse(expr, "UTC").expect("schedule")),
            offset: Duration::seconds(offset_s),
            starting_deadline: Duration::seconds(deadline_s),
        }
    }

    fn once(at: &str, deadline_s: i64) -> Timing {
        use crate::schedule::{Rule, Window};
        Timing {
            timeline: Timeline::new(Rule::Once(t(at)), Window::default(), chrono_tz::UTC),
            offset: Duration::zero(),
            starting_deadline: Duration::seconds(deadline_s),
        }
    }

    #[test]
    fn a_one_shot_runs_once_on_time() {
        let tm = once("2026-12-24T02:00:00Z", 3600);
        let now = t("2026-12-20T00:00:00Z");
        let handled = tm.start_from(Recall::Records(None), now);
        assert_eq!(
            tm.next_slot(handled).map(|s| s.at),
            Some(t("2026-12-24T02:00:00Z"))
        );
        let d = tm.decide(handled, t("2026-12-24T02:00:00.010Z"));
        assert_eq!(
            d.run.map(|(s, trig)| (s.nominal, trig)),
            Some((t("2026-12-24T02:00:00Z"), Trigger::Schedule))
        );
        assert_eq!((d.missed, d.next), (None, None));
        // Recorded: done, whatever the time.
        let done = tm.start_from(Recall::Records(Some(t("2026-12-24T02:00:00Z"))), now);
        assert_eq!(tm.next_slot(done), None);
        let later = t("2026-12-30T00:00:00Z");
        let done = tm.start_from(Recall::Records(Some(t("2026-12-24T02:00:00Z"))), later);
        assert_eq!(
            tm.decide(done, later),
            Decision {
                run: None,
                missed: None,
                next: None
            }
        );
    }

    #[test]
    fn a_passed_one_shot_catches_up_within_the_deadline_else_is_missed() {
        let tm = once("2026-12-24T02:00:00Z", 3600);
        let now = t("2026-12-24T02:30:00Z");
        // No record of it (an older instant's record does not count).
        let handled = tm.start_from(Recall::Records(Some(t("2026-12-01T00:00:00Z"))), now);
        let d = tm.decide(handled, now);
        assert_eq!(
            d.run.map(|(s, trig)| (s.nominal, trig)),
            Some((t("2026-12-24T02:00:00Z"), Trigger::CatchUp))
        );
        assert_eq!(d.missed, None);
        let now = t("2026-12-24T03:00:01Z");
        let d = tm.decide(tm.start_from(Recall::Records(None), now), now);
        assert_eq!(d.run, None);
        let missed = d.missed.expect("one missed fire");
        assert_eq!((missed.count, missed.last), (1, t("2026-12-24T02:00:00Z")));
        assert_eq!(d.next, None);
        // Cluster mode leaves a passed instant to the claims.
        let handled = tm.start_from(Recall::Unknown, now);
        assert_eq!(tm.decide(handled, now).run, None);
        let c = tm.after_failover(None, handled, now + Duration::seconds(1));
        assert_eq!(c.missed.map(|m| m.count), Some(1));
        let c = tm.after_failover(Some(t("2026-12-24T02:00:00Z")), handled, now);
        assert!(c.is_empty(), "claimed: it ran");
    }

    #[test]
    fn only_alert_and_after_runs_are_held_to_the_window() {
        use crate::schedule::{Rule, Window};
        let window = Window {
            from: Some(t("2026-12-24T00:00:00Z")),
            until: Some(t("2026-12-27T00:00:00Z")),
        };
        let tl = Timeline::new(Rule::Never, window, chrono_tz::UTC);
        let before = t("2026-12-23T00:00:00Z");
        let reason = outside_window(&tl, Trigger::Alert, before).expect("skipped");
        assert!(reason.contains("opens at 2026-12-24T00:00:00Z"), "{reason}");
        let after = t("2026-12-27T00:00:00Z");
        let reason = outside_window(&tl, Trigger::After, after).expect("skipped");
        assert!(reason.contains("ended at 2026-12-27T00:00:00Z"), "{reason}");
        assert_eq!(outside_window(&tl, Trigger::Manual, after), None);
        assert_eq!(outside_window(&tl, Trigger::Retry, after), None);
        assert_eq!(
            outside_window(&tl, Trigger::Alert, t("2026-12-25T00:00:00Z")),
            None
        );
    }

    #[test]
    fn a_slot_reached_on_time_runs_as_scheduled() {
        let d = timing("0 2 * * *", 0, 3600)
            .decide(t("2025-01-01T02:00:00Z"), t("2025-01-02T02:00:00.004Z"));
        assert_eq!(
            d.run.map(|(s, trig)| (s.nominal, trig)),
            Some((t("2025-01-02T02:00:00Z"), Trigger::Schedule))
        );
        assert_eq!(d.missed, None);
        assert_eq!(d.next.map(|s| s.nominal), Some(t("2025-01-03T02:00:00Z")));
    }

    #[test]
    fn after_downtime_the_latest_slot_catches_up_and_the_rest_are_missed() {
        // Hourly job, agent down from 00:30 to 05:10: 01..05 passed; 05:00 is 10 minutes late.
        let d = timing("0 * * * *", 0, 3600)
            .decide(t("2025-01-01T00:00:00Z"), t("2025-01-01T05:10:00Z"));
        let (slot, trigger) = d.run.expect("a catch-up run");
        assert_eq!(
            (slot.nominal, trigger),
            (t("2025-01-01T05:00:00Z"), Trigger::CatchUp)
        );
        let missed = d.missed.expect("missed");
        assert_eq!(
            (missed.count, missed.first, missed.last),
            (4, t("2025-01-01T01:00:00Z"), t("2025-01-01T04:00:00Z"))
        );
    }

    #[test]
    fn beyond_the_deadline_nothing_runs() {
        let d = timing("0 2 * * *", 0, 1800)
            .decide(t("2025-01-01T02:00:00Z"), t("2025-01-02T03:00:00Z"));
        assert_eq!(d.run, None);
        assert_eq!(d.missed.map(|m| m.count), Some(1));
        assert_eq!(d.next.map(|s| s.nominal), Some(t("2025-01-03T02:00:00Z")));
    }

    #[test]
    fn a_per_minute_job_after_a_month_costs_one_decision() {
        let d =
            timing("* * * * *", 0, 60).decide(t("2025-01-01T00:00:00Z"), t("2025-01-31T00:00:30Z"));
        let missed = d.missed.expect("missed");
        assert_eq!(missed.count, 30 * 24 * 60 - 1);
        assert!(d.run.is_some());
    }

    #[test]
    fn the_on_time_fast_path_agrees_with_counting_the_window() {
        let exprs = [
            "* * * * *",
            "*/5 * * * *",
            "0 2 * * *",
            "30 1 * * 0",
            "0 0 1 * *",
        ];
        let zones = ["UTC", "Europe/Berlin", "America/New_York"];
        let start = t("2025-03-01T00:00:00Z");
        for expr in exprs {
            for zone in zones {
                for offset in [0, 7, 300] {
                    let tm = Timing {
                        timeline: Timeline::cron(Schedule::parse(expr, zone).expect("schedule")),
                        offset: Duration::seconds(offset),
                        starting_deadline: Duration::seconds(3600),
                    };
                    // Walk through DST changes (March and November) with varied delays.
                    let mut last = start;
                    for step in 0..400i64 {
                        let delay = Duration::seconds((step * 37) % 400);
                        let Some(slot) = tm.next_slot(last) else {
                            break;
                        };
                        let now = slot.at + delay;
                        assert_eq!(
                            tm.decide(last, now),
                            tm.decide_counting(last, now),
                            "{expr} {zone} +{offset}s last {last} now {now}"
                        );
                        last = slot.nominal + Duration::days(step % 3);
                    }
                }
            }
        }
    }

    #[test]
    fn jitter_delays_the_run_but_not_the_slot() {
        let tm = timing("0 2 * * *", 300, 3600);
        let now = t("2025-01-01T02:01:00Z");
        let slot = tm.next_slot(now - tm.offset).expect("slot");
        // 02:00 + 5 min jitter is still ahead at 02:01, so today's slot is next.
        assert_eq!(
            (slot.nominal, slot.at),
            (t("2025-01-01T02:00:00Z"), t("2025-01-01T02:05:00Z"))
        );
        let d = tm.decide(t("2024-12-31T02:00:00Z"), t("2025-01-01T02:05:00Z"));
        assert_eq!(
            d.run.map(|(s, trig)| (s.at, trig)),
            Some((t("2025-01-01T02:05:00Z"), Trigger::Schedule))
        );
    }

    #[test]
    fn a_new_leader_catches_up_the_latest_slot_after_the_claimed_one() {
        // Per minute; the old leader claimed 10:00 and died; this replica passed 10:01 and
        // 10:02 as a standby and leads at 10:02:20.
        let tm = timing("* * * * *", 0, 60);
        let c = tm.after_failover(
            Some(t("2025-01-01T10:00:00Z")),
            t("2025-01-01T10:02:00Z"),
            t("2025-01-01T10:02:20Z"),
        );
        assert_eq!(c.run.map(|s| s.nominal), Some(t("2025-01-01T10:02:00Z")));
        let missed = c.missed.expect("10:01 is missed");
        assert_eq!(
            (missed.count, missed.first, missed.last),
            (1, t("2025-01-01T10:01:00Z"), t("2025-01-01T10:01:00Z"))
        );
    }

    #[test]
    fn a_slot_the_old_leader_claimed_is_never_caught_up() {
        let tm = timing("* * * * *", 0, 3600);
        // It claimed the very slot this replica passed last: nothing is left.
        let c = tm.after_failover(
            Some(t("2025-01-01T10:02:00Z")),
            t("2025-01-01T10:02:00Z"),
            t("2025-01-01T10:02:05Z"),
        );
        assert!(c.is_empty(), "{c:?}");
        // Nor when its claims are ahead of this replica's clock.
        let c = tm.after_failover(
            Some(t("2025-01-01T10:03:00Z")),
            t("2025-01-01T10:02:00Z"),
            t("2025-01-01T10:02:05Z"),
        );
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn beyond_the_deadline_the_passed_slots_are_only_missed() {
        let tm = timing("0 * * * *", 0, 600);
        let c = tm.after_failover(
            Some(t("2025-01-01T07:00:00Z")),
            t("2025-01-01T09:30:00Z"),
            t("2025-01-01T09:30:00Z"),
        );
        assert_eq!(c.run, None);
        let missed = c.missed.expect("missed");
        assert_eq!(
            (missed.count, missed.first, missed.last),
            (2, t("2025-01-01T08:00:00Z"), t("2025-01-01T09:00:00Z"))
        );
    }

    #[test]
    fn a_job_never_claimed_and_slots_not_yet_passed_are_left_alone() {
        let tm = timing("* * * * *", 0, 3600);
        let c = tm.after_failover(None, t("2025-01-01T10:02:00Z"), t("2025-01-01T10:02:05Z"));
        assert!(c.is_empty());
        // 10:03 is after what the standby passed: its own timer fires it, not the catch-up.
        let c = tm.after_failover(
            Some(t("2025-01-01T10:02:00Z")),
            t("2025-01-01T10:02:30Z"),
            t("2025-01-01T10:03:10Z"),
        );
        assert!(c.is_empty(), "{c:?}");
    }

    #[test]
    fn a_caught_up_slot_keeps_its_jitter() {
        let tm = timing("0 2 * * *", 300, 3600);
        let c = tm.after_failover(
            Some(t("2025-01-01T02:00:00Z")),
            t("2025-01-02T02:00:00Z"),
            t("2025-01-02T02:20:00Z"),
        );
        let slot = c.run.expect("a catch-up");
        assert_eq!(
            (slot.nominal, slot.at),
            (t("2025-01-02T02:00:00Z"), t("2025-01-02T02:05:00Z"))
        );
        assert_eq!(c.missed, None);
    }
}
