//! `fileSelector` globs with gobwas/glob semantics and `/` as the separator.
//!
//! `*` matches any run of characters except `/`, `**` any run including `/`, `?` one character except
//! `/`, `[abc]` / `[a-z]` / `[!abc]` a class, `{a,b}` alternatives; `\` escapes the next character.
//! The glob is translated into an anchored regex so matching is linear-time.

use regex::Regex;

/// What is malformed in a glob.
#[derive(Debug, thiserror::Error)]
pub enum GlobError {
    /// A trailing `\` escapes nothing.
    #[error("ends with a lone `\\`")]
    LoneBackslash,
    /// A class is never closed.
    #[error("`[` without a closing `]`")]
    UnclosedClass,
    /// `[]` matches nothing.
    #[error("empty character class `[]`")]
    EmptyClass,
    /// An alternative group is never closed.
    #[error("`{{` without a closing `}}`")]
    UnclosedBrace,
    /// The translated regex did not compile.
    #[error(transparent)]
    Regex(#[from] regex::Error),
}

/// One compiled `fileSelector` glob.
#[derive(Clone, Debug)]
pub struct Glob {
    re: Regex,
}

impl Glob {
    /// Compiles a glob; the error says what is malformed.
    pub fn new(glob: &str) -> Result<Glob, GlobError> {
        let mut out = String::from("^");
        let chars: Vec<char> = glob.chars().collect();
        let mut i = 0;
        // Depth of `{...}` so that `,` is an alternative only inside braces.
        let mut braces = 0usize;
        while i < chars.len() {
            let c = chars[i];
            match c {
                '*' if chars.get(i + 1) == Some(&'*') => {
                    out.push_str(".*");
                    i += 2;
                    continue;
                }
                '*' => out.push_str("[^/]*"),
                '?' => out.push_str("[^/]"),
                '\\' => {
                    let Some(next) = chars.get(i + 1) else {
                        return Err(GlobError::LoneBackslash);
                    };
                    out.push_str(&regex::escape(&next.to_string()));
                    i += 2;
                    continue;
                }
                '[' => {
                    let Some(len) = chars[i + 1..].iter().position(|&c| c == ']') else {
                        return Err(GlobError::UnclosedClass);
                    };
                    let body: String = chars[i + 1..i + 1 + len].iter().collect();
                    if body.is_empty() {
                        return Err(GlobError::EmptyClass);
                    }
                    out.push_str(&class(&body));
                    i += len + 2;
                    continue;
                }
                '{' => {
                    braces += 1;
                    out.push_str("(?:");
                }
                '}' if braces > 0 => {
                    braces -= 1;
                    out.push(')');
                }
                ',' if braces > 0 => out.push('|'),
                _ => out.push_str(&regex::escape(&c.to_string())),
            }
            i += 1;
        }
        if braces > 0 {
            return Err(GlobError::UnclosedBrace);
        }
        out.push('$');
        let re = Regex::new(&out)?;
        Ok(Glob { re })
    }

    /// True when the bundle-relative path matches.
    pub fn is_match(&self, path: &str) -> bool {
        self.re.is_match(path)
    }
}

/// Translates a glob class body (`!a-z`) into a regex class; a class never matches `/`.
fn class(body: &str) -> String {
    let (negated, body) = match body.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, body),
    };
    let mut inner = String::new();
    for c in body.chars() {
        // Escape everything the regex class syntax treats specially except the range dash.
        if matches!(c, '\\' | '[' | ']' | '^' | '&' | '~') {
            inner.push('\\');
        }
        inner.push(c);
    }
    if negated {
        format!("[^/{inner}]")
    } else {
        // A positive class may list `/`; gobwas still never lets a class match the separator.
        format!("[[^/]&&[{inner}]]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(g: &str, p: &str) -> bool {
        Glob::new(g).expect("glob compiles").is_match(p)
    }

    #[test]
    fn star_does_not_cross_slash() {
        assert!(m(
            "cluster-resources/pods/*.json",
            "cluster-resources/pods/default.json"
        ));
        assert!(!m(
            "cluster-resources/pods/*.json",
            "cluster-resources/pods/logs/x.json"
        ));
        assert!(!m("*.json", "a/b.json"));
        assert!(m("*.json", "b.json"));
    }

    #[test]
    fn double_star_crosses_slash() {
        assert!(m(
            "cluster-resources/**",
            "cluster-resources/pods/logs/a/b.log"
        ));
        assert!(m("**/*.log", "a/b/c.log"));
        assert!(!m("**/*.log", "c.log"));
        assert!(m("**.log", "c.log"));
    }

    #[test]
    fn question_class_and_alternatives() {
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "a/c"));
        assert!(m("file[0-9].txt", "file7.txt"));
        assert!(!m("file[0-9].txt", "filex.txt"));
        assert!(m("file[!0-9].txt", "filex.txt"));
        assert!(!m("file[!0-9].txt", "file1.txt"));
        assert!(!m("a[!x]b", "a/b"));
        assert!(m("{pods,events}/*.json", "events/default.json"));
        assert!(!m("{pods,events}/*.json", "nodes/default.json"));
    }

    #[test]
    fn literals_are_literal() {
        assert!(m("a.b+c(d)", "a.b+c(d)"));
        assert!(!m("a.b", "axb"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "axb"));
    }

    #[test]
    fn malformed_globs_are_errors() {
        assert!(Glob::new("a[bc").is_err());
        assert!(Glob::new("{a,b").is_err());
        assert!(Glob::new("a\\").is_err());
        assert!(Glob::new("a[]").is_err());
    }
}
