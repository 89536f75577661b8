//! Cron expression + time zone → fire instants, under the DST policy of SCHEDULING.md.
//!
//! Pure logic: no I/O, and the clock is always an argument. `civil` searches civil (naive local)
//! time; `dst` maps each civil match onto the real time line; this file merges the results into
//! one strictly increasing sequence of instants.

mod civil;
mod dst;
mod error;
mod expr;
mod interval;
mod jitter;
mod missed;
mod timeline;
mod zone;

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::sync::Arc;

pub use error::ScheduleError;
pub use jitter::jitter_offset;
pub use missed::{MissedFires, missed_between};
pub use timeline::{
    InstantError, Phase, Rule, Timeline, Window, WindowPosition, parse_instant, parse_zone,
};

use dst::Landing;
use expr::ParsedExpr;

/// A validated cron schedule in a time zone. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Schedule(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    expression: Box<str>,
    tz: Tz,
    parsed: ParsedExpr,
    /// `min_interval`, computed on first use (validation and jitter both ask for it).
    min_interval: std::sync::OnceLock<chrono::Duration>,
}

/// One fire of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fire {
    /// The instant the job runs.
    pub at: DateTime<Utc>,
    /// The local wall-clock time at `at` (for a shifted fire, the time after the gap).
    pub civil: NaiveDateTime,
    /// Set when DST moved or doubled this fire.
    pub dst: Option<DstNote>,
}

/// How a DST transition affected a fire, for `plan --show-next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum DstNote {
    /// The scheduled civil time did not exist (clock set forward); the fire moved to the end of the gap.
    ShiftedOutOfGap {
        /// The civil time the expression asked for.
        civil: NaiveDateTime,
    },
    /// The civil time happened twice; this is the first pass.
    FirstOfRepeated,
    /// The civil time happened twice; this is the second pass (wildcard jobs only).
    SecondOfRepeated,
}

/// Upper bound on civil matches examined for one `next_after`. Normally one or two are needed;
/// inside a repeated range a per-minute job needs one per minute of the range.
const MAX_CIVIL_STEPS: usize = 100_000;

impl Schedule {
    /// Parses and validates an expression and an IANA zone name.
    pub fn parse(expr: &str, time_zone: &str) -> Result<Schedule, ScheduleError> {
        let parsed = expr::parse_expr(expr)?;
        let tz = zone::parse_zone(time_zone)?;
        Ok(Schedule(Arc::new(Inner {
            expression: expr.trim().into(),
            tz,
            parsed,
            min_interval: std::sync::OnceLock::new(),
        })))
    }

    /// The expression as written (trimmed).
    pub fn expression(&self) -> &str {
        &self.0.expression
    }

    /// The time zone the expression is evaluated in.
    pub fn time_zone(&self) -> Tz {
        self.0.tz
    }

    /// Whether this is a fixed-time job (neither minute nor hour starts with `*`).
    pub fn is_fixed_time(&self) -> bool {
        self.0.parsed.fixed_time
    }

    /// The first fire strictly after `after`; `None` past the search horizon (year 5000).
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<Fire> {
        let local = after.with_timezone(&self.0.tz).naive_local();
        // Inside the first pass of a repeated range, civil times a little *before* `local`
        // still have a second-pass instant ahead of `after`: rewind by the length of the range.
        let (mut cursor, mut inclusive) = match self.0.tz.from_local_datetime(&local) {
            LocalResult::Ambiguous(a, b) => {
                let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
                let (first, second) = (a.min(b), a.max(b));
                if after < second {
                    (local - (second - first), true)
                } else {
                    (local, false)
                }
            }
            _ => (local, false),
        };

        let mut best: Option<Fire> = None;
        for _ in 0..MAX_CIVIL_STEPS {
            let civil = civil::next_match(&self.0.parsed.fields, cursor, inclusive)?;
            inclusive = false;
            cursor = civil;
            let (primary, secondary) = self.fires_for(civil)?;
            if let Some(fire) = secondary.filter(|f| f.at > after) {
                best = Some(earlier_of(best, fire));
            }
            // Primary instants never decrease along civil time, and a second pass is always
            // later than its own first pass: once a primary lies ahead, nothing further can
            // beat it, so the search stops.
            if let Some(fire) = primary.filter(|f| f.at > after) {
                return Some(earlier_of(best, fire));
            }
        }
        best
    }

    /// All fires strictly after `after`, in order, without duplicates.
    pub fn fires_after(&self, after: DateTime<Utc>) -> impl Iterator<Item = Fire> + '_ {
        std::iter::successors(self.next_after(after), move |fire| self.next_after(fire.at))
    }

    /// Advice about constructs that parse but may not mean what the author expects.
    pub fn warnings(&self) -> Vec<String> {
        let mut fields = self.0.parsed.normalized.split(' ');
        let (dom, dow) = (fields.nth(2).unwrap_or("*"), fields.nth(1).unwrap_or("*"));
        let mut out = Vec::new();
        let star_step = |text: &str| text.starts_with('*') && text != "*";
        if (star_step(dom) && dow != "*") || (star_step(dow) && dom != "*") {
            out.push(format!(
                "day-of-month \"{dom}\" and day-of-week \"{dow}\": because one of them starts with '*', Vixie cron \
                 requires BOTH to match (AND), not either (OR) as it does when both are plain values; \
                 this agent follows Vixie. For OR semantics, list the values explicitly (e.g. 1-31/2 instead of */2)"
            ));
        }
        out
    }

    /// Shortest civil gap between consecutive fires, computed from the fields in bounded time.
    pub fn min_interval(&self) -> chrono::Duration {
        *self
            .0
            .min_interval
            .get_or_init(|| interval::min_interval(&self.0.parsed.fields))
    }

    /// The fires one civil match produces: the primary (first pass, or shifted out of a gap) and,
    /// for wildcard jobs in a repeated range, the second pass. `None` if the zone has a gap
    /// longer than any real one.
    fn fires_for(&self, civil: NaiveDateTime) -> Option<(Option<Fire>, Option<Fire>)> {
        let fixed = self.0.parsed.fixed_time;
        Some(match dst::land(self.0.tz, civil)? {
            Landing::Single(at) => (
                Some(Fire {
                    at,
                    civil,
                    dst: None,
                }),
                None,
            ),
            Landing::Repeated { first, second } => (
                Some(Fire {
                    at: first,
                    civil,
                    dst: Some(DstNote::FirstOfRepeated),
                }),
                (!fixed).then_some(Fire {
                    at: second,
                    civil,
                    dst: Some(DstNote::SecondOfRepeated),
                }),
            ),
            // Wildcard jobs follow real time: a civil time that does not exist does not fire.
            Landing::Gap { .. } if !fixed => (None, None),
            Landing::Gap { after_gap } => (
                Some(Fire {
                    at: after_gap,
                    civil: after_gap.with_timezone(&self.0.tz).naive_local(),
                    dst: Some(DstNote::ShiftedOutOfGap { civil }),
                }),
                None,
            ),
        })
    }

    /// Field bit sets, for counting.
    pub(crate) fn fields(&self) -> &expr::Fields {
        &self.0.parsed.fields
    }
}

/// The earlier of two candidate fires; on a tie the one found first wins, which dedupes two
/// civil times shifted out of the same gap onto one instant.
fn earlier_of(best: Option<Fire>, fire: Fire) -> Fire {
    match best {
        Some(b) if b.at <= fire.at => b,
        _ => fire,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn next_n(expr: &str, tz: &str, from: &str, n: usize) -> Vec<DateTime<Utc>> {
        Schedule::parse(expr, tz)
            .unwrap()
            .fires_after(utc(from))
            .take(n)
            .map(|f| f.at)
            .collect()
    }

    #[test]
    fn utc_basics() {
        assert_eq!(
            next_n("0 2 * * *", "UTC", "2025-01-01T02:00:00Z", 2),
            vec![utc("2025-01-02T02:00:00Z"), utc("2025-01-03T02:00:00Z")]
        );
        assert_eq!(
            next_n("*/15 * * * *", "UTC", "2025-01-01T00:07:30Z", 2),
            vec![utc("2025-01-01T00:15:00Z"), utc("2025-01-01T00:30:00Z")]
        );
    }

    #[test]
    fn gap_shift_dedupes_two_civil_times() {
        // 02:00 and 02:30 both vanish on 2025-03-09 and both shift to 03:00 EDT: one fire.
        let fires = next_n(
            "0,30 2 * * *",
            "America/New_York",
            "2025-03-09T05:00:00Z",
            2,
        );
        assert_eq!(
            fires,
            vec![utc("2025-03-09T07:00:00Z"), utc("2025-03-10T06:00:00Z")]
        );
    }

    #[test]
    fn notes_are_set() {
        let s = Schedule::parse("30 2 * * *", "America/New_York").unwrap();
        let fire = s.next_after(utc("2025-03-08T17:00:00Z")).unwrap();
        assert_eq!(
            fire.dst,
            Some(DstNote::ShiftedOutOfGap {
                civil: "2025-03-09T02:30:00".parse().unwrap()
            })
        );
        assert_eq!(fire.civil, "2025-03-09T03:00:00".parse().unwrap());
    }

    #[test]
    fn serializes_camel_case() {
        let s = Schedule::parse("30 2 * * *", "America/New_York").unwrap();
        let fire = s.next_after(utc("2025-03-08T17:00:00Z")).unwrap();
        let json = serde_json::to_string(&fire).unwrap();
        assert!(json.contains("\"kind\":\"shiftedOutOfGap\""), "{json}");
    }

    #[test]
    fn warns_about_star_step() {
        let s = Schedule::parse("0 9 */2 * MON", "UTC").unwrap();
        assert_eq!(s.warnings().len(), 1);
        assert!(
            Schedule::parse("0 9 13 * FRI", "UTC")
                .unwrap()
                .warnings()
                .is_empty()
        );
        assert!(
            Schedule::parse("0 9 */2 * *", "UTC")
                .unwrap()
                .warnings()
                .is_empty()
        );
    }
}
