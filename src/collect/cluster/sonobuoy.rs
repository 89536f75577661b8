//! `sonobuoy`: the aggregator's results archive (`/sonobuoy splat /tmp/sonobuoy` in the
//! `kube-sonobuoy` container of pod `sonobuoy`) unpacked under `sonobuoy/`.

use super::api::encode;
use super::capture;
use super::exec::pod_refs;
use super::untar::extract;
use super::{Ctx, Error};
use serde_json::Value;

/// Bytes of the gzipped archive kept in memory at most.
const ARCHIVE_CAP: usize = 256 << 20;

/// Runs `sonobuoy` in its namespace (`sonobuoy` unless given).
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let ns = body["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("sonobuoy");
    let path = format!("/api/v1/namespaces/{}/pods/sonobuoy", encode(ns));
    let pod = match ctx.api.get(&path).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            return Err(Error::Other(format!(
                "sonobuoy pod sonobuoy in namespace {ns} not found"
            )));
        }
        Err(e) => {
            return Err(Error::Other(format!(
                "failed to get sonobuoy pod sonobuoy in namespace {ns}: {e}"
            )));
        }
    };
    let Some(pod) = pod_refs(vec![pod]).into_iter().next() else {
        return Ok(());
    };
    let command: Vec<String> = ["/sonobuoy", "splat", "/tmp/sonobuoy"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let out = capture::run(
        ctx,
        &pod,
        "kube-sonobuoy",
        &command,
        ARCHIVE_CAP,
        ctx.api.timeout().max(std::time::Duration::from_secs(300)),
    )
    .await
    .map_err(|e| Error::Other(format!("failed to retrieve sonobuoy results: {e}")))?;
    if let Some(e) = out.error {
        return Err(Error::Other(format!(
            "failed to retrieve sonobuoy results: {e}"
        )));
    }
    let dest = ctx.path("sonobuoy");
    let cap = ctx.opts.copy_size_cap;
    let archive = out.stdout;
    let extracted = tokio::task::spawn_blocking(move || {
        extract(flate2::read::GzDecoder::new(&archive[..]), &dest, cap)
    })
    .await
    .map_err(|e| Error::Other(format!("failed to write sonobuoy results: {e}")))?;
    for rel in &extracted.files {
        ctx.record(&format!("sonobuoy/{rel}"));
    }
    if extracted.problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Other(format!(
            "failed to write sonobuoy results: {}",
            extracted.problems.join("; ")
        )))
    }
}
