//! History limits per job: how many run records are kept (`keepLast`) and for how long
//! (`maxAge`), so a `* * * * *` job does not grow the state directory by 1,440 files a day.
//!
//! The rule, kept simple on purpose: a record goes only when nothing on disk still needs it.
//! The newest record, a `running` record, the record of the newest successful run, a record whose bundle is still
//! on disk (bundles are retention's business: their record goes once retention pruned them) and a
//! record with an upload still pending are never removed.

use super::records::{self, RunRecord, RunStatus};
use super::{StateDir, StateError};
use crate::state::records::UploadStatus;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A job's history limits (the job's `spec.history` over the agent's `history` setting).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// Keep at most this many records.
    pub keep_last: Option<u32>,
    /// Remove records of runs that started longer ago than this.
    pub max_age: Option<Duration>,
}

/// Which rule removes a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// More than `keepLast` records.
    KeepLast,
    /// Older than `maxAge`.
    MaxAge,
}

impl Rule {
    /// The field name, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::KeepLast => "keepLast",
            Rule::MaxAge => "maxAge",
        }
    }
}

/// One record, as the history limits see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Its run id.
    pub run_id: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// How it ended.
    pub status: RunStatus,
    /// Something on disk still needs it: its bundle is there, or an upload is pending.
    pub pinned: bool,
}

/// Which records `limits` removes at `now`, with the rule; `entries` may be in any order.
pub fn select(mut entries: Vec<Entry>, limits: &Limits, now: DateTime<Utc>) -> Vec<(String, Rule)> {
    // Newest first: the index is how many newer records there are.
    entries.sort_by(|a, b| {
        b.started_at
            .cmp(&a.started_at)
            .then_with(|| b.run_id.cmp(&a.run_id))
    });
    let newest_success = entries.iter().position(|e| e.status.is_success());
    let max_age = limits
        .max_age
        .and_then(|age| chrono::Duration::from_std(age).ok());
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        // The newest record (the run just made) stays whatever its age.
        if i == 0 || e.pinned || e.status == RunStatus::Running || Some(i) == newest_success {
            continue;
        }
        let rule = if limits.keep_last.is_some_and(|k| i >= k.max(1) as usize) {
            Rule::KeepLast
        } else if max_age.is_some_and(|age| now - e.started_at > age) {
            Rule::MaxAge
        } else {
            continue;
        };
        out.push((e.run_id, rule));
    }
    out
}

/// A record [`prune`] removed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pruned {
    /// The record file.
    pub path: PathBuf,
    /// Why.
    pub rule: Rule,
}

/// Applies `limits` to `job`'s run records at `now`, through the state directory handle. Run
/// after [`super::retention::apply`], so a bundle retention removes frees its record here.
/// Unreadable records are left alone (history sets them aside).
pub fn prune(
    state_dir: &Path,
    job: &str,
    limits: &Limits,
    now: DateTime<Utc>,
) -> Result<Vec<Pruned>, StateError> {
    if limits.keep_last.is_none() && limits.max_age.is_none() {
        return Ok(Vec::new());
    }
    let dir = StateDir::open(state_dir)?;
    let paths = records::record_paths_in(&dir, job)?;
    if limits.max_age.is_none() && limits.keep_last.is_some_and(|k| paths.len() <= k as usize) {
        // The common case: under the limit, nothing to read.
        return Ok(Vec::new());
    }
    let mut entries = Vec::with_capacity(paths.len());
    for path in &paths {
        let Ok(record) = records::read_record_in(&dir, path) else {
            continue;
        };
        entries.push(Entry {
            pinned: pinned(&dir, &record),
            run_id: record.run_id.into(),
            started_at: record.started_at,
            status: record.status,
        });
    }
    let chosen = select(entries, limits, now);
    let run_ids: Vec<String> = chosen.iter().map(|(id, _)| id.clone()).collect();
    // Chosen from the records as read above; removed only if still prunable as they are now.
    let removed = records::remove(state_dir, job, &run_ids, |dir, r| {
        r.status == RunStatus::Running || pinned(dir, r)
    })?;
    Ok(chosen
        .into_iter()
        .map(|(run_id, rule)| Pruned {
            path: records::record_path(state_dir, job, &run_id),
            rule,
        })
        .filter(|p| removed.contains(&p.path))
        .collect())
}

fn pinned(dir: &StateDir, record: &RunRecord) -> bool {
    let bundle_on_disk = record
        .bundle
        .as_ref()
        .is_some_and(|b| b.pruned_at.is_none() && !matches!(dir.kind(&b.path), Ok(None) | Err(_)));
    bundle_on_disk
        || record
            .uploads
            .iter()
            .any(|u| u.status == UploadStatus::Pending)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn entry(day: u32, status: RunStatus, pinned: bool) -> Entry {
        Entry {
            run_id: format!("202501{day:02}T000000Z"),
            started_at: t(&format!("2025-01-{day:02}T00:00:00Z")),
            status,
            pinned,
        }
    }

    fn ids(out: &[(String, Rule)]) -> Vec<(u32, Rule)> {
        out.iter()
            .map(|(id, rule)| (id[6..8].parse().expect("day"), *rule))
            .collect()
    }

    #[test]
    fn keep_last_removes_the_oldest_records() {
        let entries = (1..=5)
            .map(|d| entry(d, RunStatus::Succeeded, false))
            .collect();
        let limits = Limits {
            keep_last: Some(2),
            max_age: None,
        };
        let out = select(entries, &limits, t("2025-01-06T00:00:00Z"));
        assert_eq!(
            ids(&out),
            [
                (3, Rule::KeepLast),
                (2, Rule::KeepLast),
                (1, Rule::KeepLast)
            ]
        );
    }

    #[test]
    fn max_age_removes_old_records() {
        let entries = (1..=4)
            .map(|d| entry(d, RunStatus::Failed, false))
            .collect();
        let limits = Limits {
            keep_last: Some(100),
            max_age: Some(Duration::from_secs(86400 * 2)),
        };
        let out = select(entries, &limits, t("2025-01-04T12:00:00Z"));
        assert_eq!(ids(&out), [(2, Rule::MaxAge), (1, Rule::MaxAge)]);
    }

    #[test]
    fn running_pinned_and_newest_success_are_never_removed() {
        let entries = vec![
            entry(1, RunStatus::Running, false),
            entry(2, RunStatus::Succeeded, true),
            entry(3, RunStatus::SucceededWithErrors, false),
            entry(4, RunStatus::Failed, false),
            entry(5, RunStatus::Failed, false),
        ];
        let limits = Limits {
            keep_last: Some(1),
            max_age: Some(Duration::from_secs(1)),
        };
        let out = select(entries, &limits, t("2025-02-01T00:00:00Z"));
        // 5 is the newest; 3 is the newest success; 2 has its bundle; 1 is running.
        assert_eq!(ids(&out), [(4, Rule::KeepLast)]);
    }

    #[test]
    fn no_limits_remove_nothing() {
        let entries = (1..=3)
            .map(|d| entry(d, RunStatus::Failed, false))
            .collect();
        assert!(select(entries, &Limits::default(), t("2030-01-01T00:00:00Z")).is_empty());
    }
}
