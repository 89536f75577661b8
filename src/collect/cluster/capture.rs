//! One command in one container, its output kept in memory: for collectors that run fixed,
//! small commands (`ceph`, `etcd`) or unpack what one command prints (`sonobuoy`).

use super::Ctx;
use super::api::ApiError;
use super::exec::{PodRef, exit_error, read_capped, start};
use std::time::Duration;

/// What a finished (or failed) command gave.
#[derive(Debug, Default)]
pub(super) struct Captured {
    /// Its stdout, at most the cap.
    pub stdout: Vec<u8>,
    /// Its stderr, at most the cap.
    pub stderr: Vec<u8>,
    /// Why it did not succeed (non-zero exit, timeout), worded for an errors file.
    pub error: Option<String>,
}

/// Runs `command` in `container` of `pod`, keeping at most `cap` bytes of each stream; `Err` when
/// it could not be started.
pub(super) async fn run(
    ctx: &Ctx,
    pod: &PodRef,
    container: &str,
    command: &[String],
    cap: usize,
    timeout: Duration,
) -> Result<Captured, ApiError> {
    let mut process = start(ctx, pod, container, command).await?;
    let status = process.take_status();
    let (stdout, stderr) = (process.stdout(), process.stderr());
    let work = async {
        let out = async {
            match stdout {
                Some(r) => read_capped(r, cap).await,
                None => Vec::new(),
            }
        };
        let err = async {
            match stderr {
                Some(r) => read_capped(r, cap).await,
                None => Vec::new(),
            }
        };
        let (stdout, stderr) = tokio::join!(out, err);
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        Captured {
            stdout,
            stderr,
            error: exit_error(status),
        }
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(c) => Ok(c),
        Err(_) => {
            process.abort();
            Ok(Captured {
                error: Some(format!(
                    "timeout: the command did not finish within {}s",
                    timeout.as_secs()
                )),
                ..Captured::default()
            })
        }
    }
}
