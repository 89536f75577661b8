//! The systemd unit in packaging/ is one systemd accepts.

use std::process::Command;

#[test]
fn systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/systemd/troubleshoot-agent.service"
    ))
    .expect("unit file");
    for needle in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "StateDirectory=troubleshoot-agent",
        "ProtectSystem=strict",
        "MemoryMax=",
        "CPUWeight=",
        "IOWeight=",
        "Nice=",
    ] {
        assert!(unit.contains(needle), "unit lacks {needle}");
    }
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("systemd-analyze is not installed: only the unit's key settings were checked");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = env!("CARGO_BIN_EXE_troubleshoot-agent");
    let path = dir.path().join("troubleshoot-agent.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/troubleshoot-agent", binary),
    )
    .expect("write unit");
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("troubleshoot-agent.service"))
        .collect();
    assert!(
        problems.is_empty() && out.status.success(),
        "systemd-analyze verify: {stderr}"
    );
}
