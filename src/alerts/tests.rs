use super::*;
use crate::state::records::UploadStatus;
use crate::state::records::{
    BundleRecord, MissedRecord, PhaseRecord, RECORD_VERSION, Trigger, UploadRecord,
};
use chrono::{DateTime, Utc};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("time")
}

fn record(status: RunStatus) -> RunRecord {
    RunRecord {
        version: RECORD_VERSION,
        run_id: "20250309T070000Z".into(),
        job: "prod-daily".into(),
        spec_hash: "h".into(),
        trigger: Trigger::Schedule,
        alert: None,
        attempt: 1,
        first_trigger: None,
        scheduled_at: Some(at("2025-03-09T07:00:00Z")),
        started_at: at("2025-03-09T07:00:02Z"),
        ended_at: Some(at("2025-03-09T07:01:04.500Z")),
        status,
        reason: Some("why".into()),
        host: "node-1".into(),
        phases: vec![PhaseRecord {
            name: "collect".into(),
            status: PhaseStatus::Succeeded,
            duration_ms: 61_000,
            error: None,
        }],
        collectors: Vec::new(),
        bundle: Some(BundleRecord {
            path: "/var/lib/x/prod-daily.tar.gz".into(),
            size: 1234,
            sha256: "ab".repeat(32),
            partial: false,
            pruned_at: None,
            pruned_by: None,
        }),
        redaction: None,
        analysis: None,
        limits: None,
        uploads: Vec::new(),
        missed: None,
        notifications: Vec::new(),
        cluster_specs: Vec::new(),
        spec_uris: Vec::new(),
        changes: None,
        parent: None,
    }
}

fn upload(status: UploadStatus) -> UploadRecord {
    UploadRecord {
        target: "gcs:acme".into(),
        url: "gs://acme/prod/x.tar.gz".into(),
        size: 1234,
        attempts: 5,
        status,
        error: (status == UploadStatus::Failed).then(|| "HTTP 503".to_string()),
        duration_ms: None,
    }
}

#[test]
fn statuses_map_to_their_event_and_quiet_ones_to_none() {
    use NotifyEvent::*;
    assert_eq!(events(&record(RunStatus::Succeeded)), [Succeeded]);
    assert_eq!(
        events(&record(RunStatus::SucceededWithErrors)),
        [SucceededWithErrors]
    );
    // Webhooks listen for it by name in `on:`.
    let on: Vec<NotifyEvent> =
        serde_json::from_value(serde_json::json!(["succeededWithErrors"])).expect("event name");
    assert_eq!(on, [SucceededWithErrors]);
    assert_eq!(events(&record(RunStatus::Failed)), [Failed]);
    assert_eq!(events(&record(RunStatus::TimedOut)), [TimedOut]);
    assert_eq!(events(&record(RunStatus::Missed)), [Missed]);
    for quiet in [
        RunStatus::Skipped,
        RunStatus::Interrupted,
        RunStatus::Running,
    ] {
        assert_eq!(events(&record(quiet)), [], "{quiet:?}");
    }
}

#[test]
fn failed_uploads_and_analysis_outcomes_add_events() {
    use NotifyEvent::*;
    let mut r = record(RunStatus::Succeeded);
    r.uploads = vec![
        upload(UploadStatus::Succeeded),
        upload(UploadStatus::Pending),
    ];
    assert_eq!(events(&r), [Succeeded], "pending is not failed (yet)");
    r.uploads.push(upload(UploadStatus::Failed));
    r.analysis = Some(json!({"pass": 3, "warn": 1, "fail": 2}));
    assert_eq!(
        events(&r),
        [Succeeded, UploadFailed, AnalysisFailed, AnalysisWarned]
    );

    // A failed upload phase without per-target records still counts.
    let mut r = record(RunStatus::Failed);
    r.phases.push(PhaseRecord {
        name: "upload".into(),
        status: PhaseStatus::Failed,
        duration_ms: 3,
        error: Some("x".into()),
    });
    assert_eq!(events(&r), [Failed, UploadFailed]);
}

#[test]
fn analysis_is_counted_from_counts_or_troubleshoot_results() {
    assert_eq!(
        analysis_counts(&json!({"pass": 1, "fail": 2})),
        Some(AnalysisCounts {
            pass: 1,
            warn: 0,
            fail: 2
        })
    );
    let results = json!([
        {"name": "a", "severity": "error"},
        {"name": "b", "severity": "warn"},
        {"name": "c", "severity": "warn"},
        {"name": "d", "severity": "debug"},
        {"name": "e", "isFail": true},
        {"name": "f", "severity": ""},
    ]);
    assert_eq!(
        analysis_counts(&results),
        Some(AnalysisCounts {
            pass: 1,
            warn: 2,
            fail: 2
        })
    );
    assert_eq!(analysis_counts(&json!({"other": 1})), None);
    assert_eq!(analysis_counts(&json!("text")), None);
    // An empty result list is analysis that found nothing: counts of zero, no event.
    let mut r = record(RunStatus::Succeeded);
    r.analysis = Some(json!([]));
    assert_eq!(events(&r), [NotifyEvent::Succeeded]);
}

#[test]
fn on_filters_and_keeps_the_raised_order() {
    use NotifyEvent::*;
    let raised = [Failed, UploadFailed, AnalysisWarned];
    assert_eq!(
        wanted(&raised, &[AnalysisWarned, Failed]),
        [Failed, AnalysisWarned]
    );
    assert_eq!(wanted(&raised, &[Succeeded]), []);
}

#[test]
fn payload_describes_the_run_where_its_bundle_is_and_who_ran_it() {
    let mut r = record(RunStatus::Failed);
    r.reason = Some("collector `run/x` failed".into());
    r.uploads = vec![upload(UploadStatus::Failed)];
    r.analysis = Some(json!([{"severity": "error"}, {"severity": "debug"}]));
    let body = payload(
        &r,
        &[NotifyEvent::Failed, NotifyEvent::UploadFailed],
        "0.1.0",
    );
    assert_eq!(
        body,
        json!({
            "payloadVersion": 1,
            "event": "failed",
            "events": ["failed", "uploadFailed"],
            "job": "prod-daily",
            "runId": "20250309T070000Z",
            "trigger": "schedule",
            "attempt": 1,
            "status": "failed",
            "reason": "collector `run/x` failed",
            "error": "collector `run/x` failed",
            "scheduledAt": "2025-03-09T07:00:00Z",
            "startedAt": "2025-03-09T07:00:02Z",
            "endedAt": "2025-03-09T07:01:04.500Z",
            "durationMs": 62_500,
            "phases": [{"name": "collect", "status": "succeeded", "durationMs": 61_000}],
            "bundle": {
                "path": "/var/lib/x/prod-daily.tar.gz",
                "size": 1234,
                "sha256": "ab".repeat(32),
                "partial": false
            },
            "uploads": [{
                "target": "gcs:acme",
                "url": "gs://acme/prod/x.tar.gz",
                "status": "failed",
                "attempts": 5,
                "size": 1234,
                "error": "HTTP 503"
            }],
            "analysis": {"pass": 1, "warn": 0, "fail": 1},
            "host": {"name": "node-1", "agentVersion": "0.1.0"}
        })
    );
}

#[test]
fn payload_of_a_success_has_no_error_and_a_missed_run_says_which_fires() {
    let ok = payload(
        &record(RunStatus::Succeeded),
        &[NotifyEvent::Succeeded],
        "v",
    );
    assert_eq!(ok["error"], Value::Null);
    assert_eq!(ok["reason"], "why");
    assert!(ok.get("analysis").is_none());

    let mut missed = record(RunStatus::Missed);
    missed.bundle = None;
    missed.missed = Some(MissedRecord {
        count: 3,
        first: at("2025-03-09T04:00:00Z"),
        last: at("2025-03-09T06:00:00Z"),
        capped: false,
    });
    let body = payload(&missed, &[NotifyEvent::Missed], "v");
    assert_eq!(body["bundle"], Value::Null);
    assert_eq!(
        body["missed"],
        json!({"count": 3, "first": "2025-03-09T04:00:00Z", "last": "2025-03-09T06:00:00Z", "capped": false})
    );
}

#[test]
fn shown_urls_carry_no_credentials_or_query() {
    assert_eq!(
        webhook::display_url("https://user:pw@hooks.example.com/x?token=secret#f"),
        "https://hooks.example.com/x"
    );
    assert_ne!(webhook::seed("j", "r", "u"), webhook::seed("j", "r2", "u"));
}
