//! Command-line interface: raw flags (clap) become validated settings, then one file per command.

mod analyze;
mod args;
mod check_targets;
mod client;
mod diff;
mod generate;
mod history;
mod history_changes;
mod human;
mod plan;
mod prepare_state;
mod progress;
mod reload;
mod render;
mod retention;
mod run;
mod schema;
mod status;
mod style;
mod tokens;
mod trigger;
mod validate;

use anyhow::Context as _;
use args::{Cli, Command, GlobalArgs};
use clap::Parser;
use std::process::ExitCode;

/// Documented exit codes (see README.md).
pub mod exit {
    /// Success; for `plan --detailed-exitcode`: no changes.
    pub const OK: u8 = 0;
    /// Invalid input or a failure.
    pub const FAILURE: u8 = 1;
    /// `plan --detailed-exitcode`: there are changes. (clap also uses 2 for usage errors.)
    pub const CHANGES: u8 = 2;
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    init_logging(&cli.global, matches!(cli.command, Command::Run(_)));
    let graph = matches!(&cli.command, Command::Plan(args) if args.graph);
    if let Err(message) = cli.global.settle_output(graph) {
        eprintln!("{}: {message}", style::error_label(style::stderr_colour()));
        return ExitCode::from(exit::FAILURE);
    }
    let result = match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Schema => schema::run(),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Status => status::run(&cli.global),
        Command::History(args) => history::run(&cli.global, args),
        Command::Trigger(args) => trigger::run(&cli.global, args),
        Command::Reload => reload::run(&cli.global),
        Command::Retention(args) => retention::run(&cli.global, args),
        Command::Tokens(args::TokensCommand::Decrypt(args)) => tokens::decrypt(&cli.global, args),
        Command::Analyze(args) => analyze::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::PrepareState(args) => prepare_state::run(&cli.global, args),
        Command::Render(args::RenderCommand::Cronjobs(args)) => render::cronjobs(&cli.global, args),
        Command::Completions(args) => generate::completions(args),
        Command::Man(args) => generate::man(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "{}: {}",
                style::error_label(style::stderr_colour()),
                error_chain(&e)
            );
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// The error and its causes, each cause once: library errors often spell their cause into their
/// own message as well as exposing it as `source`.
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}

/// The log level from `-v`/`-q`: the daemon logs its start, reloads, runs and uploads (info) by
/// default; the other commands only warnings, as their output is the result.
fn log_level(daemon: bool, verbose: u8, quiet: u8) -> &'static str {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let base: i32 = if daemon { 3 } else { 2 };
    let level = (base + i32::from(verbose) - i32::from(quiet)).clamp(0, 5);
    LEVELS[level as usize]
}

fn init_logging(global: &GlobalArgs, daemon: bool) {
    let default = log_level(daemon, global.verbose, global.quiet);
    let user = std::env::var("TROUBLESHOOT_AGENT_LOG").ok();
    let filter = tracing_subscriber::EnvFilter::try_new(log_filter(user.as_deref(), default))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_filter(None, default)));
    let sink = style::stderr_sink();
    let colour = style::colour(sink, std::env::var("NO_COLOR").ok().as_deref());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    // The journal stamps every line itself.
    let _ = if sink == style::Sink::Journal {
        builder.without_time().try_init()
    } else {
        builder.try_init()
    };
}

/// Crates whose debug and trace output dumps requests, signing material or credentials (the AWS
/// SDK logs the session token in its request dumps, dozens of times per upload at `-vvv`).
const CREDENTIAL_DUMPING_CRATES: &[&str] = &[
    "aws_smithy_runtime",
    "aws_smithy_http",
    "aws_smithy_types",
    "aws_sigv4",
    "aws_config",
    "aws_runtime",
    "aws_credential_types",
    "aws_sdk",
    "hyper",
    "reqwest",
    "h2",
    "rustls",
    "tower",
    "google_cloud",
    "tonic",
];

/// The log filter: `TROUBLESHOOT_AGENT_LOG` (else the `-v` level), with the
/// [`CREDENTIAL_DUMPING_CRATES`] held at `info` however verbose the rest is, unless the variable
/// names one of them (or a prefix of one) itself: then whoever set it asked for that output.
fn log_filter(user: Option<&str>, default: &str) -> String {
    let base = user.map(str::trim).filter(|u| !u.is_empty());
    let named: Vec<&str> = base
        .unwrap_or("")
        .split(',')
        .filter_map(|d| {
            let target = d.split(['=', '[']).next().unwrap_or("").trim();
            (d.contains('=') && !target.is_empty()).then_some(target)
        })
        .collect();
    let mut out = base.unwrap_or(default).to_string();
    for krate in CREDENTIAL_DUMPING_CRATES {
        if !named.iter().any(|n| krate.starts_with(n)) {
            out.push_str(&format!(",{krate}=info"));
        }
    }
    out
}

/// Settings from `--config`, the environment and the flags.
fn settings(global: &GlobalArgs) -> anyhow::Result<crate::settings::Settings> {
    settings_with(global, crate::settings::Overrides::default())
}

/// Settings with a command's own flags (`--mode`, `--node-name`) over the global ones.
fn settings_with(
    global: &GlobalArgs,
    command: crate::settings::Overrides,
) -> anyhow::Result<crate::settings::Settings> {
    let overrides = crate::settings::Overrides {
        jobs_dir: global.jobs_dir.clone(),
        state_dir: global.state_dir.clone(),
        listen: global.listen.clone(),
        api_token_file: global.token_file.clone(),
        insecure_allow_writable: global.insecure_allow_writable.then_some(true),
        ..command
    };
    crate::settings::load(global.config.as_deref(), &overrides, &|k| {
        std::env::var(k).ok()
    })
    .context("cannot load agent settings")
}

/// The agent running for these settings, if any (see [`client::locate`]).
fn find_agent(
    global: &GlobalArgs,
    settings: &crate::settings::Settings,
) -> anyhow::Result<Option<client::Agent>> {
    let named = client::Named {
        state_dir: global.state_dir.is_some(),
        listen: global.listen.is_some(),
    };
    client::locate(settings, named)
}

/// The `error` of an agent's JSON answer (else its body), with the HTTP status.
fn agent_error(response: &client::Response) -> String {
    let message = serde_json::from_str::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string))
        .unwrap_or_else(|| response.body.trim().to_string());
    format!("the agent refused (HTTP {}): {message}", response.status)
}

/// The agent's host name for these settings: in node mode the node's name (`nodeName`, else
/// `NODE_NAME`, else the host name), else the host name. It seeds jitter, names the host in run
/// records and fills `{hostname}`/`{node}` in upload keys.
fn agent_host(settings: &crate::settings::Settings) -> String {
    let host = hostname();
    settings
        .node_name_or(&|k| std::env::var(k).ok(), &host)
        .unwrap_or(host)
}

/// This host's name, for jitter (the kernel's, which is what `hostname` prints).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Prints each diagnostic on stderr, as `eprintln!` would, through one buffer: stderr is
/// unbuffered, and a diagnostic written piece by piece costs a system call per piece (a 10,000
/// file directory has tens of thousands of warnings).
fn eprint_diagnostics<'a>(
    diagnostics: impl IntoIterator<Item = &'a crate::diagnostic::Diagnostic>,
) {
    use std::io::Write as _;
    let mut err = std::io::BufWriter::new(std::io::stderr().lock());
    for d in diagnostics {
        let _ = writeln!(err, "{d}");
    }
    let _ = err.flush();
}

/// Skips the destructor of a large value a command is done with just before the process exits
/// (the operating system takes the memory back at once). Commands return straight to `main`,
/// which exits, so nothing can observe the leak.
fn leak_at_exit<T>(value: T) {
    std::mem::forget(value);
}

/// Prints `value` as pretty JSON on stdout.
fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{log_filter, log_level};

    #[test]
    fn the_daemon_logs_info_by_default_and_commands_warnings() {
        assert_eq!(log_level(true, 0, 0), "info");
        assert_eq!(log_level(false, 0, 0), "warn");
        assert_eq!(log_level(true, 0, 1), "warn");
        assert_eq!(log_level(false, 1, 0), "info");
        assert_eq!(log_level(true, 9, 0), "trace");
        assert_eq!(log_level(false, 0, 9), "off");
    }

    #[test]
    fn credential_dumping_crates_stay_at_info_unless_named() {
        let f = log_filter(Some("trace"), "warn");
        assert!(f.starts_with("trace,"), "{f}");
        assert!(f.contains(",aws_smithy_runtime=info"), "{f}");
        assert!(f.contains(",hyper=info"), "{f}");
        let f = log_filter(None, "debug");
        assert!(
            f.starts_with("debug,") && f.contains(",aws_sigv4=info"),
            "{f}"
        );
        let f = log_filter(Some("debug,aws_sigv4=trace,hyper=debug"), "warn");
        assert!(
            !f.contains("aws_sigv4=info") && !f.contains("hyper=info"),
            "{f}"
        );
        assert!(f.contains("aws_smithy_runtime=info"), "{f}");
        tracing_subscriber::EnvFilter::try_new(&f).expect("a valid filter");
    }
}
