//! Output for people: times with one zone label and a relative hint, tables that fit the
//! terminal (cells cut with `…`; `-o wide` shows every column in full).

use chrono::{DateTime, Utc};
use comfy_table::{ContentArrangement, Row, Table};
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

/// One table row; cut to one line unless `wide`.
pub fn row(cells: Vec<String>, wide: bool) -> Row {
    let mut row = Row::from(cells);
    if !wide {
        row.max_height(1);
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;
    use comfy_table::presets::NOTHING;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
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
            table.add_row(row(vec!["short".into(), long.clone()], wide));
            fit(&mut table, Some(60), wide);
            table.to_string()
        };
        let narrow = render(false);
        assert!(narrow.lines().all(|l| l.chars().count() <= 60), "{narrow}");
        assert!(narrow.contains('…'), "{narrow}");
        assert!(render(true).contains(&long));
    }
}
