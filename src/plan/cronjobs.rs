//! `render cronjobs`: the jobs as Kubernetes `batch/v1` CronJobs, for teams that want Kubernetes
//! to own the schedule. Each CronJob's pod runs `troubleshoot-agent trigger JOB` once, with the
//! jobs directory mounted from the ConfigMap of deploy/kubernetes; what Kubernetes cannot do as
//! the agent does is listed as comments on the CronJob. A pure function of the loaded jobs.

use crate::jobs::Job;
use crate::jobs::model::ConcurrencyPolicy;
use chrono::{Offset, TimeZone};
use std::fmt::Write as _;

/// The image deploy/kubernetes runs (its overlays pin this tag).
pub const DEFAULT_IMAGE: &str = concat!("troubleshoot-agent:", env!("CARGO_PKG_VERSION"));
/// The namespace of deploy/kubernetes.
pub const DEFAULT_NAMESPACE: &str = "troubleshoot-agent";
/// The service account of deploy/kubernetes (bound to the read-only ClusterRole).
pub const DEFAULT_SERVICE_ACCOUNT: &str = "troubleshoot-agent";
/// The jobs ConfigMap of deploy/kubernetes.
pub const DEFAULT_CONFIG_MAP: &str = "troubleshoot-agent-jobs";

/// Kubernetes appends 11 characters to a CronJob's name for its Jobs, and a Job's name is at
/// most 63: so a CronJob's name is at most 52.
const MAX_CRONJOB_NAME: usize = 52;

/// Where the CronJobs go and what their pods run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CronJobOptions {
    /// Container image with the agent.
    pub image: String,
    /// Namespace of the CronJobs (and of the ConfigMap and service account).
    pub namespace: String,
    /// Service account the pods run as.
    pub service_account: String,
    /// ConfigMap holding the job files.
    pub config_map: String,
}

impl Default for CronJobOptions {
    fn default() -> Self {
        CronJobOptions {
            image: DEFAULT_IMAGE.to_string(),
            namespace: DEFAULT_NAMESPACE.to_string(),
            service_account: DEFAULT_SERVICE_ACCOUNT.to_string(),
            config_map: DEFAULT_CONFIG_MAP.to_string(),
        }
    }
}

/// An option Kubernetes would refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CronJobError {
    /// Not a DNS-1123 name of the kind the field needs.
    #[error("{flag} `{value}` is not a valid Kubernetes name: {problem}")]
    BadName {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// What is wrong.
        problem: String,
    },
    /// A job a CronJob cannot express: a one-shot (`at`), a job without a schedule, or one
    /// limited to an `activeWindow`.
    #[error(
        "job `{job}` cannot be rendered as a CronJob: {why} (not supported yet); leave it to the agent, or give it a plain `schedule`"
    )]
    NotCron {
        /// The job.
        job: String,
        /// What it has instead.
        why: &'static str,
    },
    /// An empty image or one with white space.
    #[error(
        "--image `{0}` is not an image reference: give e.g. registry.example.com/troubleshoot-agent:0.1.0"
    )]
    BadImage(String),
}

impl CronJobOptions {
    /// What Kubernetes would refuse in the options.
    pub fn check(&self) -> Result<(), CronJobError> {
        let bad = |flag, value: &str, problem: Option<String>| match problem {
            Some(problem) => Err(CronJobError::BadName {
                flag,
                value: value.to_string(),
                problem,
            }),
            None => Ok(()),
        };
        bad(
            "--namespace",
            &self.namespace,
            crate::jobs::name_problem(&self.namespace),
        )?;
        bad(
            "--service-account",
            &self.service_account,
            subdomain_problem(&self.service_account),
        )?;
        bad(
            "--configmap",
            &self.config_map,
            subdomain_problem(&self.config_map),
        )?;
        if self.image.is_empty() || self.image.chars().any(char::is_whitespace) {
            return Err(CronJobError::BadImage(self.image.clone()));
        }
        Ok(())
    }
}

/// A DNS-1123 subdomain: labels joined by dots, at most 253 characters.
fn subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some(format!("{} characters, at most 253", name.len()));
    }
    name.split('.').find_map(crate::jobs::name_problem)
}

/// Every job as a CronJob, in the order given: a multi-document YAML stream.
pub fn render<'a>(
    jobs: impl IntoIterator<Item = &'a Job>,
    options: &CronJobOptions,
) -> Result<String, CronJobError> {
    options.check()?;
    let mut out = String::new();
    for job in jobs {
        let why = match (job.timeline.rule(), job.timeline.window().is_unbounded()) {
            (crate::schedule::Rule::Once(_), _) => Some("it runs once (`at`)"),
            (crate::schedule::Rule::Never, _) => {
                Some("it has no schedule (triggers or `after` only)")
            }
            (_, false) => Some("Kubernetes has no `activeWindow`"),
            _ => None,
        };
        if let Some(why) = why {
            return Err(CronJobError::NotCron {
                job: job.name.clone(),
                why,
            });
        }
        out.push_str("---\n");
        let _ = writeln!(
            out,
            "# troubleshoot-agent job `{}` ({}:{}). Not mapped (Kubernetes has no equivalent, or differs):",
            job.name,
            job.source.file.file_name().map_or_else(
                || job.source.file.display().to_string(),
                |f| f.to_string_lossy().into_owned()
            ),
            job.source.line.max(1)
        );
        for note in unmapped(job) {
            let mut lines = note.lines();
            let _ = writeln!(out, "# - {}", lines.next().unwrap_or_default());
            for line in lines {
                let _ = writeln!(out, "#   {line}");
            }
        }
        cronjob(&mut out, job, options);
    }
    Ok(out)
}

/// The CronJob's name: the job's, or for a job name over 52 characters a shortened one made
/// unique by a hash of the whole name.
pub fn cronjob_name(job: &str) -> String {
    if job.len() <= MAX_CRONJOB_NAME {
        return job.to_string();
    }
    let hash = crate::digest::sha256_hex(job.as_bytes());
    let head = job[..MAX_CRONJOB_NAME - 6].trim_end_matches('-');
    format!("{head}-{}", &hash[..5])
}

/// The schedule as Kubernetes' cron parser reads it: the job's, except a day-of-week 7 (Sunday in
/// cron, refused by Kubernetes, which knows 0-6) becomes 0.
pub fn kubernetes_schedule(job: &Job) -> String {
    let Some(schedule) = job.timeline.schedule() else {
        return String::new();
    };
    let expr = schedule.expression().trim();
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let [minute, hour, dom, month, dow] = fields.as_slice() else {
        return expr.to_string();
    };
    if dow.starts_with('*') || !names_day_seven(dow) {
        return fields.join(" ");
    }
    let weekdays = schedule.fields().weekdays;
    let days: Vec<String> = (0..7)
        .filter(|d| weekdays & (1 << d) != 0)
        .map(|d| d.to_string())
        .collect();
    format!("{minute} {hour} {dom} {month} {}", days.join(","))
}

/// Whether a day-of-week field names 7 as a day (a value or a range end, not a step).
fn names_day_seven(field: &str) -> bool {
    field.split(',').any(|part| {
        let range = part.split('/').next().unwrap_or_default();
        range.split('-').any(|v| v.trim() == "7")
    })
}

/// When Kubernetes would combine the day fields with the other rule than cron, whether cron
/// ORs them (else it ANDs them). Cron ORs day-of-month and day-of-week when neither starts with
/// `*`; Kubernetes' parser (robfig/cron) ORs them unless one is `*` (or `*/1`), so `*/2` counts
/// as restricted there.
fn day_rule_differs(job: &Job) -> Option<bool> {
    let fields: Vec<&str> = (job.timeline.schedule()?.expression())
        .split_whitespace()
        .collect();
    let [_, _, dom, _, dow] = fields.as_slice() else {
        return None;
    };
    let cron_star = |f: &str| f.starts_with('*');
    let k8s_star = |f: &str| f.split(',').any(|p| p == "*" || p == "*/1");
    let cron_or = !cron_star(dom) && !cron_star(dow);
    let k8s_or = !k8s_star(dom) && !k8s_star(dow);
    (cron_or != k8s_or).then_some(cron_or)
}

/// Whether the zone changes its offset over the year (DST). 2026 stands for "these days": the
/// function stays pure, and a zone that dropped or adopted DST since is rare.
fn observes_dst(job: &Job) -> bool {
    let tz = job.timeline.time_zone();
    let offset = |month| {
        tz.with_ymd_and_hms(2026, month, 1, 12, 0, 0)
            .single()
            .map(|t| t.offset().fix())
    };
    offset(1) != offset(7)
}

/// What the CronJob does not do as the agent does, one note each.
pub fn unmapped(job: &Job) -> Vec<String> {
    let spec = &job.document.spec;
    let mut notes = Vec::new();
    if cronjob_name(&job.name) != job.name {
        notes.push(format!(
            "name: `{}` is longer than Kubernetes allows a CronJob (52); shortened.",
            job.name
        ));
    }
    if !spec.jitter.0.is_zero() {
        notes.push(format!(
            "jitter {}: Kubernetes starts every run at the slot; to spread, stagger the schedules.",
            spec.jitter
        ));
    }
    if observes_dst(job) && job.timeline.schedule().is_some_and(|s| s.is_fixed_time()) {
        notes.push(format!(
            "DST in {}: the agent runs a slot that spring-forward skips at the first instant\nafter the gap, and a slot in the repeated hour once; Kubernetes' cron library may skip\nthe first and applies its own rule to the second.",
            job.time_zone()
        ));
    }
    if job.collection.host_collectors.iter().any(|e| !e.exclude) {
        notes.push(
            "host collectors: they run in this pod on one node the scheduler picks and see the\npod's view; for host data from every node use the node overlay (a DaemonSet).".to_string(),
        );
    }
    if let Some(cron_or) = day_rule_differs(job) {
        let (cron, k8s) = if cron_or {
            ("OR", "AND")
        } else {
            ("AND", "OR")
        };
        notes.push(format!(
            "WARNING day rule: cron {cron}s the day-of-month and day-of-week fields of `{}`,\nKubernetes {k8s}s them: the CronJob fires on other days. Rewrite the schedule.",
            job.timeline.schedule().map_or("", |s| s.expression())
        ));
    }
    notes.push(format!(
        "catch-up records: Kubernetes starts one late run within startingDeadlineSeconds ({}) but\nrecords no `missed` slots, and starts none when more than 100 were missed within it.",
        spec.starting_deadline.0.as_secs()
    ));
    if spec.retry.limit > 0 {
        notes.push(format!(
            "retry (limit {}, backoff {}): one attempt per slot (backoffLimit 0); a pod retry would\nrerun the whole collection on its own backoff.",
            spec.retry.limit, spec.retry.backoff
        ));
    }
    if spec.concurrency_policy == ConcurrencyPolicy::Replace {
        notes.push(
            "Replace: Kubernetes deletes the running pod; the interrupted run's record and partial\nbundle, which the agent keeps, go with it.".to_string(),
        );
    }
    notes.push(
        "run identity: each run is a manual run (`trigger`) keyed by its start time, not by the\nslot, so uploads do not fence a slot Kubernetes starts twice.".to_string(),
    );
    notes.push(
        "state: run records, kept bundles (retention) and uploads still pending at the end live in\nthe pod's emptyDir and are lost with it; `status`, `history` and metrics do not exist.".to_string(),
    );
    notes
}

/// Appends the CronJob object.
fn cronjob(out: &mut String, job: &Job, o: &CronJobOptions) {
    let spec = &job.document.spec;
    let name = cronjob_name(&job.name);
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let policy = match spec.concurrency_policy {
        ConcurrencyPolicy::Forbid => "Forbid",
        ConcurrencyPolicy::Allow => "Allow",
        ConcurrencyPolicy::Replace => "Replace",
    };
    let labels = |indent: &str| {
        format!(
            "{indent}labels:\n{indent}  app.kubernetes.io/name: troubleshoot-agent\n{indent}  app.kubernetes.io/component: cronjob\n{indent}  app.kubernetes.io/part-of: troubleshoot-agent\n{indent}  troubleshoot.sh/job: {}\n",
            q(&job.name)
        )
    };
    let _ = write!(
        out,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: {}\n  namespace: {}\n{}spec:\n  schedule: {}\n  timeZone: {}\n  concurrencyPolicy: {policy}\n  startingDeadlineSeconds: {}\n  suspend: {}\n  jobTemplate:\n    metadata:\n{}    spec:\n      backoffLimit: 0\n      template:\n        metadata:\n{}        spec:\n",
        q(&name),
        q(&o.namespace),
        labels("  "),
        q(&kubernetes_schedule(job)),
        q(job.time_zone()),
        spec.starting_deadline.0.as_secs(),
        spec.suspend,
        labels("      "),
        labels("          "),
    );
    pod_spec(out, &job.name, o);
}

/// Appends the pod spec: the Deployment's of deploy/kubernetes (user, state volume handed over
/// by `prepare-state`, read-only root, ConfigMap mount), running `trigger JOB` once.
fn pod_spec(out: &mut String, job: &str, o: &CronJobOptions) {
    let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let image = q(&o.image);
    let _ = write!(
        out,
        r#"          restartPolicy: Never
          serviceAccountName: {sa}
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            runAsGroup: 65532
            seccompProfile:
              type: RuntimeDefault
          initContainers:
            - name: prepare-state
              image: {image}
              args:
                - prepare-state
                - --owner=65532:65532
                - --state-dir=/var/lib/troubleshoot-agent
              securityContext:
                runAsUser: 0
                runAsNonRoot: false
                allowPrivilegeEscalation: false
                readOnlyRootFilesystem: true
                capabilities:
                  drop: [ALL]
                  add: [CHOWN, FOWNER]
              volumeMounts:
                - name: state
                  mountPath: /var/lib/troubleshoot-agent
          containers:
            - name: agent
              image: {image}
              args:
                - trigger
                - {job}
                - --jobs-dir=/etc/troubleshoot/jobs.d
                - --state-dir=/var/lib/troubleshoot-agent
              securityContext:
                allowPrivilegeEscalation: false
                readOnlyRootFilesystem: true
                capabilities:
                  drop: [ALL]
              resources:
                requests:
                  cpu: 50m
                  memory: 64Mi
                limits:
                  memory: 1Gi
              volumeMounts:
                - name: jobs
                  mountPath: /etc/troubleshoot/jobs.d
                  readOnly: true
                - name: state
                  mountPath: /var/lib/troubleshoot-agent
                - name: tmp
                  mountPath: /tmp
          volumes:
            - name: jobs
              configMap:
                name: {cm}
            - name: state
              emptyDir: {{}}
            - name: tmp
              emptyDir: {{}}
"#,
        sa = q(&o.service_account),
        job = q(job),
        cm = q(&o.config_map),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::{Context, load_dir};

    fn job(schedule: &str) -> Job {
        job_with(&format!("schedule: \"{schedule}\""))
    }

    /// A job with `line` under `spec:`.
    fn job_with(line: &str) -> Job {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("j.yaml"),
            format!(
                "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: j}}\nspec:\n  {line}\n  collect: {{supportBundle: {{hostCollectors: [{{memory: {{}}}}]}}}}\n"
            ),
        )
        .expect("write");
        let desired = load_dir(dir.path(), &Context::default()).expect("load");
        let job = desired.jobs.get("j").unwrap_or_else(|| {
            panic!("{:?}", desired.diagnostics().collect::<Vec<_>>());
        });
        (**job).clone()
    }

    #[test]
    fn day_of_week_seven_becomes_zero() {
        assert_eq!(kubernetes_schedule(&job("0 2 * * 7")), "0 2 * * 0");
        assert_eq!(kubernetes_schedule(&job("0 2 * * 5-7")), "0 2 * * 0,5,6");
        // 1-7/3 is 1, 4 and 7 (Sunday).
        assert_eq!(kubernetes_schedule(&job("0 2 * * 1-7/3")), "0 2 * * 0,1,4");
        assert_eq!(kubernetes_schedule(&job("0 2 * * 1-6/3")), "0 2 * * 1-6/3");
        // A step of 7 is no day 7; names and other fields stay as written.
        assert_eq!(kubernetes_schedule(&job("0 2 * * */7")), "0 2 * * */7");
        assert_eq!(kubernetes_schedule(&job("7 7 7 7 MON")), "7 7 7 7 MON");
        assert_eq!(kubernetes_schedule(&job("@daily")), "@daily");
    }

    #[test]
    fn a_stepped_star_day_field_reads_differently_in_kubernetes() {
        // Cron ANDs (a field starts with `*`), Kubernetes ORs (`*/2` is restricted there).
        assert_eq!(day_rule_differs(&job("0 2 */2 * 1")), Some(false));
        assert_eq!(day_rule_differs(&job("0 2 */2 * */2")), Some(false));
        assert_eq!(day_rule_differs(&job("0 2 1 * 1")), None);
        assert_eq!(day_rule_differs(&job("0 2 * * 1")), None);
        assert_eq!(day_rule_differs(&job("0 2 */1 * 1")), None);
        assert_eq!(day_rule_differs(&job("@weekly")), None);
    }

    #[test]
    fn long_names_are_shortened_uniquely() {
        let long = "a".repeat(60);
        let other = format!("{}b", "a".repeat(59));
        assert_eq!(cronjob_name("prod-daily"), "prod-daily");
        assert_eq!(cronjob_name(&"x".repeat(52)), "x".repeat(52));
        assert_eq!(cronjob_name(&long).len(), 52);
        assert_ne!(cronjob_name(&long), cronjob_name(&other));
        assert!(crate::jobs::name_problem(&cronjob_name(&long)).is_none());
    }

    #[test]
    fn options_kubernetes_would_refuse_are_refused() {
        let ok = CronJobOptions::default();
        assert_eq!(ok.check(), Ok(()));
        let bad_ns = CronJobOptions {
            namespace: "Troubleshoot".into(),
            ..ok.clone()
        };
        assert!(matches!(
            bad_ns.check(),
            Err(CronJobError::BadName {
                flag: "--namespace",
                ..
            })
        ));
        let dotted_sa = CronJobOptions {
            service_account: "agent.v2".into(),
            ..ok.clone()
        };
        assert_eq!(dotted_sa.check(), Ok(()));
        let bad_image = CronJobOptions {
            image: "a b".into(),
            ..ok
        };
        assert!(matches!(bad_image.check(), Err(CronJobError::BadImage(_))));
    }

    #[test]
    fn what_a_cronjob_cannot_express_is_refused() {
        let options = CronJobOptions::default();
        for (line, why) in [
            ("at: \"2030-01-01T00:00:00Z\"", "it runs once"),
            ("after: [{job: other}]", "no schedule"),
            (
                "schedule: \"0 2 * * *\"\n  activeWindow: {until: \"2030-01-01T00:00:00Z\"}",
                "activeWindow",
            ),
        ] {
            let j = if line.starts_with("after") {
                // `after` must name a job that exists: give it one.
                let mut j = job("0 2 * * *");
                j.timeline = crate::schedule::Timeline::new(
                    crate::schedule::Rule::Never,
                    crate::schedule::Window::default(),
                    chrono_tz::UTC,
                );
                j
            } else {
                job_with(line)
            };
            let err = render([&j], &options).expect_err(line).to_string();
            assert!(err.contains(why) && err.contains("not supported"), "{err}");
        }
    }
}
