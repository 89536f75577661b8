//! A run's identity: `20250309T070000Z` (the nominal fire instant of a scheduled or catch-up
//! run), `20250309T070000Z-retry1` (its first retry), `20250309T070000Z-missed` (fires missed
//! while the agent was down) or `manual-20250309T070000Z-1` (a manual run, counted per second).
//! It names the run's record and staging files, its upload keys and its API resources, as the
//! same string on disk and in JSON.

use super::records;
use chrono::{DateTime, NaiveDateTime, Utc};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The compact UTC timestamp of run ids.
const STAMP: &str = "%Y%m%dT%H%M%SZ";
/// Its length.
const STAMP_LEN: usize = 16;
const RETRY: &str = "-retry";
const MANUAL: &str = "manual-";

/// A run id: its text, and the parts the agent reads from it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RunId {
    text: String,
    /// Length of the id without its `-retryN` suffix.
    base_len: usize,
    /// 0, or N of `-retryN`.
    retry: u32,
    /// The nominal fire instant, for ids that start with one (scheduled, retry, missed).
    instant: Option<DateTime<Utc>>,
}

/// Why a string is not a run id.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not a run id: run ids are 1 to 128 letters, digits, `-` and `_` (like 20250309T070000Z or manual-20250309T070000Z-1)"
)]
pub struct BadRunId(String);

fn stamp(instant: DateTime<Utc>) -> String {
    instant.format(STAMP).to_string()
}

impl RunId {
    /// The run of the slot whose nominal fire instant is `nominal`.
    pub fn scheduled(nominal: DateTime<Utc>) -> Self {
        Self::known(stamp(nominal))
    }

    /// The record of fires missed while the agent was down, the latest at `last`.
    pub fn missed(last: DateTime<Utc>) -> Self {
        Self::known(format!("{}-missed", stamp(last)))
    }

    /// The `counter`th manual run started in the second of `now`.
    fn manual(now: DateTime<Utc>, counter: u64) -> Self {
        Self::known(format!("{MANUAL}{}-{counter}", stamp(now)))
    }

    /// The id of a new manual run of `job` started at `now`: the first `counter` (from `*next`
    /// on, which is advanced past it) whose id names neither a record nor staged files of the
    /// job. The counter of an agent restarts with it, and a foreground `trigger` has none, so
    /// the same second can come round again after a fast restart: the state directory decides.
    /// (A daemon and a foreground `trigger` never run at once: both hold `agent.lock`.)
    pub fn new_manual(state_dir: &Path, job: &str, now: DateTime<Utc>, next: &mut u64) -> Self {
        let job_dir = records::job_dir(state_dir, job);
        loop {
            *next = (*next).max(1);
            let id = Self::manual(now, *next);
            *next += 1;
            let taken = records::record_path(state_dir, job, id.as_str()).exists()
                || job_dir.join("staging").join(id.as_str()).exists();
            if !taken {
                return id;
            }
        }
    }

    /// An id built here, whose text is known to parse.
    fn known(text: String) -> Self {
        match text.parse() {
            Ok(id) => id,
            Err(_) => RunId {
                base_len: text.len(),
                text,
                retry: 0,
                instant: None,
            },
        }
    }

    /// Retry `n` (1 for the first) of this run's base run.
    pub fn retry(&self, n: u32) -> Self {
        Self::known(format!("{}{RETRY}{n}", self.base()))
    }

    /// The id without its retry suffix.
    pub fn base(&self) -> &str {
        &self.text[..self.base_len]
    }

    /// 0 for a first attempt, N for `-retryN`.
    pub fn retry_number(&self) -> u32 {
        self.retry
    }

    /// The nominal fire instant the id starts with (scheduled, catch-up, retry and missed runs).
    pub fn instant(&self) -> Option<DateTime<Utc>> {
        self.instant
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for RunId {
    type Err = BadRunId;

    fn from_str(s: &str) -> Result<Self, BadRunId> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if s.is_empty() || s.len() > 128 || !s.bytes().all(allowed) {
            return Err(BadRunId(s.to_string()));
        }
        // `-retryN` with N a number written as the agent writes it (no leading zero, not 0).
        let (base_len, retry) = match s.rsplit_once(RETRY) {
            Some((base, n))
                if !base.is_empty()
                    && !n.starts_with('0')
                    && n.parse::<u32>().is_ok_and(|n| n > 0) =>
            {
                (base.len(), n.parse().unwrap_or(0))
            }
            _ => (s.len(), 0),
        };
        let instant = s
            .get(..STAMP_LEN)
            .and_then(|t| NaiveDateTime::parse_from_str(t, STAMP).ok())
            .map(|t| t.and_utc());
        Ok(RunId {
            text: s.to_string(),
            base_len,
            retry,
            instant,
        })
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::ops::Deref for RunId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.text
    }
}

impl AsRef<str> for RunId {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

impl AsRef<Path> for RunId {
    fn as_ref(&self) -> &Path {
        Path::new(&self.text)
    }
}

impl PartialEq<str> for RunId {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for RunId {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl PartialEq<String> for RunId {
    fn eq(&self, other: &String) -> bool {
        &self.text == other
    }
}

impl PartialEq<RunId> for String {
    fn eq(&self, other: &RunId) -> bool {
        *self == other.text
    }
}

impl PartialEq<RunId> for &str {
    fn eq(&self, other: &RunId) -> bool {
        *self == other.text
    }
}

/// For tests and literals: a string that is not a run id still becomes one, unparsed (it names
/// nothing the agent reads parts from).
impl From<&str> for RunId {
    fn from(s: &str) -> Self {
        Self::known(s.to_string())
    }
}

impl From<RunId> for String {
    fn from(id: RunId) -> String {
        id.text
    }
}

impl TryFrom<String> for RunId {
    type Error = BadRunId;

    fn try_from(s: String) -> Result<Self, BadRunId> {
        s.parse()
    }
}

impl serde::Serialize for RunId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for RunId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("instant")
    }

    #[test]
    fn ids_render_as_before_and_parse_back() {
        let t = at("2025-03-09T07:00:00Z");
        let scheduled = RunId::scheduled(t);
        assert_eq!(scheduled.to_string(), "20250309T070000Z");
        assert_eq!(scheduled.instant(), Some(t));
        let retry = scheduled.retry(1);
        assert_eq!(retry.to_string(), "20250309T070000Z-retry1");
        assert_eq!(
            (retry.base(), retry.retry_number()),
            ("20250309T070000Z", 1)
        );
        assert_eq!(retry.instant(), Some(t));
        // A retry of a retry counts from the base run.
        assert_eq!(retry.retry(2).to_string(), "20250309T070000Z-retry2");
        assert_eq!(RunId::missed(t).to_string(), "20250309T070000Z-missed");
        assert_eq!(RunId::manual(t, 3).to_string(), "manual-20250309T070000Z-3");
        assert_eq!(RunId::manual(t, 3).instant(), None);
        for text in [
            "20250309T070000Z",
            "20250309T070000Z-retry12",
            "20250309T070000Z-missed",
            "manual-20250309T070000Z-1",
            "check-targets",
            "x-retry0",
            "x-retry01",
        ] {
            let id: RunId = text.parse().expect(text);
            assert_eq!(id.to_string(), text);
            let json = serde_json::to_string(&id).expect("json");
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<RunId>(&json).expect("back"), id);
        }
        let odd: RunId = "x-retry01".parse().expect("id");
        assert_eq!((odd.base(), odd.retry_number()), ("x-retry01", 0));
    }

    #[test]
    fn paths_and_odd_text_are_not_run_ids() {
        for bad in ["", "../x", "a/b", "a.json", "a b", &"x".repeat(129)] {
            let err = bad.parse::<RunId>().expect_err(bad).to_string();
            assert!(err.contains("is not a run id"), "{err}");
        }
    }

    #[test]
    fn manual_ids_skip_those_a_record_or_staging_already_has() {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path();
        let now = at("2025-03-09T07:00:00Z");
        let runs = records::runs_dir(state, "j");
        std::fs::create_dir_all(&runs).expect("runs");
        std::fs::write(runs.join("manual-20250309T070000Z-1.json"), b"{}").expect("record");
        let staging = records::job_dir(state, "j").join("staging/manual-20250309T070000Z-2");
        std::fs::create_dir_all(staging).expect("staging");
        // A restarted agent (counter 0) and a foreground trigger alike get the first free one.
        let mut next = 0;
        let id = RunId::new_manual(state, "j", now, &mut next);
        assert_eq!(id.to_string(), "manual-20250309T070000Z-3");
        assert_eq!(next, 4);
        let again = RunId::new_manual(state, "j", now, &mut next);
        assert_eq!(again.to_string(), "manual-20250309T070000Z-4");
    }
}
