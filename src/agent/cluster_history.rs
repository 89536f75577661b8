//! Cluster mode: the part of a job's history this replica has no records of, the runs other
//! replicas started, as their claims record them (job, slot, run id, replica). How such a run
//! ended is on the replica that ran it: these entries say who ran it, never how it went.

use crate::lease::{ClaimError, ClaimedRun, Claims};

/// The `limit` latest runs of `job` that replicas other than this one claimed, newest first.
pub(super) async fn other_replicas(
    claims: &Claims,
    job: &str,
    limit: usize,
) -> Result<Vec<ClaimedRun>, ClaimError> {
    let log = claims.read(job).await?;
    Ok(others_of(log.recent, claims.identity(), limit))
}

/// The claims of `recent` (oldest first) not made by `identity`, newest first, at most `limit`.
fn others_of(recent: Vec<ClaimedRun>, identity: &str, limit: usize) -> Vec<ClaimedRun> {
    (recent.into_iter().rev())
        .filter(|c| c.replica != identity)
        .take(limit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::Trigger;

    #[test]
    fn only_other_replicas_runs_newest_first() {
        let claim = |minute: u32, by: &str| ClaimedRun {
            job: "j".into(),
            scheduled_at: format!("2025-01-01T00:{minute:02}:00Z").parse().expect("t"),
            run_id: format!("r{minute}"),
            trigger: Trigger::Schedule,
            replica: by.into(),
            claimed_at: None,
        };
        let recent = vec![claim(1, "a"), claim(2, "b"), claim(3, "a"), claim(4, "a")];
        let ids: Vec<String> = (others_of(recent.clone(), "b", 2).into_iter())
            .map(|c| c.run_id)
            .collect();
        assert_eq!(ids, ["r4", "r3"]);
        assert!(others_of(recent, "a", 10).iter().all(|c| c.replica == "b"));
    }
}
