//! `run`: the daemon in the foreground (systemd runs it the same way, Type=notify).

use super::args::{GlobalArgs, RunArgs};
use super::{agent_host, exit, settings_with};
use crate::agent::clock::Clock;
use crate::agent::{self, AgentOptions};
use crate::settings::{Mode, Settings};

/// Runs the agent until SIGTERM/SIGINT.
pub fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<u8> {
    let settings = settings_with(
        global,
        crate::settings::Overrides {
            mode: args.mode.map(Mode::from),
            node_name: args.node_name.clone(),
            ..Default::default()
        },
    )?;
    let host = agent_host(&settings);
    let election = election(&settings, args, &host, &|k| std::env::var(k).ok());
    if let Some(e) = &election {
        // Before anything starts: timings that could let two replicas lead at once.
        e.timings
            .check()
            .map_err(|err| anyhow::anyhow!("leader election: {err} (--lease-duration, --renew-deadline, --retry-period or the leaderElection setting)"))?;
    }
    let options = AgentOptions {
        strict: args.strict,
        host_identity: match (&election, &settings.host_identity) {
            // `--lease-name` may name another Lease than the setting: the replicas share it.
            (Some(e), None) => format!("cluster/{}", e.name),
            _ => settings.host_identity_or(&host),
        },
        host,
        max_concurrent_runs: settings.max_concurrent_runs,
        shutdown_grace: settings.shutdown_grace_period.0,
        debounce: settings.watch_debounce.0,
        rescan_interval: settings.rescan_interval.0,
        watch_mode: settings.watch_mode,
        clock: Clock::shifted(chrono::Duration::milliseconds(args.clock_offset_ms)),
        election,
        settings,
    };
    agent::heap::tune_for_daemon();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(agent::run(options))?;
    Ok(exit::OK)
}

/// Cluster mode's Lease (flags over settings; identity and namespace from the pod's
/// environment by default); `None` in host mode.
fn election(
    settings: &Settings,
    args: &RunArgs,
    host: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<crate::lease::Options> {
    // Node mode needs no election: every node's agent runs its own host jobs.
    if args.mode.map_or(settings.mode, Mode::from) != Mode::Cluster {
        return None;
    }
    let le = &settings.leader_election;
    let non_empty = |v: Option<String>| v.filter(|s| !s.is_empty());
    let identity = (args.identity.clone())
        .or_else(|| le.identity.clone())
        .or_else(|| non_empty(env("POD_NAME")))
        .unwrap_or_else(|| host.to_string());
    let namespace = (args.lease_namespace.clone())
        .or_else(|| le.lease_namespace.clone())
        .or_else(|| non_empty(env("POD_NAMESPACE")));
    Some(crate::lease::Options {
        identity,
        namespace,
        name: args
            .lease_name
            .clone()
            .unwrap_or_else(|| le.lease_name.clone()),
        timings: crate::lease::Timings {
            lease_duration: args.lease_duration.unwrap_or(le.lease_duration).0,
            renew_deadline: args.renew_deadline.unwrap_or(le.renew_deadline).0,
            retry_period: args.retry_period.unwrap_or(le.retry_period).0,
        },
        kubeconfig: settings.kubeconfig.clone(),
        context: settings.context.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::args::{Cli, Command};
    use clap::Parser;
    use std::time::Duration;

    fn run_args(flags: &[&str]) -> RunArgs {
        let argv = ["troubleshoot-agent", "run"].iter().chain(flags);
        match Cli::parse_from(argv).command {
            Command::Run(args) => args,
            other => panic!("not run: {other:?}"),
        }
    }

    fn pod_env(k: &str) -> Option<String> {
        match k {
            "POD_NAME" => Some("agent-7f9c".into()),
            "POD_NAMESPACE" => Some("support".into()),
            _ => None,
        }
    }

    #[test]
    fn host_mode_has_no_election() {
        let settings = Settings::defaults(&|_| None);
        assert!(election(&settings, &run_args(&[]), "h", &pod_env).is_none());
        let mut cluster = settings.clone();
        cluster.mode = Mode::Cluster;
        let flags = run_args(&["--mode", "host"]);
        assert!(election(&cluster, &flags, "h", &pod_env).is_none());
        // Node mode: every node's agent runs its own host jobs, with no Lease.
        let flags = run_args(&["--mode", "node", "--node-name", "n1"]);
        assert!(election(&cluster, &flags, "h", &pod_env).is_none());
        let mut node = settings.clone();
        node.mode = Mode::Node;
        assert!(election(&node, &run_args(&[]), "h", &pod_env).is_none());
    }

    #[test]
    fn cluster_mode_takes_the_pod_then_settings_then_flags() {
        let mut settings = Settings::defaults(&|_| None);
        settings.mode = Mode::Cluster;
        let e = election(&settings, &run_args(&[]), "node-1", &pod_env).expect("cluster");
        assert_eq!(
            (e.identity.as_str(), e.namespace.as_deref(), e.name.as_str()),
            ("agent-7f9c", Some("support"), "troubleshoot-agent")
        );
        assert_eq!(e.timings, crate::lease::Timings::default());
        // Outside a pod: the host name, and the kubeconfig's namespace (None here).
        let e = election(&settings, &run_args(&[]), "node-1", &|_| None).expect("cluster");
        assert_eq!((e.identity.as_str(), e.namespace), ("node-1", None));
        settings.leader_election.identity = Some("from-settings".into());
        let flags = run_args(&[
            "--identity",
            "from-flag",
            "--lease-namespace",
            "ops",
            "--lease-name",
            "l",
            "--lease-duration",
            "30s",
            "--renew-deadline",
            "20s",
            "--retry-period",
            "500ms",
        ]);
        let e = election(&settings, &flags, "node-1", &pod_env).expect("cluster");
        assert_eq!(
            (e.identity.as_str(), e.namespace.as_deref(), e.name.as_str()),
            ("from-flag", Some("ops"), "l")
        );
        assert_eq!(
            (
                e.timings.lease_duration,
                e.timings.renew_deadline,
                e.timings.retry_period
            ),
            (
                Duration::from_secs(30),
                Duration::from_secs(20),
                Duration::from_millis(500)
            )
        );
    }
}
