//! The plan as text for people (the JSON form is the serde serialization of [`Plan`]).

use super::{FieldChange, Plan, PlannedFire};
use crate::schedule::DstNote;
use serde_json::Value;
use std::fmt::Write;

/// Renders `plan` for a terminal; `show_unchanged` lists unchanged jobs one per line.
pub fn render_text(plan: &Plan, show_unchanged: bool) -> String {
    render_text_with(plan, show_unchanged, &|_| Vec::new())
}

/// [`render_text`] with `detail(job)` lines added under each job to add or change (the CLI adds
/// what the job will redact).
pub fn render_text_with(
    plan: &Plan,
    show_unchanged: bool,
    detail: &dyn Fn(&str) -> Vec<String>,
) -> String {
    let mut out = String::new();
    for r in &plan.rejected {
        let _ = writeln!(
            out,
            "! reject   {} ({} error{})",
            r.path.display(),
            r.errors.len(),
            plural(r.errors.len())
        );
        for e in &r.errors {
            for line in e.to_string().lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
        if plan.blocked {
            let _ = writeln!(
                out,
                "      --strict: nothing is applied; every applied job stays as it is"
            );
        } else if !r.kept.is_empty() {
            let _ = writeln!(
                out,
                "      kept at last good version: {}",
                r.kept.join(", ")
            );
        }
    }
    for a in &plan.add {
        let _ = writeln!(out, "+ add      {} ({})", a.name, a.source.display());
        let _ = writeln!(out, "      {}", when_line(a));
        let window = window_line(a.active_from, a.active_until);
        for line in window
            .into_iter()
            .chain(super::relations::lines(&a.relations, None))
        {
            let _ = writeln!(out, "      {line}");
        }
        for line in detail(&a.name) {
            let _ = writeln!(out, "      {line}");
        }
        write_fires(&mut out, &a.next);
    }
    for c in &plan.change {
        let _ = writeln!(out, "~ change   {} ({})", c.name, c.source.display());
        for f in &c.fields {
            write_field(&mut out, f);
        }
        for line in super::relations::lines(&c.relations, Some(&c.relations_before)) {
            let _ = writeln!(out, "      {line}");
        }
        for line in detail(&c.name) {
            let _ = writeln!(out, "      {line}");
        }
        if c.timing_changed {
            let _ = writeln!(
                out,
                "      next run: {} → {}",
                fire_or_none(c.old_next.as_ref()),
                fire_or_none(c.new_next.as_ref())
            );
        }
        write_fires(&mut out, &c.next);
    }
    for r in &plan.remove {
        let _ = write!(out, "- remove   {} (was {})", r.name, r.source.display());
        if let Some(until) = r.kept_until {
            let _ = write!(
                out,
                "; bundles and records kept until {}",
                until.format("%Y-%m-%d %H:%M UTC")
            );
        }
        let _ = writeln!(out);
    }
    if show_unchanged {
        for u in &plan.unchanged {
            let _ = writeln!(out, "= same     {} ({})", u.name, u.source.display());
            write_fires(&mut out, &u.next);
        }
    } else if !plan.unchanged.is_empty() {
        let _ = writeln!(
            out,
            "= {} unchanged job{}",
            plan.unchanged.len(),
            plural(plan.unchanged.len())
        );
    }
    out.push_str(&plan.summary());
    out.push('\n');
    out
}

/// What fires an added job by the clock: its schedule, its one-shot instant, or nothing.
fn when_line(a: &super::Add) -> String {
    let when = match (&a.schedule, a.at) {
        (Some(expr), _) => format!("schedule \"{expr}\" in {}", a.time_zone),
        (None, Some(at)) => format!("once at {}", at.format("%Y-%m-%dT%H:%M:%SZ")),
        (None, None) => "no schedule: started by its triggers or `after` only".to_string(),
    };
    format!("{when}{}", if a.suspended { " (suspended)" } else { "" })
}

/// `active from … until …` for a job with an activeWindow.
fn window_line(
    from: Option<chrono::DateTime<chrono::Utc>>,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Option<String> {
    let show = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    match (from, until) {
        (None, None) => None,
        (Some(f), None) => Some(format!("active from {}", show(f))),
        (None, Some(u)) => Some(format!("active until {}", show(u))),
        (Some(f), Some(u)) => Some(format!("active from {} until {}", show(f), show(u))),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn write_field(out: &mut String, f: &FieldChange) {
    let show = |v: &Option<Value>| {
        v.as_ref()
            .map_or_else(|| "(unset)".to_string(), Value::to_string)
    };
    let _ = writeln!(out, "      {}: {} → {}", f.path, show(&f.old), show(&f.new));
}

fn fire_or_none(fire: Option<&PlannedFire>) -> String {
    fire.map_or_else(|| "none".to_string(), describe)
}

fn describe(fire: &PlannedFire) -> String {
    let mut s = format!("{} ({})", fire.at.format("%Y-%m-%dT%H:%M:%SZ"), fire.local);
    if fire.jitter_seconds > 0 {
        let _ = write!(s, " [jitter +{}s]", fire.jitter_seconds);
    }
    match fire.dst {
        Some(DstNote::ShiftedOutOfGap { civil }) => {
            let _ = write!(
                s,
                " [DST: {} does not exist; moved to the end of the gap]",
                civil.format("%H:%M")
            );
        }
        Some(DstNote::FirstOfRepeated) => s.push_str(" [DST: first of a repeated hour]"),
        Some(DstNote::SecondOfRepeated) => s.push_str(" [DST: second pass of a repeated hour]"),
        None => {}
    }
    s
}

fn write_fires(out: &mut String, fires: &[PlannedFire]) {
    for fire in fires {
        let _ = writeln!(out, "      at {}", describe(fire));
    }
}
