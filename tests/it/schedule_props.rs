//! Properties of fire sequences that must hold for any valid expression, zone and instant.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;
use troubleshoot_agent::schedule::{Schedule, jitter_offset, missed_between};

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Europe/London",
    "Asia/Kolkata",
];

fn field(lo: u32, hi: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_string()),
        (1..=(hi - lo + 1)).prop_map(|n| format!("*/{n}")),
        (lo..=hi).prop_map(|v| v.to_string()),
        (lo..=hi, lo..=hi).prop_map(|(a, b)| format!("{}-{}", a.min(b), a.max(b))),
        (lo..=hi, lo..=hi, 1..=(hi - lo + 1)).prop_map(|(a, b, s)| format!(
            "{}-{}/{s}",
            a.min(b),
            a.max(b)
        )),
        proptest::collection::vec(lo..=hi, 1..4).prop_map(|v| v
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")),
    ]
}

fn schedule() -> impl Strategy<Value = Schedule> {
    schedule_in(ZONES)
}

fn schedule_in(zones: &'static [&'static str]) -> impl Strategy<Value = Schedule> {
    (
        field(0, 59),
        field(0, 23),
        field(1, 31),
        field(1, 12),
        field(0, 7),
        proptest::sample::select(zones),
    )
        .prop_filter_map("never fires", |(mi, h, dom, mo, dow, tz)| {
            Schedule::parse(&format!("{mi} {h} {dom} {mo} {dow}"), tz).ok()
        })
}

/// Instants in 2024-2026, biased towards the days around DST transitions.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let base = "2024-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap();
    let transitions: Vec<DateTime<Utc>> = [
        "2025-03-09T06:00:00Z", // New York spring
        "2025-11-02T05:00:00Z", // New York fall
        "2025-04-06T02:30:00Z", // Santiago fall (23:00-24:00 repeated)
        "2025-09-07T03:30:00Z", // Santiago spring (midnight gap)
        "2025-04-05T14:30:00Z", // Lord Howe fall (30 min)
        "2025-10-04T15:00:00Z", // Lord Howe spring (30 min)
        "2025-03-30T00:30:00Z", // London spring
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect();
    prop_oneof![
        (0i64..3 * 365 * 86_400).prop_map(move |s| base + TimeDelta::seconds(s)),
        (
            proptest::sample::select(transitions),
            -3 * 3600i64..3 * 3600
        )
            .prop_map(|(t, s)| t + TimeDelta::seconds(s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn next_after_is_strictly_later_and_increasing(s in schedule(), after in instant()) {
        let fires: Vec<_> = s.fires_after(after).take(20).collect();
        prop_assert!(!fires.is_empty());
        prop_assert!(fires[0].at > after);
        for w in fires.windows(2) {
            prop_assert!(w[1].at > w[0].at, "{} then {}", w[0].at, w[1].at);
        }
        // Restarting from any fire (or just before it) continues the same sequence.
        for (i, f) in fires.iter().enumerate().skip(1) {
            prop_assert_eq!(s.next_after(f.at - TimeDelta::nanoseconds(1)).map(|x| x.at), Some(f.at));
            prop_assert_eq!(s.next_after(fires[i - 1].at).map(|x| x.at), Some(f.at));
        }
    }

    #[test]
    fn fixed_time_jobs_fire_once_per_civil_time(s in schedule(), after in instant()) {
        prop_assume!(s.is_fixed_time());
        let fires: Vec<_> = s.fires_after(after).take(30).collect();
        let mut civils: Vec<_> = fires.iter().map(|f| match f.dst {
            Some(troubleshoot_agent::schedule::DstNote::ShiftedOutOfGap { civil }) => civil,
            _ => f.civil,
        }).collect();
        let n = civils.len();
        civils.sort();
        civils.dedup();
        prop_assert_eq!(civils.len(), n);
    }

    #[test]
    fn jitter_is_bounded_and_stable(
        s in schedule(),
        host in "[a-z0-9.-]{0,20}",
        job in "[a-z0-9-]{1,20}",
        max_secs in 0u64..86_400,
    ) {
        let max = Duration::from_secs(max_secs);
        let a = jitter_offset(&host, &job, max, &s);
        prop_assert_eq!(a, jitter_offset(&host, &job, max, &s));
        prop_assert!(a.is_zero() || a < max);
        let half = s.min_interval().to_std().unwrap() / 2;
        prop_assert!(a.is_zero() || a < half);
    }

    #[test]
    fn missed_count_matches_iteration(
        s in schedule(),
        last in instant(),
        window_minutes in 0i64..(3 * 1440),
    ) {
        let now = last + TimeDelta::minutes(window_minutes) + TimeDelta::seconds(17);
        let iterated: Vec<_> = s.fires_after(last).take_while(|f| f.at <= now).collect();
        let missed = missed_between(&s, last, now);
        prop_assert_eq!(missed.count, iterated.len() as u64);
        prop_assert_eq!(missed.latest, iterated.last().copied());
        prop_assert!(!missed.count_is_capped);
    }

    #[test]
    fn min_interval_is_a_lower_bound_in_utc(s in schedule_in(&["UTC"]), after in instant()) {
        let fires: Vec<_> = s.fires_after(after).take(50).collect();
        for w in fires.windows(2) {
            prop_assert!(w[1].at - w[0].at >= s.min_interval());
        }
    }
}
