//! `prepare-state`: gives the state directory to the agent's user, from a root init container
//! (see [`crate::state::hand_over`]).

use super::args::{GlobalArgs, Output, PrepareStateArgs};
use super::{exit, print_json, settings};
use crate::state::Ownership;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    state_dir: String,
    created: bool,
    changed: bool,
    before: Option<Shown>,
    after: Shown,
}

/// Ownership with the mode in octal, as people and `chmod` write it.
#[derive(Serialize)]
struct Shown {
    uid: u32,
    gid: u32,
    mode: String,
}

impl From<Ownership> for Shown {
    fn from(o: Ownership) -> Self {
        Shown {
            uid: o.uid,
            gid: o.gid,
            mode: format!("{:04o}", o.mode),
        }
    }
}

/// Runs `prepare-state`.
pub fn run(global: &GlobalArgs, args: &PrepareStateArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let allow_writable = settings.trust_policy().allows_writable();
    let done = crate::state::hand_over(&settings.state_dir, args.owner, allow_writable)?;
    let dir = done.dir.display();
    if global.output == Output::Json {
        print_json(&Report {
            state_dir: dir.to_string(),
            created: done.before.is_none(),
            changed: done.changed(),
            before: done.before.map(Shown::from),
            after: done.after.into(),
        })?;
    } else {
        match done.before {
            None => println!("created {dir} ({})", done.after),
            Some(before) if before == done.after => {
                println!("{dir} is ready ({}): nothing to change", done.after)
            }
            Some(before) => println!("prepared {dir}: {before} -> {}", done.after),
        }
    }
    Ok(exit::OK)
}
