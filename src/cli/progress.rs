//! `trigger`'s view of a run as it goes, on stderr (stdout keeps the outcome, and `-o json` its
//! record): one plain line per phase change when stderr is a file or a pipe; on a terminal a
//! spinner with the running phase and its elapsed time, and a line for each phase that ended.
//!
//! Both take snapshots of the phase list (the agent's answer, or the foreground run's own
//! progress), so what is printed does not depend on how often the list was looked at: a phase
//! seen only once it ended still gets its `started` line, unless it was skipped.

use super::style::Tone;
use crate::pipeline::progress::{Counts, LivePhase, LiveState, Phase};
use crate::state::records::PhaseStatus;
use indicatif::{ProgressBar, ProgressStyle};
use std::fmt;
use std::time::Duration;

/// One line of the plain view.
#[derive(Clone, Debug, PartialEq)]
pub enum Line {
    /// `collect started`
    Started(Phase),
    /// `collect done 3.2s (12 collectors, 1 failed)`, `analyze skipped`
    Finished {
        /// Which phase.
        phase: Phase,
        /// How it ended.
        status: PhaseStatus,
        /// How long it took.
        took: Duration,
        /// What it handled.
        counts: Counts,
    },
}

/// Whether a phase that ended so did any work (a skipped phase gets no `started` line).
fn worked(status: PhaseStatus) -> bool {
    !matches!(status, PhaseStatus::Skipped | PhaseStatus::NotAvailable)
}

fn status_word(status: PhaseStatus) -> &'static str {
    match status {
        PhaseStatus::Succeeded => "done",
        PhaseStatus::Failed => "failed",
        PhaseStatus::Skipped => "skipped",
        PhaseStatus::NotAvailable => "not available",
        PhaseStatus::Cancelled => "cancelled",
        PhaseStatus::Pending => "pending",
    }
}

impl Line {
    /// The line, with its status word coloured when `colour`.
    pub fn render(&self, colour: bool) -> String {
        match self {
            Line::Started(phase) => format!("{} started", phase.as_str()),
            Line::Finished {
                phase,
                status,
                took,
                counts,
            } => {
                let word = status_word(*status);
                let word = if colour {
                    Tone::of_phase(*status).paint(word)
                } else {
                    word.to_string()
                };
                if !worked(*status) {
                    return format!("{} {word}", phase.as_str());
                }
                let details = details(counts);
                let details = if details.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", details.join(", "))
                };
                format!("{} {word} {}{details}", phase.as_str(), seconds(*took))
            }
        }
    }
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

/// `3.2s`, `1m05s`.
fn seconds(d: Duration) -> String {
    let tenths = d.as_millis() / 100;
    if tenths < 600 {
        format!("{}.{}s", tenths / 10, tenths % 10)
    } else {
        let secs = d.as_secs();
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn details(c: &Counts) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(n) = c.collectors {
        out.push(plural(n, "collector", "collectors"));
    }
    if let Some(n) = c.replacements {
        out.push(plural(n, "replacement", "replacements"));
    }
    if let Some(n) = c.bytes {
        out.push(super::human::size(n));
    }
    if let Some(n) = c.uploads {
        out.push(plural(n, "target", "targets"));
    }
    if let Some(n) = c.pending.filter(|n| *n > 0) {
        out.push(format!("{n} pending"));
    }
    if let Some(n) = c.failed.filter(|n| *n > 0) {
        out.push(format!("{n} failed"));
    }
    out
}

/// What has been shown of each phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Started,
    Finished,
}

/// The plain view's memory: which lines each phase has had.
#[derive(Debug, Default)]
pub struct Lines {
    shown: Vec<(Phase, Shown)>,
}

impl Lines {
    /// The lines `phases` adds to what was shown, in order.
    pub fn update(&mut self, phases: &[LivePhase]) -> Vec<Line> {
        let mut out = Vec::new();
        for p in phases {
            let before = self
                .shown
                .iter()
                .find(|(phase, _)| *phase == p.name)
                .map(|(_, s)| *s);
            let now = match &p.state {
                LiveState::Running { .. } => Shown::Started,
                LiveState::Finished { .. } => Shown::Finished,
            };
            if before == Some(Shown::Finished) || before == Some(now) {
                continue;
            }
            match &p.state {
                LiveState::Running { .. } => out.push(Line::Started(p.name)),
                LiveState::Finished {
                    status,
                    duration_ms,
                    counts,
                } => {
                    if before.is_none() && worked(*status) {
                        out.push(Line::Started(p.name));
                    }
                    out.push(Line::Finished {
                        phase: p.name,
                        status: *status,
                        took: Duration::from_millis(*duration_ms),
                        counts: *counts,
                    });
                }
            }
            match self.shown.iter_mut().find(|(phase, _)| *phase == p.name) {
                Some((_, s)) => *s = now,
                None => self.shown.push((p.name, now)),
            }
        }
        out
    }
}

/// The view of one run on stderr.
pub struct Watch {
    lines: Lines,
    /// On a terminal: the spinner of the running phase, and whether to colour.
    terminal: Option<Terminal>,
}

struct Terminal {
    colour: bool,
    spinner: Option<(Phase, ProgressBar)>,
}

impl Watch {
    /// A view for stderr as it is now: a spinner on a terminal, plain lines otherwise.
    pub fn for_stderr() -> Watch {
        use std::io::IsTerminal as _;
        let terminal = std::io::stderr().is_terminal().then(|| Terminal {
            colour: super::style::stderr_colour(),
            spinner: None,
        });
        Watch {
            lines: Lines::default(),
            terminal,
        }
    }

    /// Shows what changed in `phases`.
    pub fn show(&mut self, phases: &[LivePhase]) {
        let lines = self.lines.update(phases);
        let Some(term) = &mut self.terminal else {
            for line in lines {
                eprintln!("{line}");
            }
            return;
        };
        if !lines.is_empty()
            && let Some((_, bar)) = term.spinner.take()
        {
            bar.finish_and_clear();
        }
        // The spinner says what started.
        for line in lines.iter().filter(|l| !matches!(l, Line::Started(_))) {
            eprintln!("{}", line.render(term.colour));
        }
        let running = phases.iter().find_map(|p| match p.state {
            LiveState::Running { elapsed_ms } => Some((p.name, elapsed_ms)),
            LiveState::Finished { .. } => None,
        });
        match (running, &term.spinner) {
            (Some((phase, _)), Some((shown, _))) if phase == *shown => {}
            (Some((phase, elapsed_ms)), _) => {
                if let Some((_, bar)) = term.spinner.take() {
                    bar.finish_and_clear();
                }
                term.spinner = Some((phase, spinner(phase, elapsed_ms)));
            }
            (None, _) => {
                if let Some((_, bar)) = term.spinner.take() {
                    bar.finish_and_clear();
                }
            }
        }
    }

    /// Shows the last phases (a finished run's, from its record) and clears the spinner.
    pub fn finish(&mut self, phases: &[LivePhase]) {
        self.show(phases);
        if let Some((_, bar)) = self.terminal.as_mut().and_then(|t| t.spinner.take()) {
            bar.finish_and_clear();
        }
    }
}

fn spinner(phase: Phase, elapsed_ms: u64) -> ProgressBar {
    let bar = ProgressBar::new_spinner()
        .with_elapsed(Duration::from_millis(elapsed_ms))
        .with_style(
            ProgressStyle::with_template("{spinner} {msg} {elapsed}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        )
        .with_message(phase.as_str());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::progress::{Event, Phases};
    use std::time::Instant;

    fn finished(phase: Phase, status: PhaseStatus, ms: u64, counts: Counts) -> Event {
        Event::Finished {
            phase,
            status,
            took: Duration::from_millis(ms),
            counts,
        }
    }

    fn run_events() -> Vec<Event> {
        vec![
            Event::Started(Phase::Collect),
            finished(
                Phase::Collect,
                PhaseStatus::Succeeded,
                3_240,
                Counts {
                    collectors: Some(12),
                    failed: Some(1),
                    ..Counts::default()
                },
            ),
            Event::Started(Phase::Redact),
            finished(
                Phase::Redact,
                PhaseStatus::Succeeded,
                400,
                Counts {
                    replacements: Some(57),
                    ..Counts::default()
                },
            ),
            finished(Phase::Analyze, PhaseStatus::Skipped, 0, Counts::default()),
            Event::Started(Phase::Archive),
            finished(
                Phase::Archive,
                PhaseStatus::Succeeded,
                120,
                Counts {
                    bytes: Some(1_258_291),
                    ..Counts::default()
                },
            ),
            Event::Started(Phase::Upload),
            finished(
                Phase::Upload,
                PhaseStatus::Pending,
                65_000,
                Counts {
                    uploads: Some(2),
                    pending: Some(1),
                    failed: Some(0),
                    ..Counts::default()
                },
            ),
        ]
    }

    const EXPECTED: [&str; 10] = [
        "collect started",
        "collect done 3.2s (12 collectors, 1 failed)",
        "redact started",
        "redact done 0.4s (57 replacements)",
        "analyze skipped",
        "archive started",
        "archive done 0.1s (1.2 MiB)",
        "upload started",
        "upload pending 1m05s (2 targets, 1 pending)",
        "",
    ];

    /// The lines printed when the list is looked at after every `every`-th event.
    fn plain(every: usize) -> Vec<String> {
        let mut phases = Phases::default();
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let events = run_events();
        let n = events.len();
        for (i, event) in events.into_iter().enumerate() {
            phases.apply(event, Instant::now());
            if (i + 1) % every == 0 || i + 1 == n {
                let view = phases.view(Instant::now());
                out.extend(lines.update(&view).iter().map(ToString::to_string));
            }
        }
        out
    }

    #[test]
    fn plain_lines_follow_the_events_one_per_phase_change() {
        assert_eq!(plain(1), EXPECTED[..9]);
    }

    #[test]
    fn the_lines_do_not_depend_on_how_often_the_list_was_looked_at() {
        for every in 2..=10 {
            assert_eq!(plain(every), EXPECTED[..9], "looked every {every} events");
        }
        // A finished run's phases seen only at the end, as its record gives them.
        let mut lines = Lines::default();
        let mut phases = Phases::default();
        for e in run_events() {
            phases.apply(e, Instant::now());
        }
        let once: Vec<String> = lines
            .update(&phases.view(Instant::now()))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(once, EXPECTED[..9]);
        assert!(lines.update(&phases.view(Instant::now())).is_empty());
    }

    #[test]
    fn a_failed_phase_is_red_and_plain_text_has_no_escapes() {
        let line = Line::Finished {
            phase: Phase::Collect,
            status: PhaseStatus::Failed,
            took: Duration::from_millis(50),
            counts: Counts::default(),
        };
        assert_eq!(line.to_string(), "collect failed 0.0s");
        assert_eq!(line.render(true), "collect \x1b[31mfailed\x1b[0m 0.0s");
    }
}
