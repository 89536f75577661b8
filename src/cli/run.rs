//! `run`: the daemon in the foreground (systemd runs it the same way, Type=notify).

use super::args::{GlobalArgs, RunArgs};
use super::{exit, hostname, settings};
use crate::agent::clock::Clock;
use crate::agent::{self, AgentOptions};

/// Runs the agent until SIGTERM/SIGINT.
pub fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let host = hostname();
    let options = AgentOptions {
        strict: args.strict,
        host_identity: settings.host_identity_or(&host),
        host,
        max_concurrent_runs: settings.max_concurrent_runs,
        shutdown_grace: settings.shutdown_grace_period.0,
        debounce: settings.watch_debounce.0,
        rescan_interval: settings.rescan_interval.0,
        watch_mode: settings.watch_mode,
        clock: Clock::shifted(chrono::Duration::milliseconds(args.clock_offset_ms)),
        settings,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(agent::run(options))?;
    Ok(exit::OK)
}
