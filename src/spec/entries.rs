//! One list of typed items (`collectors`, `hostCollectors`, `analyzers`, `hostAnalyzers`).

use super::Entry;
use super::context::{Ctx, join};
use super::kinds::Section;
use crate::yaml::{Node, Value, suggest};

/// Reads every item of `list` (found at field path `path`) as an entry of `section`.
///
/// Problems are reported per item, so one typo does not hide the rest of the file.
pub(super) fn parse_section(
    ctx: &mut Ctx,
    section: Section,
    list: &Node,
    path: &str,
) -> Vec<Entry> {
    let items = match &list.value {
        Value::Seq(items) => items,
        // An empty `collectors:` is "none", as troubleshoot reads it.
        Value::Null => return Vec::new(),
        _ => {
            let d = ctx
                .error(
                    list.loc,
                    path,
                    format!(
                        "`{section}` must be a list of {}s, found {}",
                        section.item_noun(),
                        list.kind_name()
                    ),
                )
                .with_hint(format!(
                    "write each {} as `- <type>: {{...}}`",
                    section.item_noun()
                ));
            ctx.push(d);
            return Vec::new();
        }
    };
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| parse_item(ctx, section, item, &format!("{path}[{i}]")))
        .collect()
}

fn parse_item(ctx: &mut Ctx, section: Section, item: &Node, path: &str) -> Option<Entry> {
    let noun = section.item_noun();
    let Some(entries) = item.as_map() else {
        let d = ctx
            .error(
                item.loc,
                path,
                format!(
                    "{} must be a mapping with one type key, found {}",
                    a(noun),
                    item.kind_name()
                ),
            )
            .with_hint(format!(
                "write it as `- <type>: {{...}}`, e.g. `- {}: {{}}`",
                section.keys()[0]
            ));
        ctx.push(d);
        return None;
    };
    let (key, body) = match entries {
        [one] => (&one.0, &one.1),
        [] => {
            let d = ctx
                .error(
                    item.loc,
                    path,
                    format!("empty {noun}: expected exactly one key naming its type"),
                )
                .with_hint(format!("e.g. `- {}: {{}}`", section.keys()[0]));
            ctx.push(d);
            return None;
        }
        many => {
            ctx.push(two_keys(ctx, section, item, many, path));
            return None;
        }
    };
    let name = key.scalar_text();
    let kind = recognise(ctx, section, key, &name, path)?;
    let path = join(path, kind);
    match &body.value {
        Value::Map(_) => {}
        // troubleshoot reads `- cpu:` as an absent collector and never runs it.
        Value::Null => {
            let d = ctx
                .warning(
                    key.loc,
                    &path,
                    format!("`{kind}` has no body, so troubleshoot skips it"),
                )
                .with_hint(format!("write `{kind}: {{}}` to run it with its defaults"));
            ctx.push(d);
            return None;
        }
        _ => {
            let d = ctx
                .error(
                    body.loc,
                    &path,
                    format!("`{kind}` must be a mapping, found {}", body.kind_name()),
                )
                .with_hint(format!("write `{kind}: {{}}` and put its fields under it"));
            ctx.push(d);
            return None;
        }
    }
    let collector_name = entry_name(ctx, section, body, &path);
    let exclude = exclude(ctx, body, &path);
    Some(Entry {
        kind: kind.to_string(),
        body: body.to_json(),
        file: ctx.file.to_path_buf(),
        loc: key.loc,
        collector_name,
        exclude: exclude.unwrap_or(false),
    })
}

/// The recognised type for `key`, or `None` after reporting why it is not one.
fn recognise(
    ctx: &mut Ctx,
    section: Section,
    key: &Node,
    name: &str,
    path: &str,
) -> Option<&'static str> {
    if key.as_str().is_some()
        && let Some(kind) = section.recognise(name)
    {
        return Some(kind);
    }
    let sibling = section.sibling();
    if key.as_str().is_some() && sibling.recognise(name).is_some() {
        // troubleshoot decodes the item into the wrong type and silently drops it; a warning
        // keeps shipped specs (host/default.yaml puts `systemPackages` under `analyzers`) valid.
        let d = ctx
            .warning(
                key.loc,
                path,
                format!(
                    "`{name}` is a {} type, not {}; troubleshoot ignores it here",
                    sibling.item_noun(),
                    a(section.item_noun())
                ),
            )
            .with_hint(format!("move it under `{sibling}`"));
        ctx.push(d);
        return None;
    }
    let mut d = ctx.error(
        key.loc,
        path,
        format!("unknown {} type `{name}`", section.item_noun()),
    );
    d = match suggest(name, section.keys()) {
        Some(s) => d.with_hint(format!("did you mean `{s}`?")),
        None => d.with_hint(format!(
            "recognised {} types: {}",
            section.item_noun(),
            section.keys().join(", ")
        )),
    };
    ctx.push(d);
    None
}

/// Two or more keys: usually fields that lost their indentation under the type key.
fn two_keys(
    ctx: &Ctx,
    section: Section,
    item: &Node,
    keys: &[(Node, Node)],
    path: &str,
) -> crate::diagnostic::Diagnostic {
    let names: Vec<String> = keys
        .iter()
        .map(|(k, _)| format!("`{}`", k.scalar_text()))
        .collect();
    let d = ctx.error(
        item.loc,
        path,
        format!(
            "{} must have exactly one key naming its type, found {}: {}",
            a(section.item_noun()),
            keys.len(),
            names.join(", ")
        ),
    );
    let types: Vec<String> = keys
        .iter()
        .map(|(k, _)| k.scalar_text())
        .filter(|k| section.recognise(k).is_some())
        .collect();
    match types.as_slice() {
        [one] => d.with_hint(format!("indent the other fields under `{one}:`")),
        _ => d.with_hint(format!(
            "start a new list item (`- `) for each {}",
            section.item_noun()
        )),
    }
}

/// `collectorName` (or `checkName`), when set to a scalar.
fn entry_name(ctx: &mut Ctx, section: Section, body: &Node, path: &str) -> Option<String> {
    let field = section.name_field();
    let node = body.get(field)?;
    match &node.value {
        Value::Null => None,
        Value::Seq(_) | Value::Map(_) => {
            let d = ctx.error(
                node.loc,
                &join(path, field),
                format!("`{field}` must be a string, found {}", node.kind_name()),
            );
            ctx.push(d);
            None
        }
        _ => Some(node.scalar_text()),
    }
}

/// `exclude`: a boolean, or a string read like Go's `strconv.ParseBool` (empty is false).
fn exclude(ctx: &mut Ctx, body: &Node, path: &str) -> Option<bool> {
    let node = body.get("exclude")?;
    let parsed = match &node.value {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::Str(s) => parse_go_bool(s),
        _ => None,
    };
    if parsed.is_none() {
        let d = ctx
            .error(
                node.loc,
                &join(path, "exclude"),
                format!("`exclude` must be a boolean or a boolean string, found {}", describe(node)),
            )
            .with_hint("use true or false (strings such as \"true\", \"1\", \"f\" and \"\" are also accepted)");
        ctx.push(d);
    }
    parsed
}

/// `noun` with its indefinite article.
fn a(noun: &str) -> String {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {noun}")
    } else {
        format!("a {noun}")
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Str(s) => format!("`{s}`"),
        _ => node.kind_name().to_string(),
    }
}

/// Go's `strconv.ParseBool`, plus the empty string as false (troubleshoot's BoolOrString).
pub(super) fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "" | "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        _ => None,
    }
}
