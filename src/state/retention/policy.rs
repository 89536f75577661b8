//! Which bundles a job keeps: the pure half of retention (plain functions over bundles, the
//! policy and "now"; no I/O).
//!
//! Keep rules follow restic's `forget --keep-*`: `keepLast` keeps the newest N; each period rule
//! (`keepHourly`, `keepDaily`, `keepWeekly`, `keepMonthly`, `keepYearly`) keeps the newest bundle
//! of each of its N most recent periods that have a bundle, and, when fewer periods have one,
//! also the oldest bundle (so a young job keeps its history's start). A bundle any keep rule
//! keeps is kept. Then `maxAge` and `maxTotalSize` remove kept bundles, oldest first. Never
//! removed, by any rule: the newest bundle, the newest *good* bundle (complete, from a run that
//! succeeded: a run of failures must not evict the last good data), and bundles whose upload is
//! still pending. Periods are read in the job's time zone.

use chrono::{DateTime, Datelike, Timelike, Utc};
use chrono_tz::Tz;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// A job's retention settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Keep the newest N bundles.
    pub keep_last: Option<u32>,
    /// Keep the newest bundle of each of the N most recent hours, days, ISO weeks, months and
    /// years that have one (in [`Period::ALL`] order).
    pub keep_periods: [Option<u32>; 5],
    /// Remove bundles older than this.
    pub max_age: Option<Duration>,
    /// Keep the total size under this many bytes.
    pub max_total_size: Option<u64>,
    /// The time zone periods are read in (the job's schedule zone).
    pub zone: Tz,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            keep_last: None,
            keep_periods: [None; 5],
            max_age: None,
            max_total_size: None,
            zone: Tz::UTC,
        }
    }
}

impl Policy {
    /// The period rule's count.
    pub fn keep(&self, period: Period) -> Option<u32> {
        self.keep_periods[period as usize]
    }

    /// Sets the period rule's count.
    pub fn with(mut self, period: Period, n: Option<u32>) -> Self {
        self.keep_periods[period as usize] = n;
        self
    }

    /// Whether any keep rule is set (without one, every bundle passes the keep phase).
    fn has_keep_rule(&self) -> bool {
        self.keep_last.is_some() || self.keep_periods.iter().any(Option::is_some)
    }

    /// The keep rules set, as the job file spells them (`keepLast,keepDaily`).
    pub fn keep_rule_names(&self) -> String {
        let mut names: Vec<&str> = Vec::new();
        if self.keep_last.is_some() {
            names.push("keepLast");
        }
        names.extend(
            (Period::ALL.iter())
                .filter(|p| self.keep(**p).is_some())
                .map(|p| p.field()),
        );
        names.join(",")
    }
}

/// A period of the keep rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Period {
    /// `keepHourly`.
    Hourly = 0,
    /// `keepDaily`.
    Daily = 1,
    /// `keepWeekly` (ISO weeks, Monday first).
    Weekly = 2,
    /// `keepMonthly`.
    Monthly = 3,
    /// `keepYearly`.
    Yearly = 4,
}

impl Period {
    /// Every period, shortest first.
    pub const ALL: [Period; 5] = [
        Period::Hourly,
        Period::Daily,
        Period::Weekly,
        Period::Monthly,
        Period::Yearly,
    ];

    /// The job file's field.
    pub fn field(self) -> &'static str {
        match self {
            Period::Hourly => "keepHourly",
            Period::Daily => "keepDaily",
            Period::Weekly => "keepWeekly",
            Period::Monthly => "keepMonthly",
            Period::Yearly => "keepYearly",
        }
    }

    /// The period `at` falls in, in `zone`, as a label that also orders and compares periods
    /// (`2026-12-07T14`, `2026-12-07`, `2026-W49`, `2026-12`, `2026`).
    pub fn label(self, at: DateTime<Utc>, zone: Tz) -> String {
        let t = at.with_timezone(&zone);
        match self {
            Period::Hourly => format!(
                "{:04}-{:02}-{:02}T{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour()
            ),
            Period::Daily => format!("{:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            Period::Weekly => {
                let w = t.iso_week();
                format!("{:04}-W{:02}", w.year(), w.week())
            }
            Period::Monthly => format!("{:04}-{:02}", t.year(), t.month()),
            Period::Yearly => format!("{:04}", t.year()),
        }
    }
}

/// One bundle on disk, as retention sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// Archive path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// When its run started.
    pub created: DateTime<Utc>,
    /// An upload of it has not finished yet.
    pub upload_pending: bool,
    /// A complete bundle of a run that succeeded (with or without collector errors, or with a
    /// failed analysis: the data is whole).
    pub good: bool,
}

/// Why a bundle stays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kept {
    /// The newest bundle.
    Newest,
    /// The newest good bundle.
    NewestGood,
    /// Its upload is pending.
    UploadPending,
    /// One of the newest `keepLast`.
    Last,
    /// The newest bundle of this period (its label).
    Period(Period, String),
    /// The oldest bundle, kept because this period rule has periods left.
    Oldest(Period),
    /// No keep rule is set.
    NoKeepRule,
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kept::Newest => f.write_str("newest"),
            Kept::NewestGood => f.write_str("newest good"),
            Kept::UploadPending => f.write_str("upload pending"),
            Kept::Last => f.write_str("keepLast"),
            Kept::Period(p, label) => write!(f, "{} {label}", p.field()),
            Kept::Oldest(p) => write!(f, "{} oldest", p.field()),
            Kept::NoKeepRule => f.write_str("no keep rule"),
        }
    }
}

/// Why a bundle goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Removed {
    /// No keep rule keeps it.
    NotKept,
    /// Older than `maxAge`.
    MaxAge,
    /// The oldest kept while the total exceeded `maxTotalSize`.
    MaxTotalSize,
}

/// One bundle's fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The bundle.
    pub bundle: Candidate,
    /// Every reason it would stay (empty: no keep rule keeps it).
    pub kept_by: Vec<Kept>,
    /// Why it goes (`None`: it stays).
    pub removed: Option<Removed>,
}

/// A bundle to remove and the rule that removes it, as run records name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prune {
    /// Archive path.
    pub path: PathBuf,
    /// `keepLast` (or the keep rules set, `keepLast,keepDaily`), `maxAge` or `maxTotalSize`.
    pub rule: String,
}

/// Every bundle's fate under `policy` at `now`, newest first. `bundles` may be in any order.
pub fn decide(mut bundles: Vec<Candidate>, policy: &Policy, now: DateTime<Utc>) -> Vec<Decision> {
    bundles.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| b.path.cmp(&a.path)));
    let mut out: Vec<Decision> = (bundles.into_iter())
        .map(|bundle| Decision {
            bundle,
            kept_by: Vec::new(),
            removed: None,
        })
        .collect();
    keep_phase(&mut out, policy);
    let protected = |d: &Decision| {
        (d.kept_by.iter())
            .any(|k| matches!(k, Kept::Newest | Kept::NewestGood | Kept::UploadPending))
    };
    for d in &mut out {
        if d.kept_by.is_empty() {
            d.removed = Some(Removed::NotKept);
        }
    }
    if let Some(age) = policy
        .max_age
        .and_then(|a| chrono::Duration::from_std(a).ok())
    {
        for d in out
            .iter_mut()
            .filter(|d| d.removed.is_none() && !protected(d))
        {
            if now - d.bundle.created > age {
                d.removed = Some(Removed::MaxAge);
            }
        }
    }
    if let Some(max) = policy.max_total_size {
        let mut total: u64 = (out.iter().filter(|d| d.removed.is_none()))
            .map(|d| d.bundle.size)
            .sum();
        for d in out.iter_mut().rev() {
            if total <= max {
                break;
            }
            if d.removed.is_none() && !protected(d) {
                total -= d.bundle.size;
                d.removed = Some(Removed::MaxTotalSize);
            }
        }
    }
    out
}

/// The protections and keep rules, over `out` sorted newest first.
fn keep_phase(out: &mut [Decision], policy: &Policy) {
    if let Some(first) = out.first_mut() {
        first.kept_by.push(Kept::Newest);
    }
    if let Some(good) = out.iter_mut().find(|d| d.bundle.good) {
        good.kept_by.push(Kept::NewestGood);
    }
    for d in out.iter_mut().filter(|d| d.bundle.upload_pending) {
        d.kept_by.push(Kept::UploadPending);
    }
    if !policy.has_keep_rule() {
        out.iter_mut()
            .for_each(|d| d.kept_by.push(Kept::NoKeepRule));
        return;
    }
    let last = policy.keep_last.map_or(0, |n| n as usize);
    out.iter_mut()
        .take(last)
        .for_each(|d| d.kept_by.push(Kept::Last));
    for period in Period::ALL {
        let Some(mut left) = policy.keep(period) else {
            continue;
        };
        let mut previous: Option<String> = None;
        let count = out.len();
        for (i, d) in out.iter_mut().enumerate() {
            if left == 0 {
                break;
            }
            let label = period.label(d.bundle.created, policy.zone);
            if previous.as_ref() != Some(&label) {
                d.kept_by.push(Kept::Period(period, label.clone()));
                previous = Some(label);
                left -= 1;
            } else if i + 1 == count {
                // Fewer periods with a bundle than asked for: the oldest stays too (restic).
                d.kept_by.push(Kept::Oldest(period));
            }
        }
    }
}

/// Which bundles `policy` removes at `now`, oldest first.
pub fn select(bundles: Vec<Candidate>, policy: &Policy, now: DateTime<Utc>) -> Vec<Prune> {
    (decide(bundles, policy, now).into_iter().rev())
        .filter_map(|d| {
            let rule = match d.removed? {
                Removed::NotKept => policy.keep_rule_names(),
                Removed::MaxAge => "maxAge".to_string(),
                Removed::MaxTotalSize => "maxTotalSize".to_string(),
            };
            Some(Prune {
                path: d.bundle.path,
                rule,
            })
        })
        .collect()
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
