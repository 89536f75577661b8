//! `systemPackages`: whether listed packages are installed (`dpkg -s` / `rpm -qi`).

use super::output::file_name;
use super::process::capture;
use super::{Ctx, Error};
use serde::Serialize;
use std::time::Duration;

/// One package's query result.
#[derive(Serialize, Debug)]
struct Package {
    name: String,
    details: String,
    #[serde(rename = "exitCode")]
    exit_code: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    error: String,
}

/// `system/<name>-packages.json`.
#[derive(Serialize, Debug)]
struct PackagesResult {
    os: String,
    #[serde(rename = "osVersion")]
    os_version: String,
    packages: Option<Vec<Package>>,
}

/// The spec keys to read, most specific first: `<id><major>` (e.g. `ubuntu20`, `rhel8`), `<id>`.
pub fn distro_keys(id: &str, version: &str) -> Vec<String> {
    let major = version.split('.').next().unwrap_or("");
    let mut keys = Vec::new();
    if !major.is_empty() {
        keys.push(format!("{id}{major}"));
    }
    keys.push(id.to_string());
    keys
}

/// The `systemPackages` host collector.
pub async fn system_packages(ctx: &Ctx<'_>) -> Result<(), Error> {
    let text = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .map_err(|e| Error::io("read /etc/os-release", e))?;
    let (id, version) = super::system::parse_os_release(&text);
    let family = super::system::platform_family(&id);
    // The union of every key that applies, in spec order, without repeats.
    let mut names: Vec<String> = Vec::new();
    for key in distro_keys(&id, &version) {
        for n in ctx.strings(&key) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let tool: Option<(&str, &str)> = match family {
        "debian" => Some(("dpkg", "-s")),
        "rhel" | "fedora" | "suse" => Some(("rpm", "-qi")),
        _ => None,
    };
    let mut packages = Vec::new();
    for name in names {
        let Some((prog, flag)) = tool else {
            return Err(Error::Other(format!(
                "systemPackages: unsupported distribution {id:?}"
            )));
        };
        let r = capture(prog, &[flag, &name], Duration::from_secs(60), ctx).await?;
        packages.push(Package {
            name,
            details: String::from_utf8_lossy(r.stdout.bytes()).into_owned(),
            exit_code: super::process::exit_code_string(r.status),
            error: String::from_utf8_lossy(r.stderr.bytes()).into_owned(),
        });
    }
    let result = PackagesResult {
        os: id,
        os_version: version,
        packages: if packages.is_empty() {
            None
        } else {
            Some(packages)
        },
    };
    let file = file_name(ctx.name.unwrap_or("packages"), "-packages.json");
    ctx.out
        .write_json(&["host-collectors", "system", &file], &result)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(distro_keys("ubuntu", "20.04"), ["ubuntu20", "ubuntu"]);
        assert_eq!(distro_keys("rhel", "8.6"), ["rhel8", "rhel"]);
        assert_eq!(distro_keys("arch", ""), ["arch"]);
    }
}
