//! Searching civil (naive local) time for the minutes an expression's fields match.
//!
//! This is the search croner does, over the bit sets `expr` already built, with croner's
//! conventions: the sub-second part of the starting point is dropped, `inclusive` decides whether
//! the starting second itself can match, and nothing is found past the year 5000. Doing it here
//! instead of through croner matters for memory and speed: croner's compiled pattern holds a byte
//! for every year up to 5000 (≈5 KB) and takes tens of microseconds to build, while these bit
//! sets are 24 bytes. A test checks both searches against each other on random expressions.

use super::expr::Fields;
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Timelike};

/// The last year searched forward (croner's limit).
const LAST_YEAR: i32 = 5000;
/// The first year searched backward (croner's limit).
const FIRST_YEAR: i32 = 1;

/// The earliest matching minute at or after `from` (`inclusive`) or strictly after it.
pub(crate) fn next_match(
    fields: &Fields,
    from: NaiveDateTime,
    inclusive: bool,
) -> Option<NaiveDateTime> {
    let mut from = from.with_nanosecond(0)?;
    if !inclusive {
        from = from.checked_add_signed(TimeDelta::seconds(1))?;
    }
    // The first whole minute at or after `from`.
    if from.second() != 0 {
        from = from
            .with_second(0)?
            .checked_add_signed(TimeDelta::minutes(1))?;
    }
    let mut date = from.date();
    let mut floor = from.hour() * 60 + from.minute();
    while date.year() <= LAST_YEAR {
        if fields.months & (1 << date.month()) == 0 {
            date = first_of_next_month(date)?;
            floor = 0;
            continue;
        }
        if fields.day_matches(date)
            && let Some(minute) = first_minute_from(fields, floor)
        {
            return Some(date.and_time(time_of(minute)?));
        }
        date = date.succ_opt()?;
        floor = 0;
    }
    None
}

/// The latest matching minute at or before `from` (`inclusive`) or strictly before it.
pub(crate) fn previous_match(
    fields: &Fields,
    from: NaiveDateTime,
    inclusive: bool,
) -> Option<NaiveDateTime> {
    let mut from = from.with_nanosecond(0)?;
    if !inclusive {
        from = from.checked_sub_signed(TimeDelta::seconds(1))?;
    }
    let mut date = from.date();
    let mut ceiling = from.hour() * 60 + from.minute();
    while date.year() >= FIRST_YEAR {
        if fields.months & (1 << date.month()) == 0 {
            date = date.with_day(1)?.pred_opt()?;
            ceiling = LAST_MINUTE;
            continue;
        }
        if fields.day_matches(date)
            && let Some(minute) = last_minute_to(fields, ceiling)
        {
            return Some(date.and_time(time_of(minute)?));
        }
        date = date.pred_opt()?;
        ceiling = LAST_MINUTE;
    }
    None
}

/// 23:59 as minutes after midnight.
const LAST_MINUTE: u32 = 24 * 60 - 1;

/// The first matching time of day at or after `floor` (minutes after midnight).
fn first_minute_from(fields: &Fields, floor: u32) -> Option<u32> {
    let (first_hour, first_minute) = (floor / 60, floor % 60);
    (first_hour..24)
        .filter(|hour| fields.hours & (1 << hour) != 0)
        .find_map(|hour| {
            let from = if hour == first_hour { first_minute } else { 0 };
            let minutes = fields.minutes & (u64::MAX << from);
            (minutes != 0).then(|| hour * 60 + minutes.trailing_zeros())
        })
}

/// The last matching time of day at or before `ceiling` (minutes after midnight).
fn last_minute_to(fields: &Fields, ceiling: u32) -> Option<u32> {
    let (last_hour, last_minute) = (ceiling / 60, ceiling % 60);
    (0..=last_hour)
        .rev()
        .filter(|hour| fields.hours & (1 << hour) != 0)
        .find_map(|hour| {
            let to = if hour == last_hour { last_minute } else { 63 };
            let minutes = fields.minutes & (u64::MAX >> (63 - to));
            (minutes != 0).then(|| hour * 60 + 63 - minutes.leading_zeros())
        })
}

fn time_of(minute_of_day: u32) -> Option<NaiveTime> {
    NaiveTime::from_hms_opt(minute_of_day / 60, minute_of_day % 60, 0)
}

fn first_of_next_month(date: NaiveDate) -> Option<NaiveDate> {
    date.with_day(1)?
        .checked_add_days(Days::new(32))?
        .with_day(1)
}

#[cfg(test)]
mod tests {
    use super::super::expr::parse_expr;
    use super::*;

    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").unwrap()
    }

    fn next(expr: &str, from: &str, inclusive: bool) -> Option<NaiveDateTime> {
        next_match(&parse_expr(expr).unwrap().fields, at(from), inclusive)
    }

    fn previous(expr: &str, from: &str, inclusive: bool) -> Option<NaiveDateTime> {
        previous_match(&parse_expr(expr).unwrap().fields, at(from), inclusive)
    }

    /// Forward (`next`) or backward search cases: expression, start, inclusive, expected match.
    type Case = (&'static str, &'static str, bool, &'static str);

    fn check(cases: &[Case], forward: bool) {
        for &(expr, from, inclusive, expected) in cases {
            let found = if forward {
                next(expr, from, inclusive)
            } else {
                previous(expr, from, inclusive)
            };
            assert_eq!(
                found,
                Some(at(expected)),
                "{expr:?} from {from} (inclusive {inclusive}, forward {forward})"
            );
        }
    }

    #[test]
    fn inclusive_decides_whether_the_starting_minute_matches() {
        let from = "2026-03-01 10:00:00";
        check(
            &[
                ("0 * * * *", from, true, "2026-03-01 10:00:00"),
                ("0 * * * *", from, false, "2026-03-01 11:00:00"),
            ],
            true,
        );
        check(
            &[
                ("0 * * * *", from, true, "2026-03-01 10:00:00"),
                ("0 * * * *", from, false, "2026-03-01 09:00:00"),
            ],
            false,
        );
    }

    #[test]
    fn sub_second_part_is_dropped_first_as_croner_does() {
        check(
            &[
                (
                    "0 * * * *",
                    "2026-03-01 10:00:00.5",
                    true,
                    "2026-03-01 10:00:00",
                ),
                (
                    "0 * * * *",
                    "2026-03-01 09:59:59.5",
                    false,
                    "2026-03-01 10:00:00",
                ),
                (
                    "0 * * * *",
                    "2026-03-01 10:00:30",
                    true,
                    "2026-03-01 11:00:00",
                ),
            ],
            true,
        );
        check(
            &[(
                "0 * * * *",
                "2026-03-01 10:00:30",
                false,
                "2026-03-01 10:00:00",
            )],
            false,
        );
    }

    #[test]
    fn crosses_months_years_and_leap_days() {
        check(
            &[
                (
                    "0 0 29 2 *",
                    "2025-03-01 00:00:00",
                    false,
                    "2028-02-29 00:00:00",
                ),
                (
                    "0 0 29 2 *",
                    "2096-03-01 00:00:00",
                    false,
                    "2104-02-29 00:00:00",
                ),
                (
                    "59 23 31 12 *",
                    "2026-12-31 23:59:00",
                    false,
                    "2027-12-31 23:59:00",
                ),
            ],
            true,
        );
        check(
            &[
                (
                    "0 0 29 2 *",
                    "2104-02-28 00:00:00",
                    false,
                    "2096-02-29 00:00:00",
                ),
                (
                    "0 0 1 1 *",
                    "2027-01-01 00:00:00",
                    false,
                    "2026-01-01 00:00:00",
                ),
            ],
            false,
        );
    }

    #[test]
    fn nothing_past_the_horizon() {
        assert_eq!(next("0 0 1 1 *", "5000-01-01 00:00:00", false), None);
        assert_eq!(previous("0 0 1 1 *", "0001-01-01 00:00:00", false), None);
    }

    /// Our search and croner's, on the same expressions and starting points: random 5-field
    /// expressions (steps, ranges, lists, both day-field rules) from random instants, both
    /// directions, both `inclusive` values.
    #[test]
    fn agrees_with_croner() {
        use croner::parser::{CronParser, Seconds, Year};
        // A small deterministic generator (no dependency for one test).
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut rand = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let field = |min: u64, max: u64, rand: &mut dyn FnMut(u64) -> u64| -> String {
            let span = max - min + 1;
            match rand(6) {
                0 => "*".into(),
                1 => format!("*/{}", 1 + rand(span.min(15))),
                2 => format!("{}", min + rand(span)),
                3 => {
                    let a = min + rand(span);
                    format!("{a}-{}", a + rand(max - a + 1))
                }
                4 => {
                    let a = min + rand(span);
                    format!("{a}-{}/{}", a + rand(max - a + 1), 1 + rand(5))
                }
                _ => format!("{},{}", min + rand(span), min + rand(span)),
            }
        };
        let mut checked = 0;
        for _ in 0..3000 {
            let expr = [
                field(0, 59, &mut rand),
                field(0, 23, &mut rand),
                field(1, 31, &mut rand),
                field(1, 12, &mut rand),
                field(0, 6, &mut rand),
            ]
            .join(" ");
            let Ok(parsed) = parse_expr(&expr) else {
                continue; // never fires (e.g. 31 in February only)
            };
            let cron = CronParser::builder()
                .seconds(Seconds::Disallowed)
                .year(Year::Disallowed)
                .dom_and_dow(parsed.fields.dom_star || parsed.fields.dow_star)
                .build()
                .parse(&parsed.normalized)
                .unwrap();
            for _ in 0..4 {
                let from = NaiveDate::from_ymd_opt(2000 + rand(60) as i32, 1, 1)
                    .unwrap()
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
                    + TimeDelta::seconds(rand(366 * 86_400) as i64)
                    + TimeDelta::milliseconds(rand(2) as i64 * rand(1000) as i64);
                let inclusive = rand(2) == 0;
                assert_eq!(
                    next_match(&parsed.fields, from, inclusive),
                    cron.find_next_occurrence(&from, inclusive).ok(),
                    "next of {expr:?} from {from} (inclusive {inclusive})"
                );
                assert_eq!(
                    previous_match(&parsed.fields, from, inclusive),
                    cron.find_previous_occurrence(&from, inclusive).ok(),
                    "previous of {expr:?} from {from} (inclusive {inclusive})"
                );
                checked += 1;
            }
        }
        assert!(checked > 8000, "only {checked} comparisons");
    }
}
