//! Shortest civil gap between consecutive fires, from the field bit sets alone.

use chrono::{NaiveDate, TimeDelta};

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

/// Fewest days between two consecutive matching days.
fn min_day_gap(fields: &Fields) -> i64 {
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
