//! RBAC from a SelfSubjectRulesReview: the `auth-cani-list` rules, and whether they allow a call.

use serde_json::{Map, Value};

/// The PolicyRule list troubleshoot writes to `auth-cani-list/<ns>.json`: resource rules then
/// non-resource rules, fields in Go's PolicyRule order, empty lists left out (`omitempty`).
pub fn policy_rules(review: &Value) -> Vec<Value> {
    let status = &review["status"];
    let mut out = Vec::new();
    for rule in status["resourceRules"].as_array().into_iter().flatten() {
        let mut m = Map::new();
        for key in ["verbs", "apiGroups", "resources", "resourceNames"] {
            copy_list(rule, key, &mut m, key == "verbs");
        }
        out.push(Value::Object(m));
    }
    for rule in status["nonResourceRules"].as_array().into_iter().flatten() {
        let mut m = Map::new();
        copy_list(rule, "verbs", &mut m, true);
        copy_list(rule, "nonResourceURLs", &mut m, false);
        out.push(Value::Object(m));
    }
    out
}

fn copy_list(rule: &Value, key: &str, out: &mut Map<String, Value>, always: bool) {
    match rule.get(key) {
        Some(Value::Array(a)) if !a.is_empty() => {
            out.insert(key.into(), Value::Array(a.clone()));
        }
        // Go's `verbs` has no omitempty: a nil slice is `null`.
        _ if always => {
            out.insert(key.into(), Value::Null);
        }
        _ => {}
    }
}

/// Whether `rules` (PolicyRules) allow `verb` on `resource` (e.g. `pods`, `pods/log`) of `group`.
pub fn allows(rules: &[Value], verb: &str, group: &str, resource: &str) -> bool {
    rules.iter().any(|r| {
        has(r, "verbs", verb)
            && has(r, "apiGroups", group)
            && (has(r, "resources", resource) || subresource_wildcard(r, resource))
            && r.get("resourceNames")
                .and_then(Value::as_array)
                .is_none_or(|n| n.is_empty())
    })
}

fn has(rule: &Value, key: &str, want: &str) -> bool {
    rule.get(key)
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v == "*" || v == want))
}

/// `*/log` allows `pods/log`.
fn subresource_wildcard(rule: &Value, resource: &str) -> bool {
    let Some((_, sub)) = resource.split_once('/') else {
        return false;
    };
    rule.get("resources")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|v| v.as_str() == Some(&format!("*/{sub}"))))
}

/// One permission a collector needs: (verb, group, resource).
pub type Need = (&'static str, &'static str, &'static str);

/// What each in-cluster collector type needs in its namespace (troubleshoot's RBAC pre-check);
/// the collectors not listed need nothing beyond what clusterResources already reports.
pub fn needs(kind: &str, by_selector: bool) -> &'static [Need] {
    match (kind, by_selector) {
        ("secret", false) => &[("get", "", "secrets")],
        ("secret", true) => &[("list", "", "secrets")],
        ("configMap", false) => &[("get", "", "configmaps")],
        ("configMap", true) => &[("list", "", "configmaps")],
        ("logs", _) => &[("list", "", "pods"), ("get", "", "pods/log")],
        ("exec" | "copy", _) => &[("list", "", "pods"), ("create", "", "pods/exec")],
        ("run" | "runPod", _) => &[
            ("create", "", "pods"),
            ("get", "", "pods"),
            ("get", "", "pods/log"),
            ("delete", "", "pods"),
        ],
        ("helm", _) => &[("list", "", "secrets")],
        ("supportBundleMetadata", _) => &[("get", "", "secrets")],
        ("nodeMetrics", _) => &[("get", "", "nodes/proxy")],
        ("goldpinger", _) => &[("list", "", "services"), ("get", "", "services/proxy")],
        ("ceph", _) => &[("list", "", "pods"), ("create", "", "pods/exec")],
        ("sonobuoy", _) => &[("get", "", "pods"), ("create", "", "pods/exec")],
        ("copyFromHost" | "collectd", _) => &[
            ("create", "apps", "daemonsets"),
            ("delete", "apps", "daemonsets"),
            ("list", "", "pods"),
            ("create", "", "pods/exec"),
        ],
        ("runDaemonSet", _) => &[
            ("create", "apps", "daemonsets"),
            ("delete", "apps", "daemonsets"),
            ("list", "", "pods"),
            ("get", "", "pods/log"),
        ],
        ("sysctl" | "dns", _) => &[
            ("create", "", "pods"),
            ("delete", "", "pods"),
            ("get", "", "pods/log"),
        ],
        ("etcd", _) => &[("list", "", "pods"), ("create", "", "pods/exec")],
        _ => &[],
    }
}

/// The permissions of `needs` that `rules` do not grant, worded as troubleshoot's RBAC errors.
pub fn missing(rules: &[Value], needs: &[Need], namespace: &str) -> Vec<String> {
    needs
        .iter()
        .filter(|(verb, group, resource)| !allows(rules, verb, group, resource))
        .map(|(verb, group, resource)| {
            let group = if group.is_empty() { "core" } else { group };
            format!("cannot {verb} {resource} (group {group}) in namespace \"{namespace}\"")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn review() -> Value {
        json!({"status": {
            "resourceRules": [
                {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
                {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["one"]},
                {"verbs": ["*"], "apiGroups": ["apps"], "resources": ["*"]}
            ],
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/healthz"]}],
            "incomplete": false
        }})
    }

    #[test]
    fn rules_convert_to_policy_rules_in_go_order() {
        let rules = policy_rules(&review());
        assert_eq!(rules.len(), 4);
        let keys: Vec<&String> = rules[1].as_object().expect("obj").keys().collect();
        assert_eq!(keys, ["verbs", "apiGroups", "resources", "resourceNames"]);
        assert_eq!(
            rules[3],
            json!({"verbs": ["get"], "nonResourceURLs": ["/healthz"]})
        );
        assert!(policy_rules(&json!({})).is_empty());
    }

    #[test]
    fn allows_matches_wildcards_but_not_named_rules() {
        let rules = policy_rules(&review());
        assert!(allows(&rules, "list", "", "pods"));
        assert!(allows(&rules, "get", "", "pods/log"));
        assert!(!allows(&rules, "create", "", "pods/exec"));
        assert!(allows(&rules, "delete", "apps", "deployments"));
        assert!(
            !allows(&rules, "get", "", "secrets"),
            "resourceNames limit it"
        );
        let missing = missing(&rules, needs("secret", false), "default");
        assert_eq!(
            missing,
            ["cannot get secrets (group core) in namespace \"default\""]
        );
        assert!(super::missing(&rules, needs("logs", false), "x").is_empty());
        assert!(needs("data", false).is_empty());
    }
}
