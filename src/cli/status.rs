//! `status`: jobs, next runs and last results; from the running agent, else the state directory.

use super::args::{GlobalArgs, Output};
use super::{agent_host, exit, find_agent, human, print_json, settings};
use crate::agent::StatusSnapshot;
use crate::agent::status::{JobStatus, LastRun};
use crate::plan::{PlanOptions, upcoming};
use crate::schedule::Phase;
use crate::state::records::{self, RunStatus};
use crate::state::retention;
use anyhow::Context as _;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Runs `status`.
pub fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let (snapshot, live) = match find_agent(global, &settings)? {
        Some(agent) => {
            let response = agent.request("GET", "/api/v1/status", Duration::from_secs(30))?;
            let snapshot: StatusSnapshot = serde_json::from_str(&response.body)
                .with_context(|| format!("unexpected answer from {agent}: {}", response.body))?;
            (snapshot, true)
        }
        None => (offline(&settings)?, false),
    };
    let now = Utc::now();
    let prunes = next_prunes(&settings.state_dir, now);
    match global.output {
        Output::Json => {
            let mut status = serde_json::to_value(&snapshot)?;
            add_prunes(&mut status, &prunes);
            print_json(&serde_json::json!({"agentRunning": live, "status": status}))?
        }
        out @ (Output::Text | Output::Wide) => print!(
            "{}{}",
            render(
                &snapshot,
                live,
                now,
                human::terminal_width(),
                out == Output::Wide,
                super::style::stdout_colour(),
            ),
            prune_lines(&prunes)
        ),
    }
    Ok(exit::OK)
}

/// What the next prune of a job's bundles would remove (`retention --dry-run JOB` lists them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct NextPrune {
    bundles: usize,
    bytes: u64,
}

/// For each applied job with bundles the next prune would remove: how many and how large, by
/// the retention policy over the job's records at `now` (nothing is removed). A state directory
/// this user cannot read shows none.
fn next_prunes(state_dir: &Path, now: DateTime<Utc>) -> BTreeMap<String, NextPrune> {
    let Ok(applied) = crate::plan::read_applied(state_dir) else {
        return BTreeMap::new();
    };
    let Ok(dir) = crate::state::StateDir::open(state_dir) else {
        return BTreeMap::new();
    };
    (applied.jobs.iter())
        .filter_map(|(name, job)| {
            let policy = applied_policy(job)?;
            // Most jobs hold no more bundles than `keepLast` alone keeps (the agent prunes after
            // each run): a listing of the bundles directory settles them without their records.
            let on_disk = (dir.read_dir(&retention::bundles_dir(state_dir, name)).ok())
                .map_or(0, |entries| entries.len());
            if on_disk <= 1 || only_keep_last(&policy).is_some_and(|n| on_disk <= n as usize) {
                return None;
            }
            let decisions = retention::preview(state_dir, name, &policy, now).ok()?;
            let gone: Vec<_> = (decisions.iter()).filter(|d| d.removed.is_some()).collect();
            let prune = NextPrune {
                bundles: gone.len(),
                bytes: gone.iter().map(|d| d.bundle.size).sum(),
            };
            (prune.bundles > 0).then(|| (name.clone(), prune))
        })
        .collect()
}

/// The retention policy of an applied job, from its recorded definition (as
/// `Job::retention_policy` makes it: periods in the schedule's zone).
fn applied_policy(job: &crate::plan::AppliedJob) -> Option<retention::Policy> {
    let definition = job.definition.value();
    let r: crate::jobs::model::Retention = match definition.pointer("/spec/retention") {
        Some(v) => serde_json::from_value(v.clone()).ok()?,
        None => Default::default(),
    };
    let zone = job.timing().map_or(chrono_tz::Tz::UTC, |t| t.0.time_zone());
    Some(retention::Policy {
        keep_last: r.keep_last,
        keep_periods: r.keep_periods(),
        max_age: r.max_age.map(|d| d.0),
        max_total_size: r.max_total_size.map(|s| s.0),
        zone,
    })
}

/// `keepLast`'s count when it is the only rule (then no more bundles than that means none go).
fn only_keep_last(p: &retention::Policy) -> Option<u32> {
    let alone = p.keep_periods.iter().all(Option::is_none)
        && p.max_age.is_none()
        && p.max_total_size.is_none();
    alone.then_some(p.keep_last).flatten()
}

/// `-o json`: each job of `status.jobs` gets `nextPrune: {bundles, bytes}` when it has one.
fn add_prunes(status: &mut serde_json::Value, prunes: &BTreeMap<String, NextPrune>) {
    let Some(jobs) = status.get_mut("jobs").and_then(|j| j.as_array_mut()) else {
        return;
    };
    for job in jobs {
        let name = job.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        if let Some(prune) = prunes.get(name)
            && let (Some(map), Ok(value)) = (job.as_object_mut(), serde_json::to_value(prune))
        {
            map.insert("nextPrune".into(), value);
        }
    }
}

/// One line per job with bundles the next prune would remove.
fn prune_lines(prunes: &BTreeMap<String, NextPrune>) -> String {
    (prunes.iter())
        .map(|(name, p)| {
            format!(
                "prune: `{name}`'s next prune would remove {} bundle(s), {} (`retention --dry-run {name}` lists them)\n",
                p.bundles,
                human::size(p.bytes)
            )
        })
        .collect()
}

/// What the state directory says when no agent runs: the applied jobs, their next fire (from
/// their last recorded fire) and their last run.
fn offline(settings: &crate::settings::Settings) -> anyhow::Result<StatusSnapshot> {
    if !settings.state_dir.is_dir() {
        anyhow::bail!(
            "no agent is running and the state directory {} does not exist: start the agent, or name its state directory with --state-dir",
            settings.state_dir.display()
        );
    }
    let applied = crate::plan::read_applied(&settings.state_dir)?;
    let options = PlanOptions {
        strict: false,
        now: Utc::now(),
        host_identity: settings.host_identity_or(&agent_host(settings)),
        show_next: 1,
    };
    let mut jobs = Vec::new();
    for (name, job) in &applied.jobs {
        let definition = job.definition.value();
        let spec = definition.get("spec");
        let text = |key: &str| {
            spec.and_then(|s| s.get(key))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let timing = job.timing();
        let next_run = timing
            .as_ref()
            .and_then(|(timeline, jitter, suspended)| {
                upcoming(timeline, *jitter, *suspended, name, &options, 1)
                    .into_iter()
                    .next()
            })
            .map(|f| f.at);
        let last_run = records::history(&settings.state_dir, name, 1)
            .ok()
            .and_then(|(mut r, _)| r.pop())
            .map(|r| LastRun {
                run_id: r.run_id,
                status: r.status,
                started_at: r.started_at,
                ended_at: r.ended_at,
                analysis: r.analysis,
            });
        // Without the agent, its last recorded slot stands for what it handled.
        let handled = records::last_fire(&settings.state_dir, name).ok().flatten();
        let phase = (timing.as_ref())
            .map(|(timeline, ..)| {
                timeline.phase(handled.unwrap_or(DateTime::<Utc>::MIN_UTC), options.now)
            })
            .unwrap_or_default();
        jobs.push(JobStatus {
            name: name.clone(),
            schedule: Some(text("schedule")).filter(|s| !s.is_empty()),
            at: timing.as_ref().and_then(|(timeline, ..)| timeline.once()),
            phase,
            time_zone: text("timeZone"),
            suspended: timing.as_ref().is_some_and(|t| t.2),
            next_run,
            running: Vec::new(),
            last_run,
            source: job.source.clone(),
            stale: false,
        });
    }
    Ok(StatusSnapshot {
        jobs_dir: settings.jobs_dir.clone(),
        state_dir: settings.state_dir.clone(),
        jobs,
        ..StatusSnapshot::default()
    })
}

/// Cluster mode: who leads, as this replica knows it.
fn cluster_line(c: &crate::agent::status::ClusterStatus) -> String {
    let role = match (c.leading, c.leader.as_deref()) {
        (true, _) => "leads: it starts the runs".to_string(),
        (false, Some(leader)) => format!("standby: the leader is {leader}"),
        (false, None) => "standby: no replica leads yet".to_string(),
    };
    let error = c
        .error
        .as_deref()
        .map(|e| format!(" ({e})"))
        .unwrap_or_default();
    format!(
        "  cluster mode: replica {} {role}; lease {}{error}\n",
        c.identity, c.lease
    )
}

/// The running agent's lines above the table: pid, readiness, cluster role, problems, the last
/// reload and each rejected file with the first line of each of its errors.
fn agent_lines(s: &StatusSnapshot, now: DateTime<Utc>) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "agent pid {} ({}), {} job(s), {}\n",
        s.pid,
        if s.ready { "ready" } else { "not ready" },
        s.jobs.len(),
        if s.watching {
            "watching the jobs directory"
        } else {
            "polling the jobs directory"
        }
    ));
    if let Some(c) = &s.cluster {
        out.push_str(&cluster_line(c));
    }
    for p in &s.problems {
        out.push_str(&format!("  problem: {p}\n"));
    }
    if let Some(r) = &s.last_reload {
        out.push_str(&format!(
            "  last reload {}: {}\n",
            human::when(r.at, now),
            r.summary
        ));
    }
    for f in &s.rejected_files {
        out.push_str(&format!(
            "  rejected: {} ({} error(s))\n",
            f.path.display(),
            f.errors.len()
        ));
        // What to fix, not only how much: the first line of each error.
        for e in &f.errors {
            let text = e.to_string();
            out.push_str(&format!(
                "    {}\n",
                text.lines().next().unwrap_or_default()
            ));
        }
    }
    out
}

fn render(
    s: &StatusSnapshot,
    live: bool,
    now: DateTime<Utc>,
    width: Option<u16>,
    wide: bool,
    colour: bool,
) -> String {
    let mut out = String::new();
    if live {
        out.push_str(&agent_lines(s, now));
    } else {
        out.push_str(&format!(
            "no agent is running; from the state directory {}\n",
            s.state_dir.display()
        ));
    }
    let mut table = human::table(
        &[
            "JOB", "SCHEDULE", "ZONE", "NEXT RUN", "LAST RUN", "RESULT", "ANALYSIS",
        ],
        colour,
    );
    for j in &s.jobs {
        let next = next_cell(j, now);
        let analysis = human::analysis_cell(j.last_run.as_ref().and_then(|r| r.analysis.as_ref()));
        let (last, result) = match (&j.last_run, j.running.is_empty()) {
            (_, false) => (
                "now".to_string(),
                human::status_cell(format!("running ({})", j.running.join(", ")), None),
            ),
            (Some(r), true) => (
                human::when(r.started_at, now),
                human::status_cell(r.status.as_str().to_string(), Some(r.status)),
            ),
            (None, true) => ("-".into(), "-".into()),
        };
        let name = if j.stale {
            format!("{} (last good)", j.name)
        } else {
            j.name.clone()
        };
        table.add_row(human::row(
            vec![
                name.into(),
                schedule_cell(j).into(),
                j.time_zone.clone().into(),
                next.into(),
                last.into(),
                result,
                analysis.into(),
            ],
            wide,
        ));
    }
    human::fit(&mut table, width, wide);
    out.push_str(&table.to_string());
    out.push('\n');
    out
}

/// The SCHEDULE column: the cron expression, the one-shot instant, or `triggers only`.
fn schedule_cell(j: &JobStatus) -> String {
    match (&j.schedule, j.at) {
        (Some(expr), _) => expr.clone(),
        (None, Some(at)) => format!("at {}", at.format("%Y-%m-%d %H:%M:%SZ")),
        (None, None) => "triggers only".to_string(),
    }
}

/// The NEXT RUN column: when, or why never (suspended, done, expired, started by triggers).
fn next_cell(j: &JobStatus, now: DateTime<Utc>) -> String {
    if j.suspended {
        return "suspended".to_string();
    }
    match j.phase {
        Phase::Done => {
            // The one-shot's own record, when it is the last run.
            let own = (j.last_run.as_ref())
                .filter(|r| r.run_id.instant().is_some() && r.run_id.instant() == j.at);
            match own {
                Some(r) if r.status == RunStatus::Missed => "done (missed)".to_string(),
                Some(r) => format!("done (ran {})", r.started_at.format("%Y-%m-%d %H:%M")),
                None => "done".to_string(),
            }
        }
        Phase::Expired => "expired (activeWindow ended)".to_string(),
        Phase::TriggerOnly if j.next_run.is_none() => "on trigger".to_string(),
        _ => j
            .next_run
            .map_or_else(|| "-".into(), |t| human::when(t, now)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::records::{BundleRecord, RunRecord, RunStatus};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    /// A state directory with the applied job `j` (its `retention` as given) and three of its
    /// runs' bundles on disk, 1000, 2000 and 3000 bytes, oldest first.
    fn state_with_bundles(retention: &str) -> (tempfile::TempDir, std::path::PathBuf, Vec<String>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (jobs_dir, state) = (dir.path().join("jobs"), dir.path().join("state"));
        std::fs::create_dir_all(&jobs_dir).expect("jobs dir");
        crate::state::prepare(&state).expect("state dir");
        std::fs::write(
            jobs_dir.join("j.yaml"),
            format!(
                "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: j}}\nspec:\n  schedule: \"0 2 * * *\"\n  retention: {retention}\n  collect:\n    supportBundle:\n      hostCollectors: [{{cpu: {{}}}}]\n"
            ),
        )
        .expect("job file");
        let settings = crate::settings::Settings::defaults(&|_| None);
        let desired = crate::jobs::load_dir(&jobs_dir, &settings.jobs_context()).expect("jobs");
        let mut applied = crate::plan::Applied::default();
        for (name, job) in &desired.jobs {
            (applied.jobs).insert(name.clone(), crate::plan::AppliedJob::from_job(job));
        }
        crate::plan::write_applied(&state, &applied, t("2026-12-07T00:00:00Z")).expect("applied");
        let bundles = retention::bundles_dir(&state, "j");
        std::fs::create_dir_all(&bundles).expect("bundles dir");
        let mut paths = Vec::new();
        for (i, day) in ["01", "02", "03"].iter().enumerate() {
            let id = format!("202612{day}T020000Z");
            let path = bundles.join(format!("j-2026-12-{day}T02_00_00.tar.gz"));
            std::fs::write(&path, b"bundle").expect("bundle");
            let mut record = RunRecord::for_test("j", &id, RunStatus::Succeeded);
            record.started_at = t(&format!("2026-12-{day}T02:00:00Z"));
            record.bundle = Some(BundleRecord {
                path: path.clone(),
                size: 1000 * (i as u64 + 1),
                sha256: String::new(),
                partial: false,
                pruned_at: None,
                pruned_by: None,
            });
            records::create(&state, &record).expect("record");
            paths.push(path.display().to_string());
        }
        (dir, state, paths)
    }

    #[test]
    fn the_next_prune_is_previewed_from_the_records_and_removes_nothing() {
        let (_dir, state, paths) = state_with_bundles("{keepLast: 1}");
        let now = t("2026-12-07T12:00:00Z");
        let prunes = next_prunes(&state, now);
        let want = NextPrune {
            bundles: 2,
            bytes: 3000,
        };
        assert_eq!(prunes.get("j"), Some(&want), "{prunes:?}");
        for p in &paths {
            assert!(Path::new(p).exists(), "a preview removed {p}");
        }
        let lines = prune_lines(&prunes);
        assert!(
            lines.contains("`j`'s next prune would remove 2 bundle(s), 2.9 KiB"),
            "{lines}"
        );
        let mut status = serde_json::json!({"jobs": [{"name": "j"}, {"name": "k"}]});
        add_prunes(&mut status, &prunes);
        assert_eq!(
            status["jobs"][0]["nextPrune"],
            serde_json::json!({"bundles": 2, "bytes": 3000})
        );
        assert!(status["jobs"][1].get("nextPrune").is_none(), "{status}");
    }

    #[test]
    fn a_policy_that_keeps_everything_shows_no_prune() {
        let (_dir, state, _) = state_with_bundles("{keepLast: 3}");
        assert!(next_prunes(&state, t("2026-12-07T12:00:00Z")).is_empty());
        // Periods: each day's newest stays, so three days with one bundle each keep all three;
        // `maxAge` then removes the two older than five days (never the newest).
        let (_dir, state, _) = state_with_bundles("{keepLast: 1, keepDaily: 7, maxAge: 5d}");
        let prunes = next_prunes(&state, t("2026-12-07T12:00:00Z"));
        let want = NextPrune {
            bundles: 2,
            bytes: 3000,
        };
        assert_eq!(prunes.get("j"), Some(&want), "{prunes:?}");
        assert!(next_prunes(&state.join("missing"), Utc::now()).is_empty());
    }
}
