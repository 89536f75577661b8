//! Shell completions and man pages from the clap definitions (the hidden `completions` and `man`
//! commands), so what the package installs always matches the binary it ships.

use super::args::{Cli, CompletionsArgs, ManArgs};
use anyhow::Context as _;
use clap::CommandFactory as _;

/// Prints the completion script for one shell on stdout.
pub fn completions(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // Into a buffer first: clap_complete panics on a write error (e.g. a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&script)
        .context("cannot write the completion script")?;
    Ok(super::exit::OK)
}

/// Writes `troubleshoot-agent.1` and a `troubleshoot-agent-COMMAND.1` page per visible command.
pub fn man(args: &ManArgs) -> anyhow::Result<u8> {
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    clap_mangen::generate_to(Cli::command(), &args.out_dir)
        .with_context(|| format!("cannot write man pages to {}", args.out_dir.display()))?;
    Ok(super::exit::OK)
}
