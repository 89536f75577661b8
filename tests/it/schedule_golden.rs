//! Golden vectors from SCHEDULING.md, plus DST corners in zones whose transitions are not
//! one hour at 02:00, restart safety, and every rejection the contract lists.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use troubleshoot_agent::schedule::{
    DstNote, Fire, Schedule, ScheduleError, jitter_offset, missed_between,
};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn civil(s: &str) -> NaiveDateTime {
    s.parse().unwrap()
}

fn schedule(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr} in {tz}: {e}"))
}

fn fires(expr: &str, tz: &str, from: &str, n: usize) -> Vec<Fire> {
    schedule(expr, tz).fires_after(utc(from)).take(n).collect()
}

fn instants(expr: &str, tz: &str, from: &str, n: usize) -> Vec<DateTime<Utc>> {
    fires(expr, tz, from, n).into_iter().map(|f| f.at).collect()
}

fn all(list: &[&str]) -> Vec<DateTime<Utc>> {
    list.iter().map(|s| utc(s)).collect()
}

const NY: &str = "America/New_York";

// ---- SCHEDULING.md golden table -------------------------------------------------------------

#[test]
fn fixed_time_in_spring_gap_runs_once_after_the_gap() {
    let got = fires("30 2 * * *", NY, "2025-03-08T12:00:00-05:00", 2);
    assert_eq!(got[0].at, utc("2025-03-09T07:00:00Z"));
    assert_eq!(got[0].civil, civil("2025-03-09T03:00:00"));
    assert_eq!(
        got[0].dst,
        Some(DstNote::ShiftedOutOfGap {
            civil: civil("2025-03-09T02:30:00")
        })
    );
    assert_eq!(got[1].at, utc("2025-03-10T02:30:00-04:00"));
    assert_eq!(got[1].dst, None);
}

#[test]
fn fixed_time_in_repeated_hour_runs_only_the_first_pass() {
    let got = fires("30 1 * * *", NY, "2025-11-01T12:00:00-04:00", 2);
    assert_eq!(got[0].at, utc("2025-11-02T05:30:00Z"));
    assert_eq!(got[0].dst, Some(DstNote::FirstOfRepeated));
    assert_eq!(got[1].at, utc("2025-11-03T01:30:00-05:00"));
}

#[test]
fn wildcard_runs_both_passes_of_the_repeated_hour() {
    let got = fires("*/30 * * * *", NY, "2025-11-02T00:45:00-04:00", 5);
    let at: Vec<_> = got.iter().map(|f| f.at).collect();
    assert_eq!(
        at,
        all(&[
            "2025-11-02T01:00:00-04:00",
            "2025-11-02T01:30:00-04:00",
            "2025-11-02T01:00:00-05:00",
            "2025-11-02T01:30:00-05:00",
            "2025-11-02T02:00:00-05:00",
        ])
    );
    let notes: Vec<_> = got.iter().map(|f| f.dst).collect();
    assert_eq!(
        notes,
        vec![
            Some(DstNote::FirstOfRepeated),
            Some(DstNote::FirstOfRepeated),
            Some(DstNote::SecondOfRepeated),
            Some(DstNote::SecondOfRepeated),
            None,
        ]
    );
}

#[test]
fn wildcard_skips_the_spring_gap() {
    assert_eq!(
        instants("*/30 * * * *", NY, "2025-03-09T00:45:00-05:00", 4),
        all(&[
            "2025-03-09T01:00:00-05:00",
            "2025-03-09T01:30:00-05:00",
            "2025-03-09T03:00:00-04:00",
            "2025-03-09T03:30:00-04:00",
        ])
    );
}

#[test]
fn day_of_month_or_day_of_week() {
    assert_eq!(
        instants("0 9 13 * FRI", NY, "2025-06-01T00:00:00-04:00", 7),
        all(&[
            "2025-06-06T09:00:00-04:00",
            "2025-06-13T09:00:00-04:00",
            "2025-06-20T09:00:00-04:00",
            "2025-06-27T09:00:00-04:00",
            "2025-07-04T09:00:00-04:00",
            "2025-07-11T09:00:00-04:00",
            "2025-07-13T09:00:00-04:00",
        ])
    );
}

#[test]
fn day_of_week_7_is_sunday_like_0() {
    let seven = instants("0 9 * * 7", NY, "2025-06-01T00:00:00-04:00", 3);
    let zero = instants("0 9 * * 0", NY, "2025-06-01T00:00:00-04:00", 3);
    assert_eq!(seven[0], utc("2025-06-01T09:00:00-04:00"));
    assert_eq!(seven, zero);
    assert_eq!(
        instants("0 9 * * SUN", NY, "2025-06-01T00:00:00-04:00", 3),
        zero
    );
}

#[test]
fn leap_day_waits_for_the_next_leap_year() {
    assert_eq!(
        instants("0 0 29 2 *", NY, "2025-06-01T00:00:00-04:00", 2),
        all(&["2028-02-29T00:00:00-05:00", "2032-02-29T00:00:00-05:00"])
    );
}

#[test]
fn never_firing_is_rejected() {
    assert!(matches!(
        Schedule::parse("0 0 30 2 *", NY),
        Err(ScheduleError::NeverFires { .. })
    ));
    assert!(Schedule::parse("0 0 29 2 *", NY).is_ok());
}

#[test]
fn zone_prefix_and_local_zone_are_rejected() {
    assert!(matches!(
        Schedule::parse("TZ=UTC 0 * * * *", "UTC"),
        Err(ScheduleError::ZoneInExpression { .. })
    ));
    assert!(matches!(
        Schedule::parse("CRON_TZ=UTC 0 * * * *", "UTC"),
        Err(ScheduleError::ZoneInExpression { .. })
    ));
    assert!(matches!(
        Schedule::parse("0 * * * *", "Local"),
        Err(ScheduleError::LocalZone { .. })
    ));
}

// ---- other rejections -----------------------------------------------------------------------

#[test]
fn field_count_rejections_explain_themselves() {
    let six = Schedule::parse("0 0 2 * * *", "UTC").unwrap_err();
    assert!(matches!(six, ScheduleError::SecondsField));
    assert_eq!(
        six.to_string(),
        "6 fields: seconds are not supported; use 5 fields (minute hour day-of-month month day-of-week)"
    );
    assert!(matches!(
        Schedule::parse("0 0 2 * * * 2026", "UTC"),
        Err(ScheduleError::SecondsAndYearFields)
    ));
    assert!(matches!(
        Schedule::parse("* * *", "UTC"),
        Err(ScheduleError::FieldCount { found: 3 })
    ));
    assert!(matches!(
        Schedule::parse("", "UTC"),
        Err(ScheduleError::Empty)
    ));
    assert!(matches!(
        Schedule::parse("   ", "UTC"),
        Err(ScheduleError::Empty)
    ));
}

#[test]
fn bad_zones_are_rejected() {
    assert!(matches!(
        Schedule::parse("0 * * * *", "Mars/Olympus"),
        Err(ScheduleError::UnknownZone { .. })
    ));
    assert!(matches!(
        Schedule::parse("0 * * * *", ""),
        Err(ScheduleError::EmptyZone)
    ));
    let typo = Schedule::parse("0 * * * *", "Europe/Berln").unwrap_err();
    assert!(typo.to_string().contains("Europe/Berlin"), "{typo}");
}

#[test]
fn garbage_is_rejected() {
    for bad in [
        "* * *",
        "a b c d e",
        "@reboot",
        "61 * * * *",
        "* * * * 8",
        "0 0 L * *",
        "0 0 ? * *",
        "0 0 * * 5#2",
        "0/5 * * * *",
        "*/0 * * * *",
        "0 0 * * MONDAY",
    ] {
        assert!(Schedule::parse(bad, "UTC").is_err(), "{bad} was accepted");
    }
}

#[test]
fn macros_are_accepted() {
    let from = "2025-06-15T10:17:00Z";
    for (mac, expr) in [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
    ] {
        assert_eq!(
            instants(mac, "UTC", from, 3),
            instants(expr, "UTC", from, 3),
            "{mac}"
        );
    }
    assert!(schedule("@daily", "UTC").is_fixed_time());
    assert!(!schedule("@hourly", "UTC").is_fixed_time());
}

// ---- zones whose transitions are not 1 h at 02:00 ----------------------------------------------

const SCL: &str = "America/Santiago";
const LHI: &str = "Australia/Lord_Howe";

#[test]
fn santiago_midnight_gap_fixed_time_shifts_to_0100() {
    // 2025-09-07 00:00 -04 becomes 01:00 -03.
    let got = fires("0 0 * * *", SCL, "2025-09-06T12:00:00-04:00", 2);
    assert_eq!(got[0].at, utc("2025-09-07T01:00:00-03:00"));
    assert_eq!(
        got[0].dst,
        Some(DstNote::ShiftedOutOfGap {
            civil: civil("2025-09-07T00:00:00")
        })
    );
    assert_eq!(got[1].at, utc("2025-09-08T00:00:00-03:00"));
}

#[test]
fn santiago_midnight_gap_wildcard_skips() {
    assert_eq!(
        instants("*/30 * * * *", SCL, "2025-09-06T23:15:00-04:00", 3),
        all(&[
            "2025-09-06T23:30:00-04:00",
            "2025-09-07T01:00:00-03:00",
            "2025-09-07T01:30:00-03:00",
        ])
    );
}

#[test]
fn santiago_repeated_hour_before_midnight() {
    // 2025-04-06 00:00 -03 becomes 2025-04-05 23:00 -04.
    assert_eq!(
        instants("30 23 * * *", SCL, "2025-04-05T12:00:00-03:00", 2),
        all(&["2025-04-05T23:30:00-03:00", "2025-04-06T23:30:00-04:00"])
    );
    assert_eq!(
        instants("*/30 * * * *", SCL, "2025-04-05T22:45:00-03:00", 5),
        all(&[
            "2025-04-05T23:00:00-03:00",
            "2025-04-05T23:30:00-03:00",
            "2025-04-05T23:00:00-04:00",
            "2025-04-05T23:30:00-04:00",
            "2025-04-06T00:00:00-04:00",
        ])
    );
}

#[test]
fn lord_howe_half_hour_gap() {
    // 2025-10-05 02:00 +10:30 becomes 02:30 +11.
    let got = fires("15 2 * * *", LHI, "2025-10-04T12:00:00+10:30", 2);
    assert_eq!(got[0].at, utc("2025-10-05T02:30:00+11:00"));
    assert!(matches!(got[0].dst, Some(DstNote::ShiftedOutOfGap { .. })));
    assert_eq!(got[1].at, utc("2025-10-06T02:15:00+11:00"));
    assert_eq!(
        instants("*/15 * * * *", LHI, "2025-10-05T01:50:00+10:30", 2),
        all(&["2025-10-05T02:30:00+11:00", "2025-10-05T02:45:00+11:00"])
    );
}

#[test]
fn lord_howe_half_hour_fold() {
    // 2025-04-06 02:00 +11 becomes 01:30 +10:30: 01:30-01:59 happens twice.
    assert_eq!(
        instants("45 1 * * *", LHI, "2025-04-05T12:00:00+11:00", 2),
        all(&["2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30"])
    );
    assert_eq!(
        instants("*/15 * * * *", LHI, "2025-04-06T01:20:00+11:00", 5),
        all(&[
            "2025-04-06T01:30:00+11:00",
            "2025-04-06T01:45:00+11:00",
            "2025-04-06T01:30:00+10:30",
            "2025-04-06T01:45:00+10:30",
            "2025-04-06T02:00:00+10:30",
        ])
    );
}

// ---- restart safety -----------------------------------------------------------------------------

#[test]
fn restart_inside_repeated_hour_never_refires_fixed_time_job() {
    let s = schedule("30 1 * * *", NY);
    let tomorrow = utc("2025-11-03T01:30:00-05:00");
    for after in [
        "2025-11-02T01:30:00-04:00", // exactly the fire
        "2025-11-02T01:45:00-04:00", // later in the first pass
        "2025-11-02T01:00:00-05:00", // second pass, before 01:30
        "2025-11-02T01:15:00-05:00",
        "2025-11-02T01:30:00-05:00", // the civil time again
        "2025-11-02T01:59:59-05:00",
    ] {
        assert_eq!(
            s.next_after(utc(after)).unwrap().at,
            tomorrow,
            "after {after}"
        );
    }
    // From before the fold the first pass is still ahead.
    assert_eq!(
        s.next_after(utc("2025-11-02T01:15:00-04:00")).unwrap().at,
        utc("2025-11-02T01:30:00-04:00")
    );
}

#[test]
fn restart_inside_repeated_hour_wildcard_continues_in_real_time() {
    let s = schedule("*/30 * * * *", NY);
    let cases = [
        ("2025-11-02T01:45:00-04:00", "2025-11-02T01:00:00-05:00"),
        ("2025-11-02T01:00:00-05:00", "2025-11-02T01:30:00-05:00"),
        ("2025-11-02T01:10:00-05:00", "2025-11-02T01:30:00-05:00"),
        ("2025-11-02T01:30:00-05:00", "2025-11-02T02:00:00-05:00"),
    ];
    for (after, expected) in cases {
        assert_eq!(
            s.next_after(utc(after)).unwrap().at,
            utc(expected),
            "after {after}"
        );
    }
}

#[test]
fn next_after_is_strict() {
    let s = schedule("0 * * * *", "UTC");
    let at = utc("2025-01-01T05:00:00Z");
    assert_eq!(s.next_after(at).unwrap().at, utc("2025-01-01T06:00:00Z"));
    let just_before = at - chrono::TimeDelta::nanoseconds(1);
    assert_eq!(s.next_after(just_before).unwrap().at, at);
}

// ---- warnings ---------------------------------------------------------------------------------

#[test]
fn star_step_quirk_is_warned_about_and_followed() {
    let s = schedule("0 9 */2 * FRI", "UTC");
    let warnings = s.warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("AND"), "{}", warnings[0]);
    // Vixie: odd days that are Fridays, not odd days or Fridays.
    assert_eq!(
        instants("0 9 */2 * FRI", "UTC", "2025-06-01T00:00:00Z", 3),
        all(&[
            "2025-06-13T09:00:00Z",
            "2025-06-27T09:00:00Z",
            "2025-07-11T09:00:00Z"
        ])
    );
    assert!(schedule("0 9 13 * FRI", "UTC").warnings().is_empty());
    assert!(schedule("*/5 * * * *", "UTC").warnings().is_empty());
    assert_eq!(schedule("0 9 13 * */2", "UTC").warnings().len(), 1);
}

// ---- missed fires, jitter, min interval -------------------------------------------------------

#[test]
fn missed_fires_after_a_month_of_per_minute_downtime() {
    let s = schedule("* * * * *", "UTC");
    let last = utc("2025-01-01T00:00:00Z");
    let now = utc("2025-01-31T00:00:00Z");
    let started = std::time::Instant::now();
    let missed = missed_between(&s, last, now);
    assert_eq!(missed.count, 30 * 1440);
    assert!(!missed.count_is_capped);
    assert_eq!(missed.latest.unwrap().at, now);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn missed_fires_across_dst_transitions() {
    let per_minute = schedule("* * * * *", NY);
    // 49 real hours, the repeated hour included.
    let m = missed_between(
        &per_minute,
        utc("2025-11-01T00:00:00-04:00"),
        utc("2025-11-03T00:00:00-05:00"),
    );
    assert_eq!(m.count, 49 * 60);
    // 47 real hours around the spring gap.
    let m = missed_between(
        &per_minute,
        utc("2025-03-08T00:00:00-05:00"),
        utc("2025-03-10T00:00:00-04:00"),
    );
    assert_eq!(m.count, 47 * 60);

    let fixed = schedule("30 1 * * *", NY);
    let m = missed_between(
        &fixed,
        utc("2025-10-31T12:00:00-04:00"),
        utc("2025-11-03T12:00:00-05:00"),
    );
    assert_eq!(m.count, 3);
    assert_eq!(m.latest.unwrap().at, utc("2025-11-03T01:30:00-05:00"));

    let shifted = schedule("30 2 * * *", NY);
    let m = missed_between(
        &shifted,
        utc("2025-03-08T00:00:00-05:00"),
        utc("2025-03-09T05:00:00-04:00"),
    );
    assert_eq!(m.count, 2);
    assert_eq!(m.latest.unwrap().at, utc("2025-03-09T03:00:00-04:00"));
}

#[test]
fn missed_fires_match_iteration_over_a_year() {
    for (expr, tz) in [
        ("7 * * * *", NY),
        ("*/20 0-3 * * *", SCL),
        ("15,45 1,2 * * MON-FRI", LHI),
        ("0 9 13 * FRI", "Europe/London"),
    ] {
        let s = schedule(expr, tz);
        let last = utc("2025-01-10T10:10:10Z");
        let now = utc("2026-01-20T20:20:20Z");
        let iterated = s.fires_after(last).take_while(|f| f.at <= now).count() as u64;
        let m = missed_between(&s, last, now);
        assert_eq!(m.count, iterated, "{expr} in {tz}");
        assert_eq!(
            m.latest,
            s.fires_after(last).take_while(|f| f.at <= now).last(),
            "{expr} in {tz}"
        );
    }
}

#[test]
fn nothing_missed_in_an_empty_window() {
    let s = schedule("0 2 * * *", "UTC");
    let m = missed_between(&s, utc("2025-01-01T02:00:00Z"), utc("2025-01-02T01:59:59Z"));
    assert_eq!((m.latest, m.count), (None, 0));
    let m = missed_between(&s, utc("2025-01-02T00:00:00Z"), utc("2025-01-01T00:00:00Z"));
    assert_eq!((m.latest, m.count), (None, 0));
}

#[test]
fn jitter_is_stable_bounded_and_clamped() {
    let daily = schedule("0 2 * * *", "UTC");
    let max = Duration::from_secs(600);
    let a = jitter_offset("host-a", "prod-daily", max, &daily);
    assert_eq!(a, jitter_offset("host-a", "prod-daily", max, &daily));
    assert!(a < max);
    let every_5 = schedule("*/5 * * * *", "UTC");
    assert!(jitter_offset("host-a", "prod-daily", max, &every_5) < Duration::from_secs(150));
}

#[test]
fn min_interval_examples() {
    assert_eq!(
        schedule("*/5 * * * *", "UTC").min_interval(),
        chrono::TimeDelta::minutes(5)
    );
    assert_eq!(
        schedule("0 9 * * MON-FRI", "UTC").min_interval(),
        chrono::TimeDelta::days(1)
    );
    assert_eq!(
        schedule("0 9 * * MON", "UTC").min_interval(),
        chrono::TimeDelta::days(7)
    );
}
