//! Counting the fires missed during downtime, at a cost that grows with days, not fires.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};

use super::{Fire, Schedule, dst};

/// Fires that fell in a window of downtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissedFires {
    /// The latest fire in the window, the catch-up candidate.
    pub latest: Option<Fire>,
    /// How many fires fell in the window, `latest` included.
    pub count: u64,
    /// True when the window was longer than can be counted and `count` covers only its end.
    pub count_is_capped: bool,
}

/// Windows longer than this are counted over their last `MAX_DAYS` days only.
const MAX_DAYS: i64 = 100 * 366;

/// Fires in `(last, now]`.
///
/// Whole days without a DST transition are counted arithmetically (fires per day × matching
/// day); only the partial first and last days and transition days are iterated, so a per-minute
/// job after a month of downtime costs about as much as a daily one.
pub fn missed_between(schedule: &Schedule, last: DateTime<Utc>, now: DateTime<Utc>) -> MissedFires {
    let mut result = MissedFires {
        latest: None,
        count: 0,
        count_is_capped: false,
    };
    if now <= last {
        return result;
    }
    result.latest = latest_at_or_before(schedule, last, now);
    if result.latest.is_none() {
        return result;
    }

    let tz = schedule.time_zone();
    let mut from = last;
    if now - last > TimeDelta::days(MAX_DAYS) {
        from = now - TimeDelta::days(MAX_DAYS);
        result.count_is_capped = true;
    }
    let first_day = from.with_timezone(&tz).date_naive();
    let last_day = now.with_timezone(&tz).date_naive();
    let fields = schedule.fields();
    let per_day = fields.fires_per_day();

    // Days strictly between the two partial ones.
    let mut day = first_day.succ_opt();
    let mut start_of_middle: Option<DateTime<Utc>> = None;
    let mut end_of_middle: Option<DateTime<Utc>> = None;
    while let Some(d) = day.filter(|d| *d < last_day) {
        let (Some(begin), Some(end)) = (
            day_start(schedule, d),
            day_start(schedule, d + Days::new(1)),
        ) else {
            break;
        };
        start_of_middle.get_or_insert(begin);
        end_of_middle = Some(end);
        if is_plain_day(schedule, begin, end) {
            if fields.day_matches(d) {
                result.count += per_day;
            }
        } else {
            result.count += count_iterating(schedule, begin - TimeDelta::nanoseconds(1), end);
        }
        day = d.succ_opt();
    }

    match (start_of_middle, end_of_middle) {
        (Some(begin), Some(end)) => {
            result.count += count_iterating(schedule, from, begin);
            result.count += count_iterating(
                schedule,
                end - TimeDelta::nanoseconds(1),
                now + TimeDelta::nanoseconds(1),
            );
        }
        _ => result.count += count_iterating(schedule, from, now + TimeDelta::nanoseconds(1)),
    }
    result
}

/// Fires in `(after, before)`, by iteration; callers keep the window to about a day.
fn count_iterating(schedule: &Schedule, after: DateTime<Utc>, before: DateTime<Utc>) -> u64 {
    schedule
        .fires_after(after)
        .take_while(|fire| fire.at < before)
        .count() as u64
}

/// The first instant of a civil day (midnight may fall in a gap, as in America/Santiago).
fn day_start(schedule: &Schedule, day: NaiveDate) -> Option<DateTime<Utc>> {
    dst::earliest(schedule.time_zone(), day.and_time(NaiveTime::MIN))
}

/// A day that is exactly 24 hours with one UTC offset throughout, where every civil fire time
/// maps to exactly one instant.
fn is_plain_day(schedule: &Schedule, begin: DateTime<Utc>, end: DateTime<Utc>) -> bool {
    use chrono::Offset;
    let tz = schedule.time_zone();
    let offset = |t: DateTime<Utc>| t.with_timezone(&tz).offset().fix();
    // The offset just before `begin` must match too: a gap ending exactly at midnight would
    // shift the previous day's fires onto this day's first instant.
    end - begin == TimeDelta::days(1)
        && offset(begin - TimeDelta::seconds(1)) == offset(begin)
        && offset(begin) == offset(end - TimeDelta::seconds(1))
        && offset(begin) == offset(begin + TimeDelta::hours(12))
}

/// The latest fire in `(last, now]`.
///
/// The backward civil search finds the last civil match at or before `now`'s wall clock; the
/// latest fire is that match's first instant or something between it and `now` (a second pass,
/// or a shifted fire), so scanning forward from there costs a handful of steps. A civil match
/// that yields nothing (a wildcard time inside a gap) sends the search one match further back.
fn latest_at_or_before(
    schedule: &Schedule,
    last: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<Fire> {
    let tz = schedule.time_zone();
    let mut civil = now.with_timezone(&tz).naive_local();
    let mut inclusive = true;
    for _ in 0..MAX_BACK_STEPS {
        let previous = super::civil::previous_match(schedule.fields(), civil, inclusive)?;
        let from = (dst::earliest(tz, previous)? - TimeDelta::nanoseconds(1)).max(last);
        let latest = schedule
            .fires_after(from)
            .take_while(|fire| fire.at <= now)
            .last();
        if latest.is_some() || from <= last {
            return latest;
        }
        civil = previous;
        inclusive = false;
    }
    None
}

/// Bound on backward civil steps; only consecutive wildcard matches inside one gap need more than one.
const MAX_BACK_STEPS: usize = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn counts_whole_days_arithmetically() {
        let s = Schedule::parse("*/10 * * * *", "UTC").unwrap();
        let m = missed_between(&s, utc("2025-01-01T00:00:00Z"), utc("2025-03-01T00:00:00Z"));
        assert_eq!(m.count, 59 * 144);
        assert_eq!(m.latest.unwrap().at, utc("2025-03-01T00:00:00Z"));
        assert!(!m.count_is_capped);
    }

    #[test]
    fn very_long_windows_are_capped() {
        let s = Schedule::parse("0 0 * * *", "UTC").unwrap();
        let m = missed_between(&s, utc("1800-01-01T00:00:00Z"), utc("2025-01-01T12:00:00Z"));
        assert!(m.count_is_capped);
        assert_eq!(m.count, MAX_DAYS as u64);
        assert_eq!(m.latest.unwrap().at, utc("2025-01-01T00:00:00Z"));
    }

    #[test]
    fn transition_days_are_not_plain() {
        let ny = Schedule::parse("0 * * * *", "America/New_York").unwrap();
        let day = |d: u32| {
            let date = NaiveDate::from_ymd_opt(2025, 11, d).unwrap();
            (
                day_start(&ny, date).unwrap(),
                day_start(&ny, date + Days::new(1)).unwrap(),
            )
        };
        let (b, e) = day(2);
        assert!(!is_plain_day(&ny, b, e));
        let (b, e) = day(3);
        assert!(is_plain_day(&ny, b, e));
    }
}
