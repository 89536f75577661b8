//! Job chaining (`spec.after`): which jobs a finished run starts.

use crate::jobs::Job;
use crate::state::records::{ParentRun, RunRecord};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The jobs of `jobs` that name `record`'s job in `spec.after` with an outcome its status
/// matches, in name order.
pub(super) fn children(record: &RunRecord, jobs: &BTreeMap<String, Arc<Job>>) -> Vec<Arc<Job>> {
    (jobs.values())
        .filter(|child| {
            (child.document.spec.after.iter()).any(|a| {
                a.job == record.job && a.on.iter().any(|outcome| outcome.matches(record.status))
            })
        })
        .cloned()
        .collect()
}

/// The identity a chained run carries in its record.
pub(super) fn parent_of(record: &RunRecord) -> ParentRun {
    ParentRun {
        job: record.job.clone(),
        run_id: record.run_id.clone(),
        status: record.status,
    }
}

#[cfg(test)]
mod tests {
    use crate::jobs::model::ChainOutcome;
    use crate::state::records::RunStatus;

    #[test]
    fn outcomes_match_the_statuses_they_name() {
        let ended = [
            RunStatus::Succeeded,
            RunStatus::SucceededWithErrors,
            RunStatus::Failed,
            RunStatus::TimedOut,
            RunStatus::AnalysisFailed,
        ];
        for s in ended {
            assert!(ChainOutcome::Any.matches(s), "{s:?}");
        }
        assert!(ChainOutcome::Succeeded.matches(RunStatus::SucceededWithErrors));
        assert!(!ChainOutcome::Succeeded.matches(RunStatus::Failed));
        assert!(ChainOutcome::Failed.matches(RunStatus::TimedOut));
        assert!(!ChainOutcome::Failed.matches(RunStatus::AnalysisFailed));
        assert!(ChainOutcome::AnalysisFailed.matches(RunStatus::AnalysisFailed));
        for s in [
            RunStatus::Skipped,
            RunStatus::Missed,
            RunStatus::Interrupted,
        ] {
            assert!(
                !ChainOutcome::Any.matches(s),
                "{s:?} never starts a chained job"
            );
        }
    }
}
