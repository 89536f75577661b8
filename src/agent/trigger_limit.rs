//! Per-job rate limit of manual triggers: a token bucket, so a burst of API calls (a script in a
//! loop, a stuck retry) cannot fill the state directory with run records.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Manual triggers a job may take at once.
pub const BURST: u32 = 5;
/// After the burst, one more trigger per job every this long.
pub const REFILL_EVERY: Duration = Duration::from_secs(10);

/// The buckets of the jobs that were triggered.
#[derive(Debug)]
pub struct TriggerLimit {
    burst: u32,
    every: Duration,
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: u32,
    /// When the last token was added (or the bucket was made).
    refilled: Instant,
}

impl Default for TriggerLimit {
    fn default() -> Self {
        TriggerLimit::new(BURST, REFILL_EVERY)
    }
}

impl TriggerLimit {
    /// `burst` triggers at once, then one every `every`.
    pub fn new(burst: u32, every: Duration) -> Self {
        TriggerLimit {
            burst: burst.max(1),
            every: every.max(Duration::from_millis(1)),
            buckets: HashMap::new(),
        }
    }

    /// Takes one trigger of `job` at `now`; when none is left, how long until the next one.
    pub fn take(&mut self, job: &str, now: Instant) -> Result<(), Duration> {
        let bucket = self.buckets.entry(job.to_string()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled);
        let earned = elapsed.as_nanos() / self.every.as_nanos();
        if earned > 0 {
            let earned = u32::try_from(earned).unwrap_or(u32::MAX);
            bucket.tokens = bucket.tokens.saturating_add(earned).min(self.burst);
            bucket.refilled = if bucket.tokens == self.burst {
                now
            } else {
                bucket.refilled + self.every * earned
            };
        }
        if bucket.tokens == 0 {
            return Err(self.every.saturating_sub(now - bucket.refilled));
        }
        bucket.tokens -= 1;
        Ok(())
    }

    /// Forgets the buckets of jobs no longer applied (a removed job's bucket would stay forever).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.buckets.retain(|job, _| keep(job));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval_per_job() {
        let mut limit = TriggerLimit::new(3, Duration::from_secs(10));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limit.take("a", t0), Ok(()));
        }
        assert_eq!(limit.take("a", t0), Err(Duration::from_secs(10)));
        assert_eq!(
            limit.take("a", t0 + Duration::from_secs(4)),
            Err(Duration::from_secs(6))
        );
        // Another job has its own bucket.
        assert_eq!(limit.take("b", t0), Ok(()));
        // One token per interval, not more.
        assert_eq!(limit.take("a", t0 + Duration::from_secs(10)), Ok(()));
        assert!(limit.take("a", t0 + Duration::from_secs(11)).is_err());
        assert_eq!(limit.take("a", t0 + Duration::from_secs(20)), Ok(()));
        // A long pause refills to the burst, never beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(limit.take("a", later), Ok(()));
        }
        assert!(limit.take("a", later).is_err());
    }

    #[test]
    fn three_hundred_calls_at_once_take_the_burst() {
        let mut limit = TriggerLimit::default();
        let t0 = Instant::now();
        let taken = (0..300)
            .filter(|i| limit.take("job", t0 + Duration::from_millis(*i)).is_ok())
            .count();
        assert_eq!(taken, BURST as usize);
    }

    #[test]
    fn retain_drops_removed_jobs() {
        let mut limit = TriggerLimit::new(1, Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(limit.take("gone", t0).is_ok());
        assert!(limit.take("gone", t0).is_err());
        limit.retain(|job| job != "gone");
        assert!(limit.take("gone", t0).is_ok());
    }
}
