//! `subnetAvailable`: whether a subnet of `desiredCIDR` bits fits inside `CIDRRangeAlloc` without
//! overlapping any IPv4 route of the host (`/proc/net/route`), as troubleshoot (and kURL) decide.

use super::output::file_name;
use super::{Ctx, Error};
use serde::Serialize;
use std::net::Ipv4Addr;

/// An IPv4 network: its (masked) first address and prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net4 {
    first: u32,
    bits: u8,
}

impl Net4 {
    /// The network of `addr/bits` (host bits cleared).
    pub fn new(addr: Ipv4Addr, bits: u8) -> Net4 {
        let bits = bits.min(32);
        Net4 {
            first: u32::from(addr) & mask(bits),
            bits,
        }
    }

    fn last(self) -> u32 {
        self.first | !mask(self.bits)
    }

    fn contains(self, ip: u32) -> bool {
        ip & mask(self.bits) == self.first
    }

    fn overlaps(self, other: Net4) -> bool {
        self.contains(other.first)
            || self.contains(other.last())
            || other.contains(self.first)
            || other.contains(self.last())
    }
}

fn mask(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

/// Why `/proc/net/route` or a subnet check cannot be read (kURL's and troubleshoot's words).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// A route line without its 11 columns.
    #[error("invalid /proc/net/route line '{line}', expected 11 columns got {columns}")]
    Columns {
        /// The line.
        line: String,
        /// Its column count.
        columns: usize,
    },
    /// A destination or mask column that is not hex.
    #[error(
        "cannot parse {what} column (index {index}) for /proc/net/route line '{line}': {source}"
    )]
    Hex {
        /// `dest` or `mask`.
        what: &'static str,
        /// The column.
        index: usize,
        /// The line.
        line: String,
        /// The parse error.
        source: std::num::ParseIntError,
    },
    /// A desired size outside 1..=32.
    #[error("CIDR range size {0} invalid, must be between 1 and 32")]
    Size(u8),
    /// A range smaller than the subnet wanted inside it.
    #[error(
        "subnetRange size ({range}) must be larger than or equal to cidrRange size ({desired}), can't check if a range larger than itself is available"
    )]
    RangeTooSmall {
        /// The range's prefix length.
        range: u8,
        /// The wanted prefix length.
        desired: u8,
    },
}

/// The destinations of the host's IPv4 routes, parsed from `/proc/net/route` text.
///
/// Columns are tab-separated; destination (1) and mask (7) are little-endian hex.
pub fn parse_routes(text: &str) -> Result<Vec<Net4>, SubnetError> {
    let mut routes = Vec::new();
    for line in text.lines() {
        if line.len() < 4 || line.starts_with("Iface") {
            continue;
        }
        let cols: Vec<&str> = line.trim().split('\t').collect();
        if cols.len() != 11 {
            return Err(SubnetError::Columns {
                line: line.to_string(),
                columns: cols.len(),
            });
        }
        let hex = |index: usize, what: &'static str| {
            u32::from_str_radix(cols[index].trim(), 16)
                .map(u32::swap_bytes)
                .map_err(|source| SubnetError::Hex {
                    what,
                    index,
                    line: line.to_string(),
                    source,
                })
        };
        let dest = hex(1, "dest")?;
        let mask = hex(7, "mask")?;
        // A mask is contiguous ones; its length is the prefix.
        let bits = u8::try_from(mask.leading_ones()).unwrap_or(32);
        routes.push(Net4::new(Ipv4Addr::from(dest), bits));
    }
    Ok(routes)
}

/// Parses `CIDRRangeAlloc` (`x.x.x.x/nn`).
fn parse_range(raw: &str) -> Result<Net4, Error> {
    let (ip, bits) = raw.split_once('/').ok_or_else(|| {
        Error::Spec(format!(
            "CIDRRangeAlloc value {raw} invalid, expected format x.x.x.x/##"
        ))
    })?;
    let bits: u8 = bits.parse().ok().filter(|b| *b <= 32).ok_or_else(|| {
        Error::Spec(format!(
            "CIDRRangeAlloc mask {bits} invalid, must be between 0 and 32"
        ))
    })?;
    let ip: Ipv4Addr = ip.parse().map_err(|_| {
        Error::Spec(format!(
            "CIDRRangeAlloc address {ip} invalid, expected an IPv4 address"
        ))
    })?;
    Ok(Net4::new(ip, bits))
}

/// Whether a `/desired` subnet inside `range` overlaps none of `routes` (default routes, 0/0,
/// are ignored): candidates are tried in address order from the start of the range.
pub fn subnet_available(desired: u8, range: Net4, routes: &[Net4]) -> Result<bool, SubnetError> {
    if !(1..=32).contains(&desired) {
        return Err(SubnetError::Size(desired));
    }
    if range.bits > desired {
        return Err(SubnetError::RangeTooSmall {
            range: range.bits,
            desired,
        });
    }
    let routes: Vec<Net4> = routes
        .iter()
        .copied()
        .filter(|r| !(r.first == 0 && r.bits == 0))
        .collect();
    let step = 1u64 << (32 - u32::from(desired));
    let mut start = u64::from(range.first);
    while start <= u64::from(range.last()) {
        let candidate = Net4 {
            first: u32::try_from(start).unwrap_or(u32::MAX),
            bits: desired,
        };
        if !routes.iter().any(|r| r.overlaps(candidate)) {
            return Ok(true);
        }
        start += step;
    }
    Ok(false)
}

/// troubleshoot's `SubnetAvailableResult` (field order and names as Go writes them).
#[derive(Serialize)]
struct SubnetResult<'a> {
    #[serde(rename = "CIDRRangeAlloc")]
    cidr_range_alloc: &'a str,
    #[serde(rename = "desiredCIDR")]
    desired_cidr: i64,
    status: &'static str,
}

/// The `subnetAvailable` collector: `host-collectors/subnetAvailable/<collectorName|result>.json`.
///
/// troubleshoot writes nothing and reports no error for an invalid `desiredCIDR` or
/// `CIDRRangeAlloc` (it wraps a nil error); we write the error file instead, so the reason shows.
pub async fn subnet_available_collector(ctx: &Ctx<'_>) -> Result<(), Error> {
    let raw_range = ctx.str("CIDRRangeAlloc").unwrap_or("");
    let desired = ctx.int("desiredCIDR").unwrap_or(0);
    let routes_text = tokio::fs::read_to_string("/proc/net/route")
        .await
        .map_err(|e| Error::io("failed to read contents of /proc/net/route", e))?;
    let routes = parse_routes(&routes_text)
        .map_err(|e| Error::Other(format!("failed to parse /proc/net/route: {e}")))?;
    let desired_bits = u8::try_from(desired)
        .ok()
        .filter(|d| (1..=32).contains(d))
        .ok_or_else(|| {
            Error::Spec(format!(
                "desiredCIDR: CIDR range size {desired} invalid, must be between 1 and 32"
            ))
        })?;
    let range = parse_range(raw_range)?;
    let available = subnet_available(desired_bits, range, &routes).map_err(|e| {
        Error::Other(format!(
            "failed to determine if desired CIDR is available within subnet: {e}"
        ))
    })?;
    let result = SubnetResult {
        cidr_range_alloc: raw_range,
        desired_cidr: desired,
        status: if available {
            "a-subnet-is-available"
        } else {
            "no-subnet-available"
        },
    };
    let file = file_name(ctx.name.unwrap_or("result"), ".json");
    ctx.out
        .write_json(&["host-collectors", "subnetAvailable", &file], &result)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0                                                                               \n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0                                                                               \n\
cni0\t0000000A\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";

    fn net(s: &str) -> Net4 {
        parse_range(s).expect("cidr")
    }

    #[test]
    fn parses_proc_net_route() {
        let routes = parse_routes(ROUTES).expect("parse");
        assert_eq!(
            routes,
            [net("0.0.0.0/0"), net("192.0.2.0/24"), net("10.0.0.0/16")]
        );
        let err = parse_routes("eth0\t0000\t1\n").expect_err("short line");
        assert_eq!(
            err.to_string(),
            "invalid /proc/net/route line 'eth0\t0000\t1', expected 11 columns got 3"
        );
        let bad = "eth0\tZZ\t0\t0\t0\t0\t0\t0\t0\t0\t0\n";
        let err = parse_routes(bad).expect_err("hex").to_string();
        assert!(
            err.starts_with(
                "cannot parse dest column (index 1) for /proc/net/route line 'eth0\tZZ"
            ),
            "{err}"
        );
    }

    #[test]
    fn finds_the_first_free_subnet_like_kurl() {
        let routes = parse_routes(ROUTES).expect("parse");
        // 10.0.0.0/16 is taken, 10.1.0.0/16 is free.
        assert_eq!(subnet_available(16, net("10.0.0.0/8"), &routes), Ok(true));
        // The whole range is the taken route.
        assert_eq!(subnet_available(16, net("10.0.0.0/16"), &routes), Ok(false));
        assert_eq!(subnet_available(20, net("10.0.0.0/16"), &routes), Ok(false));
        // A /8 cannot fit beside a /16 inside the same /8.
        assert_eq!(subnet_available(8, net("10.0.0.0/8"), &routes), Ok(false));
        // The default route is ignored.
        assert_eq!(
            subnet_available(24, net("172.16.0.0/12"), &routes),
            Ok(true)
        );
        // The last subnet of the address space does not wrap around.
        let all = [net("255.255.255.0/24")];
        assert_eq!(
            subnet_available(24, net("255.255.255.0/24"), &all),
            Ok(false)
        );
        assert!(subnet_available(8, net("10.0.0.0/16"), &routes).is_err());
        assert!(subnet_available(0, net("10.0.0.0/8"), &routes).is_err());
        assert!(subnet_available(33, net("10.0.0.0/8"), &routes).is_err());
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(net("10.1.2.3/16"), net("10.1.0.0/16"));
        for bad in ["10.0.0.0", "10.0.0.0/33", "10.0.0.0/x", "x/8", "fd00::/8"] {
            assert!(parse_range(bad).is_err(), "{bad}");
        }
    }
}
