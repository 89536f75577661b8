//! Which jobs a notification of firing alerts starts: a job whose `spec.triggers` has an
//! Alertmanager trigger matching one of the alerts runs once, through the same path (rate limit,
//! concurrency policy, queue) as `POST /api/v1/jobs/{job}/trigger`, then not again for that
//! trigger's cooldown.
//!
//! The cooldown outlives the agent without a file of its own: an alert-started run writes its
//! record (`trigger: alert`, `startedAt`, the alert's fingerprint) before it collects anything,
//! so the first time an alert matches a job after a start (or a crash), its cooldown is read
//! back from the job's newest records. Alertmanager re-sends a firing alert every
//! `repeat_interval`: without this, a restart would run the job again inside its cooldown.

use super::control::TriggerAccepted;
use super::run_book::RunBook;
use crate::jobs::Job;
use crate::jobs::triggers::{AlertmanagerTrigger, all_match};
use crate::state::records::{self, AlertCause, Trigger};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How many of a job's newest records are read for its last alert-started run (the look stops
/// earlier at the first record older than the cooldown).
const LOOK_BACK: usize = 256;

/// What one notification did to one job.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlertStart {
    /// Job name.
    pub job: String,
    /// The alert's fingerprint.
    pub fingerprint: String,
    /// The run, when one was started, queued or coalesced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accepted: Option<TriggerAccepted>,
    /// Why no run: in cooldown, or refused like a trigger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// The last run of a job an alert started: when, and by which alert.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertStarted {
    /// When it started (was accepted, or recorded).
    pub at: DateTime<Utc>,
    /// The alert's fingerprint.
    pub fingerprint: String,
}

/// The first alert matching one of `job`'s Alertmanager triggers, with that trigger's cooldown.
pub fn first_match<'a>(
    triggers: &[AlertmanagerTrigger],
    alerts: &'a [AlertCause],
) -> Option<(&'a AlertCause, Duration)> {
    for trigger in triggers {
        // `validate` rejected jobs whose matchers do not parse.
        let Ok(matchers) = trigger.parsed() else {
            continue;
        };
        if let Some(alert) = alerts.iter().find(|a| all_match(&matchers, &a.labels)) {
            return Some((alert, trigger.cooldown.0));
        }
    }
    None
}

/// The newest alert-started run of `job` in its records that started after `since` (blocking).
/// Retries (`trigger: retry`) repeat a run: only first attempts start a cooldown.
pub fn last_alert_start(state_dir: &Path, job: &str, since: DateTime<Utc>) -> Option<AlertStarted> {
    let paths = records::record_paths(state_dir, job).ok()?;
    for path in paths.iter().rev().take(LOOK_BACK) {
        let Ok(record) = records::read_record(path) else {
            continue;
        };
        if record.started_at < since {
            // Records sort by run id, which is when each run was decided: older ones are out
            // of the cooldown too.
            return None;
        }
        if record.trigger == Trigger::Alert {
            return Some(AlertStarted {
                at: record.started_at,
                fingerprint: (record.alert.map(|a| a.fingerprint)).unwrap_or_default(),
            });
        }
    }
    None
}

/// Learns, from the records, the last alert-started run of each job of `names` the book has no
/// entry for (the first alert matching it since the agent started), within `longest` of `now`.
async fn recall(book: &mut RunBook, names: Vec<String>, now: DateTime<Utc>, longest: Duration) {
    let unknown: Vec<String> = (names.into_iter())
        .filter(|n| !book.alert_cooldowns.contains_key(n))
        .collect();
    if unknown.is_empty() {
        return;
    }
    let since = (chrono::Duration::from_std(longest).ok())
        .and_then(|d| now.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let dir: PathBuf = book.env().state_dir().to_path_buf();
    let read = tokio::task::spawn_blocking(move || {
        (unknown.into_iter())
            .map(|name| {
                let last = last_alert_start(&dir, &name, since);
                (name, last)
            })
            .collect::<Vec<_>>()
    })
    .await;
    match read {
        Ok(found) => book.alert_cooldowns.extend(found),
        Err(e) => tracing::warn!("cannot read the records of alert-triggered jobs: {e}"),
    }
}

/// Each job of `jobs` one of `alerts` matches: its name, the first matching alert and the
/// matching trigger's cooldown, in name order.
fn matches<'a>(
    alerts: &'a [AlertCause],
    jobs: &'a BTreeMap<String, Arc<Job>>,
) -> Vec<(&'a String, &'a AlertCause, Duration)> {
    (jobs.iter())
        .filter_map(|(name, job)| {
            let triggers: Vec<AlertmanagerTrigger> = (job.document.spec.triggers.iter())
                .map(|t| t.alertmanager.clone())
                .collect();
            first_match(&triggers, alerts).map(|(alert, cooldown)| (name, alert, cooldown))
        })
        .collect()
}

/// Cluster mode, on a replica that does not lead: each job `alerts` match, refused with `why`
/// (the leader, which Alertmanager notifies too, starts it), so the answer says why no run.
pub(super) fn refuse_all(
    alerts: &[AlertCause],
    jobs: &BTreeMap<String, Arc<Job>>,
    why: &super::control::TriggerRefused,
) -> Vec<AlertStart> {
    (matches(alerts, jobs).into_iter())
        .map(|(name, alert, _)| AlertStart {
            job: name.clone(),
            fingerprint: alert.fingerprint.clone(),
            accepted: None,
            refused: Some(why.to_string()),
        })
        .collect()
}

/// Starts every job of `jobs` that `alerts` (all firing) match, once per cooldown.
pub(super) async fn start(
    book: &mut RunBook,
    alerts: &[AlertCause],
    jobs: &BTreeMap<String, Arc<Job>>,
) -> Vec<AlertStart> {
    // A job removed from the jobs directory drops its entry (one added again reads its records).
    book.alert_cooldowns.retain(|job, _| jobs.contains_key(job));
    let matched = matches(alerts, jobs);
    let now = book.env().clock.now();
    let longest = matched.iter().map(|m| m.2).max().unwrap_or_default();
    let names = matched.iter().map(|m| m.0.clone()).collect();
    recall(book, names, now, longest).await;
    let mut out = Vec::new();
    for (name, alert, cooldown) in matched {
        let mut started = AlertStart {
            job: name.clone(),
            fingerprint: alert.fingerprint.clone(),
            accepted: None,
            refused: None,
        };
        if let Some(Some(last)) = book.alert_cooldowns.get(name)
            && in_cooldown(last, cooldown, now)
        {
            started.refused = Some(format!(
                "job `{name}` was started by alert {} at {}, less than its cooldown ({}) ago",
                if last.fingerprint.is_empty() {
                    "(no fingerprint)"
                } else {
                    last.fingerprint.as_str()
                },
                last.at.format("%Y-%m-%dT%H:%M:%SZ"),
                crate::units::HumanDuration(cooldown)
            ));
            out.push(started);
            continue;
        }
        match book.trigger(name, jobs, Some(alert.clone())).await {
            Ok(accepted) => {
                tracing::info!(job = %name, fingerprint = %alert.fingerprint, run = %accepted.run_id, "alert starts a run");
                let last = AlertStarted {
                    at: now,
                    fingerprint: alert.fingerprint.clone(),
                };
                book.alert_cooldowns.insert(name.clone(), Some(last));
                started.accepted = Some(accepted);
            }
            Err(refused) => {
                started.refused = Some(refused.to_string());
            }
        }
        out.push(started);
    }
    out
}

/// Whether a job last started by an alert as `last` says is still in `cooldown` at `now` (a
/// start in the future, after the clock was set back, counts as now).
fn in_cooldown(last: &AlertStarted, cooldown: Duration, now: DateTime<Utc>) -> bool {
    let since = (now - last.at).max(chrono::Duration::zero());
    since.to_std().unwrap_or_default() < cooldown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn a_standby_refuses_each_matched_job_naming_the_leader() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (name, matcher) in [("a", "alertname=\"A\""), ("b", "alertname=\"B\"")] {
            std::fs::write(
                dir.path().join(format!("{name}.yaml")),
                format!(
                    "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"0 2 * * *\"\n  triggers: [{{alertmanager: {{matchers: ['{matcher}']}}}}]\n  collect:\n    supportBundle:\n      hostCollectors: [{{cpu: {{}}}}]\n"
                ),
            )
            .expect("job file");
        }
        let settings = crate::settings::Settings::defaults(&|_| None);
        let jobs = (crate::jobs::load_dir(dir.path(), &settings.jobs_context()))
            .expect("jobs")
            .jobs;
        let alert = |name: &str| AlertCause {
            labels: BTreeMap::from([("alertname".to_string(), name.to_string())]),
            starts_at: None,
            fingerprint: format!("fp-{name}"),
        };
        let why = super::super::control::TriggerRefused::NotLeader {
            leader: Some("replica-0".into()),
        };
        let answer = refuse_all(&[alert("B"), alert("C")], &jobs, &why);
        assert_eq!(answer.len(), 1, "{answer:?}");
        assert_eq!(
            (answer[0].job.as_str(), answer[0].fingerprint.as_str()),
            ("b", "fp-B")
        );
        assert!(answer[0].accepted.is_none());
        assert_eq!(
            answer[0].refused.as_deref(),
            Some("not the leader; the leader is replica-0")
        );
    }

    #[test]
    fn the_cooldown_counts_from_the_last_alert_start() {
        let last = AlertStarted {
            at: t("2026-12-07T10:00:00Z"),
            fingerprint: "f".into(),
        };
        let half_hour = Duration::from_secs(1800);
        assert!(in_cooldown(&last, half_hour, t("2026-12-07T10:29:59Z")));
        assert!(!in_cooldown(&last, half_hour, t("2026-12-07T10:30:00Z")));
        assert!(in_cooldown(&last, half_hour, t("2026-12-07T09:00:00Z")));
    }

    #[test]
    fn the_last_alert_start_is_read_back_from_first_attempts_within_the_cooldown() {
        use crate::state::records::RunStatus;
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("state");
        crate::state::prepare(&state).expect("state dir");
        let alert = |fp: &str| AlertCause {
            labels: BTreeMap::new(),
            starts_at: None,
            fingerprint: fp.into(),
        };
        let runs = [
            (
                "manual-20261207T093000Z-1",
                Trigger::Alert,
                "old",
                "2026-12-07T09:30:00Z",
            ),
            (
                "manual-20261207T100000Z-2",
                Trigger::Alert,
                "f1",
                "2026-12-07T10:00:00Z",
            ),
            (
                "manual-20261207T100500Z-3",
                Trigger::Manual,
                "",
                "2026-12-07T10:05:00Z",
            ),
        ];
        for (id, trigger, fp, at) in runs {
            let mut r = records::RunRecord::for_test("j", id, RunStatus::Failed);
            r.trigger = trigger;
            r.alert = (!fp.is_empty()).then(|| alert(fp));
            r.started_at = t(at);
            records::create(&state, &r).expect("record");
        }
        // A retry of the alert run carries its alert but starts no cooldown of its own.
        let mut retry = records::RunRecord::for_test(
            "j",
            "manual-20261207T100000Z-2-retry1",
            RunStatus::Failed,
        );
        (retry.trigger, retry.alert) = (Trigger::Retry, Some(alert("f1")));
        retry.first_trigger = Some(Trigger::Alert);
        retry.started_at = t("2026-12-07T10:06:00Z");
        records::create(&state, &retry).expect("retry record");

        let found = last_alert_start(&state, "j", t("2026-12-07T09:45:00Z"));
        assert_eq!(
            found,
            Some(AlertStarted {
                at: t("2026-12-07T10:00:00Z"),
                fingerprint: "f1".into()
            })
        );
        // Nothing after `since`: the look stops at the first older record.
        assert_eq!(
            last_alert_start(&state, "j", t("2026-12-07T10:10:00Z")),
            None
        );
        assert_eq!(
            last_alert_start(&state, "other", t("2026-12-07T09:00:00Z")),
            None
        );
    }
}
