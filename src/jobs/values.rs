//! `collect.values` and `collect.set`: the values a job's v1beta3 templated spec files are
//! rendered with (see [`crate::spec::Values`]). Values files are read with the trust checks of
//! spec files and feed the job's definition the same way (their hash), so editing one is a
//! change of the job and the watcher reloads on it. Values may be secrets: they are never put
//! in a message.

use super::{Checker, SpecRole, SpecSource};
use crate::diagnostic::Diagnostic;
use crate::digest::hex;
use crate::gotmpl::Value;
use crate::jobs::model::JobDocument;
use crate::spec::{self, ValuesError};
use std::path::Path;

/// Reads the job's values files and applies its `set` entries, reporting every problem.
pub(super) fn check_values(
    c: &mut Checker<'_>,
    doc: &JobDocument,
    base: &Path,
    sources: &mut Vec<SpecSource>,
) -> spec::Values {
    let collect = &doc.spec.collect;
    let mut values = spec::Values::default();
    for (i, reference) in collect.values.iter().enumerate() {
        let index = i.to_string();
        let at = ["spec", "collect", "values", &index];
        if reference.trim().is_empty() {
            c.error(&at, "empty values file path", None);
            continue;
        }
        let path = base.join(reference);
        let what = format!("values file `{reference}` ({})", path.display());
        let file = match spec::read_values_file(&path, &c.policy, &mut c.cache.walk) {
            Ok(file) => file,
            Err(ValuesError::Load(e)) => {
                for d in e.to_diagnostics(&path, &c.policy) {
                    c.error(&at, format!("{what}: {}", d.message), d.hint);
                }
                continue;
            }
            Err(ValuesError::Invalid { loc, message }) => {
                c.out.push(
                    Diagnostic::error(&path, loc, message)
                        .with_hint("a values file is a YAML mapping, e.g. `db: {host: postgres}`"),
                );
                c.error(
                    &at,
                    format!(
                        "{what} is not a mapping of values; this job cannot run until it is fixed"
                    ),
                    None,
                );
                continue;
            }
        };
        let mut refused = false;
        for problem in &file.allowed {
            let d = problem.to_diagnostic(&path, &c.policy);
            if d.is_error() {
                refused = true;
                c.error(&at, format!("{what}: {}", d.message), d.hint);
            } else {
                c.out.push(d);
            }
        }
        if refused {
            continue;
        }
        values.merge_file(file.map);
        sources.push(SpecSource {
            path,
            sha256: hex(&file.sha256),
            role: SpecRole::Values,
            rendered_sha256: None,
            rendered: None,
        });
    }
    for (key, value) in collect.set.iter() {
        let at = ["spec", "collect", "set", key.as_str()];
        let Some(value) = scalar(value) else {
            c.error(
                &at,
                format!("`set` value of `{key}` is a list or a mapping; `set` takes YAML scalars"),
                Some("put lists and maps in a `collect.values` file".into()),
            );
            continue;
        };
        if let Err(e) = values.set(key, value) {
            c.error(
                &at,
                format!("`set` key `{key}`: {e}"),
                Some("write a dotted key such as `db.host` or `hosts[0]`".into()),
            );
        }
    }
    values
}

/// A `set` value as Helm's `--set` gives it to the template (integers stay integers).
fn scalar(value: &serde_json::Value) -> Option<Value> {
    use serde_json::Value as J;
    Some(match value {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Float(n.as_f64().unwrap_or(0.0)), Value::Int),
        J::String(s) => Value::Str(s.clone()),
        J::Array(_) | J::Object(_) => return None,
    })
}

/// The warning for a spec that values cannot reach (as troubleshoot's lint warns).
pub(super) fn not_v1beta3(c: &mut Checker<'_>, at: &[&str], reference: &str) {
    c.warning(
        at,
        format!("`{reference}` is not a v1beta3 spec: the job's values are not applied to it"),
        Some("values are only used with `apiVersion: troubleshoot.sh/v1beta3` specs".into()),
    );
}
