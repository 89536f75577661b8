//! `goldpinger`: the `check_all` results of a goldpinger already running in the cluster, read
//! through its Service's API proxy → `goldpinger/check_all.json` (errors in `goldpinger/error.txt`).
//!
//! troubleshoot deploys goldpinger (a DaemonSet, Service, ServiceAccount, Role) when it finds
//! none. The agent does not: a scheduled read-only collector must not install workloads and RBAC
//! objects into the cluster, so without a goldpinger Service it says so in `error.txt`.

use super::api::encode;
use super::{Ctx, Error};
use crate::collect::host::parse_go_duration;
use serde_json::Value;

/// The label troubleshoot finds goldpinger's Service by.
const SELECTOR: &str = "app.kubernetes.io/name=goldpinger";

/// Runs `goldpinger` in its namespace (`default` unless given).
pub(super) async fn collect(ctx: &Ctx, body: &Value) -> Result<(), Error> {
    let ns = body["namespace"]
        .as_str()
        .filter(|s| !s.is_empty())
        .unwrap_or("default");
    let list = format!(
        "/api/v1/namespaces/{}/services?labelSelector={}",
        encode(ns),
        encode(SELECTOR)
    );
    let page = ctx.api.list_page(&list, 1, None).await.map_err(|e| {
        Error::Other(format!(
            "failed to ensure goldpinger is running: failed to list goldpinger services: {e}"
        ))
    })?;
    let Some(svc) = page.items.first() else {
        let message = format!(
            "no goldpinger Service (label {SELECTOR}) in namespace {ns:?}; this agent does not \
             deploy goldpinger: install it (https://github.com/bloomberg/goldpinger) to collect its results"
        );
        ctx.write("goldpinger/error.txt", &message)?;
        return Ok(());
    };
    let name = svc["metadata"]["name"].as_str().unwrap_or("");
    let port = svc["spec"]["ports"][0]["port"].as_u64().unwrap_or(80);
    let delay = body["collectDelay"].as_str().filter(|s| !s.is_empty());
    if let Some(d) = delay {
        let wait = parse_go_duration(d).ok_or_else(|| {
            Error::Spec(format!(
                "`collectDelay`: {d:?} is not a duration such as 5s"
            ))
        })?;
        tokio::time::sleep(wait).await;
    }
    let proxy = format!(
        "/api/v1/namespaces/{}/services/{}:{port}/proxy/check_all",
        encode(ns),
        encode(name)
    );
    match ctx.api.get_text(&proxy).await {
        Ok(text) => ctx.write("goldpinger/check_all.json", &text),
        Err(e) => {
            let message = format!("Failed to query goldpinger endpoint in cluster: {e}");
            ctx.write("goldpinger/error.txt", &message)?;
            Err(Error::Other(message))
        }
    }
}
