//! `trigger` shows a run's phases as they happen: one plain line per phase change when its output
//! is piped, a spinner and coloured lines on a terminal; through the agent (control socket, or TCP
//! with a token) and in the foreground alike. The agent's live phase list holds names, statuses,
//! times and counts only.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use support::daemon::{Daemon, dirs};

const CLI: &str = env!("CARGO_BIN_EXE_troubleshoot-agent");
const TOKEN: &str = "4d1e8a0c6b2f9e7d5c3a1b0f8e6d4c2a";

/// A job of three host collectors, one of which fails; `first` is the command line of another.
fn job(dir: &Path, first: &str) {
    let text = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: j\n\
         spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n\
         \x20       - run: {{collectorName: first, {first}}}\n\
         \x20       - run: {{collectorName: bad, command: /nonexistent/SECRET-5e1f}}\n\
         \x20       - cpu: {{}}\n"
    );
    std::fs::write(dir.join("j.yaml"), text).expect("job file");
}

/// `cmd` with stdout and stderr into one pipe, as `trigger j 2>&1 | cat` sees them; the reader
/// of that pipe and the child.
fn spawn_piped(mut cmd: Command) -> (BufReader<std::io::PipeReader>, std::process::Child) {
    let (reader, writer) = std::io::pipe().expect("pipe");
    cmd.stdin(Stdio::null())
        .stdout(writer.try_clone().expect("pipe"))
        .stderr(writer);
    let child = cmd.spawn().expect("spawn the CLI");
    // The parent's ends of the writer go with `cmd`: the reader sees EOF when the child exits.
    drop(cmd);
    (BufReader::new(reader), child)
}

fn finish(
    mut reader: BufReader<std::io::PipeReader>,
    mut child: std::process::Child,
) -> (String, ExitStatus) {
    let mut rest = String::new();
    reader
        .read_to_string(&mut rest)
        .expect("read the CLI's output");
    (rest, child.wait().expect("wait for the CLI"))
}

/// Durations and sizes, which differ from run to run, as `T` and `S`.
fn normalise(line: &str) -> String {
    let t = regex::Regex::new(r"\b\d+(\.\d|m\d\ds)s?\b").expect("regex");
    let size = regex::Regex::new(r"\b\d+(\.\d)? (B|KiB|MiB)\b").expect("regex");
    let line = size.replace_all(line, "S");
    t.replace_all(&line, "T").into_owned()
}

/// `program` with a clean environment (no TROUBLESHOOT_AGENT_* variables, no systemd
/// directories, no NO_COLOR).
fn clean(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || key == "STATE_DIRECTORY"
            || key == "CONFIGURATION_DIRECTORY"
            || key == "NO_COLOR"
        {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// What a run of [`job`] prints after `collect started`, normalised; the outcome line follows.
const PHASES: [&str; 8] = [
    "collect done T (3 collectors, 1 failed)",
    "redact started",
    "redact done T (0 replacements)",
    "analyze skipped",
    "archive started",
    "archive done T (S)",
    "upload skipped",
    "", // the outcome line, checked apart
];

fn assert_phases_then_outcome(lines: &[String], run_id: &str, all: &str) {
    assert!(lines.len() >= 8, "{all}");
    for (line, want) in lines.iter().zip(&PHASES[..7]) {
        assert_eq!(normalise(line), *want, "{all}");
    }
    assert_eq!(
        lines[7],
        format!("j {run_id}: succeeded-with-errors"),
        "the outcome follows the phases:\n{all}"
    );
    assert!(
        !all.contains('\x1b'),
        "piped output has no escape codes:\n{all}"
    );
}

#[test]
fn piped_trigger_through_the_agent_prints_each_phase_then_the_outcome() {
    let dd = dirs();
    job(&dd.jobs, "command: sleep, args: [\"1\"]");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let mut cmd = d.cli();
    cmd.args(["trigger", "j"]);
    let (reader, child) = spawn_piped(cmd);
    let (all, status) = finish(reader, child);
    assert_eq!(
        status.code(),
        Some(0),
        "succeeded-with-errors is a success:\n{all}"
    );
    let lines: Vec<String> = all.lines().map(str::to_string).collect();
    let run_id = lines[0]
        .strip_prefix("j: run ")
        .and_then(|l| l.strip_suffix(" started"))
        .unwrap_or_else(|| panic!("first the run id:\n{all}"));
    assert_eq!(lines[1], "collect started", "{all}");
    assert_phases_then_outcome(&lines[2..], run_id, &all);
}

#[test]
fn piped_foreground_trigger_prints_the_same_phases() {
    let dd = dirs();
    job(&dd.jobs, "command: \"true\"");
    let mut cmd = clean(CLI);
    cmd.arg("--jobs-dir")
        .arg(&dd.jobs)
        .arg("--state-dir")
        .arg(&dd.state)
        .args(["trigger", "j"]);
    let (reader, child) = spawn_piped(cmd);
    let (all, status) = finish(reader, child);
    assert_eq!(status.code(), Some(0), "{all}");
    let lines: Vec<String> = all.lines().map(str::to_string).collect();
    assert!(lines[0].starts_with("no agent is running for"), "{all}");
    assert_eq!(lines[1], "collect started", "{all}");
    let run_id = lines[9]
        .strip_prefix("j ")
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("the outcome line:\n{all}"));
    assert_phases_then_outcome(&lines[2..], run_id, &all);
}

/// The first collector waits for the test to write to a FIFO, so the run is certainly in its
/// collect phase while the test looks.
#[test]
fn over_tcp_the_cli_follows_the_phases_and_the_live_list_holds_no_error_text() {
    let dd = dirs();
    let fifo = dd.jobs.parent().expect("tmp").join("gate");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    job(
        &dd.jobs,
        &format!("command: cat, args: [\"{}\"]", fifo.display()),
    );
    let secrets = tempfile::tempdir().expect("tempdir");
    let token = secrets.path().join("api.token");
    std::fs::write(&token, format!("{TOKEN}\n")).expect("token");
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let d = Daemon::builder()
        .jobs(&dd.jobs)
        .state(&dd.state)
        .setting("apiTokenFile", token.display())
        .start();
    // Only --listen and the token: the CLI talks TCP (the socket is not named).
    let mut cmd = clean(CLI);
    cmd.arg("--listen")
        .arg(d.listen())
        .arg("--token-file")
        .arg(&token)
        .args(["trigger", "j"]);
    let (mut reader, child) = spawn_piped(cmd);
    let mut line = || {
        let mut l = String::new();
        reader.read_line(&mut l).expect("read a line");
        l.trim_end().to_string()
    };
    let first = line();
    let run_id = first
        .strip_prefix("j: run ")
        .and_then(|l| l.strip_suffix(" started"))
        .unwrap_or_else(|| panic!("first the run id: {first}"))
        .to_string();
    assert_eq!(line(), "collect started");

    let live = d.get(&format!("/api/v1/jobs/j/runs/{run_id}?wait=30&since=0"));
    assert_eq!(live.status, 200, "{}", live.body);
    let v = live.json();
    assert_eq!(v["state"], "running", "{v}");
    assert_eq!(v["progress"]["phases"][0]["name"], "collect", "{v}");
    assert_eq!(v["progress"]["phases"][0]["state"], "running", "{v}");
    assert!(!live.body.contains("SECRET"), "{}", live.body);

    // Let the first collector end; the run goes on to its end.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .and_then(|mut f| f.write_all(b"go\n"))
        .expect("open the gate");
    let (rest, status) = finish(reader, child);
    assert_eq!(status.code(), Some(0), "{rest}");
    let lines: Vec<String> = rest.lines().map(str::to_string).collect();
    assert_phases_then_outcome(&lines, &run_id, &rest);
}

/// `script` gives the CLI a terminal: a spinner, and the ended phases with coloured statuses;
/// `NO_COLOR` keeps the colours off. Without an agent, `trigger` runs the job itself.
#[test]
fn on_a_terminal_the_foreground_trigger_colours_the_ended_phases() {
    let dd = dirs();
    job(&dd.jobs, "command: \"true\"");
    let run = |no_color: bool| {
        let command = format!(
            "{CLI} --jobs-dir {} --state-dir {} trigger j",
            dd.jobs.display(),
            dd.state.display()
        );
        // `script` runs the command line in a shell, on a terminal of its own.
        let mut cmd = clean("script");
        cmd.args(["-qec", &command, "/dev/null"])
            .stdin(Stdio::null());
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        let out = cmd.output().expect("script (util-linux)");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(0), "{text}");
        text
    };
    let coloured = run(false);
    assert!(
        coloured.contains("collect \x1b[32mdone\x1b[0m"),
        "{coloured:?}"
    );
    assert!(
        coloured.contains("analyze \x1b[33mskipped\x1b[0m"),
        "{coloured:?}"
    );
    let plain = run(true);
    assert!(!plain.contains("\x1b[3"), "NO_COLOR: {plain:?}");
    // The ended phases in order, each on a line of its own after the spinner is cleared.
    let ends: Vec<&str> = plain
        .split(['\r', '\n'])
        .map(|l| l.trim_start_matches("\x1b[2K"))
        .filter(|l| l.contains(" done ") || l.ends_with(" skipped"))
        .collect();
    let names: Vec<&str> = ends
        .iter()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(
        names,
        ["collect", "redact", "analyze", "archive", "upload"],
        "{plain:?}"
    );
    assert!(
        !plain.contains("collect started"),
        "the spinner says it: {plain:?}"
    );
}
