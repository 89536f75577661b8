//! The scheduler's state: one timer per job, ordered by when it runs. No I/O and no clock: the
//! control loop passes `now`, sleeps until [`Scheduler::next_wake`] and calls [`Scheduler::due`].

use super::timing::{Decision, Recall, Slot, Timing};
use crate::schedule::Phase;
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap};

#[derive(Clone, Debug)]
struct Entry {
    timing: Timing,
    /// Every slot with a nominal instant at or before this was fired, recorded or deliberately
    /// passed over; the next fire is strictly after it.
    handled: DateTime<Utc>,
    next: Option<Slot>,
}

/// Timers of every scheduled job.
#[derive(Debug, Default)]
pub struct Scheduler {
    entries: HashMap<String, Entry>,
    timers: BTreeSet<(DateTime<Utc>, String)>,
}

impl Scheduler {
    /// Starts scheduling `name`. `recall` holds the latest slot recorded for it (after a
    /// restart), so slots that passed meanwhile are decided (catch-up or missed) at the first
    /// wake; without it, only slots that start after `now` fire (see [`Timing::start_from`]).
    pub fn add(
        &mut self,
        name: &str,
        timing: Timing,
        suspended: bool,
        recall: Recall,
        now: DateTime<Utc>,
    ) {
        let handled = timing.start_from(recall, now);
        self.set(name, timing, suspended, handled);
    }

    /// Replaces the timing of `name` after an edit: keeps what was handled, never fires a slot
    /// that is already past. A one-shot whose instant changed is a new one-shot: its instant
    /// is decided as when it is added.
    pub fn update(&mut self, name: &str, timing: Timing, suspended: bool, now: DateTime<Utc>) {
        let previous = self.entries.get(name);
        let fresh = now - timing.offset;
        let same_once = previous.and_then(|e| e.timing.timeline.once()) == timing.timeline.once();
        let handled = match previous {
            Some(e) if same_once => e.handled.max(fresh),
            _ if timing.timeline.once().is_some() => timing.start_from(Recall::Records(None), now),
            Some(e) => e.handled.max(fresh),
            None => fresh,
        };
        self.set(name, timing, suspended, handled);
    }

    /// Where `name` stands at `now` (done, expired, ...).
    pub fn phase_of(&self, name: &str, now: DateTime<Utc>) -> Option<Phase> {
        (self.entries.get(name)).map(|e| e.timing.timeline.phase(e.handled, now))
    }

    fn set(&mut self, name: &str, timing: Timing, suspended: bool, handled: DateTime<Utc>) {
        self.disarm(name);
        let next = if suspended {
            None
        } else {
            timing.next_slot(handled)
        };
        if let Some(slot) = next {
            self.timers.insert((slot.at, name.to_string()));
        }
        self.entries.insert(
            name.to_string(),
            Entry {
                timing,
                handled,
                next,
            },
        );
    }

    /// Stops scheduling `name`.
    pub fn remove(&mut self, name: &str) {
        self.disarm(name);
        self.entries.remove(name);
    }

    fn disarm(&mut self, name: &str) {
        if let Some(slot) = self.entries.get(name).and_then(|e| e.next) {
            self.timers.remove(&(slot.at, name.to_string()));
        }
    }

    /// When the earliest timer runs.
    pub fn next_wake(&self) -> Option<DateTime<Utc>> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// The next slot of `name`.
    pub fn next_of(&self, name: &str) -> Option<Slot> {
        self.entries.get(name).and_then(|e| e.next)
    }

    /// The timing of `name` and the instant up to which its slots were handled (fired,
    /// recorded or passed over): what a new leader's catch-up starts from.
    pub fn handled_of(&self, name: &str) -> Option<(Timing, DateTime<Utc>)> {
        (self.entries.get(name)).map(|e| (e.timing.clone(), e.handled))
    }

    /// Pops every timer due at `now` and decides each (run, catch-up, missed), re-arming the job
    /// for its next slot. Results are in timer order.
    pub fn due(&mut self, now: DateTime<Utc>) -> Vec<(String, Decision)> {
        let mut out = Vec::new();
        let mut decided: HashMap<_, Decision> = HashMap::new();
        while let Some((at, name)) = self.timers.first().cloned() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            let Some(entry) = self.entries.get_mut(&name) else {
                continue;
            };
            // Jobs that share a schedule (a burst of them is the usual case: `0 2 * * *` on a
            // fleet) and were last handled at the same slot get the same decision: decided once.
            let key = (
                entry.timing.timeline.key(),
                entry.timing.offset,
                entry.timing.starting_deadline,
                entry.handled,
            );
            let decision = match decided.get(&key) {
                Some(d) => Decision::clone(d),
                None => {
                    let d = entry.timing.decide(entry.handled, now);
                    decided.insert(key, d.clone());
                    d
                }
            };
            if let Some((slot, _)) = decision.run {
                entry.handled = slot.nominal;
            }
            if let Some(missed) = &decision.missed {
                entry.handled = entry.handled.max(missed.last);
            }
            // When something was decided, `decision.next` is already the slot after `handled`.
            entry.next = if decision.run.is_some() || decision.missed.is_some() {
                decision.next
            } else {
                entry.timing.next_slot(entry.handled)
            };
            if let Some(slot) = entry.next {
                self.timers.insert((slot.at, name.clone()));
            }
            if decision.run.is_some() || decision.missed.is_some() {
                out.push((name, decision));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::{Schedule, Timeline};
    use crate::state::records::Trigger;
    use chrono::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn timing(expr: &str, offset: i64) -> Timing {
        Timing {
            timeline: Timeline::cron(Schedule::parse(expr, "UTC").expect("schedule")),
            offset: Duration::seconds(offset),
            starting_deadline: Duration::hours(1),
        }
    }

    #[test]
    fn jobs_sharing_a_schedule_are_decided_by_their_own_last_fire() {
        let mut s = Scheduler::default();
        let now = t("2025-01-01T00:00:30Z");
        // Same schedule; b last fired three minutes ago (a restart), a and c never.
        s.add("a", timing("* * * * *", 0), false, Recall::Unknown, now);
        s.add(
            "b",
            timing("* * * * *", 0),
            false,
            Recall::Records(Some(t("2024-12-31T23:57:00Z"))),
            now,
        );
        s.add("c", timing("* * * * *", 0), false, Recall::Unknown, now);
        let mut fired = s.due(t("2025-01-01T00:01:00Z"));
        fired.sort_by(|x, y| x.0.cmp(&y.0));
        let summary: Vec<(&str, Option<Trigger>, Option<u64>)> = fired
            .iter()
            .map(|(n, d)| {
                (
                    n.as_str(),
                    d.run.map(|(_, trigger)| trigger),
                    d.missed.as_ref().map(|m| m.count),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("a", Some(Trigger::Schedule), None),
                ("b", Some(Trigger::CatchUp), Some(3)),
                ("c", Some(Trigger::Schedule), None),
            ]
        );
        assert_eq!(s.next_of("a"), s.next_of("b"));
    }

    #[test]
    fn fires_each_job_at_its_slot_in_order() {
        let mut s = Scheduler::default();
        let now = t("2025-01-01T00:00:30Z");
        s.add("a", timing("*/5 * * * *", 0), false, Recall::Unknown, now);
        s.add("b", timing("*/2 * * * *", 10), false, Recall::Unknown, now);
        assert_eq!(s.next_wake(), Some(t("2025-01-01T00:02:10Z")));
        assert!(s.due(t("2025-01-01T00:02:00Z")).is_empty());
        let fired = s.due(t("2025-01-01T00:05:00Z"));
        let names: Vec<(&str, DateTime<Utc>)> = fired
            .iter()
            .map(|(n, d)| {
                (
                    n.as_str(),
                    d.run.map(|(slot, _)| slot.nominal).expect("run"),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("b", t("2025-01-01T00:04:00Z")),
                ("a", t("2025-01-01T00:05:00Z"))
            ]
        );
        assert_eq!(
            s.next_of("b").map(|x| x.nominal),
            Some(t("2025-01-01T00:06:00Z"))
        );
    }

    #[test]
    fn a_restart_catches_up_once_from_the_recorded_last_fire() {
        let mut s = Scheduler::default();
        let now = t("2025-01-01T05:10:00Z");
        s.add(
            "a",
            timing("0 * * * *", 0),
            false,
            Recall::Records(Some(t("2025-01-01T00:00:00Z"))),
            now,
        );
        let fired = s.due(now);
        assert_eq!(fired.len(), 1);
        let d = &fired[0].1;
        assert_eq!(
            d.run.map(|(slot, trig)| (slot.nominal, trig)),
            Some((t("2025-01-01T05:00:00Z"), Trigger::CatchUp))
        );
        assert_eq!(d.missed.as_ref().map(|m| m.count), Some(4));
        assert!(s.due(now).is_empty(), "no double fire");
        assert_eq!(s.next_wake(), Some(t("2025-01-01T06:00:00Z")));
    }

    #[test]
    fn a_clock_going_back_never_fires_a_slot_twice() {
        let mut s = Scheduler::default();
        s.add(
            "a",
            timing("0 * * * *", 0),
            false,
            Recall::Unknown,
            t("2025-01-01T00:30:00Z"),
        );
        assert_eq!(s.due(t("2025-01-01T01:00:00Z")).len(), 1);
        // The clock is set back an hour: 01:00 comes again, but it was handled.
        assert!(s.due(t("2025-01-01T01:00:00Z")).is_empty());
        assert_eq!(s.next_wake(), Some(t("2025-01-01T02:00:00Z")));
    }

    #[test]
    fn suspend_disarms_and_unsuspend_skips_past_slots() {
        let mut s = Scheduler::default();
        s.add(
            "a",
            timing("0 * * * *", 0),
            false,
            Recall::Unknown,
            t("2025-01-01T00:30:00Z"),
        );
        s.update("a", timing("0 * * * *", 0), true, t("2025-01-01T00:40:00Z"));
        assert_eq!(s.next_wake(), None);
        s.update(
            "a",
            timing("0 * * * *", 0),
            false,
            t("2025-01-01T03:30:00Z"),
        );
        assert_eq!(s.next_wake(), Some(t("2025-01-01T04:00:00Z")));
        assert!(s.due(t("2025-01-01T03:30:00Z")).is_empty());
    }

    fn once(at: &str) -> Timing {
        use crate::schedule::{Rule, Window};
        Timing {
            timeline: Timeline::new(Rule::Once(t(at)), Window::default(), chrono_tz::UTC),
            offset: Duration::zero(),
            starting_deadline: Duration::hours(1),
        }
    }

    #[test]
    fn a_one_shot_is_done_once_fired_and_a_moved_instant_is_a_new_one() {
        let mut s = Scheduler::default();
        let now = t("2025-01-01T00:00:00Z");
        s.add(
            "o",
            once("2025-01-01T01:00:00Z"),
            false,
            Recall::Records(None),
            now,
        );
        assert_eq!(s.phase_of("o", now), Some(Phase::Scheduled));
        let fired = s.due(t("2025-01-01T01:00:00Z"));
        assert_eq!(fired.len(), 1);
        let later = t("2025-01-01T01:05:00Z");
        assert_eq!(s.phase_of("o", later), Some(Phase::Done));
        assert_eq!(s.next_wake(), None);
        // Another field changed: still done.
        s.update("o", once("2025-01-01T01:00:00Z"), false, later);
        assert!(s.due(later).is_empty());
        assert_eq!(s.phase_of("o", later), Some(Phase::Done));
        // Moved to an instant that passed 3 minutes ago: decided now, as a catch-up.
        s.update("o", once("2025-01-01T01:02:00Z"), false, later);
        let fired = s.due(later);
        assert_eq!(
            fired[0].1.run.map(|(slot, trig)| (slot.nominal, trig)),
            Some((t("2025-01-01T01:02:00Z"), Trigger::CatchUp))
        );
        assert_eq!(s.phase_of("o", later), Some(Phase::Done));
    }

    #[test]
    fn removed_jobs_stop_firing() {
        let mut s = Scheduler::default();
        s.add(
            "a",
            timing("* * * * *", 0),
            false,
            Recall::Unknown,
            t("2025-01-01T00:00:30Z"),
        );
        s.remove("a");
        assert_eq!(s.next_wake(), None);
        assert!(s.due(t("2025-01-02T00:00:00Z")).is_empty());
    }
}
