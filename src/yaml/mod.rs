//! YAML parsing shared by job files and troubleshoot specs: a located node tree, then typed reads.
//!
//! Parsing goes through serde-saphyr once per file into [`Node`]s, so every later check (typed
//! deserialization, semantic validation, unknown-key warnings) can point at a line and column.

mod de;
mod node;

pub use de::{DeError, from_node, suggest};
pub use node::{Loc, Node, Value};

/// A file that is not YAML at all, or breaks a parser limit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What the parser said.
    pub message: String,
    /// Where, when the parser knew.
    pub loc: Option<Loc>,
}

/// Parses every document of `text`; empty documents (only comments, or nothing) are dropped.
///
/// Duplicate keys, alias bombs and runaway nesting are refused by the parser's budget, so a
/// hostile file costs bounded memory and time.
pub fn parse_documents(text: &str) -> Result<Vec<Node>, SyntaxError> {
    // Only YAML 1.2 booleans are inferred, so `namespaces: [no]` stays a string; bool fields
    // still accept `yes`/`no`/`on`/`off` (see the deserializer), as Kubernetes users expect.
    let options = serde_saphyr::options! {
        with_snippet: false,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_multiple_with_options::<Node, Vec<Node>>(text, options).map_err(|e| {
        let loc = e.location().map(|l| {
            Loc::new(
                u32::try_from(l.line()).unwrap_or(u32::MAX),
                u32::try_from(l.column()).unwrap_or(u32::MAX),
            )
        });
        SyntaxError {
            message: describe(&e),
            loc: loc.filter(Loc::is_known),
        }
    })
}

/// The parser's error in words for people editing a job file. The parser's own text for these
/// two is written for developers (a `Debug` dump of the budget, advice to set a library option).
fn describe(e: &serde_saphyr::Error) -> String {
    // An alias bomb is reported wrapped in the alias's locations (and maybe a snippet).
    let mut inner = e;
    while let serde_saphyr::Error::AliasError { error, .. }
    | serde_saphyr::Error::WithSnippet { error, .. } = inner
    {
        inner = error;
    }
    match inner {
        serde_saphyr::Error::Budget { breach, .. } => {
            use serde_saphyr::budget::BudgetBreach as B;
            let what = match breach {
                B::Nodes { .. } | B::Aliases { .. } | B::AliasAnchorRatio { .. } => {
                    "aliases (`*name`) expand it to too many values; this looks like an alias bomb (\"billion laughs\")"
                }
                B::Depth { .. } => "it is nested too deeply",
                B::Events { .. } | B::ScalarBytes { .. } | B::InputBytes { .. } => {
                    "it is too large"
                }
                _ => "it is too large or too complex",
            };
            format!("the document breaks the parser's safety limits: {what}")
        }
        serde_saphyr::Error::DuplicateMappingKey { key: Some(key), .. } => {
            format!("duplicate key `{key}`; each key may appear only once in a mapping")
        }
        serde_saphyr::Error::DuplicateMappingKey { key: None, .. } => {
            "duplicate key; each key may appear only once in a mapping".to_string()
        }
        _ => clean_message(&e.to_string()),
    }
}

// The parser appends its own "at line X, column Y", sometimes followed by "(defined at …)" and
// "(used at …)" for aliases; we print locations ourselves, so everything from the first one goes.
fn clean_message(message: &str) -> String {
    let first = message.lines().next().unwrap_or(message).trim();
    let cut = [" at line ", " (defined at line ", " (used at line "]
        .iter()
        .filter_map(|marker| first.find(marker))
        .min();
    match cut {
        Some(i) => first[..i].trim_end_matches(',').to_string(),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)] // read only through Debug and the errors
    struct Inner {
        limit: u32,
        #[serde(default)]
        name: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only through Debug and the errors
    struct Outer {
        retry: Inner,
        #[serde(default)]
        items: Vec<Inner>,
    }

    #[test]
    fn nodes_remember_lines_and_columns() {
        let docs = parse_documents("a: 1\nb:\n  c: [x, y]\n---\n# only a comment\n---\nz: 2\n")
            .expect("parses");
        assert_eq!(docs.len(), 2);
        let c = docs[0].locate(&["b", "c"]);
        assert_eq!(c.loc, Loc::new(3, 6));
        let y = docs[0].locate(&["b", "c", "1"]);
        assert_eq!(y.as_str(), Some("y"));
        assert_eq!(y.loc, Loc::new(3, 10));
        assert_eq!(docs[1].get("z").map(|n| n.loc), Some(Loc::new(7, 4)));
    }

    #[test]
    fn typed_errors_point_at_the_offending_node() {
        let docs = parse_documents("retry:\n  limit: 2\nitems:\n  - limit: x\n").expect("parses");
        let err = from_node::<Outer>(&docs[0]).expect_err("x is not a number");
        assert_eq!(err.loc, Some(Loc::new(4, 12)));
        assert_eq!(err.path_string(), "items[0].limit");
    }

    #[test]
    fn unknown_fields_are_located_at_the_key_with_a_suggestion() {
        let docs = parse_documents("retry:\n  limt: 2\n").expect("parses");
        let err = from_node::<Outer>(&docs[0]).expect_err("unknown field");
        assert_eq!(err.loc, Some(Loc::new(2, 3)));
        assert_eq!(err.suggestion.as_deref(), Some("limit"));
        assert_eq!(err.path_string(), "retry.limt");
    }

    #[test]
    fn missing_fields_point_at_the_mapping() {
        let docs = parse_documents("retry:\n  name: a\n").expect("parses");
        let err = from_node::<Outer>(&docs[0]).expect_err("limit is required");
        assert!(err.message.contains("`limit`"), "{}", err.message);
        assert_eq!(err.loc, Some(Loc::new(2, 3)));
    }

    #[test]
    fn numbers_read_into_strings_and_duplicates_are_refused() {
        let docs = parse_documents("retry: {limit: 1, name: 8080}\n").expect("parses");
        let outer = from_node::<Outer>(&docs[0]).expect("valid");
        assert_eq!(outer.retry.name.as_deref(), Some("8080"));
        let err = parse_documents("a: 1\nb: 2\na: 3\n").expect_err("duplicate key");
        assert_eq!(
            err.message,
            "duplicate key `a`; each key may appear only once in a mapping"
        );
        assert_eq!(err.loc.map(|l| l.line), Some(3));
    }

    #[test]
    fn duplicate_keys_deep_in_a_big_mapping_are_refused_at_their_line_and_column() {
        let mut text = String::from("spec:\n  labels:\n");
        for i in 0..5000 {
            text.push_str(&format!("    key-{i}: v\n"));
        }
        text.push_str("    key-17: again\n");
        let err = parse_documents(&text).expect_err("duplicate key");
        assert_eq!(
            err.message,
            "duplicate key `key-17`; each key may appear only once in a mapping"
        );
        assert_eq!(err.loc, Some(Loc::new(5003, 5)));
    }

    /// The tree's own check, for a parser that lets duplicates through (ours never does).
    fn tree_with_duplicates_allowed(text: &str) -> Result<Node, serde_saphyr::Error> {
        let options = serde_saphyr::options! {
            duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        };
        serde_saphyr::from_str_with_options::<Node>(text, options)
    }

    #[test]
    fn the_tree_refuses_duplicate_keys_by_value_with_their_location() {
        let mut text: String = (0..3000).map(|i| format!("k{i}: {i}\n")).collect();
        text.push_str("k2999: dup\n");
        let err = tree_with_duplicates_allowed(&text)
            .expect_err("duplicate")
            .to_string();
        assert!(err.contains("duplicate key `k2999` at 3001:1"), "{err}");
        // Equal values of every scalar kind are the same key; 0.0 and -0.0 are equal floats.
        for (a, b) in [("1", "1"), ("true", "true"), ("~", "null"), ("0.0", "-0.0")] {
            let err = tree_with_duplicates_allowed(&format!("{a}: x\n{b}: y\n"))
                .expect_err("duplicate")
                .to_string();
            assert!(err.contains("duplicate key"), "{a} / {b}: {err}");
        }
        // Values of different kinds, or the same text quoted, are different keys.
        let node = tree_with_duplicates_allowed("1: a\n\"1\": b\n1.0: c\n[1]: d\n[1]: e\n")
            .expect("distinct keys");
        assert_eq!(node.as_map().map(<[_]>::len), Some(5));
    }

    #[test]
    fn alias_bombs_are_refused_without_exhausting_memory() {
        let mut text = String::from(
            "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
        );
        let mut prev = 'a';
        for name in "bcdefghij".chars() {
            text.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
            prev = name;
        }
        let err = parse_documents(&text).expect_err("budget breached");
        assert!(err.message.contains("alias bomb"), "{}", err.message);
        assert!(!err.message.contains("at line"), "{}", err.message);
    }
}
