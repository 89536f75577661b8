//! The `troubleshoot-agent` binary.

fn main() -> std::process::ExitCode {
    troubleshoot_agent::cli::main()
}
