//! `diff A B`: what changed from bundle A to bundle B (directories or `.tar.gz`, ours or made
//! by `support-bundle`), as a table or JSON (the `changes.json` shape, docs/changes.md).
//!
//! Exit codes: 0 compared (with or without changes), 1 a bundle could not be read.

use super::args::{DiffArgs, GlobalArgs, Output};
use crate::changes::{self, Category, Changes, CountChange, ValueChange};
use anyhow::Context as _;

/// Runs `diff`.
pub fn run(global: &GlobalArgs, args: &DiffArgs) -> anyhow::Result<u8> {
    let fingerprint = |path: &std::path::Path, which: &str| {
        changes::Fingerprint::of_path(path)
            .with_context(|| format!("cannot read bundle {which} ({})", path.display()))
    };
    let old = fingerprint(&args.old, "A")?;
    let new = fingerprint(&args.new, "B")?;
    let changes = changes::compare(&old, &new);
    match global.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&changes)?),
        Output::Text | Output::Wide => print!("{}", table(&changes)),
    }
    Ok(0)
}

/// The changes as a table for people, then the one-line summary.
pub fn table(changes: &Changes) -> String {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::NOTHING);
    table.set_header(["CATEGORY", "CHANGE", "WHAT", "BEFORE", "AFTER"]);
    let mut row = |c: Category, what: &str, key: &str, before: String, after: String| {
        table.add_row([
            c.as_str().to_string(),
            what.to_string(),
            key.to_string(),
            before,
            after,
        ]);
    };
    let values = |row: &mut dyn FnMut(Category, &str, &str, String, String),
                  c: Category,
                  list: &[ValueChange]| {
        for v in list {
            let what = match (&v.before, &v.after) {
                (None, _) => "added",
                (_, None) => "removed",
                _ => "changed",
            };
            let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
            row(c, what, &v.key, show(&v.before), show(&v.after));
        }
    };
    let counts = |row: &mut dyn FnMut(Category, &str, &str, String, String),
                  c: Category,
                  list: &[CountChange]| {
        for v in list {
            let what = if v.before == 0 { "new" } else { "rose" };
            row(c, what, &v.key, v.before.to_string(), v.after.to_string());
        }
    };
    values(&mut row, Category::Analysis, &changes.analysis);
    for (what, list) in [
        ("added", &changes.objects.added),
        ("removed", &changes.objects.removed),
        ("changed", &changes.objects.changed),
    ] {
        for key in list {
            row(Category::Objects, what, key, String::new(), String::new());
        }
    }
    counts(&mut row, Category::Restarts, &changes.restarts);
    counts(&mut row, Category::Events, &changes.events);
    values(&mut row, Category::Nodes, &changes.nodes);
    values(&mut row, Category::Host, &changes.host);
    let mut out = String::new();
    if !changes.is_empty() {
        out.push_str(&format!("{table}\n"));
    }
    out.push_str(&changes.summary_line());
    out.push('\n');
    out
}
