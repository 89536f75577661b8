//! The secrets the agent resolves for a job (`fromEnv` / `fromFile` references of its HTTP upload
//! headers and bearer token, and of its webhook headers), so the redact phase removes them
//! literally from every file of every run: a collector that prints one (`cat` of the token file, a
//! debug dump) must not ship it in the bundle it is uploading.

use crate::jobs::Job;
use crate::jobs::model::{NotifyTarget, UploadTarget};
use crate::secret_ref::SecretRef;
use crate::spec::RedactorRule;

/// Values shorter than this are not redacted: masking every `abc` of a bundle would shred it, and
/// a secret that short protects nothing. The run's log says which reference was skipped.
pub const MIN_LEN: usize = 4;

/// The resolved secrets of one run.
#[derive(Default)]
pub struct RunSecrets {
    /// Distinct values to remove, longest first (a secret that contains another is masked whole).
    pub values: Vec<String>,
    /// Where a value too short to redact came from (e.g. `upload[0].http.headers.X-Key`).
    pub too_short: Vec<String>,
}

impl RunSecrets {
    /// The literal rule for [`crate::redact::compile_chain`], when there is anything to remove.
    pub fn rule(&self) -> Option<RedactorRule> {
        if self.values.is_empty() {
            return None;
        }
        let mut rule = RedactorRule {
            name: crate::redact::AGENT_SECRETS.to_string(),
            ..RedactorRule::default()
        };
        rule.removals.values = self.values.clone();
        Some(rule)
    }
}

/// Every secret reference of `job`, with where it is written.
fn references(job: &Job) -> Vec<(String, &SecretRef)> {
    let spec = &job.document.spec;
    let mut refs = Vec::new();
    for (i, target) in spec.upload.iter().enumerate() {
        if let UploadTarget::Http(http) = target {
            for (name, secret) in &http.headers {
                refs.push((format!("upload[{i}].http.headers.{name}"), secret));
            }
            if let Some(token) = &http.bearer_token {
                refs.push((format!("upload[{i}].http.bearerToken"), token));
            }
        }
    }
    for (i, target) in spec.notify.iter().enumerate() {
        let NotifyTarget::Webhook(hook) = target;
        for (name, secret) in &hook.headers {
            refs.push((format!("notify[{i}].webhook.headers.{name}"), secret));
        }
    }
    refs
}

/// Resolves every secret of `job` now (blocking: `fromFile` reads a file). A reference that does
/// not resolve is left out: nothing can leak what the agent could not read, and the upload or
/// webhook that needs it reports the error itself.
pub fn resolve(job: &Job) -> RunSecrets {
    let mut out = RunSecrets::default();
    for (at, secret) in references(job) {
        let Ok(value) = secret.resolve() else {
            continue;
        };
        for candidate in candidates(&value) {
            if candidate.len() < MIN_LEN {
                if candidate == value.trim() {
                    out.too_short.push(at.clone());
                }
                continue;
            }
            if !out.values.iter().any(|v| v == candidate) {
                out.values.push(candidate.to_string());
            }
        }
    }
    out.values
        .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    out
}

/// The value, and for a header such as `Bearer abc…` / `Basic abc…` also the credential after the
/// scheme word, which is what a token file or a debug print holds on its own.
fn candidates(value: &str) -> Vec<&str> {
    let value = value.trim();
    let mut out = vec![value];
    if let Some((scheme, rest)) = value.split_once(' ')
        && !scheme.is_empty()
        && scheme.bytes().all(|b| b.is_ascii_alphabetic())
    {
        out.push(rest.trim());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_after_a_scheme_is_a_candidate_too() {
        assert_eq!(candidates("Bearer abc.def"), ["Bearer abc.def", "abc.def"]);
        assert_eq!(candidates("tok3n"), ["tok3n"]);
        assert_eq!(candidates("a-b c"), ["a-b c"]);
    }
}
