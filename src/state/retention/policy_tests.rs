use super::*;
use std::path::Path;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn at(name: &str, time: &str, size: u64) -> Candidate {
    Candidate {
        path: PathBuf::from(name),
        size,
        created: t(time),
        upload_pending: false,
        good: true,
    }
}

fn bundle(name: &str, day: u32, size: u64) -> Candidate {
    at(name, &format!("2025-01-{day:02}T00:00:00Z"), size)
}

fn names(p: &[Prune]) -> Vec<(&str, &str)> {
    p.iter()
        .map(|x| (x.path.to_str().unwrap_or_default(), x.rule.as_str()))
        .collect()
}

/// The bundles kept, oldest first.
fn kept(d: &[Decision]) -> Vec<String> {
    let mut out: Vec<String> = (d.iter().filter(|d| d.removed.is_none()))
        .map(|d| d.bundle.path.display().to_string())
        .collect();
    out.reverse();
    out
}

#[test]
fn keep_last_removes_the_oldest() {
    let b = vec![
        bundle("c", 3, 1),
        bundle("a", 1, 1),
        bundle("b", 2, 1),
        bundle("d", 4, 1),
    ];
    let policy = Policy {
        keep_last: Some(2),
        ..Policy::default()
    };
    assert_eq!(
        names(&select(b, &policy, t("2025-01-05T00:00:00Z"))),
        [("a", "keepLast"), ("b", "keepLast")]
    );
}

#[test]
fn max_age_and_total_size_never_take_the_newest() {
    let policy = Policy {
        max_age: Some(Duration::from_secs(86400 * 2)),
        max_total_size: Some(10),
        ..Policy::default()
    };
    let mut b = vec![bundle("a", 1, 5), bundle("b", 3, 5), bundle("c", 4, 20)];
    // The newest good bundle is protected too: make only the newest good.
    b[0].good = false;
    b[1].good = false;
    assert_eq!(
        names(&select(b, &policy, t("2025-01-04T12:00:00Z"))),
        [("a", "maxAge"), ("b", "maxTotalSize")]
    );
}

#[test]
fn pending_uploads_are_kept() {
    let mut pending = bundle("a", 1, 100);
    pending.upload_pending = true;
    let policy = Policy {
        keep_last: Some(1),
        max_age: Some(Duration::from_secs(1)),
        max_total_size: Some(1),
        ..Policy::default()
    };
    let b = vec![pending, bundle("b", 2, 100), bundle("c", 3, 100)];
    assert_eq!(
        names(&select(b, &policy, t("2025-02-01T00:00:00Z"))),
        [("b", "keepLast")]
    );
}

#[test]
fn a_run_of_failures_never_evicts_the_last_good_bundle() {
    // Five partial bundles of failed runs after one good one; keepLast 2 and a tight size cap.
    let mut b = vec![bundle("good", 1, 10)];
    for day in 2..=6 {
        let mut failed = bundle(&format!("failed{day}"), day, 10);
        failed.good = false;
        b.push(failed);
    }
    let policy = Policy {
        keep_last: Some(2),
        max_age: Some(Duration::from_secs(3600)),
        max_total_size: Some(15),
        ..Policy::default()
    };
    let d = decide(b, &policy, t("2025-02-01T00:00:00Z"));
    assert_eq!(kept(&d), ["good", "failed6"]);
    let good = d.iter().find(|d| d.bundle.path == Path::new("good"));
    assert_eq!(
        good.map(|d| d.kept_by.clone()),
        Some(vec![Kept::NewestGood])
    );
}

/// Hourly bundles for 90 days (2,160 of them); the classic
/// `keepLast: 3, keepHourly: 24, keepDaily: 14, keepWeekly: 8, keepMonthly: 12`.
#[test]
fn a_quarter_of_hourly_bundles_thins_to_the_spread_asked_for() {
    let start = t("2026-09-01T00:30:00Z");
    let b: Vec<Candidate> = (0..90 * 24)
        .map(|h| {
            let created = start + chrono::Duration::hours(h);
            let mut c = at(&format!("b{h:04}"), "2026-01-01T00:00:00Z", 1);
            c.created = created;
            c
        })
        .collect();
    let policy = Policy {
        keep_last: Some(3),
        ..Policy::default()
    }
    .with(Period::Hourly, Some(24))
    .with(Period::Daily, Some(14))
    .with(Period::Weekly, Some(8))
    .with(Period::Monthly, Some(12));
    let now = start + chrono::Duration::hours(90 * 24);
    let d = decide(b, &policy, now);
    let kept_names = kept(&d);
    // 24 hourly (covering the 3 last) + 13 more daily (the newest day is already kept) + the
    // weekly ones on days not kept yet + monthly: Sep, Oct, Nov (the newest of Nov is kept).
    let labels = |p: Period| -> Vec<String> {
        (d.iter())
            .flat_map(|d| d.kept_by.iter())
            .filter_map(|k| match k {
                Kept::Period(q, l) if *q == p => Some(l.clone()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(labels(Period::Hourly).len(), 24);
    assert_eq!(labels(Period::Daily).len(), 14);
    assert_eq!(
        labels(Period::Weekly),
        [
            "2026-W48", "2026-W47", "2026-W46", "2026-W45", "2026-W44", "2026-W43", "2026-W42",
            "2026-W41"
        ]
    );
    assert_eq!(labels(Period::Monthly), ["2026-11", "2026-10", "2026-09"]);
    // Fewer months than 12 have a bundle: the oldest bundle stays too.
    assert!(
        kept_names.first().is_some_and(|n| n == "b0000"),
        "{kept_names:?}"
    );
    // 24 hourly (Nov 29, covering keepLast's 3); 13 more daily (Nov 16-28, 23:30); weekly adds
    // the Sundays before Nov 16 (Nov 15, 8, 1, Oct 25, 18, 11); monthly adds Oct 31 and Sep 30;
    // and the oldest bundle: 24 + 13 + 6 + 2 + 1.
    assert_eq!(kept_names.len(), 46, "{kept_names:?}");
    // The newest of each kept day is the last hour of that day.
    for d in d.iter().filter(|d| {
        d.kept_by
            .iter()
            .any(|k| matches!(k, Kept::Period(Period::Daily, _)))
    }) {
        let hour = d.bundle.created.format("%H").to_string();
        assert!(
            hour == "23" || d.kept_by.contains(&Kept::Newest),
            "{:?}",
            d.bundle
        );
    }
}

#[test]
fn daily_periods_are_read_in_the_jobs_time_zone() {
    // 23:30 UTC on the 1st is already the 2nd in Tokyo; 10:00 UTC on the 2nd is the 2nd too.
    let b = vec![
        at("late", "2026-03-01T23:30:00Z", 1),
        at("next", "2026-03-02T10:00:00Z", 1),
    ];
    let daily = Policy::default().with(Period::Daily, Some(5));
    let utc = decide(b.clone(), &daily, t("2026-03-03T00:00:00Z"));
    assert_eq!(kept(&utc), ["late", "next"]);
    let tokyo = Policy {
        zone: chrono_tz::Asia::Tokyo,
        ..daily
    };
    // One Tokyo day: only its newest stays (the oldest is kept as well: fewer days than 5).
    let d = decide(b, &tokyo, t("2026-03-03T00:00:00Z"));
    assert_eq!(kept(&d), ["late", "next"]);
    let late = d.iter().find(|d| d.bundle.path == Path::new("late"));
    assert_eq!(
        late.map(|d| d.kept_by.clone()),
        Some(vec![Kept::Oldest(Period::Daily)])
    );
}

#[test]
fn the_newest_of_each_period_stays_and_the_rest_of_the_period_goes() {
    let b = vec![
        at("mon-a", "2026-12-07T01:00:00Z", 1),
        at("mon-b", "2026-12-07T02:00:00Z", 1),
        at("tue-a", "2026-12-08T01:00:00Z", 1),
        at("tue-b", "2026-12-08T02:00:00Z", 1),
        at("wed", "2026-12-09T02:00:00Z", 1),
    ];
    let policy = Policy::default().with(Period::Daily, Some(2));
    let d = decide(b, &policy, t("2026-12-10T00:00:00Z"));
    assert_eq!(kept(&d), ["tue-b", "wed"]);
    let p = select(
        d.iter().map(|d| d.bundle.clone()).collect(),
        &policy,
        t("2026-12-10T00:00:00Z"),
    );
    assert_eq!(
        names(&p),
        [
            ("mon-a", "keepDaily"),
            ("mon-b", "keepDaily"),
            ("tue-a", "keepDaily")
        ]
    );
}

#[test]
fn weeks_are_iso_weeks_across_the_year_end() {
    // 2026-12-31 (Thursday) and 2027-01-03 (Sunday) are both in ISO week 2026-W53.
    assert_eq!(
        Period::Weekly.label(t("2026-12-31T12:00:00Z"), Tz::UTC),
        "2026-W53"
    );
    assert_eq!(
        Period::Weekly.label(t("2027-01-03T12:00:00Z"), Tz::UTC),
        "2026-W53"
    );
    assert_eq!(
        Period::Weekly.label(t("2027-01-04T12:00:00Z"), Tz::UTC),
        "2027-W01"
    );
}

#[test]
fn rules_combine_and_max_age_trims_what_they_keep() {
    let b: Vec<Candidate> = (1..=20)
        .map(|d| bundle(&format!("d{d:02}"), d, 1))
        .collect();
    let policy = Policy {
        keep_last: Some(2),
        max_age: Some(Duration::from_secs(86400 * 10)),
        ..Policy::default()
    }
    .with(Period::Weekly, Some(4));
    let d = decide(b, &policy, t("2025-01-21T00:00:00Z"));
    // keepLast: d19, d20; weekly (ISO weeks end on Sundays 5, 12, 19): d20 (W04), d19 (W03),
    // d12 (W02), d05 (W01); maxAge 10 days drops d05 (and d12 stays: 9 days old).
    assert_eq!(kept(&d), ["d12", "d19", "d20"]);
    let d05 = d.iter().find(|d| d.bundle.path == Path::new("d05"));
    assert_eq!(d05.and_then(|d| d.removed), Some(Removed::MaxAge));
    assert_eq!(policy.keep_rule_names(), "keepLast,keepWeekly");
}

#[test]
fn without_a_keep_rule_only_age_and_size_remove() {
    let b = vec![bundle("a", 1, 1), bundle("b", 2, 1)];
    let d = decide(b, &Policy::default(), t("2030-01-01T00:00:00Z"));
    assert_eq!(kept(&d), ["a", "b"]);
    assert!(d.iter().all(|d| d.kept_by.contains(&Kept::NoKeepRule)));
}
