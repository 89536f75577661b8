//! `certificate`, `subnetAvailable` and `subnetContainsIP`: one status or fact compared with
//! `when`.

use super::super::outcome;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, Collected, NO_ICON};
use serde::Deserialize;
use serde_json::Value;
use std::net::IpAddr;

/// `certificate`: the collector writes a bare status (`key-pair-valid`, `key-pair-missing`,
/// ...), compared with `when` after trimming.
pub(super) fn certificate(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/certificate";
    let file = format!("{}.json", common::collector_name(body, "certificate"));
    let outcomes = outcome::parse(body)?;
    let files = common::collected(ctx, &format!("{BASE}/{file}"), BASE, &file)?;
    let title = meta.title("Certificate Key Pair");
    common::first_matches(&files, &outcomes, &title, NO_ICON, |when, f| {
        Ok(String::from_utf8_lossy(&f.data).trim() == when)
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SubnetAvailable {
    status: String,
}

/// `subnetAvailable`: `when` is `a-subnet-is-available` or `no-subnet-available`.
pub(super) fn subnet_available(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    const BASE: &str = "host-collectors/subnetAvailable";
    let file = format!("{}.json", common::collector_name(body, "result"));
    common::simple(
        ctx,
        body,
        (&format!("{BASE}/{file}"), BASE, &file),
        (
            &meta.title("Subnet Available"),
            NO_ICON,
            "subnetAvailable result",
        ),
        |when, s: &SubnetAvailable| Ok(s.status == when),
    )
}

/// Whether `cidr` (`10.0.0.0/8`, `fd00::/8`) contains `ip`.
fn cidr_contains(cidr: &str, ip: &str) -> Result<bool, AnalyzerError> {
    let bad_cidr = || AnalyzerError::spec(format!("failed to parse CIDR {cidr}"));
    let (net, bits) = cidr.split_once('/').ok_or_else(bad_cidr)?;
    let net: IpAddr = net.parse().map_err(|_| bad_cidr())?;
    let bits: u32 = bits
        .parse()
        .ok()
        .filter(|_| !bits.starts_with('+'))
        .ok_or_else(bad_cidr)?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| AnalyzerError::spec(format!("failed to parse IP address {ip}")))?;
    let to_v6 = |a: IpAddr| match a {
        IpAddr::V4(v4) => (v4.to_ipv6_mapped(), true),
        IpAddr::V6(v6) => (v6, false),
    };
    let (net6, net_is_v4) = to_v6(net);
    let (ip6, _) = to_v6(ip);
    let max = if net_is_v4 { 32 } else { 128 };
    if bits > max {
        return Err(bad_cidr());
    }
    // An IPv4 network is the last 32 bits of its mapped IPv6 form.
    let prefix = if net_is_v4 { bits + 96 } else { bits };
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    Ok(u128::from(net6) & mask == u128::from(ip6) & mask)
}

/// `subnetContainsIP`: `cidr` and `ip` from the spec (no file); `when` is `true` or `false`.
pub(super) fn subnet_contains_ip(
    _ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let contains = cidr_contains(&common::text(body, "cidr"), &common::text(body, "ip"))?;
    let fact = Collected {
        node: None,
        path: String::new(),
        data: contains.to_string().into_bytes(),
    };
    common::first_matches(
        &[fact],
        &outcomes,
        &meta.title("Subnet Contains IP"),
        NO_ICON,
        |when, _| match when {
            "true" => Ok(contains),
            "false" => Ok(!contains),
            other => Err(AnalyzerError::spec(format!("unknown condition: {other:?}"))),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_contain_addresses_like_go() {
        assert_eq!(cidr_contains("10.0.0.0/8", "10.1.2.3").ok(), Some(true));
        assert_eq!(cidr_contains("10.0.0.0/8", "11.0.0.1").ok(), Some(false));
        assert_eq!(cidr_contains("10.1.2.3/16", "10.1.255.1").ok(), Some(true));
        assert_eq!(cidr_contains("0.0.0.0/0", "192.168.1.1").ok(), Some(true));
        assert_eq!(cidr_contains("fd00::/8", "fd12::1").ok(), Some(true));
        assert_eq!(cidr_contains("fd00::/8", "10.0.0.1").ok(), Some(false));
        assert_eq!(cidr_contains("10.0.0.0/32", "10.0.0.0").ok(), Some(true));
        for (cidr, ip) in [
            ("10.0.0.0", "10.0.0.1"),
            ("10.0.0.0/33", "10.0.0.1"),
            ("x/8", "1.1.1.1"),
            ("10.0.0.0/8", "nope"),
        ] {
            assert!(cidr_contains(cidr, ip).is_err(), "{cidr} {ip}");
        }
    }
}
