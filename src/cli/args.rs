//! Raw command-line flags, as clap parses them.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Declarative, scheduled troubleshoot support-bundle collection.
#[derive(Debug, Parser)]
#[command(
    name = "troubleshoot-agent",
    version = VERSION,
    about,
    propagate_version = true,
    after_help = ENVIRONMENT
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// `--version`: the package version and the git commit it was built from, when the build knew it
/// (build.rs: `git rev-parse`, or $TROUBLESHOOT_AGENT_COMMIT for builds outside a git checkout).
pub const VERSION: &str = env!("TSA_VERSION");

/// Flags every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Agent settings file [default: /etc/troubleshoot/agent.yaml, if present]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of job files [default: /etc/troubleshoot/jobs.d]
    #[arg(long, global = true, value_name = "DIR")]
    pub jobs_dir: Option<PathBuf>,
    /// State directory [default: $STATE_DIRECTORY or /var/lib/troubleshoot-agent]
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Address of the agent's HTTP endpoints [default: 127.0.0.1:9469]
    #[arg(long, global = true, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Bearer token file for trigger and reload over --listen (the apiTokenFile setting); as
    /// root on the agent's host the CLI uses the control socket <state-dir>/agent.sock instead
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Output format (`dot`: `plan --graph` only)
    #[arg(short = 'o', long = "output", global = true, value_enum, value_name = "FORMAT", default_value_t = OutputFormat::Text)]
    pub output_format: OutputFormat,
    /// The output format of every command (`-o dot` is checked and read by `plan --graph`).
    #[arg(skip = Output::Text)]
    pub output: Output,
    /// Read job files, specs, settings and key files even when another user could have written
    /// them (or a directory above them), with a warning instead of an error: for test setups only
    #[arg(long, global = true)]
    pub insecure_allow_writable: bool,
    /// More logging (`run` logs info by default, other commands warnings; each -v one level more);
    /// TROUBLESHOOT_AGENT_LOG takes a tracing filter
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less logging (each -q one level less)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "verbose")]
    pub quiet: u8,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// For people: tables fit the terminal (long cells cut with …).
    Text,
    /// For people, every column in full.
    Wide,
    /// For programs.
    Json,
}

/// `-o` as given: every command's formats, and `dot` for `plan --graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// For people: tables fit the terminal (long cells cut with …).
    Text,
    /// For people, every column in full.
    Wide,
    /// For programs.
    Json,
    /// A Graphviz digraph (`plan --graph` only).
    Dot,
}

impl GlobalArgs {
    /// Sets `output` from `-o`; `dot` only where the command draws a graph.
    pub fn settle_output(&mut self, graph: bool) -> Result<(), String> {
        self.output = match self.output_format {
            OutputFormat::Text => Output::Text,
            OutputFormat::Wide => Output::Wide,
            OutputFormat::Json => Output::Json,
            OutputFormat::Dot if graph => Output::Text,
            OutputFormat::Dot => {
                return Err(
                    "`-o dot` draws the job chains as a Graphviz graph: use it with `plan --graph`"
                        .into(),
                );
            }
        };
        Ok(())
    }
}

/// The environment every command reads (shown under `--help`).
const ENVIRONMENT: &str = "\
Environment:
  TROUBLESHOOT_AGENT_<SETTING>  any agent setting, e.g. TROUBLESHOOT_AGENT_STATE_DIR (between the
                                settings file and the flags)
  TROUBLESHOOT_AGENT_LOG        a tracing log filter (e.g. debug), instead of -v/-q
  STATE_DIRECTORY               default state directory (systemd's StateDirectory=)
  CONFIGURATION_DIRECTORY       where agent.yaml is looked for (systemd's ConfigurationDirectory=)
  NO_COLOR                      no colour even on a terminal
  KUBECONFIG                    the kubeconfig for cluster collection, when settings name none

Exit codes: 0 success, 1 failure or invalid input, 2 usage error; see each command's --help.";

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent: keep the schedule equal to the jobs directory and run jobs on time
    #[command(
        after_help = "Exit codes: 0 clean stop (SIGTERM/SIGINT), 1 fatal error at start or run."
    )]
    Run(RunArgs),
    /// Jobs, their next run and how their last run went (from the agent, else the state directory)
    #[command(
        after_help = "Exit codes: 0 shown, 1 neither an agent nor the state directory could be read."
    )]
    Status,
    /// Recent runs of a job, newest first
    #[command(
        after_help = "Exit codes: 0 shown (also when the job has not run yet), 1 no such job in the state directory or an error."
    )]
    History(HistoryArgs),
    /// Run a job now: through the running agent, else in the foreground (exit 0 succeeded, 1 failed)
    #[command(
        after_help = "The run's phases are shown on stderr as they happen (a spinner on a terminal, one line per phase change otherwise), then its outcome on stdout.\n\nExit codes: 0 the run succeeded (or succeeded with errors), 1 it failed, was refused, or an upload failed for good (with --check-targets: a target is unreachable)."
    )]
    Trigger(TriggerArgs),
    /// Preview which of a job's bundles the next prune removes, and what keeps the others
    #[command(
        after_help = "Only a preview (--dry-run): the agent applies retention after each run of the job.\n\nExit codes: 0 shown, 1 no such valid job, or the state directory could not be read."
    )]
    Retention(RetentionArgs),
    /// Ask the running agent to apply the jobs directory now (exit 1 when a file is rejected)
    #[command(after_help = "Exit codes: 0 applied, 1 a file was rejected or no agent runs.")]
    Reload,
    /// Check job files or directories (exit 0 valid, 1 invalid)
    #[command(after_help = "Exit codes: 0 valid, 1 invalid (with --strict: also on warnings).")]
    Validate(ValidateArgs),
    /// Show what applying the jobs directory would change (exit 0, 1 error, 2 changes with --detailed-exitcode)
    #[command(
        after_help = "Exit codes: 0 no changes (or changes without --detailed-exitcode), 1 error or a rejected file, 2 changes with --detailed-exitcode."
    )]
    Plan(PlanArgs),
    /// Print the JSON Schema of a job file
    #[command(after_help = "Exit codes: 0.")]
    Schema,
    /// Token maps of tokenizing runs (`redact.tokenize: true`)
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// Runs troubleshoot analyzers on a bundle (.tar.gz or directory) and prints the results.
    #[command(
        after_help = "Output: a table, or with -o json the analysis.json elements; --format yaml for YAML.\nWithout --spec, troubleshoot's default analyzers (the Kubernetes version) run.\n\nExit codes: 0 all passed, 3 an analyzer failed, 4 an analyzer warned (none failed), 2 a spec problem, 1 any other error (e.g. an unreadable bundle)."
    )]
    Analyze(AnalyzeArgs),
    /// What changed from bundle A to bundle B (analyzer results, objects, restarts, events, nodes, host facts)
    #[command(
        after_help = "Output: a table, or with -o json the changes.json shape (docs/changes.md).\n\nExit codes: 0 compared (whether or not anything changed), 1 a bundle could not be read."
    )]
    Diff(DiffArgs),
    /// Give the state directory to the agent's user (owner UID:GID, mode 0700): for a root init container in Kubernetes
    #[command(
        after_help = "Creates the state directory if missing, then makes it owned by --owner with mode 0700, so an agent that runs as that user can use a volume the kubelet created owned by root with mode 0777. Runs as root and needs only CAP_CHOWN and CAP_FOWNER. Never follows a symlink at the state directory; refuses one that holds other users' files, or that lies below a directory others may write. Changes nothing when all is in order (safe at every start). See docs/state-directory.md, \"Volumes in Kubernetes\".\n\nExit codes: 0 prepared (or already), 1 refused or failed."
    )]
    PrepareState(PrepareStateArgs),
    /// Render the jobs as other tools' objects (`render cronjobs`: Kubernetes CronJobs)
    #[command(subcommand)]
    Render(RenderCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell); for packagers
    #[command(hide = true)]
    Completions(CompletionsArgs),
    /// Write man pages (troubleshoot-agent.1 and one per command) into a directory; for packagers
    #[command(hide = true)]
    Man(ManArgs),
}

/// `render` subcommands.
#[derive(Debug, Subcommand)]
pub enum RenderCommand {
    /// One Kubernetes batch/v1 CronJob per job (YAML on stdout), for Kubernetes to own the schedule
    #[command(
        after_help = "Each CronJob's pod runs `troubleshoot-agent trigger JOB` once, with the jobs directory mounted from the ConfigMap (as deploy/kubernetes does) and the state in an emptyDir. schedule, timeZone, concurrencyPolicy, startingDeadlineSeconds and suspend are mapped; what Kubernetes does differently (jitter, DST, catch-up records, retries, run identity, state) is listed as comments on each CronJob. Nothing is rendered while a job file is invalid: its errors are printed as `validate` prints them.\n\nExit codes: 0 rendered, 1 a job file is invalid or a flag is not a valid Kubernetes value."
    )]
    Cronjobs(RenderCronJobsArgs),
}

/// `render cronjobs` flags.
#[derive(Debug, Args)]
pub struct RenderCronJobsArgs {
    /// The jobs directory [default: the jobs directory setting]
    #[arg(value_name = "JOBS_DIR")]
    pub jobs_dir: Option<PathBuf>,
    /// Container image of the agent
    #[arg(long, value_name = "IMAGE", default_value = crate::plan::cronjobs::DEFAULT_IMAGE)]
    pub image: String,
    /// Namespace of the CronJobs
    #[arg(long, value_name = "NS", default_value = crate::plan::cronjobs::DEFAULT_NAMESPACE)]
    pub namespace: String,
    /// Service account of their pods
    #[arg(long, value_name = "NAME", default_value = crate::plan::cronjobs::DEFAULT_SERVICE_ACCOUNT)]
    pub service_account: String,
    /// ConfigMap holding the job files, mounted as the jobs directory
    #[arg(long, value_name = "NAME", default_value = crate::plan::cronjobs::DEFAULT_CONFIG_MAP)]
    pub configmap: String,
}

/// `prepare-state` flags.
#[derive(Debug, Args)]
pub struct PrepareStateArgs {
    /// The agent's numeric user and group (the image's `troubleshoot` user is 65532:65532)
    #[arg(long, value_name = "UID:GID")]
    pub owner: crate::state::Owner,
}

/// `completions` arguments.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

/// `man` arguments.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing)
    #[arg(value_name = "DIR")]
    pub out_dir: PathBuf,
}

/// `diff` arguments.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older bundle: a .tar.gz archive or an extracted directory.
    #[arg(value_name = "A")]
    pub old: PathBuf,
    /// The newer bundle.
    #[arg(value_name = "B")]
    pub new: PathBuf,
}

/// `analyze` arguments.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The bundle: a .tar.gz archive or an extracted directory.
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// A spec with analyzers (SupportBundle, Analyzer, Preflight documents); repeatable.
    #[arg(long = "spec", value_name = "FILE")]
    pub specs: Vec<PathBuf>,
    /// Output format (wins over -o).
    #[arg(long, value_enum)]
    pub format: Option<AnalyzeFormat>,
}

/// How `analyze` prints its results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// A table for people.
    Table,
    /// The analysis.json elements.
    Json,
    /// The same elements as YAML.
    Yaml,
}

/// `tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Decrypt a token map (<state>/jobs/<job>/tokens/<run-id>.tokenmap.json) and print it as JSON
    Decrypt(TokensDecryptArgs),
}

/// `tokens decrypt` flags.
#[derive(Debug, Args)]
pub struct TokensDecryptArgs {
    /// The map key file (32 bytes: 64 hex characters or raw) [default: the tokenMapKeyFile setting]
    #[arg(long, value_name = "K")]
    pub key_file: Option<PathBuf>,
    /// The encrypted token map file
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// `validate` flags.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Job files or directories [default: the jobs directory]; a file is read whatever its name
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Treat warnings as errors
    #[arg(long)]
    pub strict: bool,
    /// Validate the one PATH as if it stood at TARGET (e.g. /etc/troubleshoot/jobs.d/app.yaml), among
    /// TARGET's directory's other files: for the temp file Ansible's `validate: ... %s` and Puppet's
    /// `validate_cmd` pass. Only that file's findings count.
    #[arg(long = "as", value_name = "TARGET")]
    pub as_path: Option<PathBuf>,
    /// Check as an agent in this mode would load the files: say which jobs it leaves out, and
    /// why (the `mode` setting; default host: every job)
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<RunMode>,
}

/// `plan` flags.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// List the next N fire times of every job
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub show_next: usize,
    /// Preview fire times from this instant (RFC 3339, or YYYY-MM-DDTHH:MM[:SS] in UTC) instead of now
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Reject the whole change when any file is invalid, as `run --strict` does
    #[arg(long)]
    pub strict: bool,
    /// Plan as an agent in this mode: jobs the mode does not run are left out, with a warning
    /// (the `mode` setting; default host)
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<RunMode>,
    /// Print the job chains (`spec.after`) as a tree, with what the plan does to each job and
    /// edge; `-o dot` as a Graphviz digraph, `-o json` as nodes and edges
    #[arg(long)]
    pub graph: bool,
}

/// `run` flags.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Reject a whole reload when any job file is invalid (default: keep last-good versions per file)
    #[arg(long)]
    pub strict: bool,
    /// Shift the agent's clock by this many milliseconds (for tests: put "now" just before a slot)
    #[arg(long, hide = true, default_value_t = 0, allow_negative_numbers = true)]
    pub clock_offset_ms: i64,
    /// `host`: this agent runs the jobs; `cluster`: replicas elect a leader on a Lease and
    /// only the leader starts runs; `node`: one agent per node runs the host jobs (the `mode`
    /// setting; default host)
    #[arg(long, value_enum, value_name = "MODE")]
    pub mode: Option<RunMode>,
    /// Node mode: this node's name in records, bundle names and upload keys (the `nodeName`
    /// setting) [default: $NODE_NAME, else the host name]
    #[arg(long, value_name = "NAME")]
    pub node_name: Option<String>,
    /// Holder identity in the Lease [default: $POD_NAME, else the host name]
    #[arg(long, value_name = "NAME")]
    pub identity: Option<String>,
    /// Namespace of the Lease [default: $POD_NAMESPACE, else the kubeconfig's namespace]
    #[arg(long, value_name = "NS")]
    pub lease_namespace: Option<String>,
    /// Name of the Lease [default: troubleshoot-agent]
    #[arg(long, value_name = "NAME")]
    pub lease_name: Option<String>,
    /// How long a leader's claim lasts for the others after its last renewal [default: 15s]
    #[arg(long, value_name = "DURATION")]
    pub lease_duration: Option<crate::units::HumanDuration>,
    /// How long a leader keeps leading without renewing [default: 10s]
    #[arg(long, value_name = "DURATION")]
    pub renew_deadline: Option<crate::units::HumanDuration>,
    /// Time between attempts to acquire or renew the Lease [default: 2s]
    #[arg(long, value_name = "DURATION")]
    pub retry_period: Option<crate::units::HumanDuration>,
}

/// `run --mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// One agent runs every job.
    Host,
    /// Replicas elect a leader on a coordination.k8s.io Lease.
    Cluster,
    /// One agent per node (a DaemonSet) runs the jobs that collect from the host.
    Node,
}

impl From<RunMode> for crate::settings::Mode {
    fn from(m: RunMode) -> Self {
        match m {
            RunMode::Host => crate::settings::Mode::Host,
            RunMode::Cluster => crate::settings::Mode::Cluster,
            RunMode::Node => crate::settings::Mode::Node,
        }
    }
}

/// `retention` flags.
#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// Job name
    pub job: String,
    /// Only show what the next prune would do (required: the agent is what prunes)
    #[arg(long)]
    pub dry_run: bool,
}

/// `history` flags.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Job name
    pub job: String,
    /// How many runs to show
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Show what changed since each run's previous completed run (with -o json: the counts)
    #[arg(long)]
    pub changes: bool,
}

/// `trigger` flags.
#[derive(Debug, Args)]
pub struct TriggerArgs {
    /// Job name
    pub job: String,
    /// Return once the agent accepted the run, without waiting for it to finish
    #[arg(long)]
    pub no_wait: bool,
    /// Do not run: check that each upload target is reachable (S3 HeadBucket, HTTP HEAD); exit 1 if any is not
    #[arg(long, conflicts_with = "no_wait")]
    pub check_targets: bool,
}
