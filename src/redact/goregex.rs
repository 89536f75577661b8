//! Go RE2 regexes as troubleshoot writes them, on bytes: porting the syntax Rust's `regex` reads
//! differently, compiling ASCII-first, and replacing matches through `mask`/`drop` group templates.

use super::MASK;
use super::tokenize::Tokenizer;
use regex::bytes::{Regex, RegexBuilder};

/// Compiled size limit per regex; generous because user patterns may be large alternations.
pub(crate) const SIZE_LIMIT: usize = 64 * 1024 * 1024;

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
    pub(crate) fn new(re: Regex) -> Replacer {
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

/// Compiles a Go/RE2 pattern on bytes, ASCII-only first; Unicode mode only if the pattern needs it.
///
/// Unicode off gives Go's ASCII `\w \d \s \b` and lets `.`/negated classes match any byte, so lines
/// that are not valid UTF-8 still redact. A pattern with non-ASCII classes (`\pL`, `[é]`) cannot
/// compile that way; it falls back to Unicode mode, where `\w` etc. are wider than Go's.
pub(crate) fn build(pattern: &str) -> Result<(Regex, bool), regex::Error> {
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
            (i, after_class_escape) = copy_escape(&chars, i, in_class, &mut out);
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

/// Copies the escape starting at `chars[i]` (a backslash); returns the next index and whether,
/// inside a class, the escape was a class escape (`\S`, `\pL`, `\p{…}`).
fn copy_escape(chars: &[char], mut i: usize, in_class: bool, out: &mut String) -> (usize, bool) {
    out.push(chars[i]);
    let Some(&n) = chars.get(i + 1) else {
        return (i + 1, false);
    };
    out.push(n);
    i += 2;
    let mut class_escape = in_class && matches!(n, 'w' | 'W' | 'd' | 'D' | 's' | 'S');
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
        class_escape = true;
    }
    (i, class_escape)
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
pub(crate) fn strip_group_names(pattern: &str) -> String {
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
