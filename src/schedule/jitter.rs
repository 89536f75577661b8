//! Stable per-(host, job) jitter offsets.

use std::time::Duration;

use super::Schedule;

/// FNV-1a 64-bit: tiny, and its output is fixed by its definition, unlike std's
/// `DefaultHasher`, whose algorithm may change between Rust releases and would move every
/// host's fire times after an upgrade.
fn fnv1a64(parts: &[&[u8]]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for (i, part) in parts.iter().enumerate() {
        // A separator that cannot occur in UTF-8 keeps ("ab","c") and ("a","bc") apart.
        if i > 0 {
            hash ^= 0xff;
            hash = hash.wrapping_mul(PRIME);
        }
        for byte in *part {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// A stable offset in `[0, max)`, from a hash of (host, job), clamped below half of the
/// schedule's shortest interval so that jittered runs never overtake each other.
pub fn jitter_offset(
    host_identity: &str,
    job_name: &str,
    max: Duration,
    schedule: &Schedule,
) -> Duration {
    let half_interval = schedule
        .min_interval()
        .to_std()
        .map(|d| d / 2)
        .unwrap_or(Duration::ZERO);
    let bound = max.min(half_interval).as_nanos();
    if bound == 0 {
        return Duration::ZERO;
    }
    let hash = fnv1a64(&[host_identity.as_bytes(), job_name.as_bytes()]);
    // Spread the 64-bit hash over [0, bound) by multiply-shift rather than modulo, so even
    // bounds far above 2^64 ns would not bias towards small offsets.
    let nanos = (u128::from(hash) * bound) >> 64;
    let nanos = u64::try_from(nanos).unwrap_or(u64::MAX);
    Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_reference_values() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(fnv1a64(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(&[b"foobar"]), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn separator_matters() {
        assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
    }

    #[test]
    fn stable_and_bounded() {
        let daily = Schedule::parse("0 2 * * *", "UTC").unwrap();
        let max = Duration::from_secs(600);
        let a = jitter_offset("host-1", "prod-daily", max, &daily);
        assert_eq!(a, jitter_offset("host-1", "prod-daily", max, &daily));
        assert!(a < max);
        assert_ne!(a, jitter_offset("host-2", "prod-daily", max, &daily));
    }

    /// Node mode seeds jitter with each node's name: a fleet of alike names (a cloud's
    /// `ip-10-0-x-y` pattern) must spread over the whole window like independent random offsets,
    /// not bunch (bench/fleet.sh measures the request rates this gives).
    #[test]
    fn a_fleet_of_alike_node_names_spreads_over_the_window() {
        let daily = Schedule::parse("0 2 * * *", "UTC").unwrap();
        let max = Duration::from_secs(600);
        let mut per_minute = [0u32; 10];
        let mut per_second = [0u32; 600];
        for i in 0..1000 {
            let node = format!("ip-10-0-{}-{}.ec2.internal", i / 250, i % 250 + 1);
            let offset = jitter_offset(&node, "node-daily", max, &daily);
            per_minute[(offset.as_secs() / 60) as usize] += 1;
            per_second[offset.as_secs() as usize] += 1;
        }
        // 100 expected per minute; independent uniform draws stay within about ±3 sigma (±30).
        assert!(
            per_minute.iter().all(|n| (70..=130).contains(n)),
            "{per_minute:?}"
        );
        // 1.7 expected per second; independent uniform draws peak at 6 to 8 in 19 runs of 20.
        let peak = per_second.iter().max().copied().unwrap_or(0);
        assert!(peak <= 8, "{peak} nodes in one second");
    }

    #[test]
    fn clamped_to_half_interval() {
        let every_minute = Schedule::parse("* * * * *", "UTC").unwrap();
        for host in ["a", "b", "c", "d", "e"] {
            let offset = jitter_offset(host, "job", Duration::from_secs(3600), &every_minute);
            assert!(offset < Duration::from_secs(30), "{offset:?}");
        }
        assert_eq!(
            jitter_offset("h", "j", Duration::ZERO, &every_minute),
            Duration::ZERO
        );
    }
}
