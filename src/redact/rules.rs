//! Compiles the defaults and user `Redactor` rules into matchers, and checks rules for `validate`.
//!
//! The per-file chain is troubleshoot's: defaults (single-line, then multi-line), the scoped kurl
//! yamlPath defaults, then every user rule whose `fileSelector` matches, in spec order, each as
//! `values`, then `regex`, then `yamlPath`.

use super::RedactError;
use super::defaults::{
    self, EXTRA_BLOCK, EXTRA_MULTI, EXTRA_SINGLE, KURL_GLOBS, KURL_YAML, MULTI_LINE, SINGLE_LINE,
};
use super::glob::Glob;
use super::goregex::{Replacer, SIZE_LIMIT, build, port_go_regex, strip_group_names};
use crate::spec::RedactorRule;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Which built-in redactors run before the job's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultSet {
    /// troubleshoot's defaults only: byte-exact upstream behaviour.
    Upstream,
    /// troubleshoot's defaults, then the agent extras ([`defaults::EXTRA_SINGLE`] and friends).
    #[default]
    Extended,
}

/// What one line redactor does.
#[derive(Clone, Debug)]
pub(crate) enum LineKind {
    /// Applied to every line.
    Single(Replacer),
    /// A selector match on line N applies the replacer to line N+1.
    Multi {
        /// Selector for line N.
        selector: Regex,
        /// Pre-filter slot of the selector in the filter set (defaults only).
        selector_scan: Option<usize>,
        /// Applied to line N+1.
        redactor: Replacer,
    },
    /// Every line after a `begin` line, up to an `end` line, is masked whole (its indentation kept).
    Block {
        /// Opens the block (the line itself is kept).
        begin: Regex,
        /// Pre-filter slot of `begin` in the filter set.
        begin_scan: Option<usize>,
        /// Closes the block (the line itself is kept).
        end: Regex,
    },
}

/// One line-based redactor in the chain.
#[derive(Clone, Debug)]
pub(crate) struct LineRedactor {
    /// Redaction name used in counts.
    pub(crate) name: String,
    /// Pre-filter slot in the filter set; the main regex runs only when it matched (defaults only).
    pub(crate) scan: Option<usize>,
    /// The matching logic.
    pub(crate) kind: LineKind,
}

/// One yamlPath redactor in the chain.
#[derive(Clone, Debug)]
pub(crate) struct YamlRedactor {
    /// Redaction name used in counts.
    pub(crate) name: String,
    /// Path segments.
    pub(crate) path: Vec<String>,
}

/// One step of the chain.
#[derive(Clone, Debug)]
pub(crate) enum Op {
    /// Line-based.
    Line(LineRedactor),
    /// Whole-document.
    Yaml(YamlRedactor),
}

/// A group of ops sharing one file scope.
#[derive(Clone, Debug)]
struct Scoped {
    /// `None` = every file.
    globs: Option<Vec<Glob>>,
    ops: Vec<Op>,
}

/// The defaults plus the user rules, compiled once per run and shared by every file.
#[derive(Clone, Debug)]
pub struct Compiled {
    scopes: Vec<Scoped>,
    /// Default scans (case-insensitive) followed by every user pattern; a line matching none of them,
    /// with no multi-line redactor waiting for it, cannot change and is skipped.
    pub(crate) filter: RegexSet,
    /// Set when a user pattern could not join the filter (it needs Unicode mode): never skip lines.
    pub(crate) unfilterable: bool,
    /// The filter's patterns as one multi-line alternation, run over many lines at once to find the
    /// next line worth looking at; `None` when the patterns cannot be searched that way.
    pub(crate) any: Option<Regex>,
    /// Which built-in set this chain starts with.
    pub set: DefaultSet,
}

/// Troubleshoot's redaction name: `<name>.<type>.<j>` or `unnamed-<i>.<type>.<j>`.
fn redactor_name(rule_index: usize, j: usize, name: &str, kind: &str) -> String {
    if name.is_empty() {
        format!("unnamed-{rule_index}.{kind}.{j}")
    } else {
        format!("{name}.{kind}.{j}")
    }
}

/// Splits a dotted yamlPath into segments.
pub(crate) fn split_yaml_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

/// Accumulates filter patterns while compiling.
struct FilterBuilder {
    /// Patterns matched case-insensitively (default scans).
    patterns: Vec<String>,
    unfilterable: bool,
}

impl FilterBuilder {
    /// Adds a pattern and returns its slot.
    fn push(&mut self, pattern: String) -> usize {
        self.patterns.push(pattern);
        self.patterns.len() - 1
    }
}

/// Compiles the extended defaults and `rules` (in spec order) into one chain.
pub fn compile(rules: &[RedactorRule]) -> Result<Compiled, RedactError> {
    compile_with(rules, DefaultSet::Extended)
}

/// Compiles the `set` of built-in redactors and `rules` (in spec order) into one chain.
pub fn compile_with(rules: &[RedactorRule], set: DefaultSet) -> Result<Compiled, RedactError> {
    compile_chain(None, rules, Some(set))
}

/// The name of the rule holding the secrets the agent resolved for a run (see [`compile_chain`]).
pub const AGENT_SECRETS: &str = "agent-secrets";

/// Whether a redactor name belongs to the [`AGENT_SECRETS`] rule (`agent-secrets.literal.N`).
pub(crate) fn is_agent_secret(name: &str) -> bool {
    name.strip_prefix(AGENT_SECRETS)
        .is_some_and(|rest| rest.starts_with(".literal."))
}

/// Compiles `secrets` (a rule of literal `values`) first, so no default can mask part of a secret
/// and leave the rest, then the `set` of built-in redactors (none for `None`: the job turned
/// redaction off, but the agent's own secrets still go), then `rules`.
pub fn compile_chain(
    secrets: Option<&RedactorRule>,
    rules: &[RedactorRule],
    set: Option<DefaultSet>,
) -> Result<Compiled, RedactError> {
    let mut filter = FilterBuilder {
        patterns: Vec::new(),
        unfilterable: false,
    };
    let mut scopes = Vec::new();
    if let Some(secrets) = secrets {
        scopes.push(compile_rule(0, secrets, &mut filter)?);
    }
    if let Some(set) = set {
        push_defaults(&mut scopes, &mut filter, set)?;
    }
    for (i, rule) in rules.iter().enumerate() {
        scopes.push(compile_rule(i, rule, &mut filter)?);
    }
    let regex_set = RegexSetBuilder::new(&filter.patterns)
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .build()
        .map_err(|source| RedactError::Regex {
            redactor: "pre-filter".into(),
            pattern: String::new(),
            source: Box::new(source),
        })?;
    let any = chunk_filter(&filter.patterns);
    Ok(Compiled {
        scopes,
        filter: regex_set,
        unfilterable: filter.unfilterable,
        any,
        set: set.unwrap_or_default(),
    })
}

/// The built-in line redactors, then the kURL YAML paths.
fn push_defaults(
    scopes: &mut Vec<Scoped>,
    filter: &mut FilterBuilder,
    set: DefaultSet,
) -> Result<(), RedactError> {
    scopes.push(Scoped {
        globs: None,
        ops: default_line_ops(filter, set)?,
    });
    let kurl_globs = KURL_GLOBS
        .iter()
        .map(|g| {
            Glob::new(g).map_err(|reason| RedactError::Glob {
                redactor: "kurl defaults".into(),
                glob: (*g).to_string(),
                reason,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    scopes.push(Scoped {
        globs: Some(kurl_globs),
        ops: KURL_YAML
            .iter()
            .map(|d| {
                Op::Yaml(YamlRedactor {
                    name: d.name.to_string(),
                    path: d.path.iter().map(|s| s.to_string()).collect(),
                })
            })
            .collect(),
    });
    Ok(())
}

/// One regex that finds, in a buffer of many lines, the first place any filter pattern matches.
///
/// `(?m)` makes `^`/`$` line anchors, so a line matching a pattern on its own is found at or after
/// where the search starts on it; a match that runs over a line end only makes a line be looked at
/// for nothing. Patterns with text anchors (`\A`, `\z`) mean something else there: no chunk search.
fn chunk_filter(patterns: &[String]) -> Option<Regex> {
    if patterns.is_empty()
        || patterns
            .iter()
            .any(|p| p.contains(r"\A") || p.contains(r"\z"))
    {
        return None;
    }
    // One regex may not repeat a group name (`mask` is in most user patterns); names do not change
    // what matches, so they go.
    let alternation = patterns
        .iter()
        .map(|p| format!("(?:{})", strip_group_names(p)))
        .collect::<Vec<_>>()
        .join("|");
    RegexBuilder::new(&format!("(?m){alternation}"))
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .build()
        .ok()
}

/// The single-line then multi-line defaults (then, for [`DefaultSet::Extended`], the agent extras),
/// each with its scan registered in the filter.
fn default_line_ops(filter: &mut FilterBuilder, set: DefaultSet) -> Result<Vec<Op>, RedactError> {
    let mut ops = Vec::new();
    let (extra_single, extra_multi, extra_block) = match set {
        DefaultSet::Upstream => (&[][..], &[][..], &[][..]),
        DefaultSet::Extended => (EXTRA_SINGLE, EXTRA_MULTI, EXTRA_BLOCK),
    };
    single_ops(SINGLE_LINE, filter, &mut ops)?;
    multi_ops(MULTI_LINE, filter, &mut ops)?;
    single_ops(extra_single, filter, &mut ops)?;
    multi_ops(extra_multi, filter, &mut ops)?;
    for d in extra_block {
        let (begin, _) = build(d.begin).map_err(|e| default_err(d.name, d.begin, e))?;
        let (end, _) = build(d.end).map_err(|e| default_err(d.name, d.end, e))?;
        let scan = filter.push(format!("(?i){}", d.scan));
        ops.push(Op::Line(LineRedactor {
            name: d.name.to_string(),
            scan: None,
            kind: LineKind::Block {
                begin,
                begin_scan: Some(scan),
                end,
            },
        }));
    }
    Ok(ops)
}

/// A default pattern that does not compile (a bug, caught by the unit tests).
fn default_err(name: &str, pattern: &str, source: regex::Error) -> RedactError {
    RedactError::Regex {
        redactor: name.to_string(),
        pattern: pattern.to_string(),
        source: Box::new(source),
    }
}

/// Compiles single-line defaults into `ops`.
fn single_ops(
    list: &[defaults::DefaultSingle],
    filter: &mut FilterBuilder,
    ops: &mut Vec<Op>,
) -> Result<(), RedactError> {
    let err = default_err;
    for d in list {
        let (re, _) = build(d.regex).map_err(|e| err(d.name, d.regex, e))?;
        let scan = filter.push(format!("(?i){}", d.scan));
        ops.push(Op::Line(LineRedactor {
            name: d.name.to_string(),
            scan: Some(scan),
            kind: LineKind::Single(Replacer::new(re)),
        }));
    }
    Ok(())
}

/// Compiles two-line defaults into `ops`.
fn multi_ops(
    list: &[defaults::DefaultMulti],
    filter: &mut FilterBuilder,
    ops: &mut Vec<Op>,
) -> Result<(), RedactError> {
    let err = default_err;
    for d in list {
        let (selector, _) = build(d.selector).map_err(|e| err(d.name, d.selector, e))?;
        let (re, _) = build(d.redactor).map_err(|e| err(d.name, d.redactor, e))?;
        let scan = filter.push(format!("(?i){}", d.scan));
        ops.push(Op::Line(LineRedactor {
            name: d.name.to_string(),
            scan: None,
            kind: LineKind::Multi {
                selector,
                selector_scan: Some(scan),
                redactor: Replacer::new(re),
            },
        }));
    }
    Ok(())
}

/// Compiles one user rule: `values`, then `regex`, then `yamlPath`.
fn compile_rule(
    i: usize,
    rule: &RedactorRule,
    filter: &mut FilterBuilder,
) -> Result<Scoped, RedactError> {
    let globs = match &rule.file_selector {
        Some(sel)
            if sel.file.as_deref().is_some_and(|f| !f.is_empty()) || !sel.files.is_empty() =>
        {
            let mut globs = Vec::new();
            for g in sel.file.iter().filter(|f| !f.is_empty()).chain(&sel.files) {
                globs.push(Glob::new(g).map_err(|reason| RedactError::Glob {
                    redactor: rule_label(i, rule),
                    glob: g.clone(),
                    reason,
                })?);
            }
            Some(globs)
        }
        _ => None,
    };
    let mut ops = Vec::new();
    for (j, value) in rule.removals.values.iter().enumerate() {
        // An empty literal would match between every byte; check_rule reports it, here it is skipped.
        if value.is_empty() {
            continue;
        }
        let pattern = format!("(?P<mask>{})", regex::escape(value));
        let re = RegexBuilder::new(&pattern)
            .unicode(false)
            .build()
            .map_err(|source| RedactError::Regex {
                redactor: redactor_name(i, j, &rule.name, "literal"),
                pattern: value.clone(),
                source: Box::new(source),
            })?;
        filter.push(regex::escape(value));
        ops.push(Op::Line(LineRedactor {
            name: redactor_name(i, j, &rule.name, "literal"),
            scan: None,
            kind: LineKind::Single(Replacer::new(re)),
        }));
    }
    for (j, removal) in rule.removals.regex.iter().enumerate() {
        let Some(pattern) = removal.redactor.as_deref().filter(|p| !p.is_empty()) else {
            continue;
        };
        let selector = removal.selector.as_deref().filter(|s| !s.is_empty());
        let kind_name = if selector.is_some() {
            "multiLine"
        } else {
            "regex"
        };
        let name = redactor_name(i, j, &rule.name, kind_name);
        let regex_err = |p: &str, source: regex::Error| RedactError::Regex {
            redactor: name.clone(),
            pattern: p.to_string(),
            source: Box::new(source),
        };
        let (re, ascii) = build(pattern).map_err(|e| regex_err(pattern, e))?;
        add_to_filter(filter, pattern, ascii);
        let kind = match selector {
            Some(sel) => {
                let (sel_re, sel_ascii) = build(sel).map_err(|e| regex_err(sel, e))?;
                add_to_filter(filter, sel, sel_ascii);
                LineKind::Multi {
                    selector: sel_re,
                    selector_scan: None,
                    redactor: Replacer::new(re),
                }
            }
            None => LineKind::Single(Replacer::new(re)),
        };
        ops.push(Op::Line(LineRedactor {
            name,
            scan: None,
            kind,
        }));
    }
    for (j, path) in rule.removals.yaml_path.iter().enumerate() {
        if path.is_empty() {
            continue;
        }
        ops.push(Op::Yaml(YamlRedactor {
            name: redactor_name(i, j, &rule.name, "yaml"),
            path: split_yaml_path(path),
        }));
    }
    Ok(Scoped { globs, ops })
}

/// Registers a user pattern in the pre-filter when it can be matched there (ASCII mode).
fn add_to_filter(filter: &mut FilterBuilder, pattern: &str, ascii: bool) {
    if ascii {
        filter.push(port_go_regex(pattern));
    } else {
        filter.unfilterable = true;
    }
}

/// A label for a rule in messages: its name, or `unnamed-<i>`.
fn rule_label(i: usize, rule: &RedactorRule) -> String {
    if rule.name.is_empty() {
        format!("unnamed-{i}")
    } else {
        rule.name.clone()
    }
}

/// Problems that would make this rule fail to compile or do nothing useful; empty when fine.
pub fn check_rule(rule: &RedactorRule) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(sel) = &rule.file_selector {
        for g in sel.file.iter().filter(|f| !f.is_empty()).chain(&sel.files) {
            if let Err(reason) = Glob::new(g) {
                problems.push(format!("fileSelector glob {g:?} is invalid: {reason}"));
            }
        }
    }
    for (j, v) in rule.removals.values.iter().enumerate() {
        if v.is_empty() {
            problems.push(format!(
                "removals.values[{j}] is empty and would match everywhere"
            ));
        }
    }
    for (j, r) in rule.removals.regex.iter().enumerate() {
        for (field, p) in [("selector", &r.selector), ("redactor", &r.redactor)] {
            if let Some(p) = p.as_deref().filter(|p| !p.is_empty())
                && let Err(e) = build(p)
            {
                problems.push(format!(
                    "removals.regex[{j}].{field} {p:?} does not compile: {}",
                    first_line(&e.to_string())
                ));
            }
        }
    }
    for (j, p) in rule.removals.yaml_path.iter().enumerate() {
        if p.is_empty() || p.split('.').any(str::is_empty) {
            problems.push(format!("removals.yamlPath[{j}] {p:?} has an empty segment"));
        }
    }
    problems
}

/// Regex errors are multi-line drawings; the last line carries the reason.
fn first_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(s)
        .trim()
        .to_string()
}

impl Compiled {
    /// The extended defaults alone (no user rules).
    pub fn defaults() -> Result<Compiled, RedactError> {
        compile(&[])
    }

    /// Every line pattern of the chain (main regexes, multi-line selectors and values, block
    /// armour lines), in chain order: what `bench/redact.sh` hands to `rg` as the same pattern set.
    pub fn patterns(&self) -> Vec<&str> {
        let mut out = Vec::new();
        for op in self.scopes.iter().flat_map(|s| s.ops.iter()) {
            match op {
                Op::Line(LineRedactor {
                    kind: LineKind::Single(r),
                    ..
                }) => out.push(r.as_str()),
                Op::Line(LineRedactor {
                    kind:
                        LineKind::Multi {
                            selector, redactor, ..
                        },
                    ..
                }) => out.extend([selector.as_str(), redactor.as_str()]),
                Op::Line(LineRedactor {
                    kind: LineKind::Block { begin, end, .. },
                    ..
                }) => out.extend([begin.as_str(), end.as_str()]),
                Op::Yaml(_) => {}
            }
        }
        out
    }

    /// The chain for one bundle-relative path, in order.
    pub(crate) fn ops_for<'a>(&'a self, path: &str) -> Vec<&'a Op> {
        self.scopes
            .iter()
            .filter(|s| {
                s.globs
                    .as_ref()
                    .is_none_or(|gs| gs.iter().any(|g| g.is_match(path)))
            })
            .flat_map(|s| s.ops.iter())
            .collect()
    }

    /// Names of every redactor, in chain order (defaults first).
    pub fn names(&self) -> Vec<&str> {
        self.scopes
            .iter()
            .flat_map(|s| s.ops.iter())
            .map(|op| match op {
                Op::Line(l) => l.name.as_str(),
                Op::Yaml(y) => y.name.as_str(),
            })
            .collect()
    }
}

/// Number of built-in redactors (line-based plus scoped kurl) in `set`.
pub fn default_count(set: DefaultSet) -> usize {
    let upstream =
        defaults::SINGLE_LINE.len() + defaults::MULTI_LINE.len() + defaults::KURL_YAML.len();
    match set {
        DefaultSet::Upstream => upstream,
        DefaultSet::Extended => upstream + extra_count(),
    }
}

/// Number of agent extras.
pub fn extra_count() -> usize {
    EXTRA_SINGLE.len() + EXTRA_MULTI.len() + EXTRA_BLOCK.len()
}

/// Names of the agent extras, in chain order (for `validate`/`plan` and the README).
pub fn extra_names() -> Vec<&'static str> {
    EXTRA_SINGLE
        .iter()
        .map(|d| d.name)
        .chain(EXTRA_MULTI.iter().map(|d| d.name))
        .chain(EXTRA_BLOCK.iter().map(|d| d.name))
        .collect()
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
