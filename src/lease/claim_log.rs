//! What a job's claim Lease records, as plain functions over its annotations: the latest slot
//! claimed (the fence) and a bounded list of the recent claims (the cluster-wide history of
//! runs that `history` shows on every replica). No I/O.
//!
//! The list is bounded to [`RECENT_CLAIMS`] entries, the newest kept: an annotation is
//! rewritten by every claim and all of an object's annotations share a 256 KiB limit, so the
//! list costs at most ~15 KiB whatever the schedule.

use crate::state::RunId;
use crate::state::records::Trigger;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The annotation holding the latest slot claimed (RFC 3339).
pub const SLOT_ANNOTATION: &str = "troubleshoot.sh/claimed-slot";
/// The annotation naming the run that claimed it.
pub const RUN_ANNOTATION: &str = "troubleshoot.sh/claimed-run";
/// The annotation holding the recent claims (a JSON list, oldest first).
pub const RECENT_ANNOTATION: &str = "troubleshoot.sh/recent-claims";
/// How many claims [`RECENT_ANNOTATION`] keeps.
pub const RECENT_CLAIMS: usize = 100;

/// One claim of a slot: a run that some replica started. Only the claim is known here, not
/// how the run ended: that is in the records of the replica that ran it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimedRun {
    /// The job.
    pub job: String,
    /// The slot's nominal instant.
    pub scheduled_at: DateTime<Utc>,
    /// The run's id.
    pub run_id: String,
    /// Scheduled, or caught up after downtime or a failover.
    pub trigger: Trigger,
    /// The replica (holder identity) that claimed the slot and ran it.
    pub replica: String,
    /// When it claimed the slot (its clock; the run started right after). `None` in claims
    /// written before the list existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
}

/// What a claim Lease records about its job.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClaimLog {
    /// The latest slot claimed: no slot at or before it is claimed again.
    pub latest: Option<DateTime<Utc>>,
    /// The run that claimed it.
    pub latest_run: String,
    /// The recent claims, oldest first, at most [`RECENT_CLAIMS`].
    pub recent: Vec<ClaimedRun>,
}

/// A slot as the annotations write it.
pub fn slot_text(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Whether a listed claim names a well-formed run id and a replica without control characters.
fn plain(c: &ClaimedRun) -> bool {
    c.run_id.parse::<RunId>().is_ok()
        && !c.replica.is_empty()
        && c.replica.len() <= 253
        && !c.replica.chars().any(char::is_control)
}

impl ClaimLog {
    /// Reads the annotations of `job`'s claim Lease, held by `holder`. A list that does not
    /// parse is dropped (it is informative; the fence is the latest slot), and a Lease written
    /// before the list existed yields its one claim.
    pub fn read(job: &str, annotations: Option<&BTreeMap<String, String>>, holder: &str) -> Self {
        let get = |key: &str| annotations.and_then(|a| a.get(key)).cloned();
        let latest = get(SLOT_ANNOTATION)
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc));
        let latest_run = get(RUN_ANNOTATION).unwrap_or_default();
        let mut recent: Vec<ClaimedRun> = get(RECENT_ANNOTATION)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        recent.retain(|c| c.job == job);
        if recent.is_empty()
            && let Some(slot) = latest
        {
            recent.push(ClaimedRun {
                job: job.to_string(),
                scheduled_at: slot,
                run_id: latest_run.clone(),
                trigger: Trigger::Schedule,
                replica: holder.to_string(),
                claimed_at: None,
            });
        }
        // Anyone who may update leases in the namespace can write these: what `history`
        // prints of them must be a run id and an identity, not terminal control sequences.
        recent.retain(plain);
        ClaimLog {
            latest,
            latest_run,
            recent,
        }
    }

    /// Whether `slot` may still be claimed: it is after the latest one claimed.
    pub fn claimable(&self, slot: DateTime<Utc>) -> bool {
        self.latest.is_none_or(|latest| latest < slot)
    }

    /// The annotations after `claim`: it is the latest, appended to the list, whose oldest
    /// entries beyond [`RECENT_CLAIMS`] are dropped.
    pub fn with_claim(mut self, claim: ClaimedRun) -> BTreeMap<String, String> {
        let mut annotations = BTreeMap::new();
        annotations.insert(SLOT_ANNOTATION.to_string(), slot_text(claim.scheduled_at));
        annotations.insert(RUN_ANNOTATION.to_string(), claim.run_id.clone());
        self.recent.push(claim);
        let excess = self.recent.len().saturating_sub(RECENT_CLAIMS);
        self.recent.drain(..excess);
        let list = serde_json::to_string(&self.recent).unwrap_or_else(|_| "[]".into());
        annotations.insert(RECENT_ANNOTATION.to_string(), list);
        annotations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    fn claim(slot: &str, by: &str) -> ClaimedRun {
        ClaimedRun {
            job: "j".into(),
            scheduled_at: t(slot),
            run_id: RunId::scheduled(t(slot)).to_string(),
            trigger: Trigger::Schedule,
            replica: by.into(),
            claimed_at: Some(t(slot)),
        }
    }

    #[test]
    fn claims_accumulate_newest_last_and_stay_bounded() {
        let mut annotations = BTreeMap::new();
        let start = t("2025-01-01T00:00:00Z");
        for i in 0..(RECENT_CLAIMS as i64 + 5) {
            let slot = start + chrono::Duration::minutes(i);
            let log = ClaimLog::read("j", Some(&annotations), "a");
            assert!(log.claimable(slot));
            annotations = log.with_claim(claim(&slot_text(slot), "a"));
        }
        let log = ClaimLog::read("j", Some(&annotations), "a");
        assert_eq!(log.recent.len(), RECENT_CLAIMS);
        let last = start + chrono::Duration::minutes(RECENT_CLAIMS as i64 + 4);
        assert_eq!(log.latest, Some(last));
        assert_eq!(log.recent.last().map(|c| c.scheduled_at), Some(last));
        assert_eq!(
            log.recent.first().map(|c| c.scheduled_at),
            Some(start + chrono::Duration::minutes(5))
        );
        assert!(!log.claimable(last), "the latest slot is not claimed twice");
        assert!(!log.claimable(start), "nor an earlier one");
    }

    #[test]
    fn a_lease_from_before_the_list_yields_its_one_claim() {
        let annotations: BTreeMap<String, String> = [
            (
                SLOT_ANNOTATION.to_string(),
                "2025-01-01T02:00:00Z".to_string(),
            ),
            (RUN_ANNOTATION.to_string(), "20250101T020000Z".to_string()),
        ]
        .into();
        let log = ClaimLog::read("j", Some(&annotations), "old-leader");
        assert_eq!(log.latest, Some(t("2025-01-01T02:00:00Z")));
        assert_eq!(log.recent.len(), 1);
        assert_eq!(log.recent[0].replica, "old-leader");
        assert_eq!(log.recent[0].run_id, "20250101T020000Z");
    }

    #[test]
    fn a_damaged_list_keeps_the_fence() {
        let annotations: BTreeMap<String, String> = [
            (
                SLOT_ANNOTATION.to_string(),
                "2025-01-01T02:00:00Z".to_string(),
            ),
            (RECENT_ANNOTATION.to_string(), "[{not json".to_string()),
        ]
        .into();
        let log = ClaimLog::read("j", Some(&annotations), "a");
        assert!(!log.claimable(t("2025-01-01T02:00:00Z")));
        assert!(log.claimable(t("2025-01-01T02:01:00Z")));
    }

    #[test]
    fn listed_claims_that_are_not_plain_are_dropped() {
        let mut bad_id = claim("2025-01-01T00:01:00Z", "a");
        bad_id.run_id = "\u{1b}[2Jgotcha".into();
        let mut bad_replica = claim("2025-01-01T00:02:00Z", "a");
        bad_replica.replica = "b\u{1b}]0;title\u{7}".into();
        let good = ClaimedRun {
            run_id: "20250101T000300Z".into(),
            ..claim("2025-01-01T00:03:00Z", "a")
        };
        let list = serde_json::to_string(&[bad_id, bad_replica, good.clone()]).expect("json");
        let annotations: BTreeMap<String, String> = [
            (
                SLOT_ANNOTATION.to_string(),
                "2025-01-01T00:03:00Z".to_string(),
            ),
            (RECENT_ANNOTATION.to_string(), list),
        ]
        .into();
        assert_eq!(ClaimLog::read("j", Some(&annotations), "a").recent, [good]);
    }

    #[test]
    fn no_lease_claims_anything() {
        let log = ClaimLog::read("j", None, "");
        assert_eq!(log, ClaimLog::default());
        assert!(log.claimable(t("2025-01-01T00:00:00Z")));
    }
}
