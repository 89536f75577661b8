//! The daemon (`run`): keeps the running schedule equal to the jobs directory and runs jobs on
//! time. See DESIGN.md "The shape" and SCHEDULING.md.

pub mod access;
pub mod api_token;
pub mod clock;
pub mod control;
mod daemon;
pub mod executor;
pub mod http;
pub mod listeners;
pub mod metrics;
mod public_view;
mod removed_jobs;
mod scheduler;
mod signals;
pub mod status;
pub mod systemd;
mod timing;
mod trigger_limit;
pub mod watcher;

pub use control::{Control, ReloadCause, ReloadOutcome};
pub use status::StatusSnapshot;
pub use watcher::WatchMode;

use crate::settings::Settings;
use crate::state::{self, LockError, StateError, StateLock};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tracing::{error, info, warn};

/// How the daemon runs (settings plus command-line choices).
#[derive(Clone, Debug)]
pub struct AgentOptions {
    /// Agent settings.
    pub settings: Settings,
    /// Reject a whole reload when any file is invalid.
    pub strict: bool,
    /// This host's name (recorded in runs).
    pub host: String,
    /// Seeds jitter.
    pub host_identity: String,
    /// Runs in progress at most, agent-wide; further fires queue in order.
    pub max_concurrent_runs: usize,
    /// How long runs get to finish at shutdown before they are interrupted.
    pub shutdown_grace: Duration,
    /// Quiet time before a burst of file events becomes one reload.
    pub debounce: Duration,
    /// Safety-net rescan of the jobs directory.
    pub rescan_interval: Duration,
    /// inotify or polling.
    pub watch_mode: WatchMode,
    /// Wall clock (the system's; tests shift it).
    pub clock: clock::Clock,
}

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The state directory could not be prepared.
    #[error("state directory: {0}")]
    State(#[from] StateError),
    /// Another agent holds the state directory.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// Another user than root or the agent's could change the state directory.
    #[error(transparent)]
    Untrusted(#[from] crate::trust::StateDirError),
    /// The HTTP address could not be bound.
    #[error(
        "cannot listen on {addr}: {source}; is another agent or program using it? Set `listen` (or --listen) to a free address"
    )]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// `apiTokenFile` is refused.
    #[error(transparent)]
    ApiToken(#[from] api_token::TokenError),
    /// A `listen` address off this host without a token.
    #[error(
        "refusing to listen on {addr}: it is not a loopback address, and without apiTokenFile the API would be open to whoever can reach it. Listen on 127.0.0.1 (the default), or set apiTokenFile to a root-owned 0600 file holding a token (writes over TCP then need `Authorization: Bearer <token>`; reads stay open)"
    )]
    ExposedListen {
        /// The address.
        addr: String,
    },
    /// The control socket could not be created.
    #[error("cannot create the control socket {path}: {source}{hint}")]
    Socket {
        /// `<stateDir>/agent.sock`.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
        /// What to do, when known.
        hint: &'static str,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// Runs the agent until SIGTERM/SIGINT (and the drain after it).
pub async fn run(options: AgentOptions) -> Result<(), AgentError> {
    let state_dir = options.settings.state_dir.clone();
    state::prepare(&state_dir)?;
    crate::trust::check_state_dir(&state_dir, &options.settings.trust_policy())?;
    let _lock = StateLock::acquire(&state_dir)?;
    let recovery = state::recover(&state_dir, options.clock.now())?;
    for (job, run) in &recovery.interrupted {
        warn!(job = %job, run = %run, "run was in progress when the previous agent stopped; marked interrupted");
    }
    for problem in &recovery.problems {
        error!(
            "run records: {problem}; continuing, and runs of this job report it when their records cannot be written"
        );
    }
    for path in &recovery.corrupt {
        warn!(path = %path.display(), "unreadable run record set aside");
    }
    keep_partial_bundles(&state_dir, &recovery.interrupted, &options.settings);
    if recovery.temps_removed > 0 {
        info!(
            count = recovery.temps_removed,
            "removed temp files left by an interrupted write"
        );
    }
    let applied = match state::read_applied(&state_dir) {
        Ok(a) => a,
        Err(e @ StateError::Corrupt { .. }) => {
            let path = state_dir.join(state::APPLIED_FILE);
            let aside = state::set_aside(&path);
            warn!(
                "{e}; set aside as {} and starting from an empty applied state",
                aside.map_or_else(|| "?".into(), |p| p.display().to_string())
            );
            Default::default()
        }
        Err(e) => return Err(e.into()),
    };

    let listeners = listeners::bind(&options.settings).await?;
    let (tx, rx) = mpsc::channel(4096);
    let metrics = Arc::new(metrics::Metrics::new());
    let (status_tx, status_rx) = watch::channel(Arc::new(status::Published::default()));
    signals::spawn(tx.clone()).map_err(AgentError::Signals)?;
    let pending = watcher::Pending::default();
    let watching = watcher::spawn(
        options.settings.jobs_dir.clone(),
        options.debounce,
        options.watch_mode,
        tx.clone(),
        pending.clone(),
    );
    spawn_rescan(tx.clone(), options.rescan_interval);
    spawn_upload_queue(&state_dir, options.clock, metrics.clone());
    let shared = http::Shared {
        control: tx.clone(),
        status: status_rx,
        metrics: metrics.clone(),
        state_dir: state_dir.clone(),
        public: false,
    };
    info!(listen = %options.settings.listen, jobs_dir = %options.settings.jobs_dir.display(), state_dir = %state_dir.display(), "agent starting");
    let servers = listeners.serve(shared);

    let mut daemon = daemon::Daemon::new(
        options,
        applied,
        metrics,
        status_tx,
        tx.clone(),
        watching,
        pending,
    );
    daemon.reload(ReloadCause::Startup).await;
    daemon.publish();
    systemd::notify("READY=1");
    daemon.run(rx).await;
    systemd::notify("STOPPING=1");
    servers.stop();
    info!("agent stopped");
    Ok(())
}

/// Re-drives uploads left pending by earlier runs (and by this agent's runs) until they are
/// delivered or fail for good.
fn spawn_upload_queue(
    state_dir: &std::path::Path,
    clock: clock::Clock,
    metrics: Arc<metrics::Metrics>,
) {
    let observe: crate::upload::queue::Observer =
        Arc::new(move |target: &str, status: &str, took: Duration| {
            metrics.observe_upload(target, status, took);
        });
    tokio::spawn(crate::upload::queue::drive(
        state_dir.to_path_buf(),
        crate::upload::queue::Policy::default(),
        move || clock.now(),
        observe,
    ));
}

fn spawn_rescan(tx: mpsc::Sender<Control>, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_secs(1)));
        tick.tick().await;
        loop {
            tick.tick().await;
            if tx
                .send(Control::Reload {
                    cause: ReloadCause::Rescan,
                    reply: None,
                })
                .await
                .is_err()
            {
                break;
            }
        }
    });
}

/// Archives what runs cut off by a crash had collected (marked partial in their records), and
/// removes staging left by runs that did finish.
fn keep_partial_bundles(
    state_dir: &std::path::Path,
    interrupted: &[(String, String)],
    settings: &Settings,
) {
    let Ok(jobs) = std::fs::read_dir(state_dir.join("jobs")) else {
        return;
    };
    // Partial bundles are redacted as their job asks; the jobs directory is read only when a run
    // was interrupted (a file that does not load leaves its jobs unknown: defaults then apply).
    let desired = if interrupted.is_empty() {
        None
    } else {
        let ctx = crate::jobs::Context {
            default_time_zone: settings.default_time_zone.clone(),
            trust: settings.trust_policy(),
        };
        crate::jobs::load_dir(&settings.jobs_dir, &ctx).ok()
    };
    for job_entry in jobs.filter_map(Result::ok) {
        let job = job_entry.file_name().to_string_lossy().into_owned();
        let Ok(runs) = std::fs::read_dir(job_entry.path().join("staging")) else {
            continue;
        };
        for run_entry in runs.filter_map(Result::ok) {
            let run_id = run_entry.file_name().to_string_lossy().into_owned();
            let staging = run_entry.path();
            let keys = crate::pipeline::TokenKeys {
                state_dir: state_dir.to_path_buf(),
                run_id: run_id.clone(),
                token_key_file: settings.token_key_file.clone(),
                token_map_key_file: settings.token_map_key_file.clone(),
            };
            let definition = desired
                .as_ref()
                .and_then(|d| d.jobs.get(&job))
                .map(|j| &**j);
            if interrupted.iter().any(|(j, r)| *j == job && *r == run_id)
                && let Err(e) = archive_partial(state_dir, &job, definition, &keys, &staging)
            {
                warn!(job = %job, run = %run_id, "cannot keep the partial bundle: {e}");
            }
            let _ = std::fs::remove_dir_all(&staging);
        }
    }
}

fn archive_partial(
    state_dir: &std::path::Path,
    job: &str,
    definition: Option<&crate::jobs::Job>,
    keys: &crate::pipeline::TokenKeys,
    staging: &std::path::Path,
) -> Result<(), String> {
    let top = std::fs::read_dir(staging)
        .map_err(|e| e.to_string())?
        .filter_map(Result::ok)
        .find(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .ok_or_else(|| "nothing was collected".to_string())?;
    let run_id = keys.run_id.as_str();
    // The run may have died before its redact phase: redact as the job (still in the jobs
    // directory) asks, else with the built-in set and the plain mask; nothing is archived if it
    // fails. The record says which.
    let redaction = crate::pipeline::redact_partial(definition, &staging.join(&top), keys)
        .map_err(|e| format!("redaction failed, the partial files are removed: {e}"))?;
    // Readers find the bundle root by its version.yaml, which a finished run writes at archive time.
    let version = staging.join(&top).join("version.yaml");
    if !version.exists() {
        std::fs::write(
            &version,
            crate::bundle::version_yaml(crate::pipeline::TOOL_VERSION),
        )
        .map_err(|e| e.to_string())?;
    }
    let dest = crate::pipeline::bundles_dir(state_dir, job).join(format!("{top}.tar.gz"));
    state::ensure_private_dir(dest.parent().unwrap_or(state_dir)).map_err(|e| e.to_string())?;
    let info = crate::bundle::write_bundle(&staging.join(&top), &dest, &top, &Default::default())
        .map_err(|e| e.to_string())?;
    let path = state::records::runs_dir(state_dir, job).join(format!("{run_id}.json"));
    let mut record = state::records::read_record(&path).map_err(|e| e.to_string())?;
    record.redaction = Some(redaction);
    record.bundle = Some(state::records::BundleRecord {
        path: info.path,
        size: info.size,
        sha256: info.sha256,
        partial: true,
        pruned_at: None,
        pruned_by: None,
    });
    state::records::write_record(state_dir, &record).map_err(|e| e.to_string())?;
    info!(job = %job, run = %run_id, "kept the partial bundle of the interrupted run");
    Ok(())
}
