//! The `Redactor` spec, typed. Unknown fields are ignored, as troubleshoot ignores them, and
//! each one is warned about: a typo there can silently redact nothing.

use super::context::Ctx;
use crate::yaml::{Loc, Node, Value, from_node};
use serde::Deserialize;
use std::path::PathBuf;

/// One redactor from a `Redactor` document's `spec.redactors`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RedactorRule {
    /// Used in redaction report names.
    #[serde(default)]
    pub name: String,
    /// Which bundle files it applies to; absent means every file.
    #[serde(default)]
    pub file_selector: Option<FileSelector>,
    /// What it removes.
    #[serde(default)]
    pub removals: Removals,
    /// The spec file it came from.
    #[serde(skip)]
    pub file: PathBuf,
    /// Where it starts in that file.
    #[serde(skip)]
    pub loc: Loc,
}

/// Bundle-relative globs (`*` does not cross `/`, `**` does).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSelector {
    /// One glob.
    #[serde(default)]
    pub file: Option<String>,
    /// More globs.
    #[serde(default)]
    pub files: Vec<String>,
}

/// The three kinds of removal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removals {
    /// Literal substrings, replaced per line.
    #[serde(default)]
    pub values: Vec<String>,
    /// Single-line (`redactor` only) or two-line (`selector` then `redactor`) regex removals.
    #[serde(default)]
    pub regex: Vec<RegexRemoval>,
    /// Dotted paths into YAML files (`*` = every element, integers = indices).
    #[serde(default)]
    pub yaml_path: Vec<String>,
}

/// One regex removal.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegexRemoval {
    /// When set, a match on line N applies `redactor` to line N+1.
    #[serde(default)]
    pub selector: Option<String>,
    /// The pattern whose matches are masked.
    #[serde(default)]
    pub redactor: Option<String>,
}

/// Reads `spec.redactors`, one item at a time so each bad item is reported.
pub(super) fn parse_redactors(ctx: &mut Ctx, list: &Node, path: &str) -> Vec<RedactorRule> {
    let items = match &list.value {
        Value::Seq(items) => items,
        Value::Null => return Vec::new(),
        _ => {
            let d = ctx
                .error(
                    list.loc,
                    path,
                    format!("`redactors` must be a list, found {}", list.kind_name()),
                )
                .with_hint("write each redactor as `- name: ...` with `removals:` under it");
            ctx.push(d);
            return Vec::new();
        }
    };
    let mut rules = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        super::fields::warn_unknown(
            ctx,
            "redactor",
            super::fields::redactor_fields(),
            item,
            &item_path,
        );
        match from_node::<RedactorRule>(item) {
            Ok(mut rule) => {
                check_regexes(ctx, item, &rule, &item_path);
                rule.file = ctx.file.to_path_buf();
                rule.loc = item.loc;
                rules.push(rule);
            }
            Err(err) => {
                let d = ctx.de_error(&err, item.loc, &item_path);
                ctx.push(d);
            }
        }
    }
    rules
}

/// A regex item with only a selector would match and then mask nothing.
fn check_regexes(ctx: &mut Ctx, item: &Node, rule: &RedactorRule, path: &str) {
    for (i, regex) in rule.removals.regex.iter().enumerate() {
        if regex.redactor.as_deref().is_none_or(str::is_empty) {
            let at = item.locate(&["removals", "regex", &i.to_string()]);
            let d = ctx
                .error(at.loc, &format!("{path}.removals.regex[{i}]"), "a regex removal needs a `redactor` pattern")
                .with_hint("`selector` only chooses the line; `redactor` says what to mask on the next line");
            ctx.push(d);
        }
    }
}
