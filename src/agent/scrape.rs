//! The gauges `/metrics` samples when it is scraped rather than when something happens: free
//! space on the state directory's file system and the upload queue. Read on a blocking thread.

use super::metrics::Metrics;
use chrono::{DateTime, Utc};
use std::path::Path;

/// Updates the sampled gauges from the state directory as it is `now` (the agent's clock, which
/// stamped the queue entries).
pub fn sample(metrics: &Metrics, state_dir: &Path, now: DateTime<Utc>) {
    match crate::pipeline::free_bytes(state_dir) {
        Ok(free) => {
            metrics
                .state_dir_free
                .set(i64::try_from(free).unwrap_or(i64::MAX));
        }
        Err(e) => tracing::debug!(state_dir = %state_dir.display(), "statvfs for /metrics: {e}"),
    }
    let (entries, oldest) = crate::upload::queue::summary(state_dir);
    metrics
        .upload_queue_entries
        .set(i64::try_from(entries).unwrap_or(i64::MAX));
    let age = oldest.map_or(0.0, |at| {
        ((now - at).num_milliseconds().max(0)) as f64 / 1000.0
    });
    metrics.upload_queue_oldest_age.set(age);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_free_space_and_the_oldest_pending_upload() {
        let state = tempfile::tempdir().expect("tempdir");
        let m = Metrics::new();
        let now: DateTime<Utc> = "2026-12-07T12:00:00Z".parse().expect("instant");
        sample(&m, state.path(), now);
        let text = m.encode();
        assert!(
            text.contains("troubleshoot_scheduler_upload_queue_entries 0\n"),
            "{text}"
        );
        assert!(
            text.contains("troubleshoot_scheduler_upload_queue_oldest_age_seconds 0.0\n"),
            "{text}"
        );
        assert!(m.state_dir_free.get() > 0, "{text}");

        let uploads = state.path().join("uploads");
        std::fs::create_dir(&uploads).expect("mkdir uploads");
        for (name, at) in [
            ("a__r1__0.json", "2026-12-07T11:00:00Z"),
            ("a__r2__0.json", "2026-12-07T11:30:00Z"),
        ] {
            let body = format!("{{\"queuedAt\": \"{at}\"}}");
            std::fs::write(uploads.join(name), body).expect("write entry");
        }
        // Neither counted nor set aside: the driver owns unreadable entries.
        std::fs::write(uploads.join("b__r3__0.json"), "{").expect("write entry");
        sample(&m, state.path(), now);
        let text = m.encode();
        assert!(
            text.contains("troubleshoot_scheduler_upload_queue_entries 2\n"),
            "{text}"
        );
        assert!(
            text.contains("troubleshoot_scheduler_upload_queue_oldest_age_seconds 3600.0\n"),
            "{text}"
        );
        assert!(uploads.join("b__r3__0.json").exists());
    }
}
