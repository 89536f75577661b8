//! Compiles the defaults and user `Redactor` rules into matchers, and checks rules for `validate`.
//!
//! The per-file chain is troubleshoot's: defaults (single-line, then multi-line), the scoped kurl
//! yamlPath defaults, then every user rule whose `fileSelector` matches, in spec order, each as
//! `values`, then `regex`, then `yamlPath`.

use super::defaults::{
    self, EXTRA_BLOCK, EXTRA_MULTI, EXTRA_SINGLE, KURL_GLOBS, KURL_YAML, MULTI_LINE, SINGLE_LINE,
};
use super::glob::Glob;
use super::tokenize::Tokenizer;
use super::{MASK, RedactError};
use crate::spec::RedactorRule;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

/// Compiled size limit per regex; generous because user patterns may be large alternations.
const SIZE_LIMIT: usize = 64 * 1024 * 1024;

/// Which built-in redactors run before the job's own.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DefaultSet {
    /// troubleshoot's defaults only: byte-exact upstream behaviour.
    Upstream,
    /// troubleshoot's defaults, then the agent extras ([`defaults::EXTRA_SINGLE`] and friends).
    #[default]
    Extended,
}

/// What a capture group contributes to the replacement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// Unnamed or other named group: copied.
    Keep,
    /// `mask`, `mask_1`, `maskX`…: replaced by the mask text.
    Mask,
    /// `drop` (or a renamed `drop_N`): removed.
    Drop,
}

/// A regex plus the replacement template derived from its group names.
#[derive(Clone, Debug)]
pub(crate) struct Replacer {
    re: Regex,
    roles: Vec<Role>,
}

impl Replacer {
    /// Builds the template: groups in index order, masked / dropped / kept by name.
    fn new(re: Regex) -> Replacer {
        let roles = re
            .capture_names()
            .map(|name| match name {
                Some(n) if n.starts_with("mask") => Role::Mask,
                Some(n) if n == "drop" || drop_renamed(n) => Role::Drop,
                _ => Role::Keep,
            })
            .collect();
        Replacer { re, roles }
    }

    /// [`Replacer::replace_with`] without tokenization.
    #[cfg(test)]
    pub(crate) fn replace_all(&self, line: &[u8]) -> Option<(Vec<u8>, u64)> {
        self.replace_with(line, None)
    }

    /// Replaces every non-overlapping match (Go `ReplaceAll`); `None` when the line is unchanged.
    ///
    /// As with Go's template expansion, text matched outside any group is removed, and a mask group
    /// that did not participate still yields the mask. With `tok` (tokenizer, redactor name), each
    /// mask group that matched a non-empty value gets that value's token (one per match); an empty or
    /// non-participating mask group has no value to tokenize and keeps the plain mask.
    pub(crate) fn replace_with(
        &self,
        line: &[u8],
        tok: Option<(&Tokenizer, &str)>,
    ) -> Option<(Vec<u8>, u64)> {
        let mut out = Vec::new();
        let mut last = 0;
        let mut count = 0u64;
        let mut prev_end: Option<usize> = None;
        for caps in self.re.captures_iter(line) {
            let Some(whole) = caps.get(0) else { continue };
            // Go ignores an empty match that abuts the previous match.
            if whole.is_empty() && prev_end == Some(whole.start()) {
                continue;
            }
            out.extend_from_slice(&line[last..whole.start()]);
            let mut fresh = !self.roles.contains(&Role::Mask);
            for (i, role) in self.roles.iter().enumerate().skip(1) {
                match role {
                    Role::Keep => {
                        if let Some(g) = caps.get(i) {
                            out.extend_from_slice(g.as_bytes());
                        }
                    }
                    // A value an earlier redactor already masked stays as it is: the agent extras
                    // run after upstream's set and must not count (or tokenize) a mask twice.
                    Role::Mask => match (tok, caps.get(i)) {
                        (_, Some(g)) if already_masked(g.as_bytes()) => {
                            out.extend_from_slice(g.as_bytes())
                        }
                        (Some((t, name)), Some(g)) if !g.is_empty() => {
                            fresh = true;
                            out.extend_from_slice(t.token(g.as_bytes(), name).as_bytes())
                        }
                        _ => {
                            fresh = true;
                            out.extend_from_slice(MASK.as_bytes())
                        }
                    },
                    Role::Drop => {}
                }
            }
            last = whole.end();
            prev_end = Some(whole.end());
            if fresh {
                count += 1;
            }
        }
        // No match at all: nothing to rebuild.
        prev_end?;
        out.extend_from_slice(&line[last..]);
        // A template that reproduces the match (no mask/drop groups) changes nothing: not a redaction.
        if out == line {
            return None;
        }
        Some((out, count))
    }

    /// The pattern, for the scan-floor benchmark.
    pub(crate) fn as_str(&self) -> &str {
        self.re.as_str()
    }
}

/// True for the mask text or a token: what an earlier redactor left.
pub(crate) fn already_masked(value: &[u8]) -> bool {
    value == MASK.as_bytes() || std::str::from_utf8(value).is_ok_and(super::tokenize::is_token)
}

/// `drop_1`, `drop_2`… produced by renaming duplicate `drop` groups.
fn drop_renamed(name: &str) -> bool {
    name.strip_prefix("drop_")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
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

/// Compiles a Go/RE2 pattern on bytes, ASCII-only first; Unicode mode only if the pattern needs it.
///
/// Unicode off gives Go's ASCII `\w \d \s \b` and lets `.`/negated classes match any byte, so lines
/// that are not valid UTF-8 still redact. A pattern with non-ASCII classes (`\pL`, `[é]`) cannot
/// compile that way; it falls back to Unicode mode, where `\w` etc. are wider than Go's.
fn build(pattern: &str) -> Result<(Regex, bool), regex::Error> {
    let ported = port_go_regex(pattern);
    let ascii = RegexBuilder::new(&ported)
        .unicode(false)
        .size_limit(SIZE_LIMIT)
        .build();
    match ascii {
        Ok(re) => Ok((re, true)),
        Err(first) => match RegexBuilder::new(&ported).size_limit(SIZE_LIMIT).build() {
            Ok(re) => Ok((re, false)),
            Err(_) => Err(first),
        },
    }
}

/// Rewrites Go RE2 syntax that Rust's `regex` rejects or reads differently.
///
/// - A group name used more than once (`(?P<mask>…)…(?P<mask>…)`) becomes `name_1`, `name_2`, …;
///   `mask*`/`drop_N` names keep their role.
/// - A `-` right after a class escape inside `[...]` (`[\S-_]`) is a literal in Go; it is escaped.
pub fn port_go_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    // First pass: count group names.
    let mut names: Vec<String> = Vec::new();
    scan_groups(&chars, |name| names.push(name.to_string()));
    let dup = |n: &str| names.iter().filter(|m| m.as_str() == n).count() > 1;
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();

    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    let mut in_class = false;
    // True when the previous class item was a class escape such as `\S`.
    let mut after_class_escape = false;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            let next = chars.get(i + 1).copied();
            out.push(c);
            if let Some(n) = next {
                out.push(n);
                i += 2;
                after_class_escape = in_class && matches!(n, 'w' | 'W' | 'd' | 'D' | 's' | 'S');
                // `\pL` / `\p{…}` are class escapes too.
                if in_class && matches!(n, 'p' | 'P') {
                    if chars.get(i) == Some(&'{') {
                        while i < chars.len() && chars[i] != '}' {
                            out.push(chars[i]);
                            i += 1;
                        }
                    }
                    if i < chars.len() {
                        out.push(chars[i]);
                        i += 1;
                    }
                    after_class_escape = true;
                }
                continue;
            }
            i += 1;
            continue;
        }
        if in_class {
            if c == '-' && after_class_escape && chars.get(i + 1) != Some(&']') {
                out.push_str("\\-");
                after_class_escape = false;
                i += 1;
                continue;
            }
            if c == '[' && chars.get(i + 1) == Some(&':') {
                // POSIX class `[:alpha:]`: copy whole, it acts like a class escape.
                if let Some(end) = find_posix_end(&chars, i) {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                    after_class_escape = true;
                    continue;
                }
            }
            if c == ']' {
                in_class = false;
            }
            after_class_escape = false;
            out.push(c);
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            after_class_escape = false;
            out.push(c);
            i += 1;
            // A leading `^` and a leading `]` are part of the class syntax, not its end.
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            if chars.get(i) == Some(&']') {
                out.push(']');
                i += 1;
            }
            continue;
        }
        if c == '('
            && let Some((prefix_len, name)) = group_name_at(&chars, i)
        {
            let name: String = name.iter().collect();
            let renamed = if dup(&name) {
                let n = seen.entry(name.clone()).or_insert(0);
                *n += 1;
                format!("{name}_{n}")
            } else {
                name.clone()
            };
            out.push_str("(?P<");
            out.push_str(&renamed);
            out.push('>');
            i += prefix_len + name.chars().count() + 1;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// End index of a `[:name:]` POSIX class starting at `i`.
fn find_posix_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 2;
    while j + 1 < chars.len() {
        if chars[j] == ':' && chars[j + 1] == ']' {
            return Some(j + 1);
        }
        if !chars[j].is_ascii_alphabetic() && chars[j] != '^' {
            return None;
        }
        j += 1;
    }
    None
}

/// At `(`, returns the length of `(?P<` / `(?<` and the name when a named group starts here.
fn group_name_at(chars: &[char], i: usize) -> Option<(usize, &[char])> {
    let rest = &chars[i..];
    let prefix = if rest.starts_with(&['(', '?', 'P', '<']) {
        4
    } else if rest.starts_with(&['(', '?', '<']) && !matches!(rest.get(3), Some('=') | Some('!')) {
        3
    } else {
        return None;
    };
    let end = rest[prefix..].iter().position(|&c| c == '>')?;
    Some((prefix, &rest[prefix..prefix + end]))
}

/// `pattern` with every `(?P<name>` / `(?<name>` outside classes and escapes turned into `(`.
fn strip_group_names(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len());
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                out.push(c);
                if let Some(&n) = chars.get(i + 1) {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                i += 1;
                for lead in ['^', ']'] {
                    if chars.get(i) == Some(&lead) {
                        out.push(lead);
                        i += 1;
                    }
                }
                continue;
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                if let Some(end) = find_posix_end(&chars, i) {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                    continue;
                }
            }
            ']' if in_class => in_class = false,
            '(' if !in_class => {
                if let Some((prefix, name)) = group_name_at(&chars, i) {
                    out.push('(');
                    i += prefix + name.len() + 1;
                    continue;
                }
            }
            _ => {}
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Calls `f` with every group name outside classes and escapes.
fn scan_groups(chars: &[char], mut f: impl FnMut(&str)) {
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                i += 1;
                if chars.get(i) == Some(&'^') {
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    i += 1;
                }
                continue;
            }
            '[' if chars.get(i + 1) == Some(&':') => {
                if let Some(end) = find_posix_end(chars, i) {
                    i = end + 1;
                    continue;
                }
            }
            ']' if in_class => in_class = false,
            '(' if !in_class => {
                if let Some((_, name)) = group_name_at(chars, i) {
                    f(&name.iter().collect::<String>());
                }
            }
            _ => {}
        }
        i += 1;
    }
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
mod tests {
    use super::*;
    use crate::spec::{FileSelector, RegexRemoval, Removals};

    fn replace(pattern: &str, line: &str) -> String {
        let (re, _) = build(pattern).expect("compiles");
        match Replacer::new(re).replace_all(line.as_bytes()) {
            Some((out, _)) => String::from_utf8(out).expect("utf8"),
            None => line.to_string(),
        }
    }

    #[test]
    fn port_renames_duplicate_groups_and_escapes_dash() {
        assert_eq!(
            port_go_regex(r"(?P<mask>a)(?P<x>b)(?P<mask>c)"),
            r"(?P<mask_1>a)(?P<x>b)(?P<mask_2>c)"
        );
        assert_eq!(port_go_regex(r"[\w\d\S-_]+"), r"[\w\d\S\-_]+");
        // A dash after an ordinary character is a range and stays.
        assert_eq!(port_go_regex(r"[a-z\d-]"), r"[a-z\d-]");
        // Inside a class, `(?P<` is not a group.
        assert_eq!(port_go_regex(r"[(?P<mask>]"), r"[(?P<mask>]");
        assert_eq!(
            port_go_regex(r"(?<drop>a)(?<drop>b)"),
            r"(?P<drop_1>a)(?P<drop_2>b)"
        );
        assert!(build(r"\b(?P<mask>[^:\/]*)(:)(?P<mask>[\w\d\S-_]+)").is_ok());
    }

    #[test]
    fn group_names_are_stripped_for_the_chunk_filter() {
        assert_eq!(
            strip_group_names(r"(?P<mask>a)\(?P<x>[(?P<y>]"),
            r"(a)\(?P<x>[(?P<y>]"
        );
        assert_eq!(strip_group_names(r"(?<drop>b)(?:c)"), r"(b)(?:c)");
    }

    #[test]
    fn template_masks_drops_and_keeps() {
        assert_eq!(
            replace(r"(a)(?P<mask>b)(c)", "xabcx abc"),
            "xa***HIDDEN***cx a***HIDDEN***c"
        );
        assert_eq!(replace(r"(a)(?P<drop>b)(?P<keep>c)", "abc"), "ac");
        // Text outside groups is removed, like Go's template expansion.
        assert_eq!(replace(r"abc(123)", "test abc123"), "test 123");
        assert_eq!(
            replace(r"(?P<mask>b)|(?P<mask>c)", "bc"),
            "***HIDDEN******HIDDEN******HIDDEN******HIDDEN***"
        );
    }

    #[test]
    fn ascii_classes_like_go() {
        // Go's \w does not match "é"; with Unicode on, Rust's would, masking more than upstream.
        assert_eq!(replace(r"(?P<mask>\w+)", "é1"), "é***HIDDEN***");
        assert_eq!(replace(r"(?P<mask>\d+)", "١٢3"), "١٢***HIDDEN***");
        // Invalid UTF-8 still matches byte-wise.
        let (re, _) = build(r"(x)(?P<mask>[^;]*)(;)").expect("compiles");
        let (out, n) = Replacer::new(re)
            .replace_all(b"x\xff\xfe;")
            .expect("matches");
        assert_eq!(out, b"x***HIDDEN***;".to_vec());
        assert_eq!(n, 1);
    }

    #[test]
    fn unicode_fallback_for_non_ascii_classes() {
        let (_, ascii) = build(r"(?P<mask>\p{Greek}+)").expect("falls back");
        assert!(!ascii);
        assert_eq!(
            replace(r"(?P<mask>\p{Greek}+)", "a αβ b"),
            "a ***HIDDEN*** b"
        );
    }

    fn rule(name: &str) -> RedactorRule {
        RedactorRule {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn bad_regex_is_a_typed_error_naming_redactor_and_pattern() {
        let mut r = rule("mine");
        r.removals.regex.push(RegexRemoval {
            selector: None,
            redactor: Some("(unclosed".into()),
        });
        let err = compile(&[r.clone()]).expect_err("must fail");
        match &err {
            RedactError::Regex {
                redactor, pattern, ..
            } => {
                assert_eq!(redactor, "mine.regex.0");
                assert_eq!(pattern, "(unclosed");
            }
            other => panic!("unexpected {other:?}"),
        }
        let problems = check_rule(&r);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("removals.regex[0].redactor \"(unclosed\" does not compile")
        );
    }

    #[test]
    fn check_rule_reports_globs_empty_values_and_paths() {
        let r = RedactorRule {
            name: "x".into(),
            file_selector: Some(FileSelector {
                file: Some("a[b".into()),
                files: vec!["ok/*.json".into()],
            }),
            removals: Removals {
                values: vec!["".into(), "fine".into()],
                regex: vec![RegexRemoval {
                    selector: Some("[".into()),
                    redactor: Some("ok".into()),
                }],
                yaml_path: vec!["a..b".into(), "a.*.0".into()],
            },
            ..Default::default()
        };
        let p = check_rule(&r);
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("a[b"));
        assert!(p[1].contains("values[0]"));
        assert!(p[2].contains("regex[0].selector"));
        assert!(p[3].contains("yamlPath[0]"));
        assert!(check_rule(&rule("clean")).is_empty());
    }

    #[test]
    fn names_follow_troubleshoot() {
        let mut named = rule("n");
        named.removals.values = vec!["a".into(), "b".into()];
        named.removals.regex = vec![
            RegexRemoval {
                selector: None,
                redactor: Some("x".into()),
            },
            RegexRemoval {
                selector: Some("s".into()),
                redactor: Some("y".into()),
            },
        ];
        named.removals.yaml_path = vec!["a.b".into()];
        let mut unnamed = rule("");
        unnamed.removals.values = vec!["z".into()];
        let c = compile(&[named, unnamed]).expect("compiles");
        let names = c.names();
        assert_eq!(names.len(), default_count(DefaultSet::Extended) + 6);
        assert_eq!(
            &names[default_count(DefaultSet::Extended)..],
            &[
                "n.literal.0",
                "n.literal.1",
                "n.regex.0",
                "n.multiLine.1",
                "n.yaml.0",
                "unnamed-1.literal.0"
            ]
        );
    }

    #[test]
    fn file_selector_scopes_rules() {
        let mut r = rule("scoped");
        r.file_selector = Some(FileSelector {
            file: Some("logs/*.log".into()),
            files: vec![],
        });
        r.removals.values = vec!["v".into()];
        let c = compile(&[r]).expect("compiles");
        let base = c.ops_for("other/x.log").len();
        assert_eq!(c.ops_for("logs/x.log").len(), base + 1);
        assert_eq!(c.ops_for("logs/deeper/x.log").len(), base);
        // Kurl defaults only on kurl files.
        let kurl = "cluster-resources/custom-resources/installers.cluster.kurl.sh.json";
        assert_eq!(c.ops_for(kurl).len(), base + KURL_YAML.len());
    }
}
