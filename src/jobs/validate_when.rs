//! `spec.schedule`, `spec.at` and `spec.activeWindow`: what starts a job by the clock, and when
//! it is active. A child of `validate`, sharing its checker.

use super::{Checker, Context, check_schedule};
use crate::jobs::model::JobDocument;
use crate::schedule::{Rule, Timeline, Window, parse_instant, parse_zone};

/// The job's timeline, or `None` after reporting why there is none.
pub(super) fn check_timeline(
    c: &mut Checker<'_>,
    doc: &JobDocument,
    ctx: &Context,
) -> Option<Timeline> {
    let spec = &doc.spec;
    let mut ok = true;
    if spec.schedule.is_none()
        && spec.at.is_none()
        && spec.triggers.is_empty()
        && spec.after.is_empty()
    {
        c.error(
            &["spec"],
            "the job has nothing that starts it: it needs at least one of `schedule`, `at`, `triggers` and `after`",
            Some(
                "add `schedule: \"0 2 * * *\"` (cron), `at: \"2026-12-24T02:00:00Z\"` (once), \
                 `triggers:` (Alertmanager alerts) or `after:` (another job's runs)"
                    .into(),
            ),
        );
        ok = false;
    }
    if spec.schedule.is_some() && spec.at.is_some() {
        c.error(
            &["spec", "at"],
            "`schedule` and `at` cannot both be set: `schedule` runs the job again and again, `at` runs it once",
            Some(
                "keep `schedule` for a recurring job, or `at` for a one-shot, and remove the other"
                    .into(),
            ),
        );
        ok = false;
    }
    let window = check_window(c, doc);
    let at = spec
        .at
        .as_deref()
        .and_then(|text| match parse_instant(text) {
            Ok(at) => Some(at),
            Err(e) => {
                c.error(&["spec", "at"], e.to_string(), None);
                None
            }
        });
    if spec.at.is_some() && !spec.jitter.0.is_zero() {
        c.warning(
            &["spec", "jitter"],
            format!(
                "jitter {} does not apply to a one-shot: it runs at `at` exactly",
                spec.jitter
            ),
            Some("remove `jitter`, or move `at` yourself".into()),
        );
    }
    if let (Some(at), Some(w)) = (at, window)
        && !w.contains(at)
    {
        c.error(
            &["spec", "at"],
            format!(
                "`at` {} is outside the job's activeWindow, so it would never run",
                show(at)
            ),
            Some("move `at` inside activeWindow (from inclusive, until exclusive), or widen the window".into()),
        );
        ok = false;
    }
    let rule = match (&spec.schedule, &spec.at) {
        (Some(expr), _) => check_schedule(c, doc, expr, ctx).map(Rule::Cron),
        (None, Some(_)) => at.map(Rule::Once),
        (None, None) => Some(Rule::Never),
    };
    let zone_name = spec.time_zone.as_deref().unwrap_or(&ctx.default_time_zone);
    let tz = match &rule {
        Some(Rule::Cron(schedule)) => Some(schedule.time_zone()),
        // A cron error already names a bad zone.
        None if spec.schedule.is_some() => None,
        _ => match parse_zone(zone_name) {
            Ok(tz) => Some(tz),
            Err(e) => {
                c.error(&["spec", "timeZone"], e.to_string(), None);
                None
            }
        },
    };
    let (rule, tz, window) = (rule?, tz?, window?);
    ok.then(|| Timeline::new(rule, window, tz))
}

/// `spec.activeWindow`: instants with offsets, at least one, `from` before `until`. `None` after
/// an error; an absent window is the unbounded one.
fn check_window(c: &mut Checker<'_>, doc: &JobDocument) -> Option<Window> {
    let Some(w) = &doc.spec.active_window else {
        return Some(Window::default());
    };
    let mut ok = true;
    let mut bound = |c: &mut Checker<'_>, key: &str, text: &Option<String>| {
        let text = text.as_deref()?;
        match parse_instant(text) {
            Ok(t) => Some(t),
            Err(e) => {
                c.error(&["spec", "activeWindow", key], e.to_string(), None);
                ok = false;
                None
            }
        }
    };
    let from = bound(c, "from", &w.from);
    let until = bound(c, "until", &w.until);
    if w.from.is_none() && w.until.is_none() {
        c.error(
            &["spec", "activeWindow"],
            "activeWindow needs `from`, `until` or both",
            Some(
                "e.g. `activeWindow: {from: \"2026-12-24T00:00:00Z\", until: \"2026-12-27T00:00:00Z\"}`, or remove it".into(),
            ),
        );
        return None;
    }
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        c.error(
            &["spec", "activeWindow", "until"],
            format!(
                "activeWindow.until {} is not after activeWindow.from {}: the window is empty",
                show(u),
                show(f)
            ),
            Some("`until` must be later than `from` (from is inclusive, until exclusive)".into()),
        );
        return None;
    }
    ok.then_some(Window { from, until })
}

fn show(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
