//! `blockDevices` and `ipv4Interfaces`: counting the host's disks and network interfaces.

use super::super::outcome::Op;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON, SYSTEM_DIR};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;

/// One row of `system/block_devices.json` (lsblk).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct BlockDevice {
    name: String,
    kernel_name: String,
    parent_kernel_name: String,
    #[serde(rename = "type")]
    kind: String,
    size: u64,
    filesystem_type: String,
    mountpoint: String,
    read_only: bool,
    removable: bool,
}

/// Which devices count, from the analyzer spec.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct Eligibility {
    minimum_acceptable_size: u64,
    include_unmounted_partitions: bool,
    additional_device_types: Vec<String>,
}

impl Eligibility {
    /// A device counts when its name matches, it is a disk (or an allowed type), big enough,
    /// unmounted, without a file system, writable, fixed, and no other device is its child.
    fn counts(&self, name: &regex::Regex, d: &BlockDevice, all: &[BlockDevice]) -> bool {
        let kind_ok = d.kind == "disk"
            || (self.include_unmounted_partitions && d.kind == "part")
            || self.additional_device_types.contains(&d.kind);
        name.is_match(&d.name)
            && kind_ok
            && (self.minimum_acceptable_size == 0 || d.size >= self.minimum_acceptable_size)
            && d.mountpoint.is_empty()
            && d.filesystem_type.is_empty()
            && !d.read_only
            && !d.removable
            && !all.iter().any(|o| o.parent_kernel_name == d.kernel_name)
    }
}

/// The operator and count of `<name regex> <op> <count>`.
fn count_condition(when: &str) -> Result<(Op, i64), AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [_, op, desired] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "Expected exactly 3 parts, got {}",
            parts.len()
        )));
    };
    let desired: i64 = desired.parse().map_err(|_| {
        AnalyzerError::spec(format!("failed to parse desired quantity {desired:?}"))
    })?;
    match Op::parse(op) {
        Some(Op::Ne) | None => Err(AnalyzerError::spec(format!("Unexpected operator {op:?}"))),
        Some(op) => Ok((op, desired)),
    }
}

fn devices_hold(
    when: &str,
    eligibility: &Eligibility,
    devices: &[BlockDevice],
) -> Result<bool, AnalyzerError> {
    let (op, desired) = count_condition(when)?;
    let pattern = when.split(' ').next().unwrap_or("");
    let name = regex::Regex::new(pattern)
        .map_err(|e| AnalyzerError::spec(format!("failed to compile regex {pattern:?}: {e}")))?;
    let count = devices
        .iter()
        .filter(|d| eligibility.counts(&name, d, devices))
        .count();
    Ok(op.holds(i64::try_from(count).unwrap_or(i64::MAX), desired))
}

pub(super) fn block_devices(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let eligibility: Eligibility = serde_json::from_value(body.clone()).map_err(|e| {
        AnalyzerError::spec(format!(
            "minimumAcceptableSize, includeUnmountedPartitions or additionalDeviceTypes: {e}"
        ))
    })?;
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/block_devices.json",
            SYSTEM_DIR,
            "block_devices.json",
        ),
        (&meta.title("Block Devices"), NO_ICON, "block devices info"),
        |when, devices: &Option<Vec<BlockDevice>>| {
            devices_hold(when, &eligibility, devices.as_deref().unwrap_or(&[]))
        },
    )
}

/// `count <op> <n>` on the number of interfaces.
fn interfaces_hold(when: &str, count: usize) -> Result<bool, AnalyzerError> {
    let parts: Vec<&str> = when.split(' ').collect();
    let [keyword, op, desired] = parts.as_slice() else {
        return Err(AnalyzerError::spec(format!(
            "Expected exactly 3 parts in conditional, got {}",
            parts.len()
        )));
    };
    if *keyword != "count" {
        return Err(AnalyzerError::spec(format!(
            "Only supported keyword is \"count\", got {keyword:?}"
        )));
    }
    let desired: i64 = desired
        .parse()
        .map_err(|_| AnalyzerError::spec(format!("failed to parse {desired:?} as int")))?;
    match Op::parse(op) {
        Some(Op::Ne) | None => Err(AnalyzerError::spec(format!(
            "Unknown operator {op:?}. Supported operators are: <, <=, ==, >=, >"
        ))),
        Some(op) => Ok(op.holds(i64::try_from(count).unwrap_or(i64::MAX), desired)),
    }
}

pub(super) fn ipv4_interfaces(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    common::simple(
        ctx,
        body,
        (
            "host-collectors/system/ipv4Interfaces.json",
            SYSTEM_DIR,
            "ipv4Interfaces.json",
        ),
        (&meta.title("IPv4 Interfaces"), NO_ICON, "[]net.Interface"),
        |when, list: &Option<Vec<IgnoredAny>>| {
            interfaces_hold(when, list.as_ref().map_or(0, Vec::len))
        },
    )
}
