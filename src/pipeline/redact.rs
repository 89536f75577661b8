//! The redact phase: every staged file goes through the default redactors and the job's own
//! before anything is archived.
//!
//! With `redact.tokenize: true`, masked values become tokens (see [`crate::redact::tokenize`]). The
//! token map (token → original value) is never written inside the bundle: it is encrypted with the
//! key in the `tokenMapKeyFile` setting and written to `<state>/jobs/<job>/tokens/<run-id>.tokenmap.json`
//! (0600). Without `tokenMapKeyFile` no map is written at all, and the run record says so.

use super::RunContext;
use super::error::PhaseError;
use crate::jobs::Job;
use crate::jobs::model::RedactDefaults;
use crate::redact::{DefaultSet, Tokenizer, encrypt_map, tokenize};
use crate::state::records::{PhaseStatus, job_dir};
use std::path::{Path, PathBuf};

/// Files redacted at once.
const PARALLEL: usize = 4;

/// What redaction did.
pub struct Redacted {
    /// Phase outcome.
    pub status: PhaseStatus,
    /// Why it failed or was skipped.
    pub error: Option<String>,
    /// Counts per redactor and file, for the run record.
    pub report: Option<serde_json::Value>,
}

/// `<state>/jobs/<job>/tokens/<run-id>.tokenmap.json`: a run's encrypted token map.
pub fn token_map_path(state_dir: &Path, job: &str, run_id: &str) -> PathBuf {
    job_dir(state_dir, job)
        .join("tokens")
        .join(format!("{run_id}.tokenmap.json"))
}

/// Keys for a tokenizing run, loaded before anything is redacted (a bad key file fails the phase).
struct TokenSetup {
    tokenizer: Tokenizer,
    key_source: &'static str,
    map_key: Option<[u8; 32]>,
}

/// Where a run's token keys and map live (from the agent settings).
#[derive(Clone, Debug)]
pub struct TokenKeys {
    /// The state directory (the map goes under it).
    pub state_dir: PathBuf,
    /// The run whose map this is.
    pub run_id: crate::state::RunId,
    /// `tokenKeyFile`.
    pub token_key_file: Option<PathBuf>,
    /// `tokenMapKeyFile`.
    pub token_map_key_file: Option<PathBuf>,
}

/// Redacts the tree at `root` in place as `job` asks (its default set, its own redactors, its
/// tokenization), whether or not `redact.enabled` is set; blocking. Returns the run record's
/// `redaction` report. Used by the redact phase and by crash recovery for partial bundles.
pub fn redact_dir(
    job: &Job,
    root: &Path,
    keys: &TokenKeys,
) -> Result<serde_json::Value, PhaseError> {
    let setup = if job.document.spec.redact.tokenize {
        Some(token_setup(keys).map_err(PhaseError::Tokenization)?)
    } else {
        None
    };
    let secrets = resolve_secrets(job);
    let compiled = crate::redact::compile_chain(
        secrets.rule().as_ref(),
        &job.collection.redactors,
        Some(default_set(job)),
    )?;
    let tok = setup.as_ref().map(|s| &s.tokenizer);
    let report = crate::redact::redact_tree_with(root, &compiled, PARALLEL, tok)?;
    let mut value = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("agentSecrets".into(), secrets_note(&secrets));
    }
    if let (Some(s), Some(obj)) = (&setup, value.as_object_mut()) {
        let map_path = token_map_path(&keys.state_dir, &job.name, &keys.run_id);
        obj.insert(
            "tokenization".into(),
            tokenization_note(s, &keys.state_dir, &map_path),
        );
    }
    Ok(value)
}

/// With `redact.enabled: false` the job's redactors do not run, but the secrets the agent resolved
/// for it still go (blocking). `None` when the job has no secret to remove.
pub fn redact_secrets_only(
    job: &Job,
    root: &Path,
) -> Result<Option<serde_json::Value>, PhaseError> {
    let secrets = resolve_secrets(job);
    let Some(rule) = secrets.rule() else {
        return Ok(None);
    };
    let compiled = crate::redact::compile_chain(Some(&rule), &[], None)?;
    let report = crate::redact::redact_tree(root, &compiled, PARALLEL)?;
    let mut value = serde_json::to_value(&report).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.insert("agentSecrets".into(), secrets_note(&secrets));
    }
    Ok(Some(value))
}

/// The job's resolved secrets, with a warning for each one too short to redact.
fn resolve_secrets(job: &Job) -> super::secrets::RunSecrets {
    let secrets = super::secrets::resolve(job);
    for at in &secrets.too_short {
        tracing::warn!(
            job = %job.name,
            "{at}: the secret is shorter than {} characters and is not redacted from bundles; \
             use a longer secret",
            super::secrets::MIN_LEN
        );
    }
    secrets
}

/// The record's note on the agent's secrets: how many were removed literally, never the values.
fn secrets_note(secrets: &super::secrets::RunSecrets) -> serde_json::Value {
    let mut note = serde_json::json!({
        "redactor": crate::redact::AGENT_SECRETS,
        "values": secrets.values.len(),
    });
    if !secrets.too_short.is_empty() {
        note["tooShortToRedact"] = secrets.too_short.clone().into();
    }
    note
}

/// Redacts a crashed run's staged tree for its partial bundle: as `job` asks when it is still
/// defined, else with the extended built-in set and the plain mask. The report's `recovery` field
/// says which.
pub fn redact_partial(
    job: Option<&Job>,
    root: &Path,
    keys: &TokenKeys,
) -> Result<serde_json::Value, PhaseError> {
    let (mut report, used) = match job {
        Some(job) if !job.document.spec.redact.enabled => (
            redact_secrets_only(job, root)?.unwrap_or_else(|| serde_json::json!({})),
            "none: the job has redact.enabled: false (the secrets the agent resolved for it were \
             still removed)",
        ),
        Some(job) => (redact_dir(job, root, keys)?, "the job's redaction settings"),
        None => {
            let rules = crate::redact::Compiled::defaults()?;
            let report = crate::redact::redact_tree(root, &rules, PARALLEL)?;
            (
                serde_json::to_value(&report).unwrap_or_default(),
                "built-in redactors (troubleshoot defaults and agent extras) with the plain mask: \
                 the job was not defined in the jobs directory at start-up, so its own redactors \
                 and tokenization could not be applied",
            )
        }
    };
    if let Some(obj) = report.as_object_mut() {
        obj.insert("recovery".into(), used.into());
    }
    Ok(report)
}

fn token_setup(ctx: &TokenKeys) -> Result<TokenSetup, crate::redact::TokenError> {
    let (tokenizer, key_source) = match &ctx.token_key_file {
        Some(path) => (Tokenizer::from_key_file(path)?, "tokenKeyFile"),
        None => (Tokenizer::random()?, "random per run"),
    };
    let map_key = match &ctx.token_map_key_file {
        Some(path) => Some(tokenize::load_key(path)?),
        None => None,
    };
    Ok(TokenSetup {
        tokenizer,
        key_source,
        map_key,
    })
}

/// Writes the encrypted map to a new 0600 file under the state directory (no symlink followed).
fn write_map(state_dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PhaseError> {
    use crate::state::{Create, StateDir};
    use std::io::Write;
    let state = StateDir::open(state_dir)?;
    if let Some(dir) = path.parent() {
        state.create_dir_all(dir)?;
    }
    let mut f = state.create(path, Create::New)?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(PhaseError::io_at(path.display().to_string()))
}

/// Redacts the staged tree at `root` in place, unless the job turned redaction off.
pub async fn redact(job: &Job, root: &Path, ctx: &RunContext) -> Redacted {
    if !job.document.spec.redact.enabled {
        let (job, root) = (job.clone(), root.to_path_buf());
        let only = tokio::task::spawn_blocking(move || redact_secrets_only(&job, &root)).await;
        return match only {
            Ok(Ok(report)) => Redacted {
                status: PhaseStatus::Skipped,
                error: Some(
                    "redaction is disabled for this job (redact.enabled: false); only the \
                     secrets the agent resolved for it were removed"
                        .into(),
                ),
                report,
            },
            Ok(Err(e)) => Redacted {
                status: PhaseStatus::Failed,
                error: Some(format!("removing the agent's secrets: {e}")),
                report: None,
            },
            Err(e) => Redacted {
                status: PhaseStatus::Failed,
                error: Some(format!("redaction task failed: {e}")),
                report: None,
            },
        };
    }
    let job = job.clone();
    let root = root.to_path_buf();
    let keys = TokenKeys {
        state_dir: ctx.env.state_dir.clone(),
        run_id: ctx.run_id.clone(),
        token_key_file: ctx.env.token_key_file.clone(),
        token_map_key_file: ctx.env.token_map_key_file.clone(),
    };
    let result = tokio::task::spawn_blocking(move || redact_dir(&job, &root, &keys)).await;
    match result {
        Ok(Ok(report)) => Redacted {
            status: PhaseStatus::Succeeded,
            error: None,
            report: Some(report),
        },
        Ok(Err(e)) => Redacted {
            status: PhaseStatus::Failed,
            error: Some(e.to_string()),
            report: None,
        },
        Err(e) => Redacted {
            status: PhaseStatus::Failed,
            error: Some(format!("redaction task failed: {e}")),
            report: None,
        },
    }
}

/// Writes the encrypted map when a map key is set, and says in the record what happened.
fn tokenization_note(s: &TokenSetup, state_dir: &Path, map_path: &Path) -> serde_json::Value {
    let map = s.tokenizer.map();
    let mut note = serde_json::json!({
        "tokens": map.len(),
        "key": s.key_source,
    });
    let (written, why) = match &s.map_key {
        None => (
            None,
            Some("no tokenMapKeyFile setting: the token map was not written".to_string()),
        ),
        Some(key) => match encrypt_map(&map, key)
            .map_err(PhaseError::from)
            .and_then(|bytes| write_map(state_dir, map_path, &bytes))
        {
            Ok(()) => (Some(map_path.display().to_string()), None),
            Err(e) => (
                None,
                Some(format!("the token map could not be written: {e}")),
            ),
        },
    };
    if let Some(path) = written {
        note["map"] = path.into();
    }
    if let Some(why) = why {
        note["mapNotWritten"] = why.into();
    }
    note
}

/// The built-in set the job asks for (`redact.defaults`).
pub fn default_set(job: &Job) -> DefaultSet {
    match job.document.spec.redact.defaults {
        RedactDefaults::Extended => DefaultSet::Extended,
        RedactDefaults::Upstream => DefaultSet::Upstream,
    }
}

/// The redactors a job applies, for `validate` and `plan` to show.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactionPlan {
    /// `redact.enabled`.
    pub enabled: bool,
    /// `redact.tokenize`.
    pub tokenize: bool,
    /// How many of troubleshoot's default redactors run.
    pub troubleshoot_defaults: usize,
    /// How many agent extras run on top (0 with `redact.defaults: upstream`).
    pub agent_extras: usize,
    /// Names of the job's own redactors, in order.
    pub custom: Vec<String>,
}

impl RedactionPlan {
    /// One line for people: `troubleshoot defaults (30) + agent extras (26) + mine (tokenized)`.
    pub fn summary(&self) -> String {
        if !self.enabled {
            return "off (redact.enabled: false)".to_string();
        }
        let mut s = format!("troubleshoot defaults ({})", self.troubleshoot_defaults);
        if self.agent_extras > 0 {
            s.push_str(&format!(" + agent extras ({})", self.agent_extras));
        }
        for c in &self.custom {
            s.push_str(" + ");
            s.push_str(if c.is_empty() { "(unnamed)" } else { c });
        }
        if self.tokenize {
            s.push_str(" (tokenized)");
        }
        s
    }
}

/// What redaction `job` will do.
pub fn plan(job: &Job) -> RedactionPlan {
    let enabled = job.document.spec.redact.enabled;
    let set = default_set(job);
    let extras = match set {
        DefaultSet::Extended => crate::redact::rules::extra_count(),
        DefaultSet::Upstream => 0,
    };
    RedactionPlan {
        enabled,
        tokenize: enabled && job.document.spec.redact.tokenize,
        // `default_count` counts the extras of the extended set too; the text and the JSON
        // both show the two parts apart, so they cannot be read differently.
        troubleshoot_defaults: if enabled {
            crate::redact::rules::default_count(set).saturating_sub(extras)
        } else {
            0
        },
        agent_extras: if enabled { extras } else { 0 },
        custom: if enabled {
            job.collection
                .redactors
                .iter()
                .map(|r| r.name.clone())
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// Warnings for a tokenizing job whose agent settings lack a key: without `tokenMapKeyFile` the
/// token map is not written; without `tokenKeyFile` tokens differ from run to run.
pub fn tokenization_warnings(
    job: &Job,
    token_key_file: Option<&Path>,
    token_map_key_file: Option<&Path>,
) -> Vec<crate::diagnostic::Diagnostic> {
    use crate::diagnostic::Diagnostic;
    use crate::yaml::Loc;
    let redact = &job.document.spec.redact;
    if !(redact.enabled && redact.tokenize) {
        return Vec::new();
    }
    let loc = Loc::new(job.source.line, 1);
    let mut out = Vec::new();
    if token_map_key_file.is_none() {
        out.push(
            Diagnostic::warning(
                &job.source.file,
                loc,
                format!(
                    "job {}: redact.tokenize is on but the agent settings have no tokenMapKeyFile: \
                     the token map (token → value) will not be written, so no token can be traced back",
                    job.name
                ),
            )
            .with_hint(
                "set tokenMapKeyFile in the agent settings (a 32-byte key: `openssl rand -hex 32`), \
                 kept off the hosts that ship bundles",
            ),
        );
    }
    if token_key_file.is_none() {
        out.push(
            Diagnostic::warning(
                &job.source.file,
                loc,
                format!(
                    "job {}: redact.tokenize is on but the agent settings have no tokenKeyFile: \
                     each run uses a random key, so the same secret gets a different token in every bundle",
                    job.name
                ),
            )
            .with_hint("set tokenKeyFile in the agent settings for tokens that are stable across runs"),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_set_is_counted() {
        use crate::redact::DefaultSet;
        let up = crate::redact::rules::default_count(DefaultSet::Upstream);
        assert_eq!(up, 30);
        assert_eq!(
            crate::redact::rules::default_count(DefaultSet::Extended),
            up + crate::redact::rules::extra_count()
        );
    }
}
