//! `reload`: asks the running agent to apply the jobs directory now and prints what it did.

use super::args::{GlobalArgs, Output};
use super::{exit, find_agent, settings};
use anyhow::{Context as _, bail};
use std::time::Duration;

/// Runs `reload`.
pub fn run(global: &GlobalArgs) -> anyhow::Result<u8> {
    let settings = settings(global)?;
    let Some(agent) = find_agent(global, &settings)? else {
        bail!(
            "no agent is running for the state directory {} (nothing at {} or {}); start it with `troubleshoot-agent run`",
            settings.state_dir.display(),
            settings
                .state_dir
                .join(crate::agent::listeners::SOCKET_FILE)
                .display(),
            settings.listen
        );
    };
    let response = agent
        .for_writes()
        .request("POST", "/-/reload", Duration::from_secs(600))?;
    if matches!(response.status, 401 | 403) {
        bail!("{}", super::agent_error(&response));
    }
    if global.output == Output::Json {
        println!("{}", response.body);
    }
    let outcome: serde_json::Value = serde_json::from_str(&response.body).with_context(|| {
        format!(
            "unexpected answer from the agent (HTTP {}): {}",
            response.status, response.body
        )
    })?;
    if global.output != Output::Json {
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
