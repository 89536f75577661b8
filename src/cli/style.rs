//! When output gets colour: only on a terminal, never with `NO_COLOR`, never into the journal
//! (journald stores escape codes as they are), and never in files or pipes.

use crate::state::records::{PhaseStatus, RunStatus};
use std::io::IsTerminal as _;

/// Where stderr goes, as far as colour is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    /// An interactive terminal.
    Terminal,
    /// systemd's journal (`JOURNAL_STREAM` names stderr's device and inode).
    Journal,
    /// A file or a pipe.
    Other,
}

/// Whether to colour a stream that goes to `sink`, given `NO_COLOR`'s value
/// (<https://no-color.org>: set and not empty turns colour off).
pub fn colour(sink: Sink, no_color: Option<&str>) -> bool {
    sink == Sink::Terminal && no_color.is_none_or(str::is_empty)
}

/// Where stderr goes now.
pub fn stderr_sink() -> Sink {
    if journal_is_stderr(std::env::var("JOURNAL_STREAM").ok().as_deref()) {
        Sink::Journal
    } else if std::io::stderr().is_terminal() {
        Sink::Terminal
    } else {
        Sink::Other
    }
}

/// Whether stderr should be coloured now.
pub fn stderr_colour() -> bool {
    colour(stderr_sink(), std::env::var("NO_COLOR").ok().as_deref())
}

/// Whether stdout (tables, `trigger`'s outcome) should be coloured now.
pub fn stdout_colour() -> bool {
    let sink = if std::io::stdout().is_terminal() {
        Sink::Terminal
    } else {
        Sink::Other
    };
    colour(sink, std::env::var("NO_COLOR").ok().as_deref())
}

/// What a coloured word says at a glance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tone {
    /// Green: it worked.
    Good,
    /// Yellow: it worked in part, or did not run.
    Warn,
    /// Red: it failed.
    Bad,
}

impl Tone {
    /// The tone of a run's outcome; none for a run still going.
    pub fn of_run(status: RunStatus) -> Option<Tone> {
        match status {
            RunStatus::Running => None,
            RunStatus::Succeeded => Some(Tone::Good),
            RunStatus::SucceededWithErrors
            | RunStatus::Skipped
            | RunStatus::Interrupted
            | RunStatus::Missed => Some(Tone::Warn),
            RunStatus::Failed | RunStatus::TimedOut | RunStatus::AnalysisFailed => Some(Tone::Bad),
        }
    }

    /// The tone of a phase's outcome.
    pub fn of_phase(status: PhaseStatus) -> Tone {
        match status {
            PhaseStatus::Succeeded => Tone::Good,
            PhaseStatus::Failed | PhaseStatus::Cancelled => Tone::Bad,
            PhaseStatus::Skipped | PhaseStatus::NotAvailable | PhaseStatus::Pending => Tone::Warn,
        }
    }

    /// `text` in this tone's colour, for a stream that is coloured.
    pub fn paint(self, text: &str) -> String {
        let code = match self {
            Tone::Good => 32,
            Tone::Warn => 33,
            Tone::Bad => 31,
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// `JOURNAL_STREAM` is `<device>:<inode>` of the journal's socket, inherited by child processes
/// too: it counts only when it names stderr itself.
fn journal_is_stderr(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole `stat` into the buffer when it returns 0, and only reads fd 2.
    if unsafe { libc::fstat(2, st.as_mut_ptr()) } != 0 {
        return false;
    }
    // SAFETY: fstat returned 0, so the buffer is initialised.
    let st = unsafe { st.assume_init() };
    st.st_dev == dev && st.st_ino == ino
}

/// `error` in bold red on a colour terminal.
pub fn error_label(colour: bool) -> &'static str {
    if colour {
        "\x1b[1;31merror\x1b[0m"
    } else {
        "error"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(Sink::Terminal, None));
        assert!(colour(Sink::Terminal, Some("")));
        assert!(!colour(Sink::Terminal, Some("1")));
        assert!(!colour(Sink::Journal, None));
        assert!(!colour(Sink::Other, None));
    }

    #[test]
    fn journal_stream_counts_only_for_stderr_itself() {
        assert!(!journal_is_stderr(None));
        assert!(!journal_is_stderr(Some("garbage")));
        assert!(!journal_is_stderr(Some("1:2")));
        let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: as in journal_is_stderr.
        assert_eq!(unsafe { libc::fstat(2, st.as_mut_ptr()) }, 0);
        // SAFETY: fstat returned 0.
        let st = unsafe { st.assume_init() };
        assert!(journal_is_stderr(Some(&format!(
            "{}:{}",
            st.st_dev, st.st_ino
        ))));
    }
}
