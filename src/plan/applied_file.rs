//! The content of `applied.json` (the jobs the running agent has applied): [`Applied`] encoded
//! and decoded here, its bytes stored by the state layer ([`crate::state::read_applied_bytes`],
//! [`crate::state::write_applied_bytes`]), which knows nothing of jobs.

use super::{Applied, AppliedJob};
use crate::jobs::{Definition, SpecHash};
use crate::state::{APPLIED_FILE, StateError, read_applied_bytes, write_applied_bytes};
use chrono::{DateTime, Utc};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AppliedFile {
    version: u32,
    applied_at: DateTime<Utc>,
    jobs: BTreeMap<String, AppliedJob>,
}

/// Reads `<state_dir>/applied.json`; a missing file means nothing is applied yet.
pub fn read_applied(state_dir: &Path) -> Result<Applied, StateError> {
    let path = state_dir.join(APPLIED_FILE);
    let Some(bytes) = read_applied_bytes(state_dir)? else {
        return Ok(Applied::default());
    };
    let file: AppliedFile = serde_json::from_slice(&bytes).map_err(|e| StateError::Corrupt {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if file.version != FORMAT_VERSION {
        return Err(StateError::Corrupt {
            path,
            message: format!(
                "format version {} is not supported (this agent writes {FORMAT_VERSION})",
                file.version
            ),
        });
    }
    Ok(Applied { jobs: file.jobs })
}

/// [`read_applied`], except that a job for which `known(name, stored_hash)` gives a definition
/// (the caller's definition of that name, when its hash is `stored_hash`) takes it instead of
/// parsing its own.
///
/// Equal hashes are equal definitions (the hash is of the definition), so the result is what
/// [`read_applied`] returns; `plan` with nothing changed then parses no stored definition.
pub fn read_applied_reusing(
    state_dir: &Path,
    known: &dyn Fn(&str, &str) -> Option<Arc<Definition>>,
) -> Result<Applied, StateError> {
    let path = state_dir.join(APPLIED_FILE);
    let Some(bytes) = read_applied_bytes(state_dir)? else {
        return Ok(Applied::default());
    };
    let corrupt = |message: String| StateError::Corrupt {
        path: path.clone(),
        message,
    };
    let mut de = serde_json::Deserializer::from_slice(&bytes);
    let jobs = FileSeed { known }
        .deserialize(&mut de)
        .and_then(|parsed| de.end().map(|()| parsed))
        .map_err(|e| corrupt(e.to_string()))?;
    match jobs {
        Ok(jobs) => Ok(Applied { jobs }),
        Err(version) => Err(corrupt(format!(
            "format version {version} is not supported (this agent writes {FORMAT_VERSION})"
        ))),
    }
}

/// The fields of [`AppliedFile`] and [`AppliedJob`] as their derived readers name them.
const FILE_FIELDS: &[&str] = &["version", "appliedAt", "jobs"];
const JOB_FIELDS: &[&str] = &["source", "specHash", "definition"];

type Known<'a> = &'a dyn Fn(&str, &str) -> Option<Arc<Definition>>;

/// Reads an [`AppliedFile`]'s jobs (or the unsupported version), checked as the derived reader
/// checks it.
struct FileSeed<'a> {
    known: Known<'a>,
}

impl<'de> DeserializeSeed<'de> for FileSeed<'_> {
    type Value = Result<BTreeMap<String, AppliedJob>, u32>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct("AppliedFile", FILE_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for FileSeed<'_> {
    type Value = Result<BTreeMap<String, AppliedJob>, u32>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct AppliedFile")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut version: Option<u32> = None;
        let mut applied_at: Option<DateTime<Utc>> = None;
        let mut jobs: Option<BTreeMap<String, AppliedJob>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "version" if version.is_some() => {
                    return Err(de::Error::duplicate_field("version"));
                }
                "version" => version = Some(map.next_value()?),
                "appliedAt" if applied_at.is_some() => {
                    return Err(de::Error::duplicate_field("appliedAt"));
                }
                "appliedAt" => applied_at = Some(map.next_value()?),
                "jobs" if jobs.is_some() => return Err(de::Error::duplicate_field("jobs")),
                "jobs" => jobs = Some(map.next_value_seed(JobsSeed { known: self.known })?),
                other => return Err(de::Error::unknown_field(other, FILE_FIELDS)),
            }
        }
        let version = version.ok_or_else(|| de::Error::missing_field("version"))?;
        applied_at.ok_or_else(|| de::Error::missing_field("appliedAt"))?;
        let jobs = jobs.ok_or_else(|| de::Error::missing_field("jobs"))?;
        Ok(if version == FORMAT_VERSION {
            Ok(jobs)
        } else {
            Err(version)
        })
    }
}

/// The `jobs` map, each job read by a [`JobSeed`] that knows its name.
struct JobsSeed<'a> {
    known: Known<'a>,
}

impl<'de> DeserializeSeed<'de> for JobsSeed<'_> {
    type Value = BTreeMap<String, AppliedJob>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for JobsSeed<'_> {
    type Value = BTreeMap<String, AppliedJob>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut jobs = BTreeMap::new();
        while let Some(name) = map.next_key::<String>()? {
            let job = map.next_value_seed(JobSeed {
                name: &name,
                known: self.known,
            })?;
            jobs.insert(name, job);
        }
        Ok(jobs)
    }
}

/// One [`AppliedJob`]; its definition is skipped when [`JobSeed::known`] has it (the writer
/// puts `specHash` before `definition`; in any other order the definition is parsed).
struct JobSeed<'a> {
    name: &'a str,
    known: Known<'a>,
}

impl<'de> DeserializeSeed<'de> for JobSeed<'_> {
    type Value = AppliedJob;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_struct("AppliedJob", JOB_FIELDS, self)
    }
}

impl<'de> Visitor<'de> for JobSeed<'_> {
    type Value = AppliedJob;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("struct AppliedJob")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<AppliedJob, A::Error> {
        let mut source: Option<PathBuf> = None;
        let mut spec_hash: Option<String> = None;
        let mut definition: Option<Arc<Definition>> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "source" if source.is_some() => return Err(de::Error::duplicate_field("source")),
                "source" => source = Some(map.next_value()?),
                "specHash" if spec_hash.is_some() => {
                    return Err(de::Error::duplicate_field("specHash"));
                }
                "specHash" => spec_hash = Some(map.next_value()?),
                "definition" if definition.is_some() => {
                    return Err(de::Error::duplicate_field("definition"));
                }
                "definition" => {
                    let reused = spec_hash
                        .as_deref()
                        .and_then(|stored| (self.known)(self.name, stored));
                    definition = Some(match reused {
                        Some(shared) => {
                            map.next_value::<de::IgnoredAny>()?;
                            shared
                        }
                        None => Arc::new(map.next_value()?),
                    });
                }
                // The derived reader of `AppliedJob` ignores fields it does not know.
                _ => {
                    map.next_value::<de::IgnoredAny>()?;
                }
            }
        }
        Ok(AppliedJob {
            source: source.ok_or_else(|| de::Error::missing_field("source"))?,
            spec_hash: (spec_hash.map(SpecHash::from))
                .ok_or_else(|| de::Error::missing_field("specHash"))?,
            definition: definition.ok_or_else(|| de::Error::missing_field("definition"))?,
        })
    }
}

/// Writes `<state_dir>/applied.json` atomically.
pub fn write_applied(
    state_dir: &Path,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Result<(), StateError> {
    let bytes = applied_bytes(state_dir, applied, now)?;
    write_applied_bytes(state_dir, &bytes)
}

/// The bytes of `applied.json` for `applied` (serialized from it, not from a copy), for
/// [`write_applied_bytes`].
pub fn applied_bytes(
    state_dir: &Path,
    applied: &Applied,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, StateError> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AppliedFileRef<'a> {
        version: u32,
        applied_at: DateTime<Utc>,
        jobs: &'a BTreeMap<String, AppliedJob>,
    }
    let file = AppliedFileRef {
        version: FORMAT_VERSION,
        applied_at: now,
        jobs: &applied.jobs,
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| StateError::Corrupt {
        path: state_dir.join(APPLIED_FILE),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_treats_missing_as_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            read_applied(dir.path()).expect("missing is fine"),
            Applied::default()
        );
        let mut applied = Applied::default();
        applied.jobs.insert(
            "a".into(),
            AppliedJob {
                source: "/jobs/a.yaml".into(),
                spec_hash: "abc".into(),
                definition: std::sync::Arc::new(Definition::from_value(
                    &serde_json::json!({"spec": {"schedule": "0 2 * * *"}}),
                )),
            },
        );
        write_applied(dir.path(), &applied, Utc::now()).expect("write");
        assert_eq!(read_applied(dir.path()).expect("read"), applied);
    }

    #[test]
    fn reusing_known_definitions_reads_what_read_applied_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut applied = Applied::default();
        for (name, hash, schedule) in [("a", "h1", "0 1 * * *"), ("b", "h2", "0 2 * * *")] {
            applied.jobs.insert(
                name.into(),
                AppliedJob {
                    source: format!("/jobs/{name}.yaml").into(),
                    spec_hash: hash.into(),
                    definition: Arc::new(Definition::from_value(
                        &serde_json::json!({"spec": {"schedule": schedule}}),
                    )),
                },
            );
        }
        write_applied(dir.path(), &applied, Utc::now()).expect("write");
        let shared = Arc::clone(&applied.jobs["a"].definition);
        // `a` is known with its hash, `b` with another one (it changed): only `a` is reused.
        let known = |name: &str, stored: &str| match (name, stored) {
            ("a", "h1") => Some(Arc::clone(&shared)),
            _ => None,
        };
        let read = read_applied_reusing(dir.path(), &known).expect("read");
        assert_eq!(read, applied);
        assert!(Arc::ptr_eq(&read.jobs["a"].definition, &shared));
        assert_eq!(
            read_applied_reusing(dir.path(), &|_, _| None).expect("read"),
            applied
        );

        let missing = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            read_applied_reusing(missing.path(), &known).expect("missing is fine"),
            Applied::default()
        );
        // Whatever `read_applied` refuses, this refuses with the same message.
        for text in [
            "{not json",
            r#"{"version": 2, "appliedAt": "2025-01-01T00:00:00Z", "jobs": {}}"#,
            r#"{"version": 1, "appliedAt": "2025-01-01T00:00:00Z", "jobs": {}, "x": 1}"#,
            r#"{"version": 1, "jobs": {}}"#,
            r#"{"version": 1, "appliedAt": "2025-01-01T00:00:00Z", "jobs": {"a": {"source": "/a"}}}"#,
            r#"{"version": 1, "appliedAt": "2025-01-01T00:00:00Z", "jobs": {}} x"#,
        ] {
            std::fs::write(dir.path().join(APPLIED_FILE), text).expect("write");
            let expected = read_applied(dir.path()).expect_err(text).to_string();
            let got = read_applied_reusing(dir.path(), &known)
                .expect_err(text)
                .to_string();
            assert_eq!(got, expected, "{text}");
        }
    }

    #[test]
    fn corrupt_files_are_reported_with_their_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(APPLIED_FILE), "{not json").expect("write");
        let err = read_applied(dir.path()).expect_err("corrupt");
        assert!(matches!(err, StateError::Corrupt { .. }));
        assert!(err.to_string().contains("applied.json"), "{err}");
    }
}
