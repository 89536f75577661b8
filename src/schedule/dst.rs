//! Civil (wall-clock) time → instants in a zone, with the DST facts the policy needs.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

/// Where a civil time lands on the real time line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Landing {
    /// Exists once.
    Single(DateTime<Utc>),
    /// Exists twice (clock set back): both instants, earlier first.
    Repeated {
        first: DateTime<Utc>,
        second: DateTime<Utc>,
    },
    /// Does not exist (clock set forward); `after_gap` is the first real instant after the gap.
    Gap { after_gap: DateTime<Utc> },
}

/// Longest gap searched for. Real gaps are at most a day (Samoa skipped 2011-12-30).
const MAX_GAP_MINUTES: i64 = 26 * 60;

/// Maps a civil time in `tz`; `None` only if a gap is longer than any real one.
pub(crate) fn land(tz: Tz, civil: NaiveDateTime) -> Option<Landing> {
    match tz.from_local_datetime(&civil) {
        LocalResult::Single(t) => Some(Landing::Single(t.with_timezone(&Utc))),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            Some(Landing::Repeated {
                first: a.min(b),
                second: a.max(b),
            })
        }
        LocalResult::None => gap_end(tz, civil).map(|after_gap| Landing::Gap { after_gap }),
    }
}

/// The earliest instant of a civil time, or the end of the gap that swallows it.
pub(crate) fn earliest(tz: Tz, civil: NaiveDateTime) -> Option<DateTime<Utc>> {
    land(tz, civil).map(|landing| match landing {
        Landing::Single(t) => t,
        Landing::Repeated { first, .. } => first,
        Landing::Gap { after_gap } => after_gap,
    })
}

/// First real instant after the gap containing `civil`.
///
/// Transitions are not always on the hour (Lord_Howe shifts by 30 minutes, historic zones by odd
/// seconds), so the scan goes minute by minute and then narrows to the second.
fn gap_end(tz: Tz, civil: NaiveDateTime) -> Option<DateTime<Utc>> {
    let exists = |t: NaiveDateTime| tz.from_local_datetime(&t).earliest();
    let mut inside = civil;
    for _ in 0..MAX_GAP_MINUTES {
        let probe = inside + TimeDelta::minutes(1);
        if exists(probe).is_some() {
            // The gap ends in (inside, probe]; narrow by seconds.
            let (mut lo, mut hi) = (inside, probe);
            while hi - lo > TimeDelta::seconds(1) {
                let mid = lo + (hi - lo) / 2;
                if exists(mid).is_some() {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return exists(hi).map(|t| t.with_timezone(&Utc));
        }
        inside = probe;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn civil(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .unwrap()
            .and_hms_opt(h, mi, 0)
            .unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn new_york_gap_and_fold() {
        let ny = chrono_tz::America::New_York;
        assert_eq!(
            land(ny, civil(2025, 3, 9, 2, 30)),
            Some(Landing::Gap {
                after_gap: utc("2025-03-09T07:00:00Z")
            })
        );
        assert_eq!(
            land(ny, civil(2025, 11, 2, 1, 30)),
            Some(Landing::Repeated {
                first: utc("2025-11-02T05:30:00Z"),
                second: utc("2025-11-02T06:30:00Z")
            })
        );
        assert_eq!(
            land(ny, civil(2025, 6, 1, 9, 0)),
            Some(Landing::Single(utc("2025-06-01T13:00:00Z")))
        );
    }

    #[test]
    fn santiago_midnight_gap() {
        // Chile moves 00:00 -> 01:00 on the first Sunday of September.
        let scl = chrono_tz::America::Santiago;
        assert_eq!(
            land(scl, civil(2025, 9, 7, 0, 0)),
            Some(Landing::Gap {
                after_gap: utc("2025-09-07T04:00:00Z")
            })
        );
    }

    #[test]
    fn lord_howe_half_hour_gap() {
        // 02:00 -> 02:30 on the first Sunday of October (+10:30 -> +11).
        let lh = chrono_tz::Australia::Lord_Howe;
        assert_eq!(
            land(lh, civil(2025, 10, 5, 2, 15)),
            Some(Landing::Gap {
                after_gap: utc("2025-10-04T15:30:00Z")
            })
        );
        assert_eq!(
            earliest(lh, civil(2025, 10, 5, 2, 30)),
            Some(utc("2025-10-04T15:30:00Z"))
        );
    }
}
