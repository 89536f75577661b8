//! Reading a job document past its first type error, so `validate` reports every mistake of a
//! file in one run.
//!
//! serde stops at the first field that does not fit its type. To find the next one, the
//! offending entry is taken out of a copy of the located tree (or, for a misspelt key, renamed to
//! the spelling the error suggests) and the document is read again, until it reads or nothing
//! more can be taken out. A document that finally reads is then checked semantically like a good
//! one (schedule, time zone, references), so those errors are found too. The copy only ever
//! serves to find errors: the document stays rejected.

use crate::yaml::{DeError, Node, Value};

/// At most this many type errors are collected from one document (each costs one more read of
/// it); what is left is counted by the caller's "and N more".
pub const MAX_TYPE_ERRORS: usize = 50;

/// What reading the document again and again found.
pub struct Salvaged<T> {
    /// Every type error after the first, in the order found.
    pub errors: Vec<DeError>,
    /// The document read from the repaired tree, and that tree (for semantic checks), when the
    /// repairs got it to read.
    pub repaired: Option<(T, Node)>,
}

/// Reads `node` as a `T` again and again after `first` (the error of the first read), taking out
/// or renaming the entry each error names.
pub fn salvage<T>(node: &Node, first: &DeError) -> Salvaged<T>
where
    T: for<'a> serde::Deserialize<'a>,
{
    let mut tree = node.clone();
    let mut removed: Vec<Vec<String>> = Vec::new();
    let mut renamed: Vec<Vec<String>> = Vec::new();
    let mut errors = Vec::new();
    let mut current = first.clone();
    for _ in 0..MAX_TYPE_ERRORS {
        match repair(&mut tree, &current) {
            Some(Repair::Removed(path)) => removed.push(path),
            Some(Repair::Renamed(path)) => renamed.push(path),
            None => break,
        }
        match crate::yaml::from_node::<T>(&tree) {
            Ok(doc) => {
                return Salvaged {
                    errors,
                    repaired: Some((doc, tree)),
                };
            }
            Err(next) => {
                if caused_by_removal(&next, &removed) {
                    break;
                }
                if let Some(path) = renamed.iter().find(|p| next.path.starts_with(p)) {
                    // The value does not fit the field the key was taken for either: the
                    // "did you mean" already said enough; take the entry out quietly.
                    current = DeError {
                        message: String::new(),
                        loc: None,
                        path: path.clone(),
                        suggestion: None,
                    };
                    continue;
                }
                errors.push(next.clone());
                current = next;
            }
        }
    }
    Salvaged {
        errors,
        repaired: None,
    }
}

enum Repair {
    /// The entry at this path was taken out.
    Removed(Vec<String>),
    /// A misspelt key was renamed to the suggested spelling (its new path).
    Renamed(Vec<String>),
}

/// Takes out (or renames) the entry `err` names; `None` when it names nothing that can go (a
/// missing field, an error about the whole document).
fn repair(tree: &mut Node, err: &DeError) -> Option<Repair> {
    let (last, parents) = err.path.split_last()?;
    let parent = walk_mut(tree, parents)?;
    match &mut parent.value {
        Value::Map(entries) => {
            let index = entries.iter().position(|(k, _)| k.scalar_text() == *last)?;
            if let Some(suggestion) = &err.suggestion
                && err.message.starts_with("unknown field")
                && !entries.iter().any(|(k, _)| k.scalar_text() == *suggestion)
            {
                // `schedul:` is the user's schedule: read it as one, so its value is checked too
                // and no "missing `schedule`" follows.
                entries[index].0.value = Value::Str(suggestion.clone());
                let mut path = parents.to_vec();
                path.push(suggestion.clone());
                return Some(Repair::Renamed(path));
            }
            entries.remove(index);
            Some(Repair::Removed(err.path.clone()))
        }
        Value::Seq(items) => {
            let index = seq_index(last)?;
            (index < items.len()).then(|| {
                items.remove(index);
                Repair::Removed(err.path.clone())
            })
        }
        _ => None,
    }
}

fn walk_mut<'a>(mut node: &'a mut Node, path: &[String]) -> Option<&'a mut Node> {
    for segment in path {
        node = match &mut node.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|(k, _)| k.scalar_text() == *segment)
                .map(|(_, v)| v)?,
            Value::Seq(items) => items.get_mut(seq_index(segment)?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// `[3]` → 3.
fn seq_index(segment: &str) -> Option<usize> {
    segment.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

/// Whether `err` says a field is missing that a repair took out (its real error is already
/// reported).
fn caused_by_removal(err: &DeError, removed: &[Vec<String>]) -> bool {
    let Some(field) = err
        .message
        .strip_prefix("missing required field `")
        .and_then(|rest| rest.split('`').next())
    else {
        return false;
    };
    removed.iter().any(|path| {
        path.split_last()
            .is_some_and(|(last, parents)| last == field && parents == err.path.as_slice())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Doc {
        schedule: String,
        #[serde(default)]
        limit: u32,
        #[serde(default)]
        policy: Option<Policy>,
        #[serde(default)]
        items: Vec<u8>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    enum Policy {
        Forbid,
        Allow,
    }

    fn parse(text: &str) -> Node {
        crate::yaml::parse_documents(text)
            .expect("yaml")
            .into_iter()
            .next()
            .expect("one document")
    }

    fn all_errors(text: &str) -> (Vec<String>, Option<Doc>) {
        let node = parse(text);
        let first = crate::yaml::from_node::<Doc>(&node).expect_err("has an error");
        let found = salvage::<Doc>(&node, &first);
        let mut messages = vec![first.path_string()];
        messages.extend(found.errors.iter().map(DeError::path_string));
        (messages, found.repaired.map(|(doc, _)| doc))
    }

    #[test]
    fn every_bad_field_is_found_and_the_rest_reads() {
        let (paths, doc) =
            all_errors("schedule: x\nlimit: -1\npolicy: Forbd\nitems: [1, 300, 2]\nextra: 1\n");
        assert_eq!(paths, ["limit", "policy", "items[1]", "extra"]);
        let doc = doc.expect("the repaired document reads");
        assert_eq!(doc.items, vec![1, 2]);
        assert_eq!(doc.limit, 0);
    }

    #[test]
    fn a_misspelt_key_is_read_under_its_suggestion_so_its_value_is_checked_too() {
        let (paths, doc) = all_errors("schedul: x\nlimt: -1\n");
        assert_eq!(paths, ["schedul", "limt"]);
        assert_eq!(doc.expect("reads").schedule, "x");
    }

    #[test]
    fn a_misspelt_key_whose_value_does_not_fit_its_suggestion_is_reported_once() {
        let (paths, doc) = all_errors("schedule: x\nlimt: [1]\n");
        assert_eq!(paths, ["limt"]);
        assert_eq!(doc.expect("reads").limit, 0);
    }

    #[test]
    fn a_required_field_taken_out_is_not_reported_missing() {
        let (paths, doc) = all_errors("schedule: [1]\nlimit: -1\n");
        assert_eq!(paths, ["schedule", "limit"]);
        assert!(doc.is_none());
    }

    #[test]
    fn a_field_missing_from_the_file_is_reported() {
        let (paths, doc) = all_errors("limit: -1\n");
        assert_eq!(paths, ["limit", ""]);
        assert!(doc.is_none());
    }
}
