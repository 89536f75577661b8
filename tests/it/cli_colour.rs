//! Colour in `status` and `history` tables: on a terminal (here `script`'s) the outcome is green,
//! yellow or red and the headers bold, fitted to COLUMNS as if the escapes were not there; piped
//! or with NO_COLOR, not one escape code.

use crate::support;

use std::process::{Command, Stdio};
use std::time::Duration;
use support::daemon::{Daemon, dirs};

const CLI: &str = env!("CARGO_BIN_EXE_troubleshoot-agent");

/// `program` without TROUBLESHOOT_AGENT_* variables, systemd directories, NO_COLOR or COLUMNS.
fn clean(program: &str) -> Command {
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars() {
        if key.starts_with("TROUBLESHOOT_AGENT_")
            || [
                "STATE_DIRECTORY",
                "CONFIGURATION_DIRECTORY",
                "NO_COLOR",
                "COLUMNS",
            ]
            .contains(&key.as_str())
        {
            cmd.env_remove(key);
        }
    }
    cmd.stdin(Stdio::null());
    cmd
}

fn strip_escapes(text: &str) -> String {
    regex::Regex::new("\x1b\\[[0-9;]*m")
        .expect("regex")
        .replace_all(text, "")
        .into_owned()
}

#[test]
fn tables_are_coloured_on_a_terminal_only() {
    let dd = dirs();
    // One collector fails: the run succeeds with errors (yellow).
    std::fs::write(
        dd.jobs.join("j.yaml"),
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: j\n\
         spec:\n  schedule: \"0 2 * * *\"\n  collect:\n    supportBundle:\n      hostCollectors:\n\
         \x20       - run: {collectorName: bad, command: /nonexistent}\n\
         \x20       - cpu: {}\n",
    )
    .expect("job file");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let run = d.trigger("j")["runId"].as_str().expect("runId").to_string();
    let record = d.wait_run("j", &run, Duration::from_secs(60));
    assert_eq!(record["status"], "succeeded-with-errors", "{record}");
    let state = dd.state.display().to_string();

    for args in [vec!["status"], vec!["history", "j"]] {
        let mut cmd = clean(CLI);
        cmd.args(["--state-dir", &state]).args(&args);
        let out = cmd.output().expect("run the CLI");
        let piped = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{piped}");
        assert!(piped.contains("succeeded-with-errors"), "{piped}");
        assert!(!piped.contains('\x1b'), "piped {args:?}: {piped:?}");

        let on_terminal = |no_color: bool| {
            let line = format!("{CLI} --state-dir {state} {}", args.join(" "));
            let mut cmd = clean("script");
            cmd.args(["-qec", &line, "/dev/null"]).env("COLUMNS", "100");
            if no_color {
                cmd.env("NO_COLOR", "1");
            }
            let out = cmd.output().expect("script (util-linux)");
            assert_eq!(out.status.code(), Some(0));
            String::from_utf8_lossy(&out.stdout).replace('\r', "")
        };
        let coloured = on_terminal(false);
        // In yellow (cut to fit the width, perhaps).
        assert!(
            coloured.contains("\x1b[38;5;3msucceed"),
            "{args:?}: {coloured:?}"
        );
        assert!(coloured.contains("\x1b[1m"), "bold headers: {coloured:?}");
        // The table (from its header on; `status` has an agent summary above it).
        let visible = strip_escapes(&coloured);
        let table: Vec<&str> = visible
            .lines()
            .skip_while(|l| !l.starts_with(" JOB ") && !l.starts_with(" RUN "))
            .collect();
        assert!(table.len() >= 2, "{visible}");
        assert!(
            table.iter().all(|l| l.chars().count() <= 100),
            "fitted to COLUMNS without counting escapes:\n{visible}"
        );
        assert!(
            table.iter().any(|l| l.chars().count() >= 90),
            "the width is used:\n{visible}"
        );
        let plain = on_terminal(true);
        assert!(!plain.contains('\x1b'), "NO_COLOR {args:?}: {plain:?}");
        assert!(plain.contains("succeed"), "{plain}");
    }
}
