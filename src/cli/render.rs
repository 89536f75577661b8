//! `render cronjobs [JOBS_DIR]`: the jobs as Kubernetes CronJobs (`plan::cronjobs`), refused
//! while any job file is invalid.

use super::args::{GlobalArgs, RenderCronJobsArgs};
use super::{eprint_diagnostics, exit, settings};
use crate::jobs;
use crate::plan::cronjobs::{self, CronJobOptions};

/// Runs `render cronjobs`.
pub fn cronjobs(global: &GlobalArgs, args: &RenderCronJobsArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let options = CronJobOptions {
        image: args.image.clone(),
        namespace: args.namespace.clone(),
        service_account: args.service_account.clone(),
        config_map: args.configmap.clone(),
    };
    options.check()?;
    let dir = args.jobs_dir.as_ref().unwrap_or(&settings.jobs_dir);
    let desired = jobs::load_dir(dir, &settings.jobs_context())?;
    // Every finding, located, as `validate` prints them; an invalid file stops the rendering, as
    // CronJobs without its jobs would silently drop them.
    eprint_diagnostics(desired.diagnostics());
    let rejected: Vec<&jobs::FileReport> = desired.rejected().collect();
    if !rejected.is_empty() {
        eprintln!(
            "error: nothing rendered: {} job file{} invalid; fix {} (`troubleshoot-agent validate {}`)",
            rejected.len(),
            if rejected.len() == 1 { " is" } else { "s are" },
            if rejected.len() == 1 { "it" } else { "them" },
            dir.display()
        );
        return Ok(exit::FAILURE);
    }
    print!(
        "{}",
        cronjobs::render(desired.jobs.values().map(|j| &**j), &options)?
    );
    Ok(exit::OK)
}
