//! What fires a job by the clock: a cron schedule, one instant (`spec.at`), or nothing (a job
//! started only by triggers or other jobs), limited to an optional active window
//! (`spec.activeWindow`). Pure: every answer is a function of its time arguments.
//!
//! The window limits which fires exist at all: a cron fire outside it is not due, so it is
//! neither run nor counted as missed. A one-shot fires once, at its instant; jitter never
//! applies to it (the user named the instant, and one run spreads no fleet load worth moving).

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use chrono_tz::Tz;
use std::time::Duration;

use super::{Fire, MissedFires, Schedule, ScheduleError, missed_between};

/// The clock rule of a job.
#[derive(Debug, Clone)]
pub enum Rule {
    /// `spec.schedule`.
    Cron(Schedule),
    /// `spec.at`: one fire at this instant.
    Once(DateTime<Utc>),
    /// No clock fires: only triggers, `after` and manual runs start the job.
    Never,
}

/// `spec.activeWindow`: fires happen at `from` or later and before `until`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// First instant of the window (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// End of the window (exclusive).
    pub until: Option<DateTime<Utc>>,
}

/// Where an instant lies relative to a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPosition {
    /// Before `from`.
    Before,
    /// Inside.
    Inside,
    /// At or after `until`.
    After,
}

impl Window {
    /// Where `t` lies.
    pub fn position(&self, t: DateTime<Utc>) -> WindowPosition {
        if self.from.is_some_and(|f| t < f) {
            WindowPosition::Before
        } else if self.until.is_some_and(|u| t >= u) {
            WindowPosition::After
        } else {
            WindowPosition::Inside
        }
    }

    /// Whether `t` is inside.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.position(t) == WindowPosition::Inside
    }

    /// Whether neither bound is set.
    pub fn is_unbounded(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }
}

/// Where a job stands in its lifetime, for `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    /// It has clock fires ahead (or before its window opens).
    #[default]
    Scheduled,
    /// No clock fires: only triggers, `after` and manual runs start it.
    TriggerOnly,
    /// A one-shot whose instant was handled (run, or recorded missed).
    Done,
    /// Its active window has ended.
    Expired,
}

/// A job's clock rule, window and zone.
#[derive(Debug, Clone)]
pub struct Timeline {
    rule: Rule,
    window: Window,
    tz: Tz,
}

/// A bad `at` or `activeWindow` instant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InstantError {
    /// A date and time without an offset.
    #[error(
        "\"{text}\" has no UTC offset: a local time would depend on the host's zone; write an RFC 3339 instant with `Z` or an offset, e.g. \"2026-12-24T02:00:00Z\" or \"2026-12-24T02:00:00+01:00\""
    )]
    Naive {
        /// As written.
        text: String,
    },
    /// Not an RFC 3339 instant at all.
    #[error(
        "\"{text}\" is not an RFC 3339 instant; write e.g. \"2026-12-24T02:00:00Z\" or \"2026-12-24T02:00:00+01:00\""
    )]
    Invalid {
        /// As written.
        text: String,
    },
    /// Fractions of a second (runs are identified by the second).
    #[error(
        "\"{text}\" has fractions of a second; write whole seconds, e.g. \"2026-12-24T02:00:00Z\""
    )]
    Fraction {
        /// As written.
        text: String,
    },
}

/// Parses an RFC 3339 instant with an offset (`Z` or `±hh:mm`), in whole seconds.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>, InstantError> {
    let trimmed = text.trim();
    match DateTime::<FixedOffset>::parse_from_rfc3339(trimmed) {
        Ok(t) if t.timestamp_subsec_nanos() != 0 => Err(InstantError::Fraction {
            text: trimmed.to_string(),
        }),
        Ok(t) => Ok(t.with_timezone(&Utc)),
        Err(_) => {
            let naive = [
                "%Y-%m-%dT%H:%M:%S%.f",
                "%Y-%m-%d %H:%M:%S%.f",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M",
            ]
            .iter()
            .any(|f| chrono::NaiveDateTime::parse_from_str(trimmed, f).is_ok());
            Err(if naive {
                InstantError::Naive {
                    text: trimmed.to_string(),
                }
            } else {
                InstantError::Invalid {
                    text: trimmed.to_string(),
                }
            })
        }
    }
}

/// Parses an IANA zone name (as schedules are read).
pub fn parse_zone(name: &str) -> Result<Tz, ScheduleError> {
    super::zone::parse_zone(name)
}

impl Timeline {
    /// A timeline from its parts (already validated).
    pub fn new(rule: Rule, window: Window, tz: Tz) -> Self {
        Timeline { rule, window, tz }
    }

    /// A plain cron schedule with no window.
    pub fn cron(schedule: Schedule) -> Self {
        let tz = schedule.time_zone();
        Timeline::new(Rule::Cron(schedule), Window::default(), tz)
    }

    /// The rule.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// The cron schedule, if the job has one.
    pub fn schedule(&self) -> Option<&Schedule> {
        match &self.rule {
            Rule::Cron(s) => Some(s),
            _ => None,
        }
    }

    /// The one-shot instant, if the job has one.
    pub fn once(&self) -> Option<DateTime<Utc>> {
        match self.rule {
            Rule::Once(at) => Some(at),
            _ => None,
        }
    }

    /// The active window.
    pub fn window(&self) -> Window {
        self.window
    }

    /// The zone (of the schedule, else the job's): local times and retention periods.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// What identifies the fires for sharing a decision between jobs: the expression or the
    /// instant, the zone and the window.
    pub fn key(&self) -> String {
        let rule = match &self.rule {
            Rule::Cron(s) => s.expression().to_string(),
            Rule::Once(at) => format!("at {}", at.to_rfc3339()),
            Rule::Never => "never".to_string(),
        };
        format!(
            "{rule}|{}|{:?}|{:?}",
            self.tz, self.window.from, self.window.until
        )
    }

    /// The stable jitter offset of `job_name` on `host_identity`: the schedule's (see
    /// [`super::jitter_offset`]); zero for a one-shot or a job without clock fires.
    pub fn jitter_offset(&self, host_identity: &str, job_name: &str, max: Duration) -> Duration {
        match &self.rule {
            Rule::Cron(s) => super::jitter_offset(host_identity, job_name, max, s),
            _ => Duration::ZERO,
        }
    }

    /// The first fire strictly after `after` and inside the window.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        let fire = match &self.rule {
            Rule::Cron(s) => {
                // Nothing before `from` fires: start the search just before it.
                let start = match self.window.from {
                    Some(from) if from > after => from - TimeDelta::nanoseconds(1),
                    _ => after,
                };
                s.next_after(start)?
            }
            Rule::Once(at) if *at > after => self.fire_at(*at),
            Rule::Once(_) | Rule::Never => return None,
        };
        self.window.contains(fire.at).then_some(fire)
    }

    /// All fires strictly after `after`, in order.
    pub fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = Fire> + '_ {
        std::iter::successors(self.next_after(after), move |fire| self.next_after(fire.at))
    }

    /// The fires in `(last, now]` inside the window (fires outside it are not due, so they are
    /// never missed).
    pub fn missed_between(&self, last: DateTime<Utc>, now: DateTime<Utc>) -> MissedFires {
        let none = MissedFires {
            latest: None,
            count: 0,
            count_is_capped: false,
        };
        let last = match self.window.from {
            Some(from) => last.max(from - TimeDelta::nanoseconds(1)),
            None => last,
        };
        let now = match self.window.until {
            Some(until) => now.min(until - TimeDelta::nanoseconds(1)),
            None => now,
        };
        if now <= last {
            return none;
        }
        match &self.rule {
            Rule::Cron(s) => missed_between(s, last, now),
            Rule::Once(at) if last < *at && *at <= now => MissedFires {
                latest: Some(self.fire_at(*at)),
                count: 1,
                count_is_capped: false,
            },
            Rule::Once(_) | Rule::Never => none,
        }
    }

    /// Where the job stands at `now`, when its slots up to `handled` are handled (fired,
    /// recorded or passed over).
    pub fn phase(&self, handled: DateTime<Utc>, now: DateTime<Utc>) -> Phase {
        if let Rule::Once(at) = self.rule
            && handled >= at
        {
            return Phase::Done;
        }
        if self.window.until.is_some_and(|u| now >= u) {
            return Phase::Expired;
        }
        match self.rule {
            Rule::Never => Phase::TriggerOnly,
            _ => Phase::Scheduled,
        }
    }

    fn fire_at(&self, at: DateTime<Utc>) -> Fire {
        Fire {
            at,
            civil: at.with_timezone(&self.tz).naive_local(),
            dst: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    fn window(from: Option<&str>, until: Option<&str>) -> Window {
        Window {
            from: from.map(t),
            until: until.map(t),
        }
    }

    fn cron(expr: &str, w: Window) -> Timeline {
        let s = Schedule::parse(expr, "UTC").expect("schedule");
        Timeline::new(Rule::Cron(s), w, chrono_tz::UTC)
    }

    fn once(at: &str, w: Window) -> Timeline {
        Timeline::new(Rule::Once(t(at)), w, chrono_tz::UTC)
    }

    #[test]
    fn instants_need_an_offset_and_whole_seconds() {
        assert_eq!(
            parse_instant("2026-12-24T02:00:00+01:00"),
            Ok(t("2026-12-24T01:00:00Z"))
        );
        assert_eq!(
            parse_instant("2026-12-24T02:00:00Z"),
            Ok(t("2026-12-24T02:00:00Z"))
        );
        assert!(matches!(
            parse_instant("2026-12-24T02:00:00"),
            Err(InstantError::Naive { .. })
        ));
        assert!(matches!(
            parse_instant("2026-12-24 02:00:00"),
            Err(InstantError::Naive { .. })
        ));
        assert!(matches!(
            parse_instant("2026-12-24T02:00:00.5Z"),
            Err(InstantError::Fraction { .. })
        ));
        assert!(matches!(
            parse_instant("tonight"),
            Err(InstantError::Invalid { .. })
        ));
    }

    #[test]
    fn a_one_shot_fires_once() {
        let tl = once("2026-12-24T02:00:00Z", Window::default());
        let fire = tl.next_after(t("2026-12-01T00:00:00Z")).expect("fire");
        assert_eq!(fire.at, t("2026-12-24T02:00:00Z"));
        assert_eq!(tl.next_after(fire.at), None);
        assert_eq!(tl.fires_after(t("2026-01-01T00:00:00Z")).count(), 1);
    }

    #[test]
    fn a_one_shot_in_the_past_is_one_missed_fire() {
        let tl = once("2026-12-24T02:00:00Z", Window::default());
        let m = tl.missed_between(t("2026-12-24T01:59:59Z"), t("2026-12-24T03:00:00Z"));
        assert_eq!(
            (m.count, m.latest.map(|f| f.at)),
            (1, Some(t("2026-12-24T02:00:00Z")))
        );
        let m = tl.missed_between(t("2026-12-24T02:00:00Z"), t("2026-12-25T00:00:00Z"));
        assert_eq!(m.count, 0, "handled already");
        let m = tl.missed_between(t("2026-12-23T00:00:00Z"), t("2026-12-24T01:00:00Z"));
        assert_eq!(m.count, 0, "not yet");
    }

    #[test]
    fn a_window_limits_cron_fires_both_ways() {
        let w = window(Some("2026-01-01T10:30:00Z"), Some("2026-01-01T13:00:00Z"));
        let tl = cron("0 * * * *", w);
        let fires: Vec<_> = tl
            .fires_after(t("2026-01-01T00:00:00Z"))
            .map(|f| f.at)
            .collect();
        assert_eq!(
            fires,
            [t("2026-01-01T11:00:00Z"), t("2026-01-01T12:00:00Z")],
            "from is inclusive, until exclusive"
        );
        // Downtime over the whole day: only the fires inside the window are missed.
        let m = tl.missed_between(t("2026-01-01T00:00:00Z"), t("2026-01-02T00:00:00Z"));
        assert_eq!(
            (m.count, m.latest.map(|f| f.at)),
            (2, Some(t("2026-01-01T12:00:00Z")))
        );
        let m = tl.missed_between(t("2026-01-01T00:00:00Z"), t("2026-01-01T10:59:00Z"));
        assert_eq!(m.count, 0, "before the window nothing is due");
        let at_from = cron("0 * * * *", window(Some("2026-01-01T11:00:00Z"), None));
        assert_eq!(
            at_from.next_after(t("2026-01-01T00:00:00Z")).map(|f| f.at),
            Some(t("2026-01-01T11:00:00Z"))
        );
    }

    #[test]
    fn phases() {
        let tl = once("2026-12-24T02:00:00Z", Window::default());
        let before = t("2026-12-24T01:00:00Z");
        assert_eq!(tl.phase(before, before), Phase::Scheduled);
        let after = t("2026-12-24T02:00:00Z");
        assert_eq!(tl.phase(after, after), Phase::Done);
        let never = Timeline::new(Rule::Never, Window::default(), chrono_tz::UTC);
        assert_eq!(never.phase(before, before), Phase::TriggerOnly);
        let w = window(None, Some("2026-06-01T00:00:00Z"));
        let windowed = cron("0 * * * *", w);
        assert_eq!(
            windowed.phase(t("2026-05-31T23:00:00Z"), t("2026-05-31T23:30:00Z")),
            Phase::Scheduled
        );
        assert_eq!(
            windowed.phase(t("2026-05-31T23:00:00Z"), t("2026-06-01T00:00:00Z")),
            Phase::Expired
        );
    }

    #[test]
    fn one_shots_have_no_jitter() {
        let tl = once("2026-12-24T02:00:00Z", Window::default());
        assert_eq!(
            tl.jitter_offset("host", "job", Duration::from_secs(600)),
            Duration::ZERO
        );
    }
}
