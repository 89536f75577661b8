//! `reload`: asks the running agent to apply the jobs directory now and prints what it did.

use super::args::{GlobalArgs, Output};
use super::client::{self, Reach};
use super::{exit, settings};
use anyhow::{Context as _, bail};
use std::time::Duration;

/// Runs `reload`.
pub fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let Reach::Up(addr) = client::reach(&settings.listen)? else {
        bail!(
            "no agent is running at {} (start it with `troubleshoot-agent run`)",
            settings.listen
        );
    };
    let response = client::request(addr, "POST", "/-/reload", Duration::from_secs(600))?;
    if global.output == Output::Json {
        println!("{}", response.body);
    }
    let outcome: serde_json::Value = serde_json::from_str(&response.body).with_context(|| {
        format!(
            "unexpected answer from the agent (HTTP {}): {}",
            response.status, response.body
        )
    })?;
    if global.output == Output::Text {
        let text = outcome["text"]
            .as_str()
            .or(outcome["summary"].as_str())
            .unwrap_or_default();
        println!("{}", text.trim_end());
    }
    Ok(if outcome["successful"] == true {
        exit::OK
    } else {
        exit::FAILURE
    })
}
