//! Command-line interface: raw flags (clap) become validated settings, then one file per command.

mod args;
mod check_targets;
mod client;
mod history;
mod plan;
mod reload;
mod run;
mod schema;
mod status;
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
    let cli = Cli::parse();
    init_logging(&cli.global);
    let result = match &cli.command {
        Command::Validate(args) => validate::run(&cli.global, args),
        Command::Plan(args) => plan::run(&cli.global, args),
        Command::Schema => schema::run(),
        Command::Run(args) => run::run(&cli.global, args),
        Command::Status => status::run(&cli.global),
        Command::History(args) => history::run(&cli.global, args),
        Command::Trigger(args) => trigger::run(&cli.global, args),
        Command::Reload => reload::run(&cli.global),
        Command::Tokens(args::TokensCommand::Decrypt(args)) => tokens::decrypt(&cli.global, args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
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

fn init_logging(global: &GlobalArgs) {
    let default = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("TROUBLESHOOT_AGENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Settings from `--config`, the environment and the flags.
fn settings(global: &GlobalArgs) -> anyhow::Result<crate::settings::Settings> {
    let overrides = crate::settings::Overrides {
        jobs_dir: global.jobs_dir.clone(),
        state_dir: global.state_dir.clone(),
        listen: global.listen.clone(),
        insecure_allow_writable: global.insecure_allow_writable.then_some(true),
    };
    crate::settings::load(global.config.as_deref(), &overrides, &|k| {
        std::env::var(k).ok()
    })
    .context("cannot load agent settings")
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
