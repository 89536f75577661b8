//! Bundle retention per job: `keepLast`, `maxAge`, `maxTotalSize`, oldest first. The newest
//! bundle and bundles whose upload is still pending are never removed; the run record of a
//! removed bundle says when and by which rule.

use super::StateError;
use super::records::{self, RunRecord};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A job's retention settings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Keep at most this many bundles.
    pub keep_last: Option<u32>,
    /// Remove bundles older than this.
    pub max_age: Option<Duration>,
    /// Keep the total size under this many bytes.
    pub max_total_size: Option<u64>,
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
}

/// A bundle to remove and the rule that removes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prune {
    /// Archive path.
    pub path: PathBuf,
    /// `keepLast`, `maxAge` or `maxTotalSize`.
    pub rule: &'static str,
}

/// Which bundles `policy` removes at `now`. `bundles` may be in any order.
pub fn select(mut bundles: Vec<Candidate>, policy: &Policy, now: DateTime<Utc>) -> Vec<Prune> {
    bundles.sort_by(|a, b| a.created.cmp(&b.created).then_with(|| a.path.cmp(&b.path)));
    let Some(newest) = bundles.pop() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut kept: Vec<Candidate> = Vec::new();
    let excess = (bundles.len() + 1)
        .saturating_sub(policy.keep_last.map_or(usize::MAX, |k| k.max(1) as usize));
    let mut removed_for_count = 0;
    for b in bundles {
        let too_old = policy
            .max_age
            .and_then(|age| chrono::Duration::from_std(age).ok())
            .is_some_and(|age| now - b.created > age);
        if b.upload_pending {
            kept.push(b);
        } else if removed_for_count < excess {
            removed_for_count += 1;
            out.push(Prune {
                path: b.path,
                rule: "keepLast",
            });
        } else if too_old {
            out.push(Prune {
                path: b.path,
                rule: "maxAge",
            });
        } else {
            kept.push(b);
        }
    }
    if let Some(max) = policy.max_total_size {
        let mut total: u64 = kept.iter().map(|b| b.size).sum::<u64>() + newest.size;
        for b in kept {
            if total <= max {
                break;
            }
            if !b.upload_pending {
                total -= b.size;
                out.push(Prune {
                    path: b.path,
                    rule: "maxTotalSize",
                });
            }
        }
    }
    out
}

/// Applies `policy` to `job`'s bundles: removes the files and notes it in their run records.
pub fn apply(
    state_dir: &Path,
    job: &str,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<Prune>, StateError> {
    let mut with_bundles: Vec<(PathBuf, RunRecord)> = Vec::new();
    for path in records::record_paths(state_dir, job)? {
        let Ok(record) = records::read_record(&path) else {
            continue;
        };
        match &record.bundle {
            Some(b) if b.pruned_at.is_none() && b.path.exists() => {
                with_bundles.push((path, record));
            }
            // A prune cut off by a crash after its record was written: the file goes now (the
            // same size: a newer bundle that took the freed name is left alone).
            Some(b)
                if b.pruned_at.is_some()
                    && std::fs::metadata(&b.path).is_ok_and(|m| m.len() == b.size) =>
            {
                let _ = std::fs::remove_file(&b.path);
            }
            _ => {}
        }
    }
    let candidates = with_bundles
        .iter()
        .filter_map(|(_, r)| {
            let b = r.bundle.as_ref()?;
            Some(Candidate {
                path: b.path.clone(),
                size: b.size,
                created: r.started_at,
                upload_pending: r.uploads.iter().any(|u| u.status == "pending"),
            })
        })
        .collect();
    let prunes = select(candidates, policy, now);
    for prune in &prunes {
        // The record first: a crash before the file goes leaves a record that says pruned and a
        // file the next pass removes, never a record naming a bundle that is gone.
        if let Some((_, record)) = with_bundles
            .iter_mut()
            .find(|(_, r)| r.bundle.as_ref().is_some_and(|b| b.path == prune.path))
        {
            if let Some(b) = record.bundle.as_mut() {
                b.pruned_at = Some(now);
                b.pruned_by = Some(prune.rule.to_string());
            }
            records::write_record(state_dir, record)?;
        }
        match std::fs::remove_file(&prune.path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(StateError::Io {
                    path: prune.path.clone(),
                    source,
                });
            }
        }
    }
    Ok(prunes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn bundle(name: &str, day: u32, size: u64) -> Candidate {
        Candidate {
            path: PathBuf::from(name),
            size,
            created: t(&format!("2025-01-{day:02}T00:00:00Z")),
            upload_pending: false,
        }
    }

    fn names(p: &[Prune]) -> Vec<(&str, &str)> {
        p.iter()
            .map(|x| (x.path.to_str().unwrap_or_default(), x.rule))
            .collect()
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
            keep_last: None,
            max_age: Some(Duration::from_secs(86400 * 2)),
            max_total_size: Some(10),
        };
        let b = vec![bundle("a", 1, 5), bundle("b", 3, 5), bundle("c", 4, 20)];
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
        };
        let b = vec![pending, bundle("b", 2, 100), bundle("c", 3, 100)];
        assert_eq!(
            names(&select(b, &policy, t("2025-02-01T00:00:00Z"))),
            [("b", "keepLast")]
        );
    }
}
