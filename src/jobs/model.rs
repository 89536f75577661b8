//! The job file format (`kind: SupportBundleSchedule`): serde types, documented for the schema.
//!
//! These are the *raw* types: what a file says, with defaults filled in. Checks that need more
//! than one field, the agent settings or other files live in `validate`.

use super::defaults;
use super::definition::CompactJson;
use crate::units::{ByteSize, HumanDuration};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

// The upload and notification targets belong to the modules that send to them (a sink owns its
// config type); the job file names them here.
pub use crate::alerts::target::{NotifyEvent, NotifyTarget, Webhook};
pub use crate::upload::target::{GcsTarget, HttpMethod, HttpTarget, S3Target, UploadTarget};

/// One job file document.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "SupportBundleSchedule")]
pub struct JobDocument {
    /// Always `troubleshoot.sh/v1beta3`.
    pub api_version: String,
    /// Always `SupportBundleSchedule`.
    pub kind: String,
    /// Name and labels.
    pub metadata: Metadata,
    /// What to collect, when, and where it goes.
    pub spec: JobSpec,
}

/// Identity of a job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    /// Unique across the jobs directory; a DNS-1123 label (lowercase letters, digits, `-`; at most 63).
    pub name: String,
    /// Free-form labels, shown by `status`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Free-form annotations; not used by the agent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

// The agent holds every job in memory for its life (10,000 in the benchmarks), so parts that
// few jobs set are boxed: unset, an `Option<Box<_>>` takes 8 bytes instead of its whole size.
// (A plain comment: doc comments become the JSON schema's descriptions.)
/// The job itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobSpec {
    /// 5-field cron (minute hour day-of-month month day-of-week; names, ranges, steps, lists) or
    /// `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`. A job needs at least one of
    /// `schedule`, `at`, `triggers` and `after`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// One run at this RFC 3339 instant (`2026-12-24T02:00:00Z`), instead of a `schedule`;
    /// afterwards the job stays, marked done, until its file is removed. No jitter;
    /// `startingDeadline` applies to an agent that was down at that instant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub at: Option<String>,
    /// The period the job is active in: no scheduled fire outside it (nor counted missed), and
    /// alert- and `after`-started runs outside it are skipped. Manual runs are not limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_window: Option<Box<ActiveWindow>>,
    /// IANA time zone the schedule is read in; defaults to the agent's `defaultTimeZone` (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Stop firing (runs in progress finish; no missed slot is run when un-suspended).
    #[serde(default)]
    pub suspend: bool,
    /// Delay each fire by a stable per-host offset in [0, jitter), to spread a fleet.
    #[serde(default = "jitter")]
    pub jitter: HumanDuration,
    /// What to do when a fire comes while the previous run is still going.
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// After downtime, the latest missed fire runs once if it is at most this old.
    #[serde(default = "starting_deadline")]
    pub starting_deadline: HumanDuration,
    /// A run taking longer is cancelled (what it collected is kept).
    #[serde(default = "timeout")]
    pub timeout: HumanDuration,
    /// Retries of a failed run.
    #[serde(default)]
    pub retry: Retry,
    /// What to collect.
    #[serde(default)]
    pub collect: Collect,
    /// Redaction of secrets before anything is archived.
    #[serde(default)]
    pub redact: Redact,
    /// Analyzers and how their outcome affects the run.
    #[serde(default)]
    pub analyze: Analyze,
    /// How many bundles to keep on disk.
    #[serde(default)]
    pub retention: Retention,
    /// How many run records to keep (default: the agent's `history` setting).
    #[serde(default, skip_serializing_if = "History::is_empty")]
    pub history: History,
    /// Where bundles are uploaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upload: Vec<UploadTarget>,
    /// Who is told about which outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<NotifyTarget>,
    /// Limits of the processes the job runs (each field over the agent's `defaultResources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Box<Resources>>,
    /// Which agents of a cluster run the job: `host` (every node's agent in node mode),
    /// `cluster` (the cluster-mode leader), or `auto` (host when the job has only host
    /// collectors). A single agent in host mode runs every job whatever it says.
    #[serde(default, skip_serializing_if = "Target::is_auto")]
    pub target: Target,
    /// Events besides the schedule that start a run (Alertmanager alerts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<super::triggers::JobTrigger>,
    /// Also run when another job's run ends with one of the listed outcomes
    /// (`[{job: collect-db, on: [succeeded]}]`). The schedule, if any, still applies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<After>,
}

/// `spec.activeWindow`: RFC 3339 instants; at least one, and `from` before `until`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActiveWindow {
    /// The first instant the job is active (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub from: Option<String>,
    /// The instant the job stops being active (exclusive); afterwards `status` shows it expired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub until: Option<String>,
}

/// One `spec.after` entry: the job runs when a run of `job` ends with an outcome in `on`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct After {
    /// The parent job's name.
    pub job: String,
    /// The parent outcomes that start this job (default: `[succeeded]`).
    #[serde(default = "after_on")]
    pub on: Vec<ChainOutcome>,
}

fn after_on() -> Vec<ChainOutcome> {
    vec![ChainOutcome::Succeeded]
}

/// A parent run's outcome that starts a chained job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChainOutcome {
    /// `succeeded` or `succeeded-with-errors`.
    Succeeded,
    /// `failed` or `timed-out`.
    Failed,
    /// `analysisFailed`.
    AnalysisFailed,
    /// Any of the above. Runs that never ran or were cut off (skipped, missed, interrupted)
    /// start no chained job.
    Any,
}

impl ChainOutcome {
    /// Whether a parent run that ended with `status` matches this outcome.
    pub fn matches(self, status: crate::state::records::RunStatus) -> bool {
        use crate::state::records::RunStatus as S;
        let failed = matches!(status, S::Failed | S::TimedOut);
        let analysis_failed = status == S::AnalysisFailed;
        match self {
            ChainOutcome::Succeeded => status.is_success(),
            ChainOutcome::Failed => failed,
            ChainOutcome::AnalysisFailed => analysis_failed,
            ChainOutcome::Any => status.is_success() || failed || analysis_failed,
        }
    }
}

/// `spec.target`: where in a cluster a job runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `host` when the job has host collectors and no cluster collection, else `cluster`.
    #[default]
    Auto,
    /// The node: run by every node-mode agent (the DaemonSet), never by the cluster leader.
    Host,
    /// The cluster: run by the cluster-mode leader (or a host-mode agent), never in node mode.
    Cluster,
}

impl Target {
    /// Whether this is the default (left out of the definition, so old jobs keep their hash).
    pub fn is_auto(&self) -> bool {
        *self == Target::Auto
    }
}

/// Limits applied to every process a run starts (`run`, `journald`, the troubleshoot CLI, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// Relative CPU weight, 1-10000 (100 is the kernel's default); needs a cgroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub cpu_weight: Option<u32>,
    /// Memory ceiling of each process (`512MiB`, `2GiB`); without a cgroup it is the process's
    /// virtual address space limit (`RLIMIT_AS`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_max: Option<ByteSize>,
    /// Relative I/O weight, 1-10000 (100 is the default); without a cgroup it becomes the
    /// best-effort I/O priority level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub io_weight: Option<u32>,
    /// Scheduling niceness, -20 (first) to 19 (last).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = -20, max = 19))]
    pub nice: Option<i32>,
}

impl Resources {
    /// Each field of `self`, else of `defaults`.
    pub fn over(&self, defaults: &Resources) -> Resources {
        Resources {
            cpu_weight: self.cpu_weight.or(defaults.cpu_weight),
            memory_max: self.memory_max.or(defaults.memory_max),
            io_weight: self.io_weight.or(defaults.io_weight),
            nice: self.nice.or(defaults.nice),
        }
    }

    /// Problems with the values, as `(field, message)`: weights 1-10000, nice -20..19, a memory
    /// ceiling of at least 1 MiB (below that no program starts).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (field, value) in [("cpuWeight", self.cpu_weight), ("ioWeight", self.io_weight)] {
            if let Some(v) = value.filter(|v| !(1..=10_000).contains(v)) {
                out.push((
                    field,
                    format!(
                        "{field} {v} is out of range: use 1 to 10000 (100 is the default weight)"
                    ),
                ));
            }
        }
        if let Some(n) = self.nice.filter(|n| !(-20..=19).contains(n)) {
            out.push((
                "nice",
                format!("nice {n} is out of range: use -20 (first) to 19 (last)"),
            ));
        }
        if let Some(m) = self.memory_max.filter(|m| m.0 < 1 << 20) {
            out.push((
                "memoryMax",
                format!(
                    "memoryMax {} bytes is too small for any program to start: use at least 1MiB",
                    m.0
                ),
            ));
        }
        out
    }
}

fn jitter() -> HumanDuration {
    defaults::JITTER
}
fn starting_deadline() -> HumanDuration {
    defaults::STARTING_DEADLINE
}
fn timeout() -> HumanDuration {
    defaults::TIMEOUT
}
fn retry_backoff() -> HumanDuration {
    defaults::RETRY_BACKOFF
}
fn keep_last() -> Option<u32> {
    Some(defaults::KEEP_LAST)
}
fn yes() -> bool {
    true
}

/// What happens when a fire comes while a run of the same job is in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Skip the new fire (recorded as `skipped`).
    #[default]
    Forbid,
    /// Run both.
    Allow,
    /// Cancel the running run (recorded `interrupted`, partial bundle kept) and start the new one.
    Replace,
}

/// Retries of a failed run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// How many times to retry (0: never).
    #[serde(default)]
    pub limit: u32,
    /// Delay before the first retry; each further retry doubles it.
    #[serde(default = "retry_backoff")]
    pub backoff: HumanDuration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            limit: defaults::RETRY_LIMIT,
            backoff: defaults::RETRY_BACKOFF,
        }
    }
}

/// What to collect.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Collect {
    /// troubleshoot `SupportBundle` (or `Collector`/`HostCollector`/`Redactor`) spec files,
    /// relative to this job file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<String>,
    /// Values files for the job's v1beta3 templated spec files (`{{ .Values.x }}`), relative to
    /// this job file, merged in order (troubleshoot's `--values`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Values by dotted key (`db.host: x`, Helm `--set` semantics; YAML scalars as written),
    /// applied after `values` files.
    #[serde(default, skip_serializing_if = "SetValues::is_empty")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub set: SetValues,
    /// An inline troubleshoot SupportBundle `spec:` body (collectors, hostCollectors, analyzers, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub support_bundle: Option<CompactJson>,
    /// Namespaces for cluster collection (empty: all that the agent may read).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Only logs newer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<HumanDuration>,
    /// Who collects: the agent itself or the troubleshoot CLI.
    #[serde(default)]
    pub engine: Engine,
    /// Collect cluster info, resources and logs of the selected namespaces without a spec.
    #[serde(default)]
    pub auto_discovery: bool,
    /// kubeconfig file for cluster collection (default: in-cluster, `KUBECONFIG`, `~/.kube/config`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubeconfig: Option<String>,
    /// kubeconfig context to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// Specs stored in the cluster: at each run, the labelled Secrets and ConfigMaps are read
    /// as troubleshoot's `--load-cluster-specs` reads them and their specs join the job's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_specs: Option<Box<ClusterSpecs>>,
    /// Follow a spec's `uri:` (troubleshoot's self-update from a URL) at each run: the fetched
    /// SupportBundle replaces the document that names it, minus its host collectors; a failed
    /// fetch keeps the spec as written. Off by default, so air-gapped sites never phone out.
    #[serde(
        default,
        rename = "followSpecURI",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub follow_spec_uri: bool,
}

/// `collect.set`: values by dotted key, read and written as a mapping. Boxed, as few jobs set
/// any (see [`JobSpec`]); an empty mapping is held as none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SetValues(Option<Box<serde_json::Map<String, serde_json::Value>>>);

impl SetValues {
    /// Whether no value is set.
    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|m| m.is_empty())
    }

    /// The values, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &serde_json::Value)> {
        self.0.iter().flat_map(|m| m.iter())
    }
}

impl From<serde_json::Map<String, serde_json::Value>> for SetValues {
    fn from(map: serde_json::Map<String, serde_json::Value>) -> Self {
        SetValues((!map.is_empty()).then(|| Box::new(map)))
    }
}

impl Serialize for SetValues {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(map) => map.serialize(serializer),
            None => serde_json::Map::new().serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for SetValues {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        serde_json::Map::deserialize(deserializer).map(SetValues::from)
    }
}

/// `collect.clusterSpecs`: where the specs stored in the cluster are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterSpecs {
    /// Namespaces to read Secrets and ConfigMaps from (empty: all namespaces).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Label selector of the Secrets and ConfigMaps holding specs (troubleshoot's default).
    #[serde(default = "default_spec_selector")]
    pub label_selector: String,
}

fn default_spec_selector() -> String {
    DEFAULT_SPEC_SELECTOR.to_string()
}

/// The label troubleshoot's `--load-cluster-specs` selects by default.
pub const DEFAULT_SPEC_SELECTOR: &str = "troubleshoot.sh/kind=support-bundle";

/// Who collects.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Engine {
    /// The agent's own collectors.
    #[default]
    Builtin,
    /// The troubleshoot `support-bundle` CLI, when installed.
    SupportBundle,
}

/// Redaction settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Redact {
    /// Redact at all (`false` turns off every redactor, as troubleshoot's `--redact=false`).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Replace secrets with stable tokens instead of `***HIDDEN***`.
    #[serde(default)]
    pub tokenize: bool,
    /// Extra troubleshoot `Redactor` spec files, relative to this job file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub redactors: Vec<String>,
    /// Built-in redactors: `extended` (troubleshoot's defaults plus the agent extras) or `upstream`
    /// (troubleshoot's defaults only, byte-exact upstream behaviour).
    #[serde(default, skip_serializing_if = "RedactDefaults::is_extended")]
    pub defaults: RedactDefaults,
}

impl Default for Redact {
    fn default() -> Self {
        Redact {
            enabled: true,
            tokenize: false,
            redactors: Vec::new(),
            defaults: RedactDefaults::Extended,
        }
    }
}

/// Which built-in redactors run before the job's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RedactDefaults {
    /// troubleshoot's default redactors, then the agent extras (KEY=value secrets, bearer tokens,
    /// one-line JSON env pairs, private keys, cloud and SaaS tokens, ...).
    #[default]
    Extended,
    /// troubleshoot's default redactors only.
    Upstream,
}

impl RedactDefaults {
    /// The default: left out of the job's definition so existing jobs keep their spec hash.
    fn is_extended(&self) -> bool {
        *self == RedactDefaults::Extended
    }
}

/// Analysis settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Analyze {
    /// Run the spec's analyzers.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Which analyzer outcome marks the run failed.
    #[serde(default)]
    pub fail_on: FailOn,
    /// Extra troubleshoot spec files, relative to this job file, whose `analyzers` and
    /// `hostAnalyzers` (of `SupportBundle` and `Analyzer` documents) run on the job's bundles
    /// besides those of `collect`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub specs: Vec<String>,
}

impl Default for Analyze {
    fn default() -> Self {
        Analyze {
            enabled: true,
            fail_on: FailOn::Fail,
            specs: Vec::new(),
        }
    }
}

/// Which analyzer outcome fails the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailOn {
    /// A `fail` outcome.
    #[default]
    Fail,
    /// A `warn` or `fail` outcome.
    Warn,
    /// Never.
    Never,
}

/// Bundle retention on disk, applied after each run, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retention {
    /// Keep at most this many bundles.
    #[serde(default = "keep_last", skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Remove bundles older than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<HumanDuration>,
    /// Keep the job's bundles under this total size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_size: Option<ByteSize>,
    /// Keep the newest bundle of each of the last N hours that have one (restic's
    /// `--keep-hourly`; periods in the job's time zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_hourly: Option<u32>,
    /// Keep the newest bundle of each of the last N days that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_daily: Option<u32>,
    /// Keep the newest bundle of each of the last N ISO weeks that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_weekly: Option<u32>,
    /// Keep the newest bundle of each of the last N months that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_monthly: Option<u32>,
    /// Keep the newest bundle of each of the last N years that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_yearly: Option<u32>,
}

impl Retention {
    /// The period rules, shortest period first (`keepHourly` ... `keepYearly`).
    pub fn keep_periods(&self) -> [Option<u32>; 5] {
        [
            self.keep_hourly,
            self.keep_daily,
            self.keep_weekly,
            self.keep_monthly,
            self.keep_yearly,
        ]
    }
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            keep_last: keep_last(),
            max_age: None,
            max_total_size: None,
            keep_hourly: None,
            keep_daily: None,
            keep_weekly: None,
            keep_monthly: None,
            keep_yearly: None,
        }
    }
}

/// Run record limits; a field left out takes the agent's `history` setting. The records of
/// running runs, of the newest successful run, of bundles still on disk and of pending uploads
/// are always kept.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct History {
    /// Keep at most this many run records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last: Option<u32>,
    /// Remove records of runs older than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<HumanDuration>,
}

impl History {
    fn is_empty(&self) -> bool {
        self.keep_last.is_none() && self.max_age.is_none()
    }
}
