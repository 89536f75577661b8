//! Kernel information: kernelModules, sysctl, kernelConfigs, cgroups.

use super::process::capture;
use super::{Ctx, Error};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;

// ---------------------------------------------------------------- kernelModules

/// One module's entry in `system/kernel_modules.json`.
#[derive(Serialize, Debug, PartialEq, Clone)]
pub struct ModuleInfo {
    size: u64,
    instances: u64,
    status: &'static str,
}

/// Parses /proc/modules (`name size instances deps state offset`), the same format lsmod reads.
pub fn parse_proc_modules(text: &str) -> BTreeMap<String, ModuleInfo> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 {
            continue;
        }
        let status = match f[4] {
            "Live" => "loaded",
            "Loading" => "loading",
            "Unloading" => "unloading",
            _ => "unknown",
        };
        out.insert(
            f[0].to_string(),
            ModuleInfo {
                size: f[1].parse().unwrap_or(0),
                instances: f[2].parse().unwrap_or(0),
                status,
            },
        );
    }
    out
}

/// Module names listed in `modules.dep` (`kernel/fs/foo/foo.ko.xz: deps`); `-` and `_` are the
/// same to the kernel, so names are normalised to `_` as /proc/modules shows them.
pub fn parse_modules_dep(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.split(':').next())
        .filter_map(|path| path.rsplit('/').next())
        .filter_map(|file| file.split(".ko").next())
        .filter(|n| !n.is_empty())
        .map(|n| n.replace('-', "_"))
        .collect()
}

/// The `kernelModules` host collector: loaded modules from /proc/modules, builtin ones as loaded,
/// and the rest of modules.dep as loadable.
pub async fn kernel_modules(ctx: &Ctx<'_>) -> Result<(), Error> {
    let mut notes = Vec::new();
    let text = match std::fs::read_to_string("/proc/modules") {
        Ok(t) => t,
        // No /proc/modules means a kernel built without module support (CONFIG_MODULES=n, or a
        // sandbox kernel such as gVisor): nothing is loaded as a module, which is data.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notes.push(format!(
                "/proc/modules: {e} (kernel without loadable module support)"
            ));
            String::new()
        }
        Err(e) => return Err(Error::io("read /proc/modules", e)),
    };
    let mut modules = parse_proc_modules(&text);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let base = Path::new("/lib/modules").join(&release);
    for (file, status) in [("modules.builtin", "loaded"), ("modules.dep", "loadable")] {
        match std::fs::read_to_string(base.join(file)) {
            Ok(t) => {
                for name in parse_modules_dep(&t) {
                    modules.entry(name).or_insert(ModuleInfo {
                        size: 0,
                        instances: 0,
                        status,
                    });
                }
            }
            Err(e) => notes.push(format!("{}: {e}", base.join(file).display())),
        }
    }
    ctx.out
        .write_json(
            &["host-collectors", "system", "kernel_modules.json"],
            &modules,
        )
        .await?;
    if !notes.is_empty() {
        // Loadable modules could not be listed (e.g. a container without /lib/modules); say why
        // next to the result, as upstream does with kernel_modules-stderr.txt.
        ctx.out
            .write(
                &["host-collectors", "system", "kernel_modules-stderr.txt"],
                (notes.join("\n") + "\n").as_bytes(),
            )
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- sysctl

/// Parses `sysctl -a` output (`key = value` or `key: value`) into a sorted map.
pub fn parse_sysctl(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let split = line.split_once(" = ").or_else(|| line.split_once(": "));
        if let Some((k, v)) = split {
            let k = k.trim();
            if !k.is_empty() {
                out.insert(k.to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// The `sysctl` host collector.
pub async fn sysctl(ctx: &Ctx<'_>) -> Result<(), Error> {
    let r = capture("sysctl", &["-a"], Duration::from_secs(60), ctx).await?;
    if r.timed_out {
        return Err(Error::Other("sysctl -a timed out after 60s".into()));
    }
    let values = parse_sysctl(&String::from_utf8_lossy(r.stdout.bytes()));
    if values.is_empty() {
        return Err(Error::Other(format!(
            "sysctl -a produced no values: {}",
            String::from_utf8_lossy(r.stderr.bytes()).trim()
        )));
    }
    ctx.out
        .write_json(&["host-collectors", "system", "sysctl.json"], &values)
        .await?;
    // sysctl -a reports unreadable keys on stderr and exits non-zero; that is data, not failure.
    if !r.stderr.bytes().is_empty() {
        ctx.out
            .write(
                &["host-collectors", "system", "sysctl-stderr.txt"],
                r.stderr.bytes(),
            )
            .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------- kernelConfigs

/// Parses a kernel config (`CONFIG_X=y`); `# CONFIG_X is not set` lines are left out.
pub fn parse_kernel_config(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| l.starts_with("CONFIG_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The `kernelConfigs` host collector: /boot/config-<release>, else /proc/config.gz.
pub async fn kernel_configs(ctx: &Ctx<'_>) -> Result<(), Error> {
    // Reading and gunzipping a kernel config (a few MB) blocks: off the async workers.
    let text = tokio::task::spawn_blocking(read_kernel_config)
        .await
        .map_err(|e| Error::Other(format!("reading the kernel config failed: {e}")))??;
    ctx.out
        .write_json(
            &["host-collectors", "system", "kernel-configs.json"],
            &parse_kernel_config(&text),
        )
        .await?;
    Ok(())
}

/// The running kernel's config: `/boot/config-<release>`, else `/proc/config.gz`. Blocking.
fn read_kernel_config() -> Result<String, Error> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .map_err(|e| Error::io("read /proc/sys/kernel/osrelease", e))?;
    let boot = format!("/boot/config-{release}");
    let text = match std::fs::read_to_string(&boot) {
        Ok(t) => t,
        Err(boot_err) => match std::fs::File::open("/proc/config.gz") {
            Ok(f) => {
                let mut s = String::new();
                flate2::read::GzDecoder::new(f)
                    .take(64 * 1024 * 1024)
                    .read_to_string(&mut s)
                    .map_err(|e| Error::io("read /proc/config.gz", e))?;
                s
            }
            Err(gz_err) => {
                return Err(Error::Other(format!(
                    "kernel config not found: {boot}: {boot_err}; /proc/config.gz: {gz_err}"
                )));
            }
        },
    };
    Ok(text)
}

// ---------------------------------------------------------------- cgroups

/// One cgroup version's state.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct CgroupResult {
    enabled: bool,
    #[serde(rename = "mountPoint")]
    mount_point: String,
    controllers: Vec<String>,
}

/// `system/cgroups.json`.
#[derive(Serialize, Debug, Default, PartialEq)]
pub struct CgroupsResult {
    #[serde(rename = "cgroup-enabled")]
    enabled: bool,
    #[serde(rename = "cgroup-v1")]
    v1: CgroupResult,
    #[serde(rename = "cgroup-v2")]
    v2: CgroupResult,
    #[serde(rename = "allControllers")]
    all: Option<Vec<String>>,
}

/// Controller names of /proc/cgroups (enabled ones only).
pub fn parse_proc_cgroups(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 4 && f[3] == "1").then(|| f[0].to_string())
        })
        .collect()
}

/// v2 controllers from `cgroup.controllers`, plus `cpuacct` when `cpu` is there (v2's cpu
/// controller replaces both) and `freezer` when `cgroup.freeze` exists for our own cgroup.
pub fn v2_controllers(listing: &str, freezer: bool) -> Vec<String> {
    let mut c: Vec<String> = listing.split_whitespace().map(str::to_string).collect();
    if c.iter().any(|x| x == "cpu") {
        c.push("cpuacct".into());
    }
    if freezer {
        c.push("freezer".into());
    }
    c
}

/// Assembles the result from what was found (controllers sorted, all = union).
pub fn cgroups_result(
    mount: &str,
    v1: Option<Vec<String>>,
    v2: Option<Vec<String>>,
) -> CgroupsResult {
    let mut r = CgroupsResult::default();
    if let Some(mut c) = v1 {
        c.sort();
        r.v1 = CgroupResult {
            enabled: true,
            mount_point: mount.into(),
            controllers: c,
        };
    }
    if let Some(mut c) = v2 {
        c.sort();
        r.v2 = CgroupResult {
            enabled: true,
            mount_point: mount.into(),
            controllers: c,
        };
    }
    r.enabled = r.v1.enabled || r.v2.enabled;
    let all =
        super::system::sorted_unique(r.v1.controllers.iter().chain(&r.v2.controllers).cloned());
    r.all = if all.is_empty() { None } else { Some(all) };
    r
}

/// The `cgroups` host collector. Upstream also probes the v2 `devices` controller by attaching an
/// eBPF program; this build does not (it would need root and BPF), so `devices` is not reported on v2.
pub async fn cgroups(ctx: &Ctx<'_>) -> Result<(), Error> {
    let mount = ctx
        .str("mountPoint")
        .filter(|s| !s.is_empty())
        .unwrap_or("/sys/fs/cgroup");
    let c = std::ffi::CString::new(mount)
        .map_err(|_| Error::Spec("`mountPoint` contains a NUL byte".into()))?;
    // SAFETY: statfs is plain old data filled by statfs(2) on success.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` writable.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    let result = if rc != 0 {
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::NotFound {
            return Err(Error::io(format!("statfs {mount}"), err));
        }
        cgroups_result(mount, None, None)
    } else {
        const CGROUP2: i64 = 0x6367_7270;
        const CGROUP1: i64 = 0x0027_e0eb;
        const TMPFS: i64 = 0x0102_1994;
        #[allow(clippy::unnecessary_cast)] // f_type's width differs between libcs.
        match st.f_type as i64 {
            CGROUP2 => {
                let listing = std::fs::read_to_string(Path::new(mount).join("cgroup.controllers"))
                    .map_err(|e| Error::io(format!("read {mount}/cgroup.controllers"), e))?;
                let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
                let rel = own
                    .lines()
                    .find_map(|l| l.strip_prefix("0::"))
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_string();
                let freezer =
                    !rel.is_empty() && Path::new(mount).join(&rel).join("cgroup.freeze").is_file();
                cgroups_result(mount, None, Some(v2_controllers(&listing, freezer)))
            }
            CGROUP1 | TMPFS => {
                let text = std::fs::read_to_string("/proc/cgroups")
                    .map_err(|e| Error::io("read /proc/cgroups", e))?;
                cgroups_result(mount, Some(parse_proc_cgroups(&text)), None)
            }
            other => {
                return Err(Error::Other(format!(
                    "unexpected file system type of {mount:?}: 0x{other:x}"
                )));
            }
        }
    };
    ctx.out
        .write_json(&["host-collectors", "system", "cgroups.json"], &result)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_modules() {
        let text = "overlay 151552 3 - Live 0xffffffffc0a7e000\nbr_netfilter 32768 0 - Loading 0x0\nxt_x 1 0 - Weird 0x0\nbad\n";
        let m = parse_proc_modules(text);
        assert_eq!(m.len(), 3);
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"br_netfilter":{"size":32768,"instances":0,"status":"loading"},"overlay":{"size":151552,"instances":3,"status":"loaded"},"xt_x":{"size":1,"instances":0,"status":"unknown"}}"#
        );
    }

    #[test]
    fn modules_dep_names() {
        let text = "kernel/fs/overlayfs/overlay.ko.zst: \nkernel/net/bridge/br-netfilter.ko: kernel/net/bridge/bridge.ko\n";
        assert_eq!(parse_modules_dep(text), ["overlay", "br_netfilter"]);
    }

    #[test]
    fn sysctl_lines() {
        let m =
            parse_sysctl("net.ipv4.ip_forward = 1\nkernel.hostname: box\nfs.x = a = b\nnoise\n");
        assert_eq!(m["net.ipv4.ip_forward"], "1");
        assert_eq!(m["kernel.hostname"], "box");
        assert_eq!(m["fs.x"], "a = b");
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn kernel_config_lines() {
        let m = parse_kernel_config(
            "#\n# CONFIG_A is not set\nCONFIG_B=y\nCONFIG_C=m\nCONFIG_D=\"str\"\n",
        );
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"CONFIG_B":"y","CONFIG_C":"m","CONFIG_D":"\"str\""}"#
        );
    }

    #[test]
    fn cgroup_shapes() {
        let v1 = parse_proc_cgroups(
            "#subsys_name\thierarchy\tnum_cgroups\tenabled\ncpuset\t0\t1\t1\nmemory\t0\t1\t0\n",
        );
        assert_eq!(v1, ["cpuset"]);
        let r = cgroups_result(
            "/sys/fs/cgroup",
            None,
            Some(v2_controllers("memory cpu io", true)),
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"cgroup-enabled":true,"cgroup-v1":{"enabled":false,"mountPoint":"","controllers":[]},"cgroup-v2":{"enabled":true,"mountPoint":"/sys/fs/cgroup","controllers":["cpu","cpuacct","freezer","io","memory"]},"allControllers":["cpu","cpuacct","freezer","io","memory"]}"#
        );
        assert_eq!(
            serde_json::to_string(&cgroups_result("/x", None, None)).unwrap(),
            r#"{"cgroup-enabled":false,"cgroup-v1":{"enabled":false,"mountPoint":"","controllers":[]},"cgroup-v2":{"enabled":false,"mountPoint":"","controllers":[]},"allControllers":null}"#
        );
    }
}
