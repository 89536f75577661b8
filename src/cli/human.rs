//! Output for people: times with one zone label and a relative hint, tables that fit the
//! terminal (cells cut with `…`; `-o wide` shows every column in full).

use super::style::Tone;
use crate::state::records::RunStatus;
use chrono::{DateTime, Utc};
use comfy_table::presets::NOTHING;
use comfy_table::{Attribute, Cell, Color, ContentArrangement, Row, Table};
use std::io::IsTerminal as _;

/// `2026-12-07 04:32:10 UTC (in 5m)`: every time the CLI prints is in UTC, labelled so, with how
/// far it is from `now`.
pub fn when(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!(
        "{} ({})",
        t.format("%Y-%m-%d %H:%M:%S UTC"),
        relative(t - now)
    )
}

/// `in 5m`, `2h ago`, `now`: the largest whole unit (seconds, minutes, hours below two days, days).
pub fn relative(d: chrono::Duration) -> String {
    let secs = d.num_seconds();
    let n = secs.unsigned_abs();
    if n < 1 {
        return "now".to_string();
    }
    let amount = match n {
        0..60 => format!("{n}s"),
        60..3_600 => format!("{}m", n / 60),
        3_600..172_800 => format!("{}h", n / 3_600),
        _ => format!("{}d", n / 86_400),
    };
    if secs > 0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// The width tables get: `COLUMNS` when set, else the terminal's when stdout is one; `None` (no
/// limit) when output goes to a file or a pipe.
pub fn terminal_width() -> Option<u16> {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|c| *c > 0)
    {
        return Some(cols);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let mut size = std::mem::MaybeUninit::<libc::winsize>::uninit();
    // SAFETY: TIOCGWINSZ writes a `winsize` into the buffer when it returns 0; fd 1 is only read.
    let ok = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, size.as_mut_ptr()) } == 0;
    // SAFETY: initialised when the ioctl succeeded.
    ok.then(|| unsafe { size.assume_init() }.ws_col)
        .filter(|c| *c > 0)
}

/// Makes `table` fit `width` (when known and not `wide`): columns share the width and long cells
/// are cut with `…`, one line per row.
pub fn fit(table: &mut Table, width: Option<u16>, wide: bool) {
    if let (Some(w), false) = (width, wide) {
        table
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_width(w)
            .set_truncation_indicator("…");
    }
}

/// A borderless table with `headers`; with `colour` (see `style::stdout_colour`) the headers
/// are bold and cells keep their colours. Colours are added after the columns are fitted, so
/// escape codes take no width.
pub fn table(headers: &[&str], colour: bool) -> Table {
    let mut table = Table::new();
    table.load_preset(NOTHING);
    if colour {
        // The padding around a cell's text stays plain.
        table.enforce_styling().style_text_only();
    } else {
        table.force_no_tty();
    }
    table.set_header(
        headers
            .iter()
            .map(|h| Cell::new(h).add_attribute(Attribute::Bold))
            .collect::<Vec<_>>(),
    );
    table
}

/// A cell naming a run's outcome, in its tone's colour (when the table has colour).
pub fn status_cell(text: String, status: Option<RunStatus>) -> Cell {
    let cell = Cell::new(text);
    match status.and_then(Tone::of_run) {
        // The terminal's own green, yellow and red (ANSI 2, 3, 1), as in `trigger`'s lines.
        Some(Tone::Good) => cell.fg(Color::DarkGreen),
        Some(Tone::Warn) => cell.fg(Color::DarkYellow),
        Some(Tone::Bad) => cell.fg(Color::DarkRed),
        None => cell,
    }
}

/// A run's analysis as the ANALYSIS column shows it: `pass 3 warn 1 fail 0` (with `error N`
/// when analyzers errored), or `-` when no analyzers ran.
pub fn analysis_cell(analysis: Option<&serde_json::Value>) -> String {
    let Some(a) = analysis.filter(|a| a.is_object()) else {
        return "-".into();
    };
    let n = |key: &str| a.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let mut out = format!("pass {} warn {} fail {}", n("pass"), n("warn"), n("fail"));
    if n("error") > 0 {
        out.push_str(&format!(" error {}", n("error")));
    }
    out
}

/// One table row; cut to one line unless `wide`.
pub fn row(cells: Vec<Cell>, wide: bool) -> Row {
    let mut row = Row::from(cells);
    if !wide {
        row.max_height(1);
    }
    row
}

/// `1.2 MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn the_analysis_cell_counts_outcomes_or_shows_a_dash() {
        assert_eq!(analysis_cell(None), "-");
        let a = serde_json::json!({"pass": 3, "warn": 1, "fail": 0, "error": 0});
        assert_eq!(analysis_cell(Some(&a)), "pass 3 warn 1 fail 0");
        let a = serde_json::json!({"pass": 0, "warn": 0, "fail": 2, "error": 1});
        assert_eq!(analysis_cell(Some(&a)), "pass 0 warn 0 fail 2 error 1");
    }

    #[test]
    fn relative_times_use_the_largest_whole_unit() {
        let d = chrono::Duration::seconds;
        assert_eq!(relative(d(0)), "now");
        assert_eq!(relative(d(42)), "in 42s");
        assert_eq!(relative(d(-120)), "2m ago");
        assert_eq!(relative(d(5 * 3600 + 59)), "in 5h");
        assert_eq!(relative(d(-47 * 3600)), "47h ago");
        assert_eq!(relative(d(3 * 86_400 + 7)), "in 3d");
        assert_eq!(
            when(t("2026-12-07T04:37:00Z"), t("2026-12-07T04:32:00Z")),
            "2026-12-07 04:37:00 UTC (in 5m)"
        );
    }

    #[test]
    fn a_fitted_table_keeps_to_the_width_and_wide_keeps_everything() {
        let long = "x".repeat(200);
        let render = |wide: bool| {
            let mut table = Table::new();
            table.load_preset(NOTHING);
            table.set_header(["A", "B"]);
            table.add_row(row(vec!["short".into(), long.clone().into()], wide));
            fit(&mut table, Some(60), wide);
            table.to_string()
        };
        let narrow = render(false);
        assert!(narrow.lines().all(|l| l.chars().count() <= 60), "{narrow}");
        assert!(narrow.contains('…'), "{narrow}");
        assert!(render(true).contains(&long));
    }

    /// The table as `status` would print it, with or without colour, fitted to `width`.
    fn statuses(colour: bool, width: Option<u16>) -> String {
        let mut table = table(&["JOB", "RESULT", "DETAIL"], colour);
        for status in [
            RunStatus::Succeeded,
            RunStatus::SucceededWithErrors,
            RunStatus::Failed,
            RunStatus::Running,
        ] {
            table.add_row(row(
                vec![
                    "a-job-with-a-long-name".into(),
                    status_cell(status.as_str().to_string(), Some(status)),
                    "d".repeat(80).into(),
                ],
                false,
            ));
        }
        fit(&mut table, width, false);
        table.to_string()
    }

    fn strip_escapes(text: &str) -> String {
        regex::Regex::new("\x1b\\[[0-9;]*m")
            .expect("regex")
            .replace_all(text, "")
            .into_owned()
    }

    #[test]
    fn coloured_rows_have_the_same_visible_width_and_plain_ones_no_escapes() {
        for width in [Some(50), Some(120), None] {
            let plain = statuses(false, width);
            let coloured = statuses(true, width);
            assert!(!plain.contains('\x1b'), "{plain}");
            assert_ne!(plain, coloured);
            assert_eq!(strip_escapes(&coloured), plain, "width {width:?}");
            if let Some(w) = width {
                assert!(
                    plain.lines().all(|l| l.chars().count() <= usize::from(w)),
                    "{plain}"
                );
            }
        }
        let coloured = statuses(true, None);
        let line = |word: &str| {
            coloured
                .lines()
                .find(|l| strip_escapes(l).contains(&format!(" {word} ")))
                .unwrap_or_else(|| panic!("{word}: {coloured}"))
                .to_string()
        };
        // Green, yellow, red; a running job has no colour; headers are bold.
        assert!(
            line("succeeded").contains("\x1b[38;5;2msucceeded"),
            "{coloured:?}"
        );
        assert!(
            line("succeeded-with-errors").contains("\x1b[38;5;3msucceeded-with-errors"),
            "{coloured:?}"
        );
        assert!(
            line("failed").contains("\x1b[38;5;1mfailed"),
            "{coloured:?}"
        );
        assert!(!line("running").contains('\x1b'), "{coloured:?}");
        assert!(
            coloured
                .lines()
                .next()
                .is_some_and(|l| l.contains("\x1b[1m")),
            "{coloured:?}"
        );
    }
}
