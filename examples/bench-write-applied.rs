//! Setup helper of `bench/validate_plan.sh`; it exists only for that benchmark.
//!
//! Loads a jobs directory with the agent's library, plans it against an empty state and writes
//! the resulting `applied.json` into a state directory, exactly as applying the plan would. The
//! benchmark then times `plan` against it to measure the "no changes" path.
//!
//! Usage: `bench-write-applied JOBS_DIR STATE_DIR`

use std::path::PathBuf;
use std::process::ExitCode;
use troubleshoot_agent::jobs::{self, Context};
use troubleshoot_agent::plan::{self, Applied, PlanOptions};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [jobs_dir, state_dir] = args.as_slice() else {
        eprintln!("usage: bench-write-applied JOBS_DIR STATE_DIR");
        return ExitCode::from(2);
    };
    let desired = match jobs::load_dir(jobs_dir, &Context::default()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("bench-write-applied: {e}");
            return ExitCode::FAILURE;
        }
    };
    let previous = Applied::default();
    let options = PlanOptions {
        strict: false,
        now: chrono::Utc::now(),
        host_identity: "bench".to_string(),
        show_next: 0,
    };
    let applied = plan::plan(&desired, &previous, &options).next_applied(&desired, &previous);
    if let Err(e) = std::fs::create_dir_all(state_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            troubleshoot_agent::plan::write_applied(state_dir, &applied, chrono::Utc::now())
                .map_err(|e| e.to_string())
        })
    {
        eprintln!("bench-write-applied: {e}");
        return ExitCode::FAILURE;
    }
    println!("{} jobs applied", applied.jobs.len());
    ExitCode::SUCCESS
}
