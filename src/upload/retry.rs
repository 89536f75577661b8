//! Exponential backoff with jitter for uploads and notifications: pure, so the delay sequence is
//! tested without sleeping.

use std::time::Duration;

/// How a target is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Delay before the second attempt.
    pub initial: Duration,
    /// Cap on any single delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            max_attempts: 5,
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// Delay after failed attempt `attempt` (1-based), or `None` when no attempt is left.
    /// `seed` spreads retries of many agents ("full jitter" between half and the whole step):
    /// the same seed gives the same delays, so tests and logs are reproducible.
    pub fn delay(&self, attempt: u32, seed: u64) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let step = self
            .initial
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max);
        let millis = u64::try_from(step.as_millis()).unwrap_or(u64::MAX);
        let half = millis / 2;
        let spread = mix(seed ^ u64::from(attempt)) % (millis - half + 1);
        Some(Duration::from_millis(half + spread))
    }
}

/// splitmix64: a cheap, well-spread hash of the seed.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_within_jitter_and_stop_at_the_limit() {
        let b = Backoff {
            max_attempts: 4,
            initial: Duration::from_secs(2),
            max: Duration::from_secs(5),
        };
        let d1 = b.delay(1, 7).unwrap();
        let d2 = b.delay(2, 7).unwrap();
        let d3 = b.delay(3, 7).unwrap();
        assert!(
            d1 >= Duration::from_secs(1) && d1 <= Duration::from_secs(2),
            "{d1:?}"
        );
        assert!(
            d2 >= Duration::from_secs(2) && d2 <= Duration::from_secs(4),
            "{d2:?}"
        );
        // Capped at `max`.
        assert!(
            d3 >= Duration::from_millis(2500) && d3 <= Duration::from_secs(5),
            "{d3:?}"
        );
        assert_eq!(b.delay(4, 7), None);
    }

    #[test]
    fn same_seed_same_delay_different_seeds_spread() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 42), b.delay(3, 42));
        let distinct: std::collections::BTreeSet<_> = (0..50).map(|s| b.delay(3, s)).collect();
        assert!(distinct.len() > 10, "{distinct:?}");
    }
}
