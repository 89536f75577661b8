//! Shortest civil gap between consecutive fires, from the field bit sets alone.

use chrono::{NaiveDate, TimeDelta};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use super::expr::Fields;

/// Shortest gap between consecutive fires in civil time.
///
/// Cost is bounded: times of day are at most 1,440, and matching days are enumerated over one
/// 400-year Gregorian cycle (which repeats weekdays too), month by month, stopping as soon as a
/// one-day gap is seen. DST can make a real gap shorter than this (a fixed-time job shifted out
/// of a gap lands closer to the fire before it); callers use it to clamp jitter, where a
/// constant per-job offset keeps the order anyway.
pub(crate) fn min_interval(fields: &Fields) -> TimeDelta {
    let times = fields.minutes_of_day();
    let within_day = times.windows(2).map(|w| w[1] - w[0]).min();
    let (first, last) = match (times.first(), times.last()) {
        (Some(first), Some(last)) => (*first, *last),
        // Unreachable for a parsed expression: every field has at least one value.
        _ => return TimeDelta::days(1),
    };
    let day_gap = min_day_gap(fields);
    let across_days = day_gap * 1440 - i64::from(last - first);
    let minutes = match within_day {
        Some(within) => i64::from(within).min(across_days),
        None => across_days,
    };
    TimeDelta::minutes(minutes)
}

/// The fields [`walk_day_gap`] depends on: months, days of the month, weekdays and the star flags.
type DayFields = (u16, u32, u8, bool, bool);

/// Distinct day fields remembered at most; beyond this the memo starts over, so a stream of
/// unusual schedules costs time, never unbounded memory.
const MEMO_LIMIT: usize = 4096;

/// Fewest days between two consecutive matching days, remembered per distinct day fields.
///
/// The walk costs up to ~146,000 date checks for a schedule that never fires on consecutive
/// days (`0 2 1,15 * *`), and it runs for every job at every reload (validation and jitter): a
/// directory of 10,000 jobs spent seconds here per reload. Directories repeat few distinct day
/// fields (minutes and hours, which vary most, do not matter here), so a memo removes the cost.
fn min_day_gap(fields: &Fields) -> i64 {
    static MEMO: OnceLock<Mutex<HashMap<DayFields, i64>>> = OnceLock::new();
    let key = (
        fields.months,
        fields.days,
        fields.weekdays,
        fields.dom_star,
        fields.dow_star,
    );
    let memo = MEMO.get_or_init(Mutex::default);
    // A panic while holding the lock leaves only finished entries behind, so a poisoned memo is
    // still correct.
    if let Some(gap) = memo.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return *gap;
    }
    let gap = walk_day_gap(fields);
    let mut memo = memo.lock().unwrap_or_else(|e| e.into_inner());
    if memo.len() >= MEMO_LIMIT {
        memo.clear();
    }
    memo.insert(key, gap);
    gap
}

/// Fewest days between two consecutive matching days, by walking one Gregorian cycle.
fn walk_day_gap(fields: &Fields) -> i64 {
    let mut best: Option<i64> = None;
    let mut previous: Option<NaiveDate> = None;
    // One extra year so the gap across the cycle boundary is seen too.
    for year in 2000..=2400 {
        for month in 1..=12u32 {
            if fields.months & (1 << month) == 0 {
                continue;
            }
            for day in 1..=31u32 {
                let Some(date) = NaiveDate::from_ymd_opt(year, month, day) else {
                    break;
                };
                if !fields.day_matches(date) {
                    continue;
                }
                if let Some(prev) = previous {
                    let gap = (date - prev).num_days();
                    best = Some(best.map_or(gap, |b| b.min(gap)));
                    if gap == 1 {
                        return 1;
                    }
                }
                previous = Some(date);
            }
        }
    }
    // A parsed expression matches at least once per cycle; with a single match per cycle the
    // gap would be the cycle itself.
    best.unwrap_or(146_097)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::expr::parse_expr;

    fn interval(expr: &str) -> TimeDelta {
        min_interval(&parse_expr(expr).unwrap().fields)
    }

    #[test]
    fn common_schedules() {
        assert_eq!(interval("* * * * *"), TimeDelta::minutes(1));
        assert_eq!(interval("*/30 * * * *"), TimeDelta::minutes(30));
        assert_eq!(interval("0 2 * * *"), TimeDelta::days(1));
        assert_eq!(interval("@weekly"), TimeDelta::days(7));
        assert_eq!(interval("0 22,2 * * *"), TimeDelta::hours(4));
        assert_eq!(interval("0 0 1 * *"), TimeDelta::days(28));
        assert_eq!(interval("@yearly"), TimeDelta::days(365));
    }

    #[test]
    fn leap_day_gap_is_four_years() {
        assert_eq!(interval("0 0 29 2 *"), TimeDelta::days(1461));
    }

    #[test]
    fn across_midnight_counts() {
        // 23:50 and 00:10 on consecutive days are 20 minutes apart.
        assert_eq!(interval("10,50 0,23 * * *"), TimeDelta::minutes(20));
    }
}
