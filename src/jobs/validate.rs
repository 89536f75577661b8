//! Checks of a typed job document that need more than one field, the settings or other files.
//! Every check runs and reports; nothing stops at the first problem.

use super::model::{JobDocument, NotifyTarget, UploadTarget};
use super::{Job, Source, SpecRole, SpecSource};
use crate::diagnostic::{Diagnostic, SourceText};
use crate::digest::hex;
use crate::schedule::{Schedule, ScheduleError};
use crate::secret_ref::{SECRET_FILE_BYTES, SecretRef};
use crate::spec::{self, SpecCache, TroubleshootSpec};
use crate::yaml::{Loc, Node};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[path = "validate_collect.rs"]
mod collect_check;
#[path = "values.rs"]
mod values;
#[path = "validate_when.rs"]
mod when;

/// What one load of job files has already worked out, shared by all its jobs: spec files
/// (see [`SpecCache`]) and schedules, which are pure functions of `(expression, zone)`.
/// Lives for one load, so nothing in it can go stale.
#[derive(Debug, Default)]
pub(crate) struct LoadCache {
    pub specs: SpecCache,
    /// Directories above job files already judged (see [`crate::trust::Walk`]).
    pub walk: crate::trust::Walk,
    /// By zone, then expression (nested so a lookup borrows and allocates nothing).
    schedules: HashMap<String, HashMap<String, Result<Schedule, ScheduleError>>>,
}

impl LoadCache {
    /// `Schedule::parse(expr, zone)`, parsed once per distinct pair.
    fn schedule(&mut self, expr: &str, zone: &str) -> Result<Schedule, ScheduleError> {
        if let Some(known) = self
            .schedules
            .get(zone)
            .and_then(|by_expr| by_expr.get(expr))
        {
            return known.clone();
        }
        let parsed = Schedule::parse(expr, zone);
        self.schedules
            .entry(zone.to_string())
            .or_default()
            .insert(expr.to_string(), parsed.clone());
        parsed
    }
}

/// What validation needs besides the file: the agent settings that fill in defaults.
#[derive(Clone, Debug)]
pub struct Context {
    /// Time zone for jobs that do not name one.
    pub default_time_zone: String,
    /// Whose files are trusted, and whether `--insecure-allow-writable` lets others pass.
    pub trust: crate::trust::Policy,
    /// Whether runs here get a cgroup with the cpu controller (else `cpuWeight` is warned about).
    pub cpu_weight_enforceable: bool,
    /// Which jobs this agent runs (its mode); the others are left out with a warning.
    pub selection: super::Selection,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            default_time_zone: "UTC".to_string(),
            trust: crate::trust::Policy::default(),
            cpu_weight_enforceable: false,
            selection: super::Selection::All,
        }
    }
}

/// Reports problems with one job through `out`, and returns the job if it has no errors.
struct Checker<'a> {
    file: &'a Path,
    policy: crate::trust::Policy,
    cache: &'a mut LoadCache,
    text: &'a SourceText<'a>,
    node: &'a Node,
    out: &'a mut Vec<Diagnostic>,
    /// What the job's v1beta3 spec files are rendered with (`collect.values`, `collect.set`).
    values: spec::Values,
}

impl Checker<'_> {
    fn loc(&self, path: &[&str]) -> Loc {
        self.node.locate(path).loc
    }

    fn error(&mut self, path: &[&str], message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::error(self.file, self.loc(path), message)
            .with_path(field_path(path))
            .with_source(self.text);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.out.push(d);
    }

    fn warning(&mut self, path: &[&str], message: impl Into<String>, hint: Option<String>) {
        let mut d = Diagnostic::warning(self.file, self.loc(path), message)
            .with_path(field_path(path))
            .with_source(self.text);
        if let Some(h) = hint {
            d = d.with_hint(h);
        }
        self.out.push(d);
    }
}

/// `spec.collect.specs[0]`: the same path syntax as the deserializer's errors (list indices in
/// brackets), so every message of a file names fields one way.
fn field_path(path: &[&str]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            out.push('[');
            out.push_str(part);
            out.push(']');
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(part);
        }
    }
    out
}

/// Validates `doc` (parsed from `node` of `source.file`); returns the job when it has no errors.
pub fn check(
    doc: JobDocument,
    node: &Node,
    source: &Source,
    text: &SourceText<'_>,
    ctx: &Context,
    cache: &mut LoadCache,
    out: &mut Vec<Diagnostic>,
) -> Option<Job> {
    let errors_before = out.iter().filter(|d| d.is_error()).count();
    let mut c = Checker {
        file: &source.file,
        policy: ctx.trust,
        cache,
        text,
        node,
        out,
        values: spec::Values::default(),
    };
    check_name(&mut c, &doc.metadata.name);
    let timeline = when::check_timeline(&mut c, &doc, ctx);
    check_durations(&mut c, &doc, timeline.as_ref().and_then(|t| t.schedule()));
    let base = source.file.parent().unwrap_or(Path::new("."));
    let (collection, spec_files) = collect_check::check_collect(&mut c, &doc, base);
    check_namespaces(&mut c, &doc);
    check_delivery(&mut c, &doc);
    check_resources(&mut c, &doc, ctx.cpu_weight_enforceable);
    check_triggers(&mut c, &doc);
    let has_errors = c.out.iter().filter(|d| d.is_error()).count() > errors_before;
    let timeline = timeline?;
    if has_errors {
        return None;
    }
    let time_zone = doc
        .spec
        .time_zone
        .clone()
        .unwrap_or_else(|| ctx.default_time_zone.clone());
    let after_locs = (0..doc.spec.after.len())
        .map(|k| c.loc(&["spec", "after", &k.to_string()]))
        .collect();
    let mut job = Job::new(
        doc,
        time_zone,
        timeline,
        source.clone(),
        spec_files,
        collection,
    );
    job.after_locs = after_locs;
    Some(job)
}

/// `spec.resources`: values in range (errors), and a warning for what this host cannot enforce.
fn check_resources(c: &mut Checker<'_>, doc: &JobDocument, cpu_weight_enforceable: bool) {
    let Some(res) = &doc.spec.resources else {
        return;
    };
    for (field, message) in res.problems() {
        c.error(&["spec", "resources", field], message, None);
    }
    if res.cpu_weight.is_some() && !cpu_weight_enforceable {
        c.warning(
            &["spec", "resources", "cpuWeight"],
            "cpuWeight is not enforced on this host: a CPU weight needs a run cgroup with the cpu \
             controller (cgroup v2, delegated under systemd), and this agent has none; the run \
             record says so",
            Some("use `nice` (e.g. `nice: 10`) to lower the collectors' CPU priority".into()),
        );
    }
}

/// DNS-1123 label rules, with a message that says which rule a name breaks.
pub fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("name is empty".into());
    }
    if name.len() > 63 {
        return Some(format!(
            "name is {} characters long; at most 63 are allowed",
            name.chars().count()
        ));
    }
    if name.contains('/') || name.contains("..") || name.contains('\\') {
        return Some(format!(
            "name `{name}` contains a path separator or `..`; names become directory names under the state directory"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "name `{name}` contains `{}`; only lowercase letters, digits and `-` are allowed",
            bad.escape_default()
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some(format!(
            "name `{name}` must start and end with a letter or digit"
        ));
    }
    None
}

fn check_name(c: &mut Checker<'_>, name: &str) {
    if let Some(problem) = name_problem(name) {
        c.error(
            &["metadata", "name"],
            format!("invalid job name: {problem}"),
            Some("use a DNS-1123 label such as `prod-daily`".into()),
        );
    }
}

fn check_schedule(
    c: &mut Checker<'_>,
    doc: &JobDocument,
    expr: &str,
    ctx: &Context,
) -> Option<Schedule> {
    let zone = doc
        .spec
        .time_zone
        .as_deref()
        .unwrap_or(&ctx.default_time_zone);
    match c.cache.schedule(expr, zone) {
        Ok(schedule) => {
            for warning in schedule.warnings() {
                c.warning(&["spec", "schedule"], warning, None);
            }
            Some(schedule)
        }
        Err(e) => {
            let path: &[&str] = if matches!(
                e,
                ScheduleError::EmptyZone
                    | ScheduleError::LocalZone { .. }
                    | ScheduleError::UnknownZone { .. }
            ) {
                if doc.spec.time_zone.is_some() {
                    &["spec", "timeZone"]
                } else {
                    &["spec", "schedule"]
                }
            } else {
                &["spec", "schedule"]
            };
            c.error(path, e.to_string(), None);
            // The expression is read before the zone, so a bad expression hides a bad zone:
            // check the zone alone too, so both are reported in one run.
            if path == ["spec", "schedule"]
                && doc.spec.time_zone.is_some()
                && let Err(zone_error) = c.cache.schedule("* * * * *", zone)
            {
                c.error(&["spec", "timeZone"], zone_error.to_string(), None);
            }
            None
        }
    }
}

fn check_durations(c: &mut Checker<'_>, doc: &JobDocument, schedule: Option<&Schedule>) {
    let spec = &doc.spec;
    if spec.timeout.0.is_zero() {
        c.error(
            &["spec", "timeout"],
            "timeout must be longer than 0s",
            Some("e.g. `timeout: 30m`".into()),
        );
    }
    if spec.retry.limit > 0 && spec.retry.backoff.0.is_zero() {
        c.error(
            &["spec", "retry", "backoff"],
            "retry backoff must be longer than 0s when retries are enabled",
            None,
        );
    }
    if spec.retry.limit > 100 {
        c.error(
            &["spec", "retry", "limit"],
            format!("retry limit {} is more than 100", spec.retry.limit),
            None,
        );
    }
    if let Some(schedule) = schedule {
        let interval = schedule.min_interval().to_std().unwrap_or_default();
        if !spec.jitter.0.is_zero() && spec.jitter.0 > interval / 2 {
            c.warning(
                &["spec", "jitter"],
                format!(
                    "jitter {} is more than half the shortest interval of the schedule ({}); it is clamped to {} so runs never reorder",
                    spec.jitter,
                    crate::units::HumanDuration(interval),
                    crate::units::HumanDuration(interval / 2)
                ),
                None,
            );
        }
        if spec.timeout.0 > interval
            && spec.concurrency_policy == super::model::ConcurrencyPolicy::Allow
        {
            c.warning(
                &["spec", "timeout"],
                format!("timeout {} is longer than the shortest interval of the schedule; with `concurrencyPolicy: Allow` runs can pile up", spec.timeout),
                None,
            );
        }
    }
    if spec.retention.keep_last == Some(0) {
        c.error(
            &["spec", "retention", "keepLast"],
            "keepLast must be at least 1 (the bundle just made is always kept)",
            None,
        );
    }
    for (period, n) in crate::state::retention::Period::ALL
        .iter()
        .zip(spec.retention.keep_periods())
    {
        if n == Some(0) {
            c.error(
                &["spec", "retention", period.field()],
                format!(
                    "{} must be at least 1; leave it out to keep no bundle by that period",
                    period.field()
                ),
                None,
            );
        }
    }
    if spec.history.keep_last == Some(0) {
        c.error(
            &["spec", "history", "keepLast"],
            "keepLast must be at least 1 (the record of the run just made is always kept)",
            None,
        );
    }
}

fn check_namespaces(c: &mut Checker<'_>, doc: &JobDocument) {
    for (i, ns) in doc.spec.collect.namespaces.iter().enumerate() {
        if let Some(problem) = name_problem(ns) {
            let index = i.to_string();
            c.error(
                &["spec", "collect", "namespaces", &index],
                format!("invalid namespace: {problem}"),
                None,
            );
        }
    }
}

/// `spec.triggers`: every Alertmanager matcher parses, and there is at least one.
fn check_triggers(c: &mut Checker<'_>, doc: &JobDocument) {
    for (i, trigger) in doc.spec.triggers.iter().enumerate() {
        let index = i.to_string();
        let am = &trigger.alertmanager;
        if am.matchers.is_empty() {
            c.error(
                &["spec", "triggers", &index, "alertmanager", "matchers"],
                "an alertmanager trigger needs at least one matcher",
                Some("e.g. `matchers: ['alertname=~\"KubePod.*\"', 'namespace=\"prod\"']`".into()),
            );
        }
        for (j, text) in am.matchers.iter().enumerate() {
            if let Err(e) = super::triggers::Matcher::parse(text) {
                let at = j.to_string();
                c.error(
                    &["spec", "triggers", &index, "alertmanager", "matchers", &at],
                    e.to_string(),
                    Some("write `label=\"value\"`, `label!=\"value\"`, `label=~\"regex\"` or `label!~\"regex\"`".into()),
                );
            }
        }
    }
}

fn check_delivery(c: &mut Checker<'_>, doc: &JobDocument) {
    for (i, target) in doc.spec.upload.iter().enumerate() {
        let index = i.to_string();
        let (kind, key) = match target {
            UploadTarget::S3(s3) => {
                check_bucket(c, &["spec", "upload", &index, "s3", "bucket"], &s3.bucket);
                if let Some(endpoint) = &s3.endpoint {
                    check_url(c, &["spec", "upload", &index, "s3", "endpoint"], endpoint);
                }
                if let Some(sse) = &s3.server_side_encryption
                    && sse != "AES256"
                    && sse != "aws:kms"
                {
                    c.error(
                        &["spec", "upload", &index, "s3", "serverSideEncryption"],
                        format!("unknown server-side encryption `{sse}`"),
                        Some("use `AES256` or `aws:kms`".into()),
                    );
                }
                ("s3", s3.key.as_deref())
            }
            UploadTarget::Gcs(gcs) => {
                check_bucket(c, &["spec", "upload", &index, "gcs", "bucket"], &gcs.bucket);
                if let Some(endpoint) = &gcs.endpoint {
                    check_url(c, &["spec", "upload", &index, "gcs", "endpoint"], endpoint);
                }
                ("gcs", gcs.key.as_deref())
            }
            UploadTarget::Http(http) => {
                check_url(c, &["spec", "upload", &index, "http", "url"], &http.url);
                if let Err(e) = crate::upload::key::parse_parts(&http.url) {
                    c.error(
                        &["spec", "upload", &index, "http", "url"],
                        e.to_string(),
                        None,
                    );
                }
                for (name, secret) in &http.headers {
                    check_secret(
                        c,
                        &["spec", "upload", &index, "http", "headers", name],
                        secret,
                    );
                }
                if let Some(token) = &http.bearer_token {
                    check_secret(c, &["spec", "upload", &index, "http", "bearerToken"], token);
                }
                ("http", None)
            }
        };
        if let Some(template) = key {
            check_key_template(c, &["spec", "upload", &index, kind, "key"], template);
        }
    }
    for (i, target) in doc.spec.notify.iter().enumerate() {
        let index = i.to_string();
        let NotifyTarget::Webhook(hook) = target;
        check_url(c, &["spec", "notify", &index, "webhook", "url"], &hook.url);
        if hook.on.is_empty() {
            c.error(
                &["spec", "notify", &index, "webhook", "on"],
                "no events listed; the webhook would never be called",
                Some("e.g. `on: [failed, timedOut]`".into()),
            );
        }
        for (name, secret) in &hook.headers {
            check_secret(
                c,
                &["spec", "notify", &index, "webhook", "headers", name],
                secret,
            );
        }
        if hook.attempts == 0 {
            c.error(
                &["spec", "notify", &index, "webhook", "attempts"],
                "attempts counts the first request too, so it must be at least 1",
                None,
            );
        }
        if hook.timeout.0.is_zero() {
            c.error(
                &["spec", "notify", &index, "webhook", "timeout"],
                "a zero timeout would fail every request",
                Some("e.g. `timeout: 10s` (the default)".into()),
            );
        }
    }
}

fn check_bucket(c: &mut Checker<'_>, at: &[&str], bucket: &str) {
    let valid_chars = bucket.chars().all(|ch| {
        ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.' || ch == '_'
    });
    let ends_ok = bucket
        .chars()
        .next()
        .is_some_and(|ch| ch.is_ascii_alphanumeric())
        && bucket
            .chars()
            .last()
            .is_some_and(|ch| ch.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !valid_chars || !ends_ok || bucket.contains("..") {
        c.error(at, format!("invalid bucket name `{bucket}`"), Some("bucket names are 3-63 lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit".into()));
    }
}

fn check_url(c: &mut Checker<'_>, at: &[&str], url: &str) {
    match url.split_once("://") {
        Some(("http" | "https", rest)) if !rest.is_empty() && !rest.starts_with('/') => {
            if rest
                .split(['/', '?', '#'])
                .next()
                .is_some_and(|authority| authority.contains('@'))
            {
                c.error(
                    at,
                    "credentials in URLs are refused (they would be logged and stored)",
                    Some("use `headers` or `bearerToken` with `fromEnv`/`fromFile`".into()),
                );
            }
        }
        _ => c.error(
            at,
            format!("invalid URL `{url}`"),
            Some("use an absolute http:// or https:// URL".into()),
        ),
    }
}

fn check_key_template(c: &mut Checker<'_>, at: &[&str], template: &str) {
    use crate::upload::key::{self, TemplateError};
    let Err(e) = key::parse(template) else {
        return;
    };
    let hint = match &e {
        TemplateError::Unknown { suggestion, .. } => suggestion
            .as_ref()
            .map(|s| format!("did you mean `{{{s}}}`?")),
        TemplateError::Unclosed(_) => None,
        TemplateError::Unsafe(_) => Some(format!(
            "use a relative key such as `{}`",
            key::DEFAULT_TEMPLATE
        )),
        TemplateError::SameEveryRun(_) => Some("include `{runId}` or `{timestamp}`".into()),
    };
    c.error(at, e.to_string(), hint);
}

fn check_secret(c: &mut Checker<'_>, at: &[&str], secret: &SecretRef) {
    match secret {
        SecretRef::FromEnv(var) => {
            if var.is_empty()
                || !var
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                c.error(
                    at,
                    format!("`{var}` is not an environment variable name"),
                    None,
                );
            } else if std::env::var_os(var).is_none() {
                c.warning(at, format!("environment variable `{var}` is not set here"), Some("set it in the agent's environment (e.g. an EnvironmentFile= in the systemd unit)".into()));
            }
        }
        SecretRef::FromFile(path) => {
            if !Path::new(path).is_absolute() {
                c.error(
                    at,
                    format!("secret file `{path}` must be an absolute path"),
                    None,
                );
            } else if !Path::new(path).is_file() {
                c.warning(
                    at,
                    format!("secret file `{path}` does not exist here"),
                    None,
                );
            } else {
                check_secret_file(c, at, Path::new(path));
            }
        }
    }
}

/// A secret file must be one only root (or the agent's user) can write or read.
fn check_secret_file(c: &mut Checker<'_>, at: &[&str], path: &Path) {
    let policy = c.policy;
    let mut walk = crate::trust::Walk::default();
    let problems = match crate::trust::read_secret(path, SECRET_FILE_BYTES, &policy, &mut walk) {
        Ok(read) => read.allowed,
        Err(crate::trust::ReadError::Refused(problems)) => problems,
        // Read again at each use, which reports it.
        Err(crate::trust::ReadError::Io(_)) => Vec::new(),
    };
    for p in problems {
        let d = p.to_diagnostic(path, &policy);
        let message = format!("secret file: {}", d.message);
        if d.is_error() {
            c.error(at, message, d.hint);
        } else {
            c.warning(at, message, d.hint);
        }
    }
}
