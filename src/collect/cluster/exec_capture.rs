//! A command run in a pod with its whole (capped) output kept in memory: for collectors whose
//! commands print little (`etcd`), where streaming to files as `exec` does is not needed.

use super::Ctx;
use super::api::ApiError;
use super::exec::{PodRef, exit_error, read_capped, start};

/// A command's whole output, held in memory (small outputs only: each stream is capped).
pub(super) struct Captured {
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
    /// Why it failed (a non-zero exit, a lost stream); `None` when it succeeded.
    pub failure: Option<String>,
}

/// Runs `command` in `container` of `pod`, keeping at most `cap` bytes of each stream; bounded by
/// the per-call timeout.
pub(super) async fn run_captured(
    ctx: &Ctx,
    pod: &PodRef,
    container: &str,
    command: &[String],
    cap: usize,
) -> Result<Captured, ApiError> {
    let mut process = start(ctx, pod, container, command).await?;
    let status = process.take_status();
    let (Some(stdout), Some(stderr)) = (process.stdout(), process.stderr()) else {
        return Err(ApiError::Status {
            code: 500,
            message: "the exec stream has no stdout or stderr".into(),
        });
    };
    let outputs = async {
        let (out, err) = tokio::join!(read_capped(stdout, cap), read_capped(stderr, cap));
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        (out, err, status)
    };
    match tokio::time::timeout(ctx.api.timeout(), outputs).await {
        Ok((stdout, stderr, status)) => Ok(Captured {
            stdout,
            stderr,
            failure: exit_error(status),
        }),
        Err(_) => {
            process.abort();
            Err(ApiError::Timeout {
                what: format!("exec {:?} in {}/{}", command, pod.namespace, pod.name),
                after: ctx.api.timeout(),
            })
        }
    }
}
