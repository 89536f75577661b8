//! One list of typed items (`collectors`, `hostCollectors`, `analyzers`, `hostAnalyzers`).

use super::context::{Ctx, join};
use super::fields;
use super::kinds::Section;
use super::{DropReason, Entry};
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
        ctx.push(not_a_mapping(ctx, section, item, path));
        return None;
    };
    let (key, body) = match entries {
        [one] => (&one.0, &one.1),
        // troubleshoot decodes `- {}` into an item with no type and never runs it.
        [] => {
            let d = ctx
                .warning(
                    item.loc,
                    path,
                    format!("empty {noun} (no type key) {}", ignored(section)),
                )
                .with_hint(format!(
                    "remove it, or name its type, e.g. `- {}: {{}}`",
                    section.keys()[0]
                ));
            ctx.push(d);
            ctx.drop_item(section, None, item.loc, DropReason::Empty);
            return None;
        }
        many => chosen(ctx, section, item, many, path)?,
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
            ctx.drop_item(section, Some(kind.to_string()), key.loc, DropReason::NoBody);
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
    if let Some(known) = fields::fields_of(section, kind) {
        fields::warn_unknown(ctx, kind, known, body, &path);
    }
    let collector_name = entry_name(ctx, section, body, &path);
    let exclude = exclude(ctx, body, &path);
    Some(Entry {
        kind: kind.to_string(),
        body: body.to_json(),
        file: ctx.file.to_path_buf(),
        loc: key.loc,
        collector_name,
        exclude,
    })
}

/// An item that is not a mapping: troubleshoot fails on these too (a bare `-` crashes it).
fn not_a_mapping(
    ctx: &Ctx,
    section: Section,
    item: &Node,
    path: &str,
) -> crate::diagnostic::Diagnostic {
    let noun = section.item_noun();
    if matches!(item.value, Value::Null) {
        return ctx
            .error(
                item.loc,
                path,
                format!("empty list entry where {} belongs", a(noun)),
            )
            .with_hint(format!(
                "remove the bare `-` (troubleshoot v0.133 crashes on it), or write `- {}: {{}}`",
                section.keys()[0]
            ));
    }
    ctx.error(
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
    ))
}

/// The recognised type for `key`, or `None` after warning why troubleshoot ignores it.
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
        ctx.drop_item(
            section,
            Some(name.to_string()),
            key.loc,
            DropReason::OtherList,
        );
        return None;
    }
    // troubleshoot's decoder drops unknown keys, so the item has no type and never runs.
    let mut d = ctx.warning(
        key.loc,
        path,
        format!(
            "unknown {} type `{name}` {}",
            section.item_noun(),
            ignored(section)
        ),
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
    ctx.drop_item(
        section,
        Some(name.to_string()),
        key.loc,
        DropReason::UnknownType,
    );
    None
}

/// Two or more keys: troubleshoot sets every type named and runs only the first one its code
/// checks; usually fields that lost their indentation under the type key.
fn chosen<'n>(
    ctx: &mut Ctx,
    section: Section,
    item: &Node,
    keys: &'n [(Node, Node)],
    path: &str,
) -> Option<(&'n Node, &'n Node)> {
    let names: Vec<String> = keys
        .iter()
        .map(|(k, _)| format!("`{}`", k.scalar_text()))
        .collect();
    let types: Vec<&(Node, Node)> = keys
        .iter()
        .filter(|(k, _)| k.as_str().and_then(|k| section.recognise(k)).is_some())
        .collect();
    let first = types
        .iter()
        .min_by_key(|(k, _)| fields::dispatch_rank(section, &k.scalar_text()))
        .map(|(k, v)| (k, v));
    let noun = section.item_noun();
    let message = match first {
        Some((k, _)) => format!(
            "{} has {} keys ({}); troubleshoot runs only `{}` and ignores the rest",
            a(noun),
            keys.len(),
            names.join(", "),
            k.scalar_text()
        ),
        None => format!(
            "{} has {} keys ({}) and none is a {noun} type; troubleshoot ignores it",
            a(noun),
            keys.len(),
            names.join(", ")
        ),
    };
    let hint = match types.as_slice() {
        [one] => format!("indent the other fields under `{}:`", one.0.scalar_text()),
        _ => format!("start a new list item (`- `) for each {noun}"),
    };
    let d = ctx.warning(item.loc, path, message).with_hint(hint);
    ctx.push(d);
    if first.is_none() {
        let name = keys[0].0.scalar_text();
        ctx.drop_item(section, Some(name), item.loc, DropReason::UnknownType);
    }
    first
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
/// troubleshoot ignores a string it cannot parse (the item runs), so that only warns.
fn exclude(ctx: &mut Ctx, body: &Node, path: &str) -> bool {
    let Some(node) = body.get("exclude") else {
        return false;
    };
    let parsed = match &node.value {
        Value::Null => Some(false),
        Value::Bool(b) => Some(*b),
        Value::Str(s) => parse_go_bool(s),
        _ => None,
    };
    match (parsed, &node.value) {
        (Some(b), _) => b,
        (None, Value::Str(_)) => {
            let d = ctx
                .warning(
                    node.loc,
                    &join(path, "exclude"),
                    format!("`exclude` value {} is not a boolean; troubleshoot reads it as false, so this runs", describe(node)),
                )
                .with_hint("use true or false (strings such as \"true\", \"1\", \"f\" and \"\" are also accepted)");
            ctx.push(d);
            false
        }
        (None, _) => {
            // troubleshoot fails to decode a list or a mapping here.
            let d = ctx
                .error(
                    node.loc,
                    &join(path, "exclude"),
                    format!(
                        "`exclude` must be a boolean or a boolean string, found {}",
                        describe(node)
                    ),
                )
                .with_hint("use true or false");
            ctx.push(d);
            false
        }
    }
}

/// What happens to an item with no type troubleshoot knows: collectors are dropped; an
/// analyzer becomes a failed "nil analyzer" result there (recorded in tests/data/lenient),
/// which the agent does not imitate.
fn ignored(section: Section) -> &'static str {
    match section {
        Section::Collectors | Section::HostCollectors => "is ignored, as troubleshoot ignores it",
        Section::Analyzers | Section::HostAnalyzers => {
            "is skipped (troubleshoot reports it as a failed `nil analyzer`)"
        }
    }
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
