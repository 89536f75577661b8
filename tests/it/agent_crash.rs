//! Nothing collected is lost to `kill -9`: the agent is killed at random points (and at chosen
//! moments: during start-up recovery, while an archive is written, while an upload is on the
//! wire), restarted, killed again; then it runs until idle and stops cleanly, and the state
//! directory and the upload server must agree (see [`check_invariants`]).
//!
//! 12 kills by default (a fresh seed each run); `TSA_SOAK=1` (`scripts/test --soak`) makes it
//! 200. The random choices come from a seed printed at the start and in every failure;
//! `TSA_CRASH_SEED=<n>` replays one.

use crate::support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::daemon::{Daemon, Dirs, dirs, http, read_json, wait_until};
use support::servers::hex;

/// Jobs with an upload target: every bundle of theirs must reach the store.
const UPLOADING: &[&str] = &["up-big", "up-small"];
/// All jobs.
const JOBS: &[&str] = &["up-big", "up-small", "local-big"];

/// A small deterministic generator (splitmix64): the test needs no crate for dice.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One object the store holds.
#[derive(Clone, Debug)]
struct Stored {
    sha256: String,
    /// Times it was created (201): create-only means exactly once.
    creates: u32,
}

/// An HTTP object store (std only): create-only PUT (`If-None-Match: *` answered 412 for a key
/// it holds), an object stored only when its whole body arrived, and a pause before reading each
/// body so that a kill can land while an upload is on the wire.
struct Store {
    addr: SocketAddr,
    objects: Arc<Mutex<BTreeMap<String, Stored>>>,
    puts_started: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Store {
    fn start() -> Store {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the store");
        let addr = listener.local_addr().expect("store address");
        let objects = Arc::new(Mutex::new(BTreeMap::new()));
        let puts_started = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (o, p, s) = (objects.clone(), puts_started.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (o, p) = (o.clone(), p.clone());
                std::thread::spawn(move || {
                    let _ = serve(conn, &o, &p);
                });
            }
        });
        Store {
            addr,
            objects,
            puts_started,
            stop,
        }
    }

    fn objects(&self) -> BTreeMap<String, Stored> {
        self.objects.lock().expect("store lock").clone()
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

fn serve(
    conn: std::net::TcpStream,
    objects: &Mutex<BTreeMap<String, Stored>>,
    puts_started: &AtomicU64,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(());
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let mut length = 0u64;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 {
            return Ok(());
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let code = if method == "PUT" {
        puts_started.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(150));
        let mut hasher = Sha256::new();
        let got = std::io::copy(&mut (&mut reader).take(length), &mut hasher)?;
        if got != length {
            // The client died mid-body: nothing is stored.
            return Ok(());
        }
        let sha256 = hex(&hasher.finalize());
        let mut objects = objects.lock().expect("store lock");
        match objects.get(&path) {
            Some(_) => 412,
            None => {
                objects.insert(path, Stored { sha256, creates: 1 });
                201
            }
        }
    } else {
        405
    };
    let mut w = conn;
    write!(
        w,
        "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    w.flush()
}

/// The job files: two collectors (a few MB of text, then a short sleep so that a kill can catch
/// a run with data staged) and, for uploading jobs, the store as target.
fn write_jobs(jobs: &Path, store: &Store, suspend: bool) {
    for name in JOBS {
        let big = name.ends_with("-big");
        let data = if big {
            "head -c 1200000 /dev/urandom | base64"
        } else {
            "echo small"
        };
        let mut text = format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"* * * * *\"\n  suspend: {suspend}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - run: {{collectorName: data, command: sh, args: [\"-c\", \"{data}\"]}}\n        - run: {{collectorName: wait, command: sleep, args: [\"{}\"]}}\n",
            if big { "0.5" } else { "0.1" }
        );
        if UPLOADING.contains(name) {
            text.push_str(&format!(
                "  upload:\n    - http: {{url: \"http://{}/b/{{job}}/{{runId}}.tar.gz\", method: PUT}}\n",
                store.addr
            ));
        }
        std::fs::write(jobs.join(format!("{name}.yaml")), text).expect("write job file");
    }
}

/// Where the agent is killed in one round.
#[derive(Clone, Copy, Debug)]
enum Moment {
    /// After a random delay (start-up included).
    Random,
    /// While start-up recovery archives what a crashed run staged.
    Recovery,
    /// While an archive's temp file is being written.
    Archive,
    /// While an upload's body is on the wire.
    Upload,
}

/// Files under `dir` (recursively) whose names satisfy `pick`.
fn files_where(dir: &Path, pick: &dyn Fn(&str) -> bool, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.filter_map(Result::ok) {
        let path = e.path();
        if path.is_dir() {
            files_where(&path, pick, out);
        } else if e.file_name().to_str().is_some_and(pick) {
            out.push(path);
        }
    }
}

fn staged_runs(state: &Path) -> usize {
    JOBS.iter()
        .map(|j| {
            std::fs::read_dir(state.join("jobs").join(j).join("staging"))
                .map(|d| d.count())
                .unwrap_or(0)
        })
        .sum()
}

fn archive_in_progress(state: &Path) -> bool {
    let mut temps = Vec::new();
    files_where(
        &state.join("jobs"),
        &|n| n.starts_with('.') && n.contains(".tar.gz.tmp-"),
        &mut temps,
    );
    !temps.is_empty()
}

fn trigger_some(d: &Daemon, dice: &mut Dice) {
    for _ in 0..=dice.below(3) {
        let job = JOBS[dice.below(JOBS.len() as u64) as usize];
        // Accepted or refused (a run of the job still in progress): either way fine here.
        let _ = http(
            d.listen().parse().expect("addr"),
            "POST",
            &format!("/api/v1/jobs/{job}/trigger"),
        );
    }
}

/// Polls `probe` every few milliseconds for at most `limit`; whether it became true.
fn poll(limit: Duration, mut probe: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if probe() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    false
}

/// One round: start, work, kill at `moment`. Returns the moment that was actually hit.
fn round(dd: &Dirs, store: &Store, dice: &mut Dice, moment: Moment) -> &'static str {
    let staged_before = staged_runs(&dd.state);
    let mut d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .spawn_unready();
    let hit = match moment {
        Moment::Recovery if staged_before > 0 => {
            let seen = poll(Duration::from_secs(30), || {
                d.stderr().contains("crash recovery: archiving")
            });
            std::thread::sleep(Duration::from_millis(dice.below(250)));
            if seen { "recovery" } else { "start-up" }
        }
        Moment::Recovery | Moment::Random => {
            let delay = dice.below(2500);
            if delay > 300 {
                d.wait_ready();
                trigger_some(&d, dice);
            }
            std::thread::sleep(Duration::from_millis(delay));
            "random"
        }
        Moment::Archive => {
            d.wait_ready();
            let _ = http(
                d.listen().parse().expect("addr"),
                "POST",
                "/api/v1/jobs/local-big/trigger",
            );
            trigger_some(&d, dice);
            if poll(Duration::from_secs(20), || archive_in_progress(&dd.state)) {
                "archive"
            } else {
                "archive (missed)"
            }
        }
        Moment::Upload => {
            d.wait_ready();
            let before = store.puts_started.load(Ordering::SeqCst);
            let _ = http(
                d.listen().parse().expect("addr"),
                "POST",
                "/api/v1/jobs/up-big/trigger",
            );
            trigger_some(&d, dice);
            if poll(Duration::from_secs(20), || {
                store.puts_started.load(Ordering::SeqCst) > before
            }) {
                std::thread::sleep(Duration::from_millis(dice.below(120)));
                "upload"
            } else {
                "upload (missed)"
            }
        }
    };
    d.kill9();
    hit
}

/// Every record of every job: path and parsed JSON, or the parse error.
fn records(state: &Path) -> Vec<(PathBuf, Result<Value, String>)> {
    let mut out = Vec::new();
    for job in JOBS {
        let mut paths = Vec::new();
        files_where(
            &state.join("jobs").join(job).join("runs"),
            &|_| true,
            &mut paths,
        );
        for p in paths {
            let parsed = read_json(&p);
            out.push((p, parsed));
        }
    }
    out
}

/// What must hold once the agent has recovered, drained its queue and stopped. Every violation
/// is listed, not only the first.
fn check_invariants(state: &Path, store: &Store) -> Vec<String> {
    let mut bad = Vec::new();
    let mut named: BTreeMap<PathBuf, usize> = BTreeMap::new();
    let mut expected_keys = BTreeSet::new();
    let objects = store.objects();
    for (path, parsed) in records(state) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') || !name.ends_with(".json") {
            bad.push(format!(
                "not a record (temp or set aside): {}",
                path.display()
            ));
            continue;
        }
        let r = match parsed {
            Ok(r) => r,
            Err(e) => {
                bad.push(format!("corrupt record: {e}"));
                continue;
            }
        };
        let what = format!("{}/{}", r["job"], r["runId"]);
        if r["status"] == "running" {
            bad.push(format!("{what} is still running"));
        }
        let Some(b) = r["bundle"].as_object() else {
            continue;
        };
        let bundle = PathBuf::from(b["path"].as_str().unwrap_or_default());
        let pruned = b.get("prunedAt").is_some_and(Value::is_string);
        if pruned {
            if !b.get("prunedBy").is_some_and(Value::is_string) {
                bad.push(format!("{what}: pruned without a reason: {r}"));
            }
        } else if bundle.is_file() {
            *named.entry(bundle.clone()).or_default() += 1;
        } else {
            bad.push(format!(
                "{what}: its bundle {} is gone, not pruned",
                bundle.display()
            ));
        }
        if !UPLOADING.contains(&r["job"].as_str().unwrap_or_default()) {
            continue;
        }
        let file = bundle.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let suffix = if b["partial"] == true { "-partial" } else { "" };
        let key = format!(
            "/b/{}/{}{suffix}.tar.gz",
            r["job"].as_str().unwrap_or(""),
            r["runId"].as_str().unwrap_or("")
        );
        expected_keys.insert(key.clone());
        let uploads = r["uploads"].as_array().cloned().unwrap_or_default();
        if uploads.len() != 1 || uploads[0]["status"] != "succeeded" {
            bad.push(format!(
                "{what} ({file}): upload not succeeded: {}",
                r["uploads"]
            ));
        }
        match objects.get(&key) {
            None => bad.push(format!("{what} ({file}): the store has nothing at {key}")),
            Some(o) if o.sha256 != b["sha256"].as_str().unwrap_or_default() => {
                bad.push(format!("{what}: {key} holds other bytes than the bundle"))
            }
            Some(o) if o.creates != 1 => {
                bad.push(format!("{what}: {key} created {} times", o.creates))
            }
            Some(_) => {}
        }
    }
    for key in objects.keys().filter(|k| !expected_keys.contains(*k)) {
        bad.push(format!("the store holds {key}, which no record names"));
    }
    for job in JOBS {
        let dir = state.join("jobs").join(job);
        let mut bundles = Vec::new();
        files_where(&dir.join("bundles"), &|_| true, &mut bundles);
        for path in bundles {
            match named.get(&path) {
                Some(1) => {}
                Some(n) => bad.push(format!("{} is named by {n} records", path.display())),
                None => bad.push(format!("{} is named by no record", path.display())),
            }
        }
        let mut staged = Vec::new();
        files_where(&dir.join("staging"), &|_| true, &mut staged);
        if staged_runs(state) > 0 || !staged.is_empty() {
            bad.push(format!("{job}: staging left behind: {staged:?}"));
        }
    }
    let mut queued = Vec::new();
    files_where(&state.join("uploads"), &|_| true, &mut queued);
    if !queued.is_empty() {
        bad.push(format!("upload queue not drained: {queued:?}"));
    }
    bad
}

/// The agent has nothing left to do: no run in progress, nothing staged, nothing queued.
fn idle(state: &Path) -> Result<(), String> {
    let mut queued = Vec::new();
    files_where(&state.join("uploads"), &|_| true, &mut queued);
    if !queued.is_empty() {
        return Err(format!("queued: {queued:?}"));
    }
    if staged_runs(state) > 0 {
        return Err("runs still staged".into());
    }
    for (path, parsed) in records(state) {
        let r = parsed?;
        let pending = r["uploads"]
            .as_array()
            .is_some_and(|u| u.iter().any(|u| u["status"] == "pending"));
        if r["status"] == "running" || pending {
            return Err(format!("{}: {r}", path.display()));
        }
    }
    Ok(())
}

#[test]
fn kill_9_at_random_points_loses_nothing_collected() {
    let seed = std::env::var("TSA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let kills = if std::env::var_os("TSA_SOAK").is_some_and(|v| v != "0") {
        200
    } else {
        12
    };
    eprintln!("agent_crash: TSA_CRASH_SEED={seed} ({kills} kills)");
    let mut dice = Dice(seed);
    let store = Store::start();
    let dd = dirs();
    write_jobs(&dd.jobs, &store, false);
    let mut hits: BTreeMap<&str, usize> = BTreeMap::new();
    for _ in 0..kills {
        let moment = match dice.below(10) {
            0..=2 => Moment::Random,
            3..=5 => Moment::Recovery,
            6..=7 => Moment::Archive,
            _ => Moment::Upload,
        };
        *hits
            .entry(round(&dd, &store, &mut dice, moment))
            .or_default() += 1;
    }
    eprintln!("agent_crash: kills by moment: {hits:?}");

    // No new runs from here: what the kills left is recovered, the queue drains, a clean stop.
    write_jobs(&dd.jobs, &store, true);
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    wait_until(
        Duration::from_secs(300),
        &format!("the agent to go idle (TSA_CRASH_SEED={seed})"),
        || idle(&dd.state),
    );
    let stopped = d.stop();
    assert!(
        stopped.status.success(),
        "TSA_CRASH_SEED={seed}: clean stop failed: {}",
        stopped.stderr
    );
    if stopped.stderr.contains("crash recovery: archiving") {
        assert!(
            stopped.stderr.contains("crash recovery finished"),
            "TSA_CRASH_SEED={seed}: {}",
            stopped.stderr
        );
    }
    let bad = check_invariants(&dd.state, &store);
    assert!(
        bad.is_empty(),
        "TSA_CRASH_SEED={seed}: {} violation(s) after {kills} kills ({hits:?}):\n{}",
        bad.len(),
        bad.join("\n")
    );
    let records = records(&dd.state);
    let interrupted = records
        .iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|r| r["status"] == "interrupted"))
        .count();
    let kept = records
        .iter()
        .filter(|(_, r)| {
            r.as_ref()
                .is_ok_and(|r| r["status"] == "interrupted" && r["bundle"].is_object())
        })
        .count();
    eprintln!(
        "agent_crash: {} runs, {interrupted} interrupted ({kept} kept a bundle), {} objects uploaded",
        records.len(),
        store.objects().len()
    );
}
