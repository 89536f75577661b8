//! Which jobs a notification of firing alerts starts: a job whose `spec.triggers` has an
//! Alertmanager trigger matching one of the alerts runs once, through the same path (rate limit,
//! concurrency policy, queue) as `POST /api/v1/jobs/{job}/trigger`, then not again for that
//! trigger's cooldown.

use super::control::TriggerAccepted;
use super::run_book::RunBook;
use crate::jobs::Job;
use crate::jobs::triggers::{AlertmanagerTrigger, all_match};
use crate::state::records::AlertCause;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// Starts every job of `jobs` that `alerts` (all firing) match, once per cooldown.
pub(super) async fn start(
    book: &mut RunBook,
    alerts: &[AlertCause],
    jobs: &BTreeMap<String, Arc<Job>>,
) -> Vec<AlertStart> {
    let now = Instant::now();
    book.alert_cooldowns
        .retain(|job, until| *until > now && jobs.contains_key(job));
    let mut out = Vec::new();
    for (name, job) in jobs {
        let triggers: Vec<AlertmanagerTrigger> = (job.document.spec.triggers.iter())
            .map(|t| t.alertmanager.clone())
            .collect();
        let Some((alert, cooldown)) = first_match(&triggers, alerts) else {
            continue;
        };
        let mut started = AlertStart {
            job: name.clone(),
            fingerprint: alert.fingerprint.clone(),
            accepted: None,
            refused: None,
        };
        if book.alert_cooldowns.contains_key(name) {
            started.refused = Some(format!(
                "job `{name}` was started by an alert less than its cooldown ago"
            ));
            out.push(started);
            continue;
        }
        match book.trigger(name, jobs, Some(alert.clone())).await {
            Ok(accepted) => {
                tracing::info!(job = %name, fingerprint = %alert.fingerprint, run = %accepted.run_id, "alert starts a run");
                book.alert_cooldowns.insert(name.clone(), now + cooldown);
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
