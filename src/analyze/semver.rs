//! Semantic versions and the blang/semver range syntax troubleshoot's `clusterVersion` uses:
//! `< 1.19.0`, `>=1.20.0 <1.25.0` (space is AND), `||` (OR), `x` wildcards (`1.2.x`, `>1.x`).
//! The `semver` crate speaks Cargo's range syntax (no `||`, different wildcard rules), so this is
//! a small matcher with blang's semantics, including how it expands wildcards.

use std::cmp::Ordering;

/// A strict `MAJOR.MINOR.PATCH[-pre][+build]` version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Vec<Pre>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Pre {
    Num(u64),
    Text(String),
}

/// Why a version or range does not parse (the wording analyzers' results show).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SemverError {
    /// A number part is not digits.
    #[error("invalid {what} {part:?}")]
    NotANumber {
        /// Which number (`major version`, ...).
        what: &'static str,
        /// The part.
        part: String,
    },
    /// A number part starts with 0.
    #[error("{what} {part:?} has a leading zero")]
    LeadingZero {
        /// Which number.
        what: &'static str,
        /// The part.
        part: String,
    },
    /// A number part does not fit 64 bits.
    #[error("{what} {part:?} is too large")]
    TooLarge {
        /// Which number.
        what: &'static str,
        /// The part.
        part: String,
    },
    /// Not three dot-separated numbers.
    #[error("{0:?} is not MAJOR.MINOR.PATCH")]
    NotTriple(String),
    /// `1.2.3-` or `1.2.3-a..b`.
    #[error("empty pre-release identifier in {0:?}")]
    EmptyPreRelease(String),
    /// `|| 1.2.3`.
    #[error("the range starts with `||`")]
    LeadingOr,
    /// `1.2.3 ||` or nothing.
    #[error("the range ends with `||` or is empty")]
    TrailingOr,
    /// `~1.2.3`.
    #[error("unknown comparator {op:?} in {part:?}")]
    Comparator {
        /// The comparator.
        op: String,
        /// The range part.
        part: String,
    },
    /// A range part whose version does not parse.
    #[error("in {part:?}: {source}")]
    InPart {
        /// The range part.
        part: String,
        /// Why its version does not parse.
        source: Box<SemverError>,
    },
    /// A range part without a version.
    #[error("no version in {0:?}")]
    NoVersion(String),
}

fn number(part: &str, what: &'static str) -> Result<u64, SemverError> {
    let part_text = || part.to_string();
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SemverError::NotANumber {
            what,
            part: part_text(),
        });
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(SemverError::LeadingZero {
            what,
            part: part_text(),
        });
    }
    part.parse().map_err(|_| SemverError::TooLarge {
        what,
        part: part_text(),
    })
}

impl Version {
    /// Parses a strict semantic version (no `v`, exactly three numbers).
    pub fn parse(text: &str) -> Result<Version, SemverError> {
        let text = text.split_once('+').map_or(text, |(v, _)| v);
        let (core, pre) = match text.split_once('-') {
            Some((core, pre)) => (core, Some(pre)),
            None => (text, None),
        };
        let parts: Vec<&str> = core.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(SemverError::NotTriple(text.to_string()));
        };
        let pre = match pre {
            None => Vec::new(),
            Some(pre) => pre
                .split('.')
                .map(|id| {
                    if id.is_empty() {
                        Err(SemverError::EmptyPreRelease(text.to_string()))
                    } else if id.bytes().all(|b| b.is_ascii_digit()) {
                        number(id, "pre-release number").map(Pre::Num)
                    } else {
                        Ok(Pre::Text(id.to_string()))
                    }
                })
                .collect::<Result<_, _>>()?,
        };
        Ok(Version {
            major: number(major, "major version")?,
            minor: number(minor, "minor version")?,
            patch: number(patch, "patch version")?,
            pre,
        })
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let core =
            (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch));
        if core != Ordering::Equal {
            return core;
        }
        match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => return Ordering::Equal,
            (true, false) => return Ordering::Greater,
            (false, true) => return Ordering::Less,
            (false, false) => {}
        }
        for (a, b) in self.pre.iter().zip(&other.pre) {
            let o = match (a, b) {
                (Pre::Num(a), Pre::Num(b)) => a.cmp(b),
                (Pre::Num(_), Pre::Text(_)) => Ordering::Less,
                (Pre::Text(_), Pre::Num(_)) => Ordering::Greater,
                (Pre::Text(a), Pre::Text(b)) => a.cmp(b),
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        self.pre.len().cmp(&other.pre.len())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed range: OR of ANDs of comparisons.
#[derive(Clone, Debug)]
pub struct Range(Vec<Vec<(Cmp, Version)>>);

impl Range {
    /// Parses a blang range; the error says which part is wrong.
    pub fn parse(text: &str) -> Result<Range, SemverError> {
        let parts = split_and_trim(text);
        let mut ors: Vec<Vec<String>> = vec![Vec::new()];
        for (i, part) in parts.iter().enumerate() {
            if part == "||" {
                if i == 0 {
                    return Err(SemverError::LeadingOr);
                }
                ors.push(Vec::new());
            } else if let Some(last) = ors.last_mut() {
                last.push(part.clone());
            }
        }
        if ors.last().is_some_and(Vec::is_empty) {
            return Err(SemverError::TrailingOr);
        }
        let mut out = Vec::new();
        for and in ors {
            let mut comparisons = Vec::new();
            for part in expand_wildcards(&and)? {
                let (op, version) = split_op(&part)?;
                let cmp = match op {
                    "" | "=" | "==" => Cmp::Eq,
                    "!" | "!=" => Cmp::Ne,
                    ">" => Cmp::Gt,
                    ">=" => Cmp::Ge,
                    "<" => Cmp::Lt,
                    "<=" => Cmp::Le,
                    other => {
                        return Err(SemverError::Comparator {
                            op: other.to_string(),
                            part: part.clone(),
                        });
                    }
                };
                let version = Version::parse(version).map_err(|e| SemverError::InPart {
                    part: part.clone(),
                    source: Box::new(e),
                })?;
                comparisons.push((cmp, version));
            }
            out.push(comparisons);
        }
        Ok(Range(out))
    }

    /// Whether `v` is in the range.
    pub fn contains(&self, v: &Version) -> bool {
        self.0.iter().any(|and| {
            and.iter().all(|(cmp, bound)| {
                let o = v.cmp(bound);
                match cmp {
                    Cmp::Eq => o == Ordering::Equal,
                    Cmp::Ne => o != Ordering::Equal,
                    Cmp::Gt => o == Ordering::Greater,
                    Cmp::Ge => o != Ordering::Less,
                    Cmp::Lt => o == Ordering::Less,
                    Cmp::Le => o != Ordering::Greater,
                }
            })
        })
    }
}

/// Splits on spaces, except spaces right after a comparator (`>= 1.2.0` is one part).
fn split_and_trim(text: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut last = ' ';
    for c in text.chars() {
        if c == ' ' {
            if !matches!(last, '>' | '<' | '=') && !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
            last = c;
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

fn split_op(part: &str) -> Result<(&str, &str), SemverError> {
    let i = part
        .find(|c: char| c.is_ascii_digit())
        .ok_or_else(|| SemverError::NoVersion(part.to_string()))?;
    Ok((part[..i].trim(), &part[i..]))
}

fn bump(version: &str, index: usize) -> String {
    let mut parts: Vec<String> = version.split('.').map(str::to_string).collect();
    if let Some(n) = parts.get(index).and_then(|p| p.parse::<u64>().ok()) {
        parts[index] = (n + 1).to_string();
    }
    parts.join(".")
}

/// Rewrites wildcard parts as blang does: `1.2.x` → `>=1.2.0 <1.3.0`, `>1.x` → `>=2.0.0`,
/// `<=1.2.x` → `<1.3.0`, `!=1.x` → `<1.0.0 >=2.0.0` (an AND: it matches nothing, as in blang).
fn expand_wildcards(parts: &[String]) -> Result<Vec<String>, SemverError> {
    let mut out = Vec::new();
    for part in parts {
        if !part.contains('x') {
            out.push(part.clone());
            continue;
        }
        let (op, version) = split_op(part)?;
        let segments: Vec<&str> = version.split('.').collect();
        // Which segment is the wildcard: 2 parts → minor, 3 → patch (anything else none).
        let wildcard = match (segments.len(), segments.last()) {
            (2, Some(&"x")) => Some(0),
            (3, Some(&"x")) => Some(1),
            _ => None,
        };
        let mut flat = version.replacen(".x.x", ".x", 1).replacen(".x", ".0", 1);
        if flat.split('.').count() == 2 {
            flat.push_str(".0");
        }
        let bumped = || wildcard.map(|i| bump(&flat, i)).unwrap_or_default();
        let rewritten = match op {
            ">" => format!(">={}", bumped()),
            ">=" => format!(">={flat}"),
            "<" => format!("<{flat}"),
            "<=" => format!("<{}", bumped()),
            "" | "=" | "==" => {
                out.push(format!(">={flat}"));
                format!("<{}", bumped())
            }
            "!=" | "!" => {
                out.push(format!("<{flat}"));
                format!(">={}", bumped())
            }
            other => other.to_string(),
        };
        out.push(rewritten);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holds(range: &str, version: &str) -> bool {
        Range::parse(range)
            .unwrap_or_else(|e| panic!("{range}: {e}"))
            .contains(&Version::parse(version).expect("version"))
    }

    #[test]
    fn ranges_follow_blang() {
        assert!(holds("< 1.16.0", "1.15.9"));
        assert!(!holds("< 1.16.0", "1.24.4+k3s1"));
        assert!(holds(">= 1.20.0 < 1.25.0", "1.24.4"));
        assert!(!holds(">=1.20.0 <1.25.0", "1.25.0"));
        assert!(holds("<1.10.0 || >=1.25.0", "1.26.1"));
        assert!(!holds("<1.10.0 || >=1.25.0", "1.20.0"));
        assert!(holds("1.2.3", "1.2.3"));
        assert!(holds("!1.2.3", "1.2.4"));
        assert!(holds("!=1.2.3", "1.2.4"));
        // Pre-releases sort before their release; build metadata is ignored.
        assert!(holds("< 1.20.0", "1.20.0-rc.1"));
        assert!(holds("= 1.20.0", "1.20.0+build5"));
    }

    #[test]
    fn wildcards_expand_like_blang() {
        assert!(holds("1.2.x", "1.2.9"));
        assert!(!holds("1.2.x", "1.3.0"));
        assert!(holds(">1.x", "2.0.0"));
        assert!(!holds(">1.x", "1.9.0"));
        assert!(holds("<=1.2.x", "1.2.99"));
        assert!(!holds("<=1.2.x", "1.3.0"));
        // blang ANDs the two halves of a negated wildcard (`<1.0.0 >=2.0.0`), so it never
        // matches; kept, so a spec judges a bundle here as it does in troubleshoot.
        assert!(!holds("!=1.x", "2.1.0"));
        assert!(!holds("!=1.x", "1.1.0"));
        assert!(holds(">=1.19.x", "1.19.0"));
    }

    #[test]
    fn malformed_ranges_and_versions_are_errors() {
        for bad in ["", "|| 1.2.3", "1.2.3 ||", "~1.2.3", ">= abc", "1.2"] {
            assert!(Range::parse(bad).is_err(), "{bad}");
        }
        for bad in ["1.2", "v1.2.3", "01.2.3", "1.2.3-"] {
            assert!(Version::parse(bad).is_err(), "{bad}");
        }
        assert!(Version::parse("1.2.3-rc.1+x").is_ok());
    }
}
