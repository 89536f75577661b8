//! The daemon (`run`): keeps the running schedule equal to the jobs directory and runs jobs on
//! time. See DESIGN.md "The shape" and SCHEDULING.md.

pub mod access;
pub mod alert_receiver;
pub mod alert_triggers;
pub mod api_token;
mod chain;
pub mod clock;
mod cluster_history;
pub mod control;
mod daemon;
mod exposition;
mod failover;
pub mod heap;
pub mod http;
pub mod leader;
pub mod listeners;
pub mod metrics;
mod public_view;
mod reloader;
mod removed_jobs;
mod run_book;
pub mod runs;
mod scheduler;
mod scrape;
mod signals;
pub mod status;
pub mod systemd;
mod timetable;
mod timing;
mod trigger_limit;
pub mod watcher;

pub use control::{Control, ReloadCause};
pub use status::StatusSnapshot;
pub use watcher::WatchMode;

use crate::settings::Settings;
use crate::state::{self, LockError, StateError, StateLock};
use crate::upload::queue::UploadQueue;
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
    /// Cluster mode: the Lease this replica campaigns for; `None` in host mode.
    pub election: Option<crate::lease::Options>,
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
    /// Cluster mode could not start its leader election.
    #[error(transparent)]
    Election(#[from] crate::lease::StartError),
}

/// Runs the agent until SIGTERM/SIGINT (and the drain after it).
pub async fn run(options: AgentOptions) -> Result<(), AgentError> {
    let state_dir = options.settings.state_dir.clone();
    let _lock = open_state(&options.settings, options.clock.now())?;
    let uploads = UploadQueue::default();
    // Listed before any run of this agent starts: every staged run is one of an earlier agent.
    let staged = crate::pipeline::recover::staged_runs(&state_dir);
    let applied = read_applied_or_empty(&state_dir)?;

    let listeners = listeners::bind(&options.settings).await?;
    // Same trust checks as `apiTokenFile`: whoever reads this token can start runs.
    let alert_token = match &options.settings.alertmanager {
        Some(am) => Some(Arc::new(api_token::ApiToken::load(
            &am.token_file,
            api_token::TokenSetting::AlertmanagerTokenFile,
            listeners::effective_uid(),
        )?)),
        None => None,
    };
    let (tx, rx) = mpsc::channel(4096);
    let metrics = Arc::new(metrics::Metrics::new());
    (metrics.state_dir_min_free)
        .set(i64::try_from(options.settings.min_free_disk.0).unwrap_or(i64::MAX));
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
    spawn_upload_queue(uploads.clone(), &state_dir, options.clock, metrics.clone());
    // Before the API serves: its history answers with the cluster's claims.
    let (election, gate, claims) = match options.election.clone() {
        Some(election) => {
            let started = crate::lease::start(election).await?;
            info!(lease = %started.lease, "cluster mode: only the replica holding the Lease starts runs");
            let election = started.election;
            leader::forward(election.watch(), tx.clone());
            let gate = leader::Gate::cluster(election.watch());
            (Some(election), gate, Some(started.claims))
        }
        None => (None, leader::Gate::host(), None),
    };
    let shared = http::Shared {
        control: tx.clone(),
        status: status_rx,
        metrics: metrics.clone(),
        state_dir: state_dir.clone(),
        public: false,
        clock: options.clock,
        claims: claims.clone(),
        alert_token,
    };
    info!(listen = %options.settings.listen, jobs_dir = %options.settings.jobs_dir.display(), state_dir = %state_dir.display(), "agent starting");
    let servers = listeners.serve(shared);
    let recovering = !staged.is_empty();
    if recovering {
        let (settings, clock) = (&options.settings, options.clock);
        spawn_recovery(staged, settings, clock, uploads.clone(), tx.clone());
    }

    if options.settings.mode == crate::settings::Mode::Node {
        info!(node = %options.host, "node mode: only the jobs that collect from the host run here (spec.target: host, or only host collectors); `validate --mode node` names the others and why");
    }
    let mut env = runs::AgentEnv::new(
        &options.settings,
        options.host.clone(),
        options.clock,
        uploads,
        metrics.notifications.clone(),
    );
    env.claims = claims;
    let env = Arc::new(env);
    let wiring = daemon::Wiring {
        status_tx,
        tx: tx.clone(),
        watching,
        pending,
        recovering,
        gate,
    };
    let mut daemon = daemon::Daemon::new(options, applied, metrics, env, wiring);
    daemon.reload(ReloadCause::Startup).await;
    daemon.publish();
    systemd::notify("READY=1");
    daemon.run(rx).await;
    if let Some(election) = election {
        // After the drain: no run of ours is in progress when a standby takes over.
        election.stop().await;
    }
    systemd::notify("STOPPING=1");
    servers.stop();
    info!("agent stopped");
    Ok(())
}

/// Prepares, checks and locks the state directory, and recovers (and logs) what an earlier agent
/// left in it: runs interrupted, unreadable records, temp files. The lock lives as long as the
/// returned value.
fn open_state(
    settings: &Settings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StateLock, AgentError> {
    let state_dir = &settings.state_dir;
    state::prepare(state_dir)?;
    crate::trust::check_state_dir(state_dir, &settings.trust_policy())?;
    let lock = StateLock::acquire(state_dir)?;
    let recovery = state::recover(state_dir, now)?;
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
    if recovery.temps_removed > 0 {
        info!(
            count = recovery.temps_removed,
            "removed temp files left by an interrupted write"
        );
    }
    Ok(lock)
}

/// The applied state of the previous agent; an unreadable one is set aside (logged) and the
/// agent starts from an empty one.
fn read_applied_or_empty(state_dir: &std::path::Path) -> Result<crate::plan::Applied, AgentError> {
    match crate::plan::read_applied(state_dir) {
        Ok(a) => Ok(a),
        Err(e @ StateError::Corrupt { .. }) => {
            let path = state_dir.join(state::APPLIED_FILE);
            let aside = state::set_aside(&path);
            warn!(
                "{e}; set aside as {} and starting from an empty applied state",
                aside.map_or_else(|| "?".into(), |p| p.display().to_string())
            );
            Ok(Default::default())
        }
        Err(e) => Err(e.into()),
    }
}

/// Re-drives uploads left pending by earlier runs (and by this agent's runs) until they are
/// delivered or fail for good.
fn spawn_upload_queue(
    queue: UploadQueue,
    state_dir: &std::path::Path,
    clock: clock::Clock,
    metrics: Arc<metrics::Metrics>,
) {
    let observe: crate::upload::queue::Observer =
        Arc::new(move |target: &str, status, took: Duration| {
            metrics.observe_upload(target, status, took);
        });
    tokio::spawn(crate::upload::queue::drive(
        queue,
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

/// Archives what runs cut off by a crash had collected, links archives they wrote but did not
/// record, queues their uploads and removes their staging (`pipeline::recover`), on a blocking
/// thread: redaction and compression of megabytes must keep neither the health endpoints nor the
/// schedule waiting. `/readyz` says so until it is done ([`Control::Recovered`]); an interrupted
/// pass resumes at the next start.
fn spawn_recovery(
    staged: Vec<crate::pipeline::recover::Staged>,
    settings: &Settings,
    clock: clock::Clock,
    uploads: UploadQueue,
    tx: mpsc::Sender<Control>,
) {
    use crate::pipeline::recover;
    info!(
        count = staged.len(),
        "crash recovery: archiving what interrupted runs had staged"
    );
    let settings = settings.clone();
    tokio::task::spawn_blocking(move || {
        let ctx = settings.jobs_context();
        let desired = crate::jobs::load_dir(&settings.jobs_dir, &ctx).ok();
        let recovery = recover::Recovery {
            state_dir: &settings.state_dir,
            desired: desired.as_ref(),
            token_key_file: settings.token_key_file.clone(),
            token_map_key_file: settings.token_map_key_file.clone(),
        };
        recover::recover_all(&recovery, &staged, || clock.now());
        uploads.wake();
        info!("crash recovery finished");
        let _ = tx.blocking_send(Control::Recovered);
    });
}

#[cfg(test)]
mod pair_tests;
