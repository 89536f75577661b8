//! Fleet spread simulation of `bench/fleet.sh` (issue 19, item 4); it exists only for that
//! benchmark.
//!
//! N agents in node mode, each with its own node name as host identity (the jitter seed), run the
//! same job file. Each agent's fire time comes from the agent's own library: the job file is
//! loaded and validated with `jobs::load_dir` and its next fire taken from `plan::upcoming`, the
//! function `plan --show-next` prints and which applies `schedule::jitter_offset` exactly as the
//! daemon's timetable does. The fleet is simulated twice, with the job's `jitter: 10m` and with
//! `jitter: 0s` (the peer), and the peak request rate against the API server and the upload
//! endpoint is compared.
//!
//! Model of one run (stated in bench/README.md): the run collects for C seconds, C fixed per
//! node (the same in both fleets) and drawn uniformly from [MIN, MAX] by a seeded generator; it
//! makes K API requests spread evenly over the collection (at start + j·C/K, j = 0..K-1) and one
//! upload at its end (start + C). The peak is the largest number of requests in any 1-second
//! window (sliding, at millisecond resolution), so a burst split by a second boundary still counts
//! whole.
//!
//! Usage: `fleet-sim [AGENTS=1000] [COLLECT_MIN_S=30] [COLLECT_MAX_S=60] [API_REQUESTS=4]`

use chrono::{DateTime, Utc};
use std::path::Path;
use std::process::ExitCode;
use troubleshoot_agent::jobs::{self, Context};
use troubleshoot_agent::plan::{self, PlanOptions};

/// The job every agent runs; `{jitter}` is `10m` for the fleet under test, `0s` for the peer.
const JOB: &str = "apiVersion: troubleshoot.sh/v1beta3
kind: SupportBundleSchedule
metadata:
  name: node-daily
spec:
  schedule: \"0 2 * * *\"
  timeZone: UTC
  jitter: {jitter}
  collect:
    supportBundle:
      hostCollectors:
        - cpu: {}
        - memory: {}
";

struct Model {
    agents: usize,
    collect_min_ms: u64,
    collect_max_ms: u64,
    api_requests: u64,
}

/// Request instants (ms since the epoch) against the API server and the upload endpoint.
#[derive(Default)]
struct Traffic {
    api: Vec<i64>,
    upload: Vec<i64>,
}

fn main() -> ExitCode {
    let args: Vec<u64> = match std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>())
        .collect::<Result<_, _>>()
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "fleet-sim: {e}\nusage: fleet-sim [AGENTS] [COLLECT_MIN_S] [COLLECT_MAX_S] [API_REQUESTS]"
            );
            return ExitCode::from(2);
        }
    };
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    let model = Model {
        agents: usize::try_from(arg(0, 1000)).unwrap_or(1000),
        collect_min_ms: arg(1, 30) * 1000,
        collect_max_ms: arg(2, 60).max(arg(1, 30)) * 1000,
        api_requests: arg(3, 4).max(1),
    };
    match simulate(&model) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet-sim: {e}");
            ExitCode::FAILURE
        }
    }
}

fn simulate(model: &Model) -> Result<(), String> {
    let jittered = fleet(model, "10m", |_| 0)?;
    let peer = fleet(model, "0s", |_| 0)?;
    // What a perfect hash would give: the peer fleet shifted by independent uniform offsets in
    // [0, 10 min) from a seeded generator. Jitter near this line spreads as well as chance allows.
    let random = fleet(model, "0s", |i| {
        (splitmix64(1_000_000 + i as u64) % 600_000) as i64
    })?;
    let (api, api_peer) = (peak_per_second(&jittered.api), peak_per_second(&peer.api));
    let (up, up_peer) = (
        peak_per_second(&jittered.upload),
        peak_per_second(&peer.upload),
    );
    println!(
        "fleet: {} agents (node mode), `0 2 * * *`, collection {}-{} s, {} API request(s) + 1 upload per run",
        model.agents,
        model.collect_min_ms / 1000,
        model.collect_max_ms / 1000,
        model.api_requests
    );
    println!(
        "{:<10} {:>16} {:>16} {:>8} {:>7}",
        "endpoint", "jitter 10m peak/s", "jitter 0s peak/s", "ratio", "target"
    );
    let (api_random, up_random) = (
        peak_per_second(&random.api),
        peak_per_second(&random.upload),
    );
    for (name, ours, theirs) in [("API", api, api_peer), ("upload", up, up_peer)] {
        let ratio = ours as f64 / theirs.max(1) as f64;
        println!(
            "{name:<10} {ours:>16} {theirs:>16} {:>7.1}% {:>7}",
            ratio * 100.0,
            if ratio <= 0.05 { "met" } else { "missed" }
        );
    }
    println!(
        "reference, uniform random offsets in [0, 10m): API {api_random}/s, upload {up_random}/s"
    );
    println!(
        "first request to last upload: jitter 10m {:.0} s, jitter 0s {:.0} s",
        span_s(&jittered),
        span_s(&peer)
    );
    Ok(())
}

/// Every agent's requests for the job with the given jitter, each agent's start moved by
/// `shift(agent)` milliseconds more.
fn fleet(model: &Model, jitter: &str, shift: fn(usize) -> i64) -> Result<Traffic, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let file = dir.path().join("node-daily.yaml");
    std::fs::write(&file, JOB.replace("{jitter}", jitter)).map_err(|e| e.to_string())?;
    let job = load_job(dir.path())?;
    let now: DateTime<Utc> = "2026-12-07T00:00:00Z".parse().map_err(|e| format!("{e}"))?;
    let mut traffic = Traffic::default();
    for i in 0..model.agents {
        let options = PlanOptions {
            strict: false,
            now,
            host_identity: node_name(i),
            show_next: 1,
        };
        let fire = plan::upcoming(
            &job.timeline,
            job.document.spec.jitter,
            job.document.spec.suspend,
            &job.name,
            &options,
            1,
        );
        let start = fire.first().ok_or("the job never fires")?.at;
        let start_ms = start.timestamp_millis() + shift(i);
        let collect_ms = collection_ms(model, i);
        for j in 0..model.api_requests {
            let at = start_ms + i64::try_from(j * collect_ms / model.api_requests).unwrap_or(0);
            traffic.api.push(at);
        }
        traffic
            .upload
            .push(start_ms + i64::try_from(collect_ms).unwrap_or(0));
    }
    Ok(traffic)
}

fn load_job(dir: &Path) -> Result<std::sync::Arc<jobs::Job>, String> {
    let desired = jobs::load_dir(dir, &Context::default()).map_err(|e| e.to_string())?;
    if let Some(d) = desired.diagnostics().find(|d| d.is_error()) {
        return Err(format!("the simulated job file is invalid: {d}"));
    }
    desired
        .jobs
        .values()
        .next()
        .cloned()
        .ok_or_else(|| "the simulated job file defines no job".to_string())
}

/// Node names as a cloud provider gives them: long, alike, differing in a few characters, the
/// hard case for a hash that must spread them.
fn node_name(i: usize) -> String {
    format!("ip-10-0-{}-{}.ec2.internal", i / 250, i % 250 + 1)
}

/// This node's collection time: uniform in [min, max], fixed per node (seeded by its index).
fn collection_ms(model: &Model, i: usize) -> u64 {
    let width = model.collect_max_ms - model.collect_min_ms + 1;
    model.collect_min_ms + splitmix64(i as u64) % width
}

/// A seeded generator's output for `seed` (splitmix64): the same figures on every run.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The most requests in any window of one second.
fn peak_per_second(times: &[i64]) -> usize {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    let mut peak = 0;
    let mut first = 0;
    for (last, t) in sorted.iter().enumerate() {
        while sorted[first] <= t - 1000 {
            first += 1;
        }
        peak = peak.max(last + 1 - first);
    }
    peak
}

fn span_s(t: &Traffic) -> f64 {
    let first = t.api.iter().chain(&t.upload).min().copied().unwrap_or(0);
    let last = t.api.iter().chain(&t.upload).max().copied().unwrap_or(0);
    (last - first) as f64 / 1000.0
}
