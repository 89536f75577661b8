//! Which pods are unhealthy (their logs go into clusterResources) and what to fetch for them.

use serde_json::Value;

/// The status kubectl prints in its STATUS column (its pod printer's rules), e.g. `Running`,
/// `CrashLoopBackOff`, `Init:ImagePullBackOff`, `Completed`, `Terminating`.
pub fn display_reason(pod: &Value) -> String {
    let status = &pod["status"];
    let mut reason = str_of(&status["phase"]).to_string();
    if let Some(r) = status["reason"].as_str().filter(|r| !r.is_empty()) {
        reason = r.to_string();
    }
    let init_total = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    let mut initializing = false;
    for (i, c) in list(&status["initContainerStatuses"]).iter().enumerate() {
        let state = &c["state"];
        let terminated = &state["terminated"];
        let waiting = &state["waiting"];
        if terminated.is_object() && terminated["exitCode"].as_i64() == Some(0) {
            continue;
        }
        initializing = true;
        reason = if terminated.is_object() {
            match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                Some(r) => format!("Init:{r}"),
                None => exit_text("Init:", terminated),
            }
        } else if let Some(r) = waiting["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            format!("Init:{r}")
        } else {
            format!("Init:{i}/{init_total}")
        };
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in list(&status["containerStatuses"]).iter().rev() {
            let state = &c["state"];
            let waiting_reason = state["waiting"]["reason"].as_str().unwrap_or("");
            let terminated = &state["terminated"];
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() {
                reason = match terminated["reason"].as_str().filter(|r| !r.is_empty()) {
                    Some(r) => r.to_string(),
                    None => exit_text("", terminated),
                };
            } else if c["ready"].as_bool() == Some(true) && state["running"].is_object() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if !pod["metadata"]["deletionTimestamp"].is_null() {
        reason = if status["reason"] == "NodeLost" {
            "Unknown".into()
        } else {
            "Terminating".into()
        };
    }
    reason
}

fn exit_text(prefix: &str, terminated: &Value) -> String {
    match terminated["signal"].as_i64().filter(|s| *s != 0) {
        Some(sig) => format!("{prefix}Signal:{sig}"),
        None => format!(
            "{prefix}ExitCode:{}",
            terminated["exitCode"].as_i64().unwrap_or(0)
        ),
    }
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Whether troubleshoot collects this pod's logs with clusterResources: its phase is Failed,
/// Pending or Unknown, its status is neither Completed nor Running, or it runs with a container
/// that is not ready.
pub fn is_unhealthy(pod: &Value) -> bool {
    let phase = str_of(&pod["status"]["phase"]);
    if matches!(phase, "Failed" | "Pending" | "Unknown") {
        return true;
    }
    let reason = display_reason(pod);
    if reason != "Completed" && reason != "Running" {
        return true;
    }
    // A finished pod's containers are never ready; that is not a fault.
    phase == "Running"
        && list(&pod["status"]["containerStatuses"])
            .iter()
            .any(|c| c["ready"].as_bool() != Some(true))
}

/// One container whose logs to fetch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerRef {
    /// Container name.
    pub name: String,
    /// Whether a previous instance exists (restarted at least once).
    pub restarted: bool,
}

/// The pod's init containers then containers, optionally only those named in `only`.
pub fn containers(pod: &Value, only: &[String]) -> Vec<ContainerRef> {
    let restarts = |name: &str| {
        ["initContainerStatuses", "containerStatuses"]
            .iter()
            .flat_map(|k| list(&pod["status"][*k]))
            .find(|c| c["name"] == name)
            .and_then(|c| c["restartCount"].as_i64())
            .unwrap_or(0)
    };
    ["initContainers", "containers"]
        .iter()
        .flat_map(|k| list(&pod["spec"][*k]))
        .filter_map(|c| c["name"].as_str())
        .filter(|n| only.is_empty() || only.iter().any(|o| o == n))
        .map(|n| ContainerRef {
            name: n.to_string(),
            restarted: restarts(n) > 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, statuses: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "app"}]},
               "status": {"phase": phase, "containerStatuses": statuses}})
    }

    #[test]
    fn running_and_ready_is_healthy() {
        let p = pod(
            "Running",
            json!([{"name": "app", "ready": true, "state": {"running": {}}}]),
        );
        assert_eq!(display_reason(&p), "Running");
        assert!(!is_unhealthy(&p));
    }

    #[test]
    fn completed_is_healthy_crashloop_and_not_ready_are_not() {
        let done = pod(
            "Succeeded",
            json!([{"name": "app", "ready": false, "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]),
        );
        assert_eq!(display_reason(&done), "Completed");
        assert!(!is_unhealthy(&done));
        let crash = pod(
            "Running",
            json!([{"name": "app", "ready": false, "restartCount": 4, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]),
        );
        assert_eq!(display_reason(&crash), "CrashLoopBackOff");
        assert!(is_unhealthy(&crash));
        let unready = pod(
            "Running",
            json!([{"name": "app", "ready": false, "state": {"running": {}}}]),
        );
        assert!(is_unhealthy(&unready));
        assert!(is_unhealthy(&pod("Pending", json!([]))));
    }

    #[test]
    fn init_container_failures_and_deletion_show_in_the_reason() {
        let mut p = pod("Pending", json!([]));
        p["spec"]["initContainers"] = json!([{"name": "init"}]);
        p["status"]["initContainerStatuses"] =
            json!([{"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]);
        assert_eq!(display_reason(&p), "Init:ImagePullBackOff");
        p["status"]["initContainerStatuses"] =
            json!([{"name": "init", "state": {"terminated": {"exitCode": 2}}}]);
        assert_eq!(display_reason(&p), "Init:ExitCode:2");
        p["metadata"]["deletionTimestamp"] = json!("2025-01-01T00:00:00Z");
        assert_eq!(display_reason(&p), "Terminating");
    }

    #[test]
    fn containers_lists_init_first_and_filters() {
        let p = json!({"spec": {"initContainers": [{"name": "init"}], "containers": [{"name": "a"}, {"name": "b"}]},
                       "status": {"containerStatuses": [{"name": "b", "restartCount": 2}]}});
        let all = containers(&p, &[]);
        let names: Vec<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["init", "a", "b"]);
        assert!(all[2].restarted && !all[1].restarted);
        assert_eq!(containers(&p, &["b".into()]).len(), 1);
    }
}
