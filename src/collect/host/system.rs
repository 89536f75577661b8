//! System information: cpu, memory, hostOS, diskUsage, time, ipv4Interfaces, hostServices, blockDevices.

use super::output::file_name;
use super::process::capture_ok;
use super::{Ctx, Error};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const TOOL_TIMEOUT: Duration = Duration::from_secs(30);

fn read(path: &str) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|e| Error::io(format!("read {path}"), e))
}

// ---------------------------------------------------------------- cpu

/// `system/cpu.json`.
#[derive(Serialize, Debug, PartialEq)]
pub struct CpuInfo {
    #[serde(rename = "logicalCount")]
    logical_count: usize,
    #[serde(rename = "physicalCount")]
    physical_count: usize,
    flags: Option<Vec<String>>,
    #[serde(rename = "machineArch")]
    machine_arch: String,
}

/// Parses /proc/cpuinfo: logical CPUs, physical cores (distinct physical id/core id pairs; the
/// logical count when the kernel does not report topology, as on many ARM boards) and the union
/// of `flags`/`Features` in first-seen order.
pub fn parse_cpuinfo(text: &str) -> (usize, usize, Vec<String>) {
    let mut logical = 0;
    let mut cores = HashSet::new();
    let (mut phys, mut core): (Option<String>, Option<String>) = (None, None);
    let mut seen = HashSet::new();
    let mut flags = Vec::new();
    let flush = |phys: &mut Option<String>,
                 core: &mut Option<String>,
                 cores: &mut HashSet<(String, String)>| {
        if let (Some(p), Some(c)) = (phys.take(), core.take()) {
            cores.insert((p, c));
        }
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once(':') else {
            if line.trim().is_empty() {
                flush(&mut phys, &mut core, &mut cores);
            }
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "processor" => logical += 1,
            "physical id" => phys = Some(value.to_string()),
            "core id" => core = Some(value.to_string()),
            "flags" | "Features" => {
                for f in value.split_whitespace() {
                    if seen.insert(f.to_string()) {
                        flags.push(f.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    flush(&mut phys, &mut core, &mut cores);
    let physical = if cores.is_empty() {
        logical
    } else {
        cores.len()
    };
    (logical, physical, flags)
}

fn uname() -> Result<libc::utsname, Error> {
    // SAFETY: utsname is plain old data; uname(2) fills it and returns 0 on success.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable utsname.
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(Error::io("uname", std::io::Error::last_os_error()));
    }
    Ok(u)
}

fn cstr(field: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `cpu` host collector.
pub async fn cpu(ctx: &Ctx<'_>) -> Result<(), Error> {
    let (logical, physical, flags) = parse_cpuinfo(&read("/proc/cpuinfo")?);
    let info = CpuInfo {
        logical_count: logical,
        physical_count: physical,
        flags: if flags.is_empty() { None } else { Some(flags) },
        machine_arch: cstr(&uname()?.machine),
    };
    ctx.out
        .write_json(&["host-collectors", "system", "cpu.json"], &info)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- memory

/// `MemTotal` of /proc/meminfo, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// The `memory` host collector.
pub async fn memory(ctx: &Ctx<'_>) -> Result<(), Error> {
    let total = parse_meminfo_total(&read("/proc/meminfo")?)
        .ok_or_else(|| Error::Other("MemTotal not found in /proc/meminfo".into()))?;
    ctx.out
        .write_json(
            &["host-collectors", "system", "memory.json"],
            &serde_json::json!({ "total": total }),
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- hostOS

/// `system/hostos_info.json` (Go field order).
#[derive(Serialize)]
struct HostOsInfo {
    name: String,
    #[serde(rename = "kernelVersion")]
    kernel_version: String,
    #[serde(rename = "platformVersion")]
    platform_version: String,
    platform: String,
    #[serde(rename = "platformFamily")]
    platform_family: String,
}

/// `ID` and `VERSION_ID` from os-release text, unquoted.
pub fn parse_os_release(text: &str) -> (String, String) {
    let mut id = String::new();
    let mut version = String::new();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match k.trim() {
                "ID" => id = v,
                "VERSION_ID" => version = v,
                _ => {}
            }
        }
    }
    (id, version)
}

/// The platform family gopsutil reports for an os-release `ID`.
pub fn platform_family(id: &str) -> &'static str {
    match id {
        "debian" | "ubuntu" | "linuxmint" | "raspbian" | "pop" => "debian",
        "rhel" | "centos" | "redhat" | "oracle" | "ol" | "scientific" | "amzn" | "rocky"
        | "almalinux" | "xenserver" | "cloudlinux" | "ibm_powerkvm" => "rhel",
        "fedora" => "fedora",
        "suse" | "opensuse" | "opensuse-leap" | "opensuse-tumbleweed" | "sles" | "sled" => "suse",
        "gentoo" => "gentoo",
        "arch" | "archlinux" | "manjaro" => "arch",
        "alpine" => "alpine",
        "coreos" => "coreos",
        "slackware" => "slackware",
        _ => "",
    }
}

/// The `hostOS` host collector.
pub async fn host_os(ctx: &Ctx<'_>) -> Result<(), Error> {
    let u = uname()?;
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let (id, version) = parse_os_release(&text);
    let info = HostOsInfo {
        name: cstr(&u.nodename),
        kernel_version: cstr(&u.release),
        platform_version: version,
        platform_family: platform_family(&id).to_string(),
        platform: id,
    };
    let text = super::output::go_json(&info, Some(1))?;
    ctx.out
        .write(
            &["host-collectors", "system", "hostos_info.json"],
            text.as_bytes(),
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- diskUsage

/// The nearest existing ancestor of `path` (a missing path walks up, as upstream does).
fn nearest_existing(path: &Path) -> PathBuf {
    let mut p = path.to_path_buf();
    while !p.exists() {
        if !p.pop() {
            return PathBuf::from("/");
        }
    }
    p
}

/// The `diskUsage` host collector.
pub async fn disk_usage(ctx: &Ctx<'_>) -> Result<(), Error> {
    let path = ctx.required("path")?;
    let target = nearest_existing(Path::new(path));
    let c = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
        .map_err(|_| Error::Spec("`path` contains a NUL byte".into()))?;
    // SAFETY: statvfs is plain old data filled by statvfs(3) on success.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(Error::io(
            format!("statvfs {}", target.display()),
            std::io::Error::last_os_error(),
        ));
    }
    let frsize = st.f_frsize as u64;
    let total = (st.f_blocks as u64).saturating_mul(frsize);
    let used = (st.f_blocks as u64)
        .saturating_sub(st.f_bfree as u64)
        .saturating_mul(frsize);
    let name = file_name(ctx.name.unwrap_or("diskUsage"), ".json");
    ctx.out
        .write_json(
            &["host-collectors", "diskUsage", &name],
            &serde_json::json!({ "total_bytes": total, "used_bytes": used }),
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- time

/// `system/time.json`.
#[derive(Serialize, Debug, PartialEq)]
pub struct TimeInfo {
    timezone: String,
    ntp_synchronized: bool,
    ntp_active: bool,
}

/// Upper-cases a zone name and drops the `Etc/` prefix (`Etc/UTC` → `UTC`).
pub fn normalize_timezone(tz: &str) -> String {
    let tz = tz.trim();
    let tz = tz.strip_prefix("Etc/").unwrap_or(tz);
    tz.to_uppercase()
}

/// Parses `timedatectl show` (`Timezone=`, `NTP=`, `NTPSynchronized=`).
pub fn parse_timedatectl_show(text: &str) -> Option<TimeInfo> {
    let (mut tz, mut ntp, mut sync) = (None, None, None);
    for line in text.lines() {
        match line.split_once('=') {
            Some(("Timezone", v)) => tz = Some(v.to_string()),
            Some(("NTP", v)) => ntp = Some(v == "yes"),
            Some(("NTPSynchronized", v)) => sync = Some(v == "yes"),
            _ => {}
        }
    }
    Some(TimeInfo {
        timezone: normalize_timezone(&tz?),
        ntp_synchronized: sync?,
        ntp_active: ntp?,
    })
}

/// The `time` host collector. Upstream asks systemd-timedated over D-Bus; `timedatectl show` is the
/// same data without a D-Bus dependency. With no systemd the collector fails with its message.
pub async fn time(ctx: &Ctx<'_>) -> Result<(), Error> {
    let r = capture_ok("timedatectl", &["show"], TOOL_TIMEOUT, ctx).await?;
    let text = String::from_utf8_lossy(r.stdout.bytes());
    let info = parse_timedatectl_show(&text).ok_or_else(|| {
        Error::Other("timedatectl show did not report Timezone, NTP and NTPSynchronized".into())
    })?;
    ctx.out
        .write_json(&["host-collectors", "system", "time.json"], &info)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- ipv4Interfaces

/// One Go `net.Interface`.
#[derive(Serialize, Debug)]
#[allow(non_snake_case)]
struct GoInterface {
    Index: i64,
    MTU: i64,
    Name: String,
    HardwareAddr: Option<String>,
    Flags: u32,
}

/// Standard base64 with padding (how Go encodes `[]byte` in JSON).
pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Parses `aa:bb:cc:dd:ee:ff` into bytes (`None` for an empty or all-zero address, as Go leaves
/// `HardwareAddr` nil for interfaces without one).
pub fn parse_mac(text: &str) -> Option<Vec<u8>> {
    let bytes: Option<Vec<u8>> = text
        .trim()
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect();
    bytes.filter(|b| !b.is_empty() && b.iter().any(|x| *x != 0))
}

/// Go's `net.Flags` bits from the kernel's IFF_* flags.
pub fn go_flags(iff: u32) -> u32 {
    let mut f = 0;
    let map = [
        (libc::IFF_UP, 1),
        (libc::IFF_BROADCAST, 2),
        (libc::IFF_LOOPBACK, 4),
        (libc::IFF_POINTOPOINT, 8),
        (libc::IFF_MULTICAST, 16),
        (libc::IFF_RUNNING, 32),
    ];
    for (k, g) in map {
        if iff & (k as u32) != 0 {
            f |= g;
        }
    }
    f
}

/// Names of interfaces with an IPv4 address, with their IFF flags.
fn ipv4_interface_names() -> Result<Vec<(String, u32)>, Error> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Err(Error::io("getifaddrs", std::io::Error::last_os_error()));
    }
    let mut names: Vec<(String, u32)> = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        // SAFETY: a non-null ifa_addr points at a sockaddr whose family we only read.
        let is_v4 = !ifa.ifa_addr.is_null()
            && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET;
        if is_v4 && !ifa.ifa_name.is_null() {
            // SAFETY: ifa_name is a NUL-terminated string owned by the list.
            let name = unsafe { CStr::from_ptr(ifa.ifa_name) }
                .to_string_lossy()
                .into_owned();
            if !names.iter().any(|(n, _)| *n == name) {
                names.push((name, ifa.ifa_flags));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(names)
}

/// The `ipv4Interfaces` host collector: up, non-loopback interfaces that have an IPv4 address.
pub async fn ipv4_interfaces(ctx: &Ctx<'_>) -> Result<(), Error> {
    let mut list = Vec::new();
    for (name, iff) in ipv4_interface_names()? {
        let up = iff & libc::IFF_UP as u32 != 0;
        let loopback = iff & libc::IFF_LOOPBACK as u32 != 0;
        if !up || loopback {
            continue;
        }
        let sys = Path::new("/sys/class/net").join(super::sanitize_component(&name));
        let num = |f: &str| {
            std::fs::read_to_string(sys.join(f))
                .ok()
                .and_then(|s| s.trim().parse::<i64>().ok())
                .unwrap_or(0)
        };
        let mac = std::fs::read_to_string(sys.join("address"))
            .ok()
            .and_then(|s| parse_mac(&s));
        list.push(GoInterface {
            Index: num("ifindex"),
            MTU: num("mtu"),
            Name: name,
            HardwareAddr: mac.map(|m| base64(&m)),
            Flags: go_flags(iff),
        });
    }
    list.sort_by_key(|i| i.Index);
    // Go marshals an empty, nil slice as null.
    let value = if list.is_empty() { None } else { Some(list) };
    ctx.out
        .write_json(
            &["host-collectors", "system", "ipv4Interfaces.json"],
            &value,
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- hostServices

/// One `systemctl list-units` row.
#[derive(Serialize, Debug, PartialEq)]
#[allow(non_snake_case)]
pub struct ServiceInfo {
    Unit: String,
    Load: String,
    Active: String,
    Sub: String,
}

/// Parses `systemctl list-units --type=service --no-legend --all` (a leading `●`/`*` marker on
/// failed units is dropped).
pub fn parse_list_units(text: &str) -> Vec<ServiceInfo> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().peekable();
            if matches!(fields.peek(), Some(&"●") | Some(&"*")) {
                fields.next();
            }
            let unit = fields.next()?;
            let load = fields.next()?;
            let active = fields.next()?;
            let sub = fields.next()?;
            Some(ServiceInfo {
                Unit: unit.into(),
                Load: load.into(),
                Active: active.into(),
                Sub: sub.into(),
            })
        })
        .collect()
}

/// The `hostServices` host collector.
pub async fn host_services(ctx: &Ctx<'_>) -> Result<(), Error> {
    let r = capture_ok(
        "systemctl",
        &["list-units", "--type=service", "--no-legend", "--all"],
        TOOL_TIMEOUT,
        ctx,
    )
    .await?;
    let list = parse_list_units(&String::from_utf8_lossy(r.stdout.bytes()));
    let value = if list.is_empty() { None } else { Some(list) };
    ctx.out
        .write_json(
            &["host-collectors", "system", "systemctl_services.json"],
            &value,
        )
        .await?;
    Ok(())
}

// ---------------------------------------------------------------- blockDevices

/// One lsblk device (troubleshoot's `BlockDeviceInfo`, field order kept).
#[derive(Serialize, Debug, PartialEq, Default)]
pub struct BlockDevice {
    name: String,
    kernel_name: String,
    parent_kernel_name: String,
    #[serde(rename = "type")]
    kind: String,
    major: i64,
    minor: i64,
    size: u64,
    filesystem_type: String,
    mountpoint: String,
    serial: String,
    read_only: bool,
    removable: bool,
}

/// Splits one `lsblk --pairs` line into (key, value), undoing lsblk's `\xNN` escapes.
pub fn parse_pairs(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while let Some(eq) = rest.find("=\"") {
        let key = rest[..eq].trim().to_string();
        let after = &rest[eq + 2..];
        let Some(end) = after.find('"') else { break };
        out.push((key, unescape_lsblk(&after[..end])));
        rest = after[end + 1..].trim_start();
    }
    out
}

fn unescape_lsblk(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1] == b'x'
            && let Ok(b) = u8::from_str_radix(&s[i + 2..i + 4], 16)
        {
            out.push(b);
            i += 4;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `lsblk --noheadings --bytes --pairs -o NAME,KNAME,PKNAME,TYPE,MAJ:MIN,SIZE,FSTYPE,MOUNTPOINT,SERIAL,RO,RM`.
pub fn parse_lsblk(text: &str) -> Vec<BlockDevice> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut d = BlockDevice::default();
            for (k, v) in parse_pairs(line) {
                match k.as_str() {
                    "NAME" => d.name = v,
                    "KNAME" => d.kernel_name = v,
                    "PKNAME" => d.parent_kernel_name = v,
                    "TYPE" => d.kind = v,
                    "MAJ:MIN" | "MAJ_MIN" => {
                        if let Some((a, b)) = v.split_once(':') {
                            d.major = a.trim().parse().unwrap_or(0);
                            d.minor = b.trim().parse().unwrap_or(0);
                        }
                    }
                    "SIZE" => d.size = v.trim().parse().unwrap_or(0),
                    "FSTYPE" => d.filesystem_type = v,
                    "MOUNTPOINT" => d.mountpoint = v,
                    "SERIAL" => d.serial = v,
                    "RO" => d.read_only = v.trim() == "1",
                    "RM" => d.removable = v.trim() == "1",
                    _ => {}
                }
            }
            d
        })
        .collect()
}

/// The `blockDevices` host collector.
pub async fn block_devices(ctx: &Ctx<'_>) -> Result<(), Error> {
    let r = capture_ok(
        "lsblk",
        &[
            "--noheadings",
            "--bytes",
            "--pairs",
            "-o",
            "NAME,KNAME,PKNAME,TYPE,MAJ:MIN,SIZE,FSTYPE,MOUNTPOINT,SERIAL,RO,RM",
        ],
        TOOL_TIMEOUT,
        ctx,
    )
    .await?;
    let list = parse_lsblk(&String::from_utf8_lossy(r.stdout.bytes()));
    let value = if list.is_empty() { None } else { Some(list) };
    ctx.out
        .write_json(&["host-collectors", "system", "block_devices.json"], &value)
        .await?;
    Ok(())
}

/// Sorted, de-duplicated strings (used by several collectors).
pub fn sorted_unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    items
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The first IPv4 address of interface `name`, if any.
pub fn interface_ipv4(name: &str) -> Option<std::net::Ipv4Addr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates a list we free with freeifaddrs below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return None;
    }
    let mut found = None;
    let mut cur = head;
    while !cur.is_null() && found.is_none() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() && !ifa.ifa_name.is_null() {
            // SAFETY: ifa_name is NUL-terminated; ifa_addr is a sockaddr whose family we check
            // before reading it as sockaddr_in.
            let n = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
            if n == name && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET {
                // SAFETY: the family is AF_INET, so the address is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                found = Some(std::net::Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_x86_counts_and_flags() {
        let text = "processor\t: 0\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu vme sse\n\nprocessor\t: 1\nphysical id\t: 0\ncore id\t\t: 0\nflags\t\t: fpu vme sse avx\n\nprocessor\t: 2\nphysical id\t: 0\ncore id\t\t: 1\nflags\t\t: fpu\n\n";
        let (l, p, f) = parse_cpuinfo(text);
        assert_eq!((l, p), (3, 2));
        assert_eq!(f, ["fpu", "vme", "sse", "avx"]);
    }

    #[test]
    fn cpuinfo_arm_without_topology() {
        let text = "processor\t: 0\nFeatures\t: fp asimd\n\nprocessor\t: 1\nFeatures\t: fp asimd\n";
        assert_eq!(
            parse_cpuinfo(text),
            (2, 2, vec!["fp".into(), "asimd".into()])
        );
    }

    #[test]
    fn meminfo_total() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       16318452 kB\nMemFree: 1 kB\n"),
            Some(16318452 * 1024)
        );
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo_total("MemTotal: x kB\n"), None);
    }

    #[test]
    fn os_release_and_family() {
        let (id, v) = parse_os_release("NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_ID=\"22.04\"\n");
        assert_eq!((id.as_str(), v.as_str()), ("ubuntu", "22.04"));
        assert_eq!(platform_family("ubuntu"), "debian");
        assert_eq!(platform_family("rocky"), "rhel");
        assert_eq!(platform_family("unknown"), "");
    }

    #[test]
    fn timezone_and_timedatectl() {
        assert_eq!(normalize_timezone("Etc/UTC"), "UTC");
        assert_eq!(normalize_timezone("America/New_York"), "AMERICA/NEW_YORK");
        let t = parse_timedatectl_show(
            "Timezone=Etc/UTC\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=no\n",
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"timezone":"UTC","ntp_synchronized":false,"ntp_active":true}"#
        );
        assert!(parse_timedatectl_show("Timezone=UTC\n").is_none());
    }

    #[test]
    fn base64_and_mac() {
        assert_eq!(base64(&[]), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        let mac = parse_mac("02:42:ac:11:00:02\n").unwrap();
        assert_eq!(base64(&mac), "AkKsEQAC");
        assert_eq!(parse_mac("00:00:00:00:00:00"), None);
        assert_eq!(parse_mac(""), None);
    }

    #[test]
    fn go_flag_bits() {
        let iff =
            (libc::IFF_UP | libc::IFF_BROADCAST | libc::IFF_MULTICAST | libc::IFF_RUNNING) as u32;
        assert_eq!(go_flags(iff), 1 | 2 | 16 | 32);
    }

    #[test]
    fn list_units() {
        let text = "  chrony.service   loaded active running NTP client/server\n● kubelet.service loaded failed failed  kubelet: The Kubernetes Node Agent\nshort\n";
        let got = parse_list_units(text);
        assert_eq!(got.len(), 2);
        assert_eq!(
            serde_json::to_string(&got[1]).unwrap(),
            r#"{"Unit":"kubelet.service","Load":"loaded","Active":"failed","Sub":"failed"}"#
        );
    }

    #[test]
    fn lsblk_pairs() {
        let text = "NAME=\"sda\" KNAME=\"sda\" PKNAME=\"\" TYPE=\"disk\" MAJ:MIN=\"8:0\" SIZE=\"107374182400\" FSTYPE=\"\" MOUNTPOINT=\"\" SERIAL=\"QM0001\" RO=\"0\" RM=\"1\"\nNAME=\"sda1\" KNAME=\"sda1\" PKNAME=\"sda\" TYPE=\"part\" MAJ:MIN=\"8:1\" SIZE=\"1048576\" FSTYPE=\"ext4\" MOUNTPOINT=\"/mnt/my\\x20disk\" SERIAL=\"\" RO=\"1\" RM=\"0\"\n";
        let d = parse_lsblk(text);
        assert_eq!(d.len(), 2);
        assert_eq!(
            serde_json::to_string(&d[1]).unwrap(),
            r#"{"name":"sda1","kernel_name":"sda1","parent_kernel_name":"sda","type":"part","major":8,"minor":1,"size":1048576,"filesystem_type":"ext4","mountpoint":"/mnt/my disk","serial":"","read_only":true,"removable":false}"#
        );
        assert!(d[0].removable && !d[0].read_only);
        assert_eq!(d[0].size, 107374182400);
    }
}
