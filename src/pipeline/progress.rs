//! What a run is doing now, for whoever watches it (`trigger`, `GET /api/v1/jobs/{job}/runs/{id}`
//! while the run goes on): the pipeline reports each phase's start and end to the run's own
//! [`Progress`], which keeps the phase list in a `watch` channel.
//!
//! The list holds phase names, statuses, times and counts only: never paths, error texts or
//! values. The TCP listener serves it to anyone who can reach it, and a collector's error can
//! quote what it read.

use crate::state::records::{
    BundleRecord, CollectorRecord, PhaseRecord, PhaseStatus, RunRecord, UploadRecord,
};
use crate::state::records::{CollectorRunStatus, UploadStatus};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A phase of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Collectors write files.
    Collect,
    /// Redactors rewrite them.
    Redact,
    /// Analyzers read them.
    Analyze,
    /// The tree becomes a `.tar.gz`.
    Archive,
    /// The archive goes to the upload targets.
    Upload,
}

impl Phase {
    /// Every phase, in pipeline order.
    pub const ALL: [Phase; 5] = [
        Phase::Collect,
        Phase::Redact,
        Phase::Analyze,
        Phase::Archive,
        Phase::Upload,
    ];

    /// The name run records use (`PhaseRecord::name`).
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Collect => "collect",
            Phase::Redact => "redact",
            Phase::Analyze => "analyze",
            Phase::Archive => "archive",
            Phase::Upload => "upload",
        }
    }

    /// The phase a record's `name` names.
    pub fn from_name(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// What a finished phase handled; only what applies to the phase is set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    /// Collectors that ran (collect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collectors: Option<u64>,
    /// Collectors or uploads that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<u64>,
    /// Values replaced (redact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacements: Option<u64>,
    /// Size of the archive (archive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// Upload targets (upload).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uploads: Option<u64>,
    /// Uploads left to the upload queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<u64>,
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Counts {
    /// The collect phase's counts.
    pub fn collectors(collectors: &[CollectorRecord]) -> Counts {
        Counts {
            collectors: Some(count(collectors.len())),
            failed: Some(count(
                collectors
                    .iter()
                    .filter(|c| c.status == CollectorRunStatus::Failed)
                    .count(),
            )),
            ..Counts::default()
        }
    }

    /// The redact phase's counts, from its report (`totals`: replacements per redactor).
    pub fn redaction(report: Option<&serde_json::Value>) -> Counts {
        let replacements = report
            .and_then(|r| r.get("totals"))
            .and_then(serde_json::Value::as_object)
            .map(|totals| totals.values().filter_map(serde_json::Value::as_u64).sum());
        Counts {
            replacements,
            ..Counts::default()
        }
    }

    /// The archive phase's counts.
    pub fn archive(bundle: Option<&BundleRecord>) -> Counts {
        Counts {
            bytes: bundle.map(|b| b.size),
            ..Counts::default()
        }
    }

    /// The upload phase's counts.
    pub fn uploads(uploads: &[UploadRecord]) -> Counts {
        let with =
            |status: UploadStatus| count(uploads.iter().filter(|u| u.status == status).count());
        Counts {
            uploads: Some(count(uploads.len())),
            failed: Some(with(UploadStatus::Failed)),
            pending: Some(with(UploadStatus::Pending)),
            ..Counts::default()
        }
    }

    /// The counts of `phase` from what the run produced.
    pub fn of(
        phase: Phase,
        collectors: &[CollectorRecord],
        redaction: Option<&serde_json::Value>,
        bundle: Option<&BundleRecord>,
        uploads: &[UploadRecord],
    ) -> Counts {
        match phase {
            Phase::Collect => Counts::collectors(collectors),
            Phase::Redact => Counts::redaction(redaction),
            Phase::Analyze => Counts::default(),
            Phase::Archive => Counts::archive(bundle),
            Phase::Upload => Counts::uploads(uploads),
        }
    }

    /// The counts of `phase` as a finished run's record tells them (the same numbers the
    /// pipeline reported while it ran).
    pub fn from_record(phase: Phase, r: &RunRecord) -> Counts {
        Counts::of(
            phase,
            &r.collectors,
            r.redaction.as_ref(),
            r.bundle.as_ref(),
            &r.uploads,
        )
    }
}

/// One thing that happened to a run's phases.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A phase began its work.
    Started(Phase),
    /// A phase ended (or was skipped without starting).
    Finished {
        /// Which.
        phase: Phase,
        /// How it ended.
        status: PhaseStatus,
        /// How long it took.
        took: Duration,
        /// What it handled.
        counts: Counts,
    },
}

impl Event {
    /// The end of the phase `record` describes; `None` for a name this build does not know.
    pub fn finished(record: &PhaseRecord, counts: Counts) -> Option<Event> {
        Some(Event::Finished {
            phase: Phase::from_name(&record.name)?,
            status: record.status,
            took: Duration::from_millis(record.duration_ms),
            counts,
        })
    }
}

/// Where a phase is, as the live list holds it.
#[derive(Clone, Debug, PartialEq)]
enum Entry {
    Running(Instant),
    Finished {
        status: PhaseStatus,
        took: Duration,
        counts: Counts,
    },
}

/// The phases of a run so far, in the order they started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Phases {
    entries: Vec<(Phase, Entry)>,
    /// Events applied: a client that saw version `n` waits for a later one.
    version: u64,
}

impl Phases {
    /// Applies `event`, which happened at `now`.
    pub fn apply(&mut self, event: Event, now: Instant) {
        self.version += 1;
        let (phase, entry) = match event {
            Event::Started(phase) => (phase, Entry::Running(now)),
            Event::Finished {
                phase,
                status,
                took,
                counts,
            } => (
                phase,
                Entry::Finished {
                    status,
                    took,
                    counts,
                },
            ),
        };
        match self.entries.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, slot)) => *slot = entry,
            None => self.entries.push((phase, entry)),
        }
    }

    /// How many events made this list.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The list as the API serves it, with the running phase's time up to `now`.
    pub fn view(&self, now: Instant) -> Vec<LivePhase> {
        self.entries
            .iter()
            .map(|(phase, entry)| LivePhase {
                name: *phase,
                state: match entry {
                    Entry::Running(since) => LiveState::Running {
                        elapsed_ms: millis(now.saturating_duration_since(*since)),
                    },
                    Entry::Finished {
                        status,
                        took,
                        counts,
                    } => LiveState::Finished {
                        status: *status,
                        duration_ms: millis(*took),
                        counts: *counts,
                    },
                },
            })
            .collect()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One phase as the API serves it: `{"name": "collect", "state": "running", "elapsedMs": 1200}`
/// or `{"name": "collect", "state": "finished", "status": "succeeded", "durationMs": 3200,
/// "collectors": 12, "failed": 1}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LivePhase {
    /// Which phase.
    pub name: Phase,
    /// Where it is.
    #[serde(flatten)]
    pub state: LiveState,
}

/// Where a phase is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "state",
    rename_all = "kebab-case",
    rename_all_fields = "camelCase"
)]
pub enum LiveState {
    /// Working for `elapsed_ms` so far.
    Running {
        /// Milliseconds since it started.
        elapsed_ms: u64,
    },
    /// Done.
    Finished {
        /// How it ended.
        status: PhaseStatus,
        /// How long it took.
        duration_ms: u64,
        /// What it handled.
        #[serde(flatten)]
        counts: Counts,
    },
}

/// The phases of a finished run, from its record: what a watcher that came late (or polled
/// between the last phases) still has to show.
pub fn from_record(record: &RunRecord) -> Vec<LivePhase> {
    record
        .phases
        .iter()
        .filter_map(|p| {
            let phase = Phase::from_name(&p.name)?;
            Some(LivePhase {
                name: phase,
                state: LiveState::Finished {
                    status: p.status,
                    duration_ms: p.duration_ms,
                    counts: Counts::from_record(phase, record),
                },
            })
        })
        .collect()
}

/// A run's progress sink: the pipeline reports to it, watchers read the [`Phases`] it keeps.
/// Each run has its own (made by whoever starts the run); one nobody watches costs a few bytes.
#[derive(Clone, Debug)]
pub struct Progress(Arc<watch::Sender<Phases>>);

impl Default for Progress {
    fn default() -> Self {
        Progress(Arc::new(watch::Sender::new(Phases::default())))
    }
}

impl Progress {
    /// A sink and a watcher of what it is told.
    pub fn new() -> (Progress, watch::Receiver<Phases>) {
        let progress = Progress::default();
        let watcher = progress.0.subscribe();
        (progress, watcher)
    }

    /// Reports `event` (now).
    pub fn send(&self, event: Event) {
        let now = Instant::now();
        self.0.send_modify(|phases| phases.apply(event, now));
    }

    /// `phase` begins its work.
    pub fn started(&self, phase: Phase) {
        self.send(Event::Started(phase));
    }

    /// The phases reported ended so far.
    pub fn ended(&self) -> Vec<Phase> {
        self.0
            .borrow()
            .entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::Finished { .. }))
            .map(|(p, _)| *p)
            .collect()
    }

    /// The phase `record` describes has ended, having handled `counts`.
    pub fn finished(&self, record: &PhaseRecord, counts: Counts) {
        if let Some(event) = Event::finished(record, counts) {
            self.send(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_keeps_start_order_and_replaces_a_phase_when_it_ends() {
        let (progress, watcher) = Progress::new();
        progress.started(Phase::Collect);
        assert_eq!(watcher.borrow().version(), 1);
        let view = watcher.borrow().view(Instant::now());
        assert_eq!(view.len(), 1);
        assert!(matches!(view[0].state, LiveState::Running { .. }));
        let record = PhaseRecord {
            name: "collect".into(),
            status: PhaseStatus::Succeeded,
            duration_ms: 3200,
            error: Some("never shown".into()),
        };
        let counts = Counts {
            collectors: Some(12),
            failed: Some(1),
            ..Counts::default()
        };
        progress.finished(&record, counts);
        progress.started(Phase::Redact);
        let view = watcher.borrow().view(Instant::now());
        assert_eq!(
            view.iter().map(|p| p.name).collect::<Vec<_>>(),
            [Phase::Collect, Phase::Redact]
        );
        assert_eq!(
            serde_json::to_value(&view[0]).expect("json"),
            serde_json::json!({
                "name": "collect", "state": "finished", "status": "succeeded",
                "durationMs": 3200, "collectors": 12, "failed": 1,
            })
        );
        let back: Vec<LivePhase> =
            serde_json::from_value(serde_json::to_value(&view).expect("json")).expect("parse");
        assert_eq!(back, view);
    }

    #[test]
    fn a_phase_name_this_build_does_not_know_is_no_event() {
        let record = PhaseRecord {
            name: "teleport".into(),
            status: PhaseStatus::Succeeded,
            duration_ms: 0,
            error: None,
        };
        assert_eq!(Event::finished(&record, Counts::default()), None);
        for phase in Phase::ALL {
            assert_eq!(Phase::from_name(phase.as_str()), Some(phase));
        }
    }
}
