//! Agent settings: built-in defaults < settings file < `TROUBLESHOOT_AGENT_*` environment < flags.

use crate::jobs::model::Resources;
use crate::units::{ByteSize, HumanDuration};
use figment::Figment;
use figment::providers::{Env, Format, Serialized};
use serde::{Deserialize, Serialize};
use serde_saphyr::figment::Yaml;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where the settings file is looked for when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "/etc/troubleshoot/agent.yaml";
/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "TROUBLESHOOT_AGENT_";
/// `TROUBLESHOOT_AGENT_LOG`: the log filter, read by the logging set-up, not a setting.
const LOG_ENV_SUFFIX: &str = "LOG";

/// How the jobs directory is watched (the `watch` setting; `agent::watcher` acts on it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    /// inotify, falling back to polling when it is not available.
    Auto,
    /// Polling (for file systems without inotify, such as NFS).
    Poll,
}

/// The agent's settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    /// Directory of job files.
    pub jobs_dir: PathBuf,
    /// Directory the agent owns: applied state, run records, bundles, upload queue.
    pub state_dir: PathBuf,
    /// Time zone for jobs that do not set `timeZone`.
    pub default_time_zone: String,
    /// Seeds jitter, so each host of a fleet fires at its own stable offset (default: hostname).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_identity: Option<String>,
    /// Address of the agent's HTTP endpoints (loopback by default).
    pub listen: String,
    /// A file holding the bearer token that opens trigger and reload on `listen` (root-owned,
    /// 0600). Without it, `listen` is read-only and must be a loopback address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<PathBuf>,
    /// Runs in progress at most, agent-wide; further fires wait in order.
    pub max_concurrent_runs: usize,
    /// At SIGTERM, how long runs in progress get to finish before they are interrupted.
    pub shutdown_grace_period: HumanDuration,
    /// Safety-net rescan of the jobs directory, in case a file event was missed.
    pub rescan_interval: HumanDuration,
    /// Quiet time after a file event before reloading (bursts become one reload).
    pub watch_debounce: HumanDuration,
    /// `auto` (inotify, polling if unavailable) or `poll` (e.g. for NFS).
    pub watch_mode: WatchMode,
    /// A run is skipped (and recorded with the free space) when the state directory's file
    /// system has less free space than this.
    pub min_free_disk: ByteSize,
    /// Largest file a host `copy` collector copies (bigger files are cut there and noted).
    pub copy_max_file_size: ByteSize,
    /// Run record limits of jobs that set no `spec.history`.
    pub history: HistorySettings,
    /// How long a removed job's bundles and records stay before its state directory goes.
    pub removed_job_grace_period: HumanDuration,
    /// The troubleshoot CLI for jobs with `collect.engine: support-bundle` (default: `support-bundle` on PATH).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_bundle_path: Option<PathBuf>,
    /// HMAC key file for `redact.tokenize` (32 bytes: 64 hex characters or raw): the same key gives
    /// the same tokens across runs. Without it, every run uses a random key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_key_file: Option<PathBuf>,
    /// AES-256-GCM key file (same format) the token map of a tokenizing run is encrypted with,
    /// written to `<state>/jobs/<job>/tokens/<run-id>.tokenmap.json`. Without it, no map is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_map_key_file: Option<PathBuf>,
    /// kubeconfig file for cluster collection when a job sets none (default: as kubectl finds
    /// one: `KUBECONFIG`, `~/.kube/config`, then the in-cluster service account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<PathBuf>,
    /// kubeconfig context when a job sets none (default: the file's current context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Timeout of each Kubernetes API call; a slower call is recorded as an error and the run
    /// goes on.
    pub kube_request_timeout: HumanDuration,
    /// How long fetching a spec's `uri:` may take (`collect.followSpecURI`); a slower fetch
    /// falls back to the spec as written.
    #[serde(default = "default_spec_uri_timeout")]
    pub spec_uri_timeout: HumanDuration,
    /// Limits of the processes runs start, for each field a job's `spec.resources` leaves out.
    #[serde(default, skip_serializing_if = "is_unlimited")]
    pub default_resources: Resources,
    /// Read job files, specs and key files that another user could have written, with a warning
    /// instead of refusing them (`--insecure-allow-writable`; for test setups only).
    #[serde(default)]
    pub insecure_allow_writable: bool,
    /// `host`: one agent runs the jobs; `cluster`: replicas elect a leader on a Lease and only
    /// it starts runs; `node`: one agent per node runs the host jobs (`run --mode`).
    #[serde(default)]
    pub mode: Mode,
    /// Node mode: this node's name in records, bundle names and upload keys (default: the
    /// `NODE_NAME` environment variable, else the host name; `run --node-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// The Lease of `mode: cluster`.
    #[serde(default)]
    pub leader_election: LeaderElectionSettings,
    /// The Alertmanager webhook receiver (`POST /api/v1/alerts/alertmanager`); off when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alertmanager: Option<AlertmanagerSettings>,
}

/// `alertmanager:` in the agent settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertmanagerSettings {
    /// File holding the bearer token Alertmanager sends (root- or agent-owned, mode 0600).
    pub token_file: PathBuf,
}

/// How the agent runs (the `mode` setting, `run --mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// One agent per state directory runs every job (the state lock is the only coordination).
    #[default]
    Host,
    /// Replicas elect a leader on a `coordination.k8s.io/v1` Lease; standbys start nothing.
    Cluster,
    /// One agent per node (a DaemonSet) runs only the jobs that collect from the host, with no
    /// leader election; the node name goes into records, bundle names and upload keys.
    Node,
}

impl Mode {
    /// Which jobs an agent in this mode runs (see [`crate::jobs::Selection`]).
    pub fn selection(self) -> crate::jobs::Selection {
        match self {
            Mode::Host => crate::jobs::Selection::All,
            Mode::Cluster => crate::jobs::Selection::Cluster,
            Mode::Node => crate::jobs::Selection::Node,
        }
    }
}

/// `leaderElection:` (cluster mode). client-go's timings by default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct LeaderElectionSettings {
    /// The Lease's name.
    pub lease_name: String,
    /// The Lease's namespace (default: `POD_NAMESPACE`, else the kubeconfig's namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_namespace: Option<String>,
    /// This replica's holder identity (default: `POD_NAME`, else the host name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// How long a leader's claim lasts after its last renewal, for the others.
    pub lease_duration: HumanDuration,
    /// How long a leader keeps leading without a successful renewal.
    pub renew_deadline: HumanDuration,
    /// Time between attempts to acquire or renew.
    pub retry_period: HumanDuration,
}

impl Default for LeaderElectionSettings {
    fn default() -> Self {
        LeaderElectionSettings {
            lease_name: "troubleshoot-agent".to_string(),
            lease_namespace: None,
            identity: None,
            lease_duration: HumanDuration(Duration::from_secs(15)),
            renew_deadline: HumanDuration(Duration::from_secs(10)),
            retry_period: HumanDuration(Duration::from_secs(2)),
        }
    }
}

fn is_unlimited(r: &Resources) -> bool {
    *r == Resources::default()
}

fn default_spec_uri_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

impl Settings {
    /// The built-in defaults; under systemd, `$STATE_DIRECTORY` is the default state dir.
    pub fn defaults(env: &dyn Fn(&str) -> Option<String>) -> Self {
        let state_dir = env("STATE_DIRECTORY")
            .and_then(|dirs| dirs.split(':').next().map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/lib/troubleshoot-agent"));
        Settings {
            jobs_dir: PathBuf::from("/etc/troubleshoot/jobs.d"),
            state_dir,
            default_time_zone: "UTC".to_string(),
            host_identity: None,
            listen: "127.0.0.1:9469".to_string(),
            api_token_file: None,
            max_concurrent_runs: 4,
            shutdown_grace_period: HumanDuration(Duration::from_secs(60)),
            rescan_interval: HumanDuration(Duration::from_secs(300)),
            watch_debounce: HumanDuration(Duration::from_millis(500)),
            watch_mode: WatchMode::Auto,
            min_free_disk: ByteSize(512 * 1024 * 1024),
            copy_max_file_size: ByteSize(4 << 30),
            history: HistorySettings::default(),
            removed_job_grace_period: HumanDuration(Duration::from_secs(7 * 86400)),
            support_bundle_path: None,
            token_key_file: None,
            token_map_key_file: None,
            kubeconfig: None,
            context: None,
            kube_request_timeout: HumanDuration(Duration::from_secs(30)),
            spec_uri_timeout: default_spec_uri_timeout(),
            default_resources: Resources::default(),
            insecure_allow_writable: false,
            mode: Mode::Host,
            node_name: None,
            leader_election: LeaderElectionSettings::default(),
            alertmanager: None,
        }
    }

    /// Whose files the agent trusts (see [`crate::trust`]).
    pub fn trust_policy(&self) -> crate::trust::Policy {
        crate::trust::Policy::new(self.insecure_allow_writable)
    }

    /// How job files are read and checked on this host: the default zone, whose files are
    /// trusted, and whether a CPU weight can be enforced here (looks at the cgroup mount).
    pub fn jobs_context(&self) -> crate::jobs::Context {
        crate::jobs::Context {
            default_time_zone: self.default_time_zone.clone(),
            trust: self.trust_policy(),
            cpu_weight_enforceable: crate::collect::host::limits::HostSupport::detect()
                .cgroup_controllers
                .contains(&"cpu"),
            selection: self.mode.selection(),
        }
    }

    /// Node mode's node name: the setting, else a non-empty `NODE_NAME`, else `hostname`;
    /// `None` in the other modes.
    pub fn node_name_or(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
        hostname: &str,
    ) -> Option<String> {
        if self.mode != Mode::Node {
            return None;
        }
        let name = (self.node_name.clone().filter(|n| !n.is_empty()))
            .or_else(|| env("NODE_NAME").filter(|n| !n.is_empty()))
            .unwrap_or_else(|| hostname.to_string());
        Some(name)
    }

    /// The host identity for jitter: the setting, else in cluster mode one shared by every
    /// replica (`cluster/<lease name>`: a job's fire time must not move when another replica
    /// takes over, and `plan` on a standby must show the leader's times), else the given
    /// hostname (in node mode the node's name, so the nodes spread).
    pub fn host_identity_or(&self, hostname: &str) -> String {
        match &self.host_identity {
            Some(id) => id.clone(),
            None if self.mode == Mode::Cluster => {
                format!("cluster/{}", self.leader_election.lease_name)
            }
            None => hostname.to_string(),
        }
    }
}

/// Agent-wide run record limits (`history: {keepLast, maxAge}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistorySettings {
    /// Records kept per job.
    pub keep_last: u32,
    /// Records of runs older than this are removed.
    pub max_age: HumanDuration,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings {
            keep_last: 1000,
            max_age: HumanDuration(Duration::from_secs(90 * 86400)),
        }
    }
}

/// Values given on the command line (they win over everything else).
#[derive(Clone, Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overrides {
    /// `--jobs-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jobs_dir: Option<PathBuf>,
    /// `--state-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    /// `--token-file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_token_file: Option<PathBuf>,
    /// `--insecure-allow-writable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_allow_writable: Option<bool>,
    /// `--mode` (`run`, `validate`, `plan`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
    /// `run --node-name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
}

/// Why settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `--config` names a file that does not exist.
    #[error("settings file {0} does not exist")]
    MissingConfig(PathBuf),
    /// A value is wrong (the message names the key and the source).
    #[error("invalid settings: {0}")]
    Invalid(String),
    /// The settings file or a key file it names (or a directory above them) could be written
    /// (a key file: read) by another user than root or the agent's, or is not a regular file.
    #[error("{}: {source}; {}", .path.display(), trust_hint(.source))]
    Untrusted {
        /// The settings file.
        path: PathBuf,
        /// Why.
        source: crate::trust::ReadError,
    },
}

fn trust_hint(e: &crate::trust::ReadError) -> String {
    match e {
        crate::trust::ReadError::Refused(problems) => {
            problems.first().map(|p| p.hint()).unwrap_or_default()
        }
        crate::trust::ReadError::Io(_) => "check the file and its permissions".to_string(),
    }
}

/// Settings files larger than this are refused (a few dozen lines are usual).
const MAX_SETTINGS_BYTES: u64 = 1024 * 1024;

/// Refuses a settings file another user could have written: it says what the agent runs and
/// where it reads job files from. The flag, not the file, decides whether that is only a warning.
fn check_trusted(path: &Path, insecure: bool) -> Result<(), SettingsError> {
    let policy = crate::trust::Policy::new(insecure);
    let mut walk = crate::trust::Walk::default();
    match crate::trust::read(path, MAX_SETTINGS_BYTES, &policy, &mut walk) {
        Ok(read) => {
            for p in &read.allowed {
                tracing::warn!(
                    "settings file: {p}; read anyway because of {}",
                    crate::trust::INSECURE_FLAG
                );
            }
            Ok(())
        }
        Err(source) => Err(SettingsError::Untrusted {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Loads settings. `config` is `--config`; without it the file is `$CONFIGURATION_DIRECTORY/agent.yaml`
/// under systemd, else [`DEFAULT_CONFIG`], and may be absent. `env` reads the environment.
pub fn load(
    config: Option<&Path>,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, SettingsError> {
    let file = match config {
        Some(path) if !path.exists() => {
            return Err(SettingsError::MissingConfig(path.to_path_buf()));
        }
        Some(path) => Some(path.to_path_buf()),
        None => {
            let default = env("CONFIGURATION_DIRECTORY")
                .and_then(|dirs| {
                    dirs.split(':')
                        .next()
                        .map(|d| Path::new(d).join("agent.yaml"))
                })
                .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG));
            default.exists().then_some(default)
        }
    };
    let mut figment = Figment::from(Serialized::defaults(Settings::defaults(env)));
    if let Some(path) = &file {
        let insecure = overrides.insecure_allow_writable == Some(true)
            || env(&format!("{ENV_PREFIX}INSECURE_ALLOW_WRITABLE")).is_some_and(|v| v == "true");
        check_trusted(path, insecure)?;
        figment = figment.merge(Yaml::file_exact(path));
    }
    // `TROUBLESHOOT_AGENT_LOG` is the log filter, not a setting. figment lowercases keys after
    // `map` by default, which would turn `jobsDir` into `jobsdir`, an unknown field.
    let env_provider = Env::prefixed(ENV_PREFIX)
        .ignore(&[LOG_ENV_SUFFIX])
        .map(|key| snake_to_camel(key.as_str()).into())
        .lowercase(false);
    figment = figment
        .merge(env_provider)
        .merge(Serialized::defaults(overrides));
    let settings: Settings = figment.extract().map_err(|e| {
        let mut messages = Vec::new();
        for err in e {
            let source = err
                .metadata
                .as_ref()
                .map(|m| match &m.source {
                    Some(src) => format!(" (from {} {src})", m.name),
                    None => format!(" (from {})", m.name),
                })
                .unwrap_or_default();
            let key = if err.path.is_empty() {
                String::new()
            } else {
                format!("`{}`: ", err.path.join("."))
            };
            messages.push(format!("{key}{}{source}", err.kind));
        }
        SettingsError::Invalid(messages.join("; "))
    })?;
    validate(&settings)?;
    check_key_files(&settings, overrides)?;
    Ok(settings)
}

/// Refuses a token key file that another user could write or read: whoever reads the map key
/// reads every tokenized secret. A missing file is left to the run that needs it to report.
fn check_key_files(s: &Settings, overrides: &Overrides) -> Result<(), SettingsError> {
    let policy = crate::trust::Policy::new(
        overrides.insecure_allow_writable == Some(true) || s.insecure_allow_writable,
    );
    for (key, path) in [
        ("tokenKeyFile", &s.token_key_file),
        ("tokenMapKeyFile", &s.token_map_key_file),
    ] {
        let Some(path) = path else { continue };
        let mut walk = crate::trust::Walk::default();
        match crate::trust::read_secret(path, MAX_SETTINGS_BYTES, &policy, &mut walk) {
            Ok(read) => {
                for p in &read.allowed {
                    tracing::warn!(
                        "`{key}`: {p}; read anyway because of {}",
                        crate::trust::INSECURE_FLAG
                    );
                }
            }
            Err(crate::trust::ReadError::Io(_)) => {}
            Err(source) => {
                return Err(SettingsError::Untrusted {
                    path: path.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

fn validate(s: &Settings) -> Result<(), SettingsError> {
    if let Some((field, message)) = s.default_resources.problems().into_iter().next() {
        return Err(SettingsError::Invalid(format!(
            "`defaultResources.{field}`: {message}"
        )));
    }
    if s.default_time_zone.trim().is_empty() || s.default_time_zone == "Local" {
        return Err(SettingsError::Invalid(format!(
            "`defaultTimeZone` must be an IANA zone name such as UTC, not `{}`",
            s.default_time_zone
        )));
    }
    if s.default_time_zone.parse::<chrono_tz::Tz>().is_err() {
        return Err(SettingsError::Invalid(format!(
            "`defaultTimeZone`: unknown time zone `{}`; use an IANA name such as UTC or Europe/Berlin",
            s.default_time_zone
        )));
    }
    if s.max_concurrent_runs == 0 {
        return Err(SettingsError::Invalid(
            "`maxConcurrentRuns` must be at least 1".into(),
        ));
    }
    if s.rescan_interval.0 < Duration::from_secs(1) {
        return Err(SettingsError::Invalid(
            "`rescanInterval` must be at least 1s".into(),
        ));
    }
    if s.history.keep_last == 0 {
        return Err(SettingsError::Invalid(
            "`history.keepLast` must be at least 1".into(),
        ));
    }
    if s.spec_uri_timeout.0 < Duration::from_millis(100) {
        return Err(SettingsError::Invalid(
            "`specUriTimeout` must be at least 100ms".into(),
        ));
    }
    if s.kube_request_timeout.0 < Duration::from_millis(100) {
        return Err(SettingsError::Invalid(
            "`kubeRequestTimeout` must be at least 100ms".into(),
        ));
    }
    if s.listen.parse::<std::net::SocketAddr>().is_err() {
        return Err(SettingsError::Invalid(format!(
            "`listen`: `{}` is not an address such as 127.0.0.1:9469",
            s.listen
        )));
    }
    Ok(())
}

fn snake_to_camel(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for ch in key.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.push(ch.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(ch.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn env_keys_map_to_camel_case() {
        assert_eq!(snake_to_camel("jobs_dir"), "jobsDir");
        assert_eq!(snake_to_camel("DEFAULT_TIME_ZONE"), "defaultTimeZone");
    }

    #[test]
    fn file_then_flags_override_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("agent.yaml");
        std::fs::write(
            &file,
            "jobsDir: /srv/jobs\ndefaultTimeZone: Europe/Berlin\nminFreeDisk: 0\nshutdownGracePeriod: 5s\n",
        )
        .expect("write");
        let overrides = Overrides {
            state_dir: Some("/tmp/state".into()),
            ..Overrides::default()
        };
        let s = load(Some(&file), &overrides, &no_env).expect("valid");
        assert_eq!(s.jobs_dir, PathBuf::from("/srv/jobs"));
        assert_eq!(s.default_time_zone, "Europe/Berlin");
        assert_eq!(s.state_dir, PathBuf::from("/tmp/state"));
        assert_eq!(s.listen, "127.0.0.1:9469");
        assert_eq!(s.min_free_disk, ByteSize(0), "a bare number is bytes");
        assert_eq!(
            s.shutdown_grace_period,
            HumanDuration(Duration::from_secs(5))
        );
    }

    #[test]
    fn cluster_mode_and_a_partial_leader_election_block_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("agent.yaml");
        std::fs::write(
            &file,
            "mode: cluster\nleaderElection: {leaseDuration: 30s, identity: r1}\n",
        )
        .expect("write");
        let s = load(Some(&file), &Overrides::default(), &no_env).expect("valid");
        assert_eq!(s.mode, Mode::Cluster);
        let le = &s.leader_election;
        assert_eq!(le.lease_duration, HumanDuration(Duration::from_secs(30)));
        assert_eq!(le.renew_deadline, HumanDuration(Duration::from_secs(10)));
        assert_eq!(
            (le.identity.as_deref(), le.lease_name.as_str()),
            (Some("r1"), "troubleshoot-agent")
        );
        std::fs::write(&file, "leaderElection: {leaseDuratoin: 30s}\n").expect("write");
        let err = load(Some(&file), &Overrides::default(), &no_env).expect_err("unknown key");
        assert!(err.to_string().contains("leaseDuratoin"), "{err}");
    }

    #[test]
    fn node_mode_names_the_node_from_flag_setting_env_then_host() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("agent.yaml");
        std::fs::write(&file, "mode: node\n").expect("write");
        let node_env = |k: &str| (k == "NODE_NAME").then(|| "worker-3".to_string());
        let s = load(Some(&file), &Overrides::default(), &no_env).expect("valid");
        assert_eq!(s.mode, Mode::Node);
        assert_eq!(s.mode.selection(), crate::jobs::Selection::Node);
        assert_eq!(
            s.node_name_or(&node_env, "pod-x").as_deref(),
            Some("worker-3")
        );
        assert_eq!(s.node_name_or(&no_env, "pod-x").as_deref(), Some("pod-x"));
        std::fs::write(&file, "mode: node\nnodeName: from-file\n").expect("write");
        let s = load(Some(&file), &Overrides::default(), &no_env).expect("valid");
        assert_eq!(s.node_name_or(&node_env, "h").as_deref(), Some("from-file"));
        let flags = Overrides {
            node_name: Some("from-flag".into()),
            ..Overrides::default()
        };
        let s = load(Some(&file), &flags, &no_env).expect("valid");
        assert_eq!(s.node_name_or(&node_env, "h").as_deref(), Some("from-flag"));
        // The flag's mode wins over the file's; outside node mode there is no node name.
        let host = Overrides {
            mode: Some(Mode::Host),
            ..Overrides::default()
        };
        let s = load(Some(&file), &host, &no_env).expect("valid");
        assert_eq!(s.node_name_or(&node_env, "h"), None);
        assert_eq!(s.jobs_context().selection, crate::jobs::Selection::All);
    }

    #[test]
    fn token_key_files_are_read_from_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("agent.yaml");
        std::fs::write(
            &file,
            "tokenKeyFile: /etc/ta/token.key\ntokenMapKeyFile: /etc/ta/map.key\n",
        )
        .expect("write");
        let s = load(Some(&file), &Overrides::default(), &no_env).expect("valid");
        assert_eq!(s.token_key_file, Some(PathBuf::from("/etc/ta/token.key")));
        assert_eq!(s.token_map_key_file, Some(PathBuf::from("/etc/ta/map.key")));
        let d = load(None, &Overrides::default(), &no_env).expect("valid");
        assert_eq!((d.token_key_file, d.token_map_key_file), (None, None));
    }

    #[test]
    fn key_files_others_can_read_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("map.key");
        std::fs::write(&key, "00".repeat(32)).expect("write");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let file = dir.path().join("agent.yaml");
        std::fs::write(&file, format!("tokenMapKeyFile: {}\n", key.display())).expect("write");
        let err = load(Some(&file), &Overrides::default(), &no_env).expect_err("readable key");
        let text = err.to_string();
        assert!(text.contains("is world-readable (mode 0644)"), "{text}");
        assert!(text.contains("chmod 0600"), "{text}");
        let lenient = Overrides {
            insecure_allow_writable: Some(true),
            ..Overrides::default()
        };
        load(Some(&file), &lenient, &no_env).expect("allowed by the flag");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        load(Some(&file), &Overrides::default(), &no_env).expect("a private key");
    }

    #[test]
    fn systemd_directories_are_defaults() {
        let env = |k: &str| match k {
            "STATE_DIRECTORY" => Some("/var/lib/ta:/other".to_string()),
            _ => None,
        };
        let s = load(None, &Overrides::default(), &env).expect("valid");
        assert_eq!(s.state_dir, PathBuf::from("/var/lib/ta"));
    }

    #[test]
    fn bad_values_and_missing_files_are_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope.yaml");
        assert!(matches!(
            load(Some(&missing), &Overrides::default(), &no_env),
            Err(SettingsError::MissingConfig(_))
        ));
        let file = dir.path().join("agent.yaml");
        std::fs::write(&file, "defaultTimeZone: Mars/Olympus\n").expect("write");
        let err = load(Some(&file), &Overrides::default(), &no_env)
            .expect_err("bad zone")
            .to_string();
        assert!(err.contains("Mars/Olympus"), "{err}");
        std::fs::write(&file, "jobsDri: /x\n").expect("write");
        let err = load(Some(&file), &Overrides::default(), &no_env)
            .expect_err("unknown key")
            .to_string();
        assert!(err.contains("jobsDri"), "{err}");
    }
}
