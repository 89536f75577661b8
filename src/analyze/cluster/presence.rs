//! Analyzers that check one object exists: `customResourceDefinition`, `storageClass`,
//! `ingress`; and `containerRuntime`, which checks the nodes' runtime.
//!
//! The presence checks do not walk outcomes by `when`: found takes the *last* `pass` outcome's
//! message, not found the last `fail` (or `warn`) one, as troubleshoot does.

use super::super::outcome::{self, Op, Outcome, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::{items, meta_str, text};
use serde_json::Value;

const CRD_ICON: Icon = Icon(
    "kubernetes_custom_resource_definition",
    "https://troubleshoot.sh/images/analyzer-icons/custom-resource-definition.svg?w=13&h=16",
);
const STORAGE_CLASS_ICON: Icon = Icon(
    "kubernetes_storage_class",
    "https://troubleshoot.sh/images/analyzer-icons/storage-class.svg?w=12&h=12",
);
const INGRESS_ICON: Icon = Icon(
    "kubernetes_ingress",
    "https://troubleshoot.sh/images/analyzer-icons/ingress-controller.svg?w=20&h=13",
);
const RUNTIME_ICON: Icon = Icon(
    "kubernetes_container_runtime",
    "https://troubleshoot.sh/images/analyzer-icons/container-runtime.svg?w=23&h=16",
);

/// The last outcome of `severity` (message and uri), if any.
fn last_of(outcomes: &[Outcome], severity: Severity) -> Option<&Outcome> {
    outcomes.iter().rev().find(|o| o.severity == Some(severity))
}

/// A pass result with the last pass outcome's message.
fn found(mut r: AnalyzeResult, outcomes: &[Outcome]) -> AnalyzeResult {
    r.severity = Some(Severity::Pass);
    if let Some(o) = last_of(outcomes, Severity::Pass) {
        r.message = o.message.clone();
        r.uri = o.uri.clone();
    }
    r
}

/// A fail result with the last fail outcome's message.
fn missing(mut r: AnalyzeResult, outcomes: &[Outcome]) -> AnalyzeResult {
    r.severity = Some(Severity::Fail);
    if let Some(o) = last_of(outcomes, Severity::Fail) {
        r.message = o.message.clone();
        r.uri = o.uri.clone();
    }
    r
}

fn names(ctx: &Ctx<'_>, path: &str) -> Result<Vec<Value>, AnalyzerError> {
    let list = ctx.json(path)?;
    Ok(items(&list, path)?.to_vec())
}

pub(super) fn crd(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "customResourceDefinitionName");
    let title = meta.title(format!("Custom resource definition {name}"));
    let path = "cluster-resources/custom-resource-definitions.json";
    let crds = names(ctx, path)?;
    let r = AnalyzeResult::new(title, CRD_ICON);
    if crds.iter().any(|c| meta_str(c, "name") == name) {
        return Ok(found(r, &outcomes));
    }
    // Not found: a fail outcome makes it a fail, else a warn outcome a warn; the message is
    // the last fail or warn outcome's.
    let mut r = r;
    let mut severity = None;
    for o in &outcomes {
        match o.severity {
            Some(Severity::Fail) => severity = Some(Severity::Fail),
            Some(Severity::Warn) if severity != Some(Severity::Fail) => {
                severity = Some(Severity::Warn)
            }
            _ => continue,
        }
        r.message = o.message.clone();
        r.uri = o.uri.clone();
    }
    r.severity = severity;
    Ok(r)
}

pub(super) fn storage_class(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "storageClassName");
    let title = meta.title(if name.is_empty() {
        "Default Storage Class".to_string()
    } else {
        format!("Storage class {name}")
    });
    let classes = names(ctx, "cluster-resources/storage-classes.json")?;
    let r = AnalyzeResult::new(title, STORAGE_CLASS_ICON);
    let is_default = |c: &Value| {
        c.get("metadata")
            .and_then(|m| m.get("annotations"))
            .and_then(|a| a.get("storageclass.kubernetes.io/is-default-class"))
            .and_then(Value::as_str)
            == Some("true")
    };
    let hit = classes
        .iter()
        .any(|c| meta_str(c, "name") == name || (name.is_empty() && is_default(c)));
    let mut r = if hit {
        found(r, &outcomes)
    } else {
        missing(r, &outcomes)
    };
    if name.is_empty() && r.message.is_empty() {
        r.message = if hit {
            "Default Storage Class found"
        } else {
            "No Default Storage Class found"
        }
        .to_string();
    }
    Ok(r)
}

pub(super) fn ingress(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "ingressName");
    let namespace = text(body, "namespace");
    let title = meta.title(format!("Ingress {name}"));
    let list = names(ctx, &format!("cluster-resources/ingress/{namespace}.json"))?;
    let r = AnalyzeResult::new(title, INGRESS_ICON);
    Ok(if list.iter().any(|i| meta_str(i, "name") == name) {
        found(r, &outcomes)
    } else {
        missing(r, &outcomes)
    })
}

/// The scheme of a `containerRuntimeVersion` such as `containerd://1.6.6` (lower-cased, as a
/// URL scheme is), or "" when it has none.
fn runtime_scheme(version: &str) -> String {
    match version.split_once(':') {
        Some((scheme, _))
            if scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            scheme.to_ascii_lowercase()
        }
        _ => String::new(),
    }
}

pub(super) fn container_runtime(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let path = "cluster-resources/nodes.json";
    let nodes = names(ctx, path)?;
    let runtimes: Vec<String> = nodes
        .iter()
        .map(|n| {
            n.pointer("/status/nodeInfo/containerRuntimeVersion")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        })
        .collect();
    let r = AnalyzeResult::new(meta.title("Container Runtime"), RUNTIME_ICON);
    for o in &outcomes {
        // An item with no severity is passed over here (not an error).
        if o.severity.is_none() {
            continue;
        }
        if o.is_else() {
            return Ok(r.with(o));
        }
        let parts: Vec<&str> = o.when.trim().split(' ').collect();
        let [op, expected] = parts.as_slice() else {
            return Err(AnalyzerError::spec(format!(
                "when {:?}: expected `== <runtime>` (e.g. `== containerd`)",
                o.when
            )));
        };
        // Only equality is defined; any other operator never matches.
        let matched = Op::parse(op) == Some(Op::Eq)
            && runtimes.iter().any(|v| runtime_scheme(v) == *expected);
        if matched {
            return Ok(r.with(o));
        }
    }
    Ok(r)
}

const INGRESS_CLASS_ICON: Icon = Icon(
    "kubernetes_ingress_class",
    "https://troubleshoot.sh/images/analyzer-icons/ingress-class.svg?w=12&h=12",
);
const SECRET_ICON: Icon = Icon(
    "kubernetes_analyze_secret",
    "https://troubleshoot.sh/images/analyzer-icons/secret.svg?w=13&h=16",
);
const PULL_SECRET_ICON: Icon = Icon(
    "kubernetes_image_pull_secret",
    "https://troubleshoot.sh/images/analyzer-icons/image-pull-secret.svg?w=16&h=14",
);

pub(super) fn ingress_class(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let name = text(body, "ingressClassName");
    let title = meta.title(if name.is_empty() {
        "Default Ingress Class".to_string()
    } else {
        format!("Ingress class {name}")
    });
    let classes = names(ctx, "cluster-resources/ingress-classes.json")?;
    let is_default = |c: &Value| {
        c.pointer("/metadata/annotations/ingressclass.kubernetes.io~1is-default-class")
            .and_then(Value::as_str)
            == Some("true")
    };
    let hit = classes
        .iter()
        .any(|c| meta_str(c, "name") == name || (name.is_empty() && is_default(c)));
    let r = AnalyzeResult::new(title, INGRESS_CLASS_ICON);
    let mut r = if hit {
        found(r, &outcomes)
    } else {
        missing(r, &outcomes)
    };
    if name.is_empty() && r.message.is_empty() {
        r.message = if hit {
            "Default Ingress Class found"
        } else {
            "No Default Ingress Class found"
        }
        .to_string();
    }
    Ok(r)
}

/// `secret` and `configMap`: the collected file says whether the object (and `key`) exists.
pub(super) fn object_key(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
    secret: bool,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let (name_field, dir, exists_field, word) = if secret {
        ("secretName", "secrets", "secretExists", "Secret")
    } else {
        (
            "configMapName",
            "configmaps",
            "configMapExists",
            "ConfigMap",
        )
    };
    let name = text(body, name_field);
    let key = text(body, "key");
    let namespace = text(body, "namespace");
    let path = if key.is_empty() {
        format!("{dir}/{namespace}/{name}.json")
    } else {
        format!("{dir}/{namespace}/{name}/{key}.json")
    };
    let collected = ctx.json(&path)?;
    let flag = |f: &str| collected.get(f).and_then(Value::as_bool) == Some(true);
    let present = flag(exists_field)
        && (key.is_empty()
            || (collected.get("key").and_then(Value::as_str) == Some(key.as_str())
                && flag("keyExists")));
    let r = AnalyzeResult::new(meta.title(format!("{word} {name}")), SECRET_ICON);
    Ok(if present {
        found(r, &outcomes)
    } else {
        missing(r, &outcomes)
    })
}

/// `imagePullSecret`: credentials for `registryName` among the collected pull secrets
/// (`cluster-resources/image-pull-secrets/<ns>/<secret>.json`, `{registry: username}`).
pub(super) fn image_pull_secret(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let registry = text(body, "registryName");
    let mut hit = false;
    for path in ctx
        .view
        .glob("cluster-resources/image-pull-secrets/*/*.json")?
    {
        let secret = ctx.json(&path)?;
        let map = secret
            .as_object()
            .ok_or_else(|| AnalyzerError::data(&path, "not a {registry: username} object"))?;
        hit |= map.contains_key(&registry);
    }
    let r = AnalyzeResult::new(meta.title("Image Pull Secrets"), PULL_SECRET_ICON);
    let mut r = if hit {
        found(r, &outcomes)
    } else {
        missing(r, &outcomes)
    };
    if r.message.is_empty() {
        r.message = format!(
            "Credentials to pull from: {registry} {}",
            if hit { "found" } else { "not found" }
        );
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::runtime_scheme;

    #[test]
    fn runtime_schemes_are_url_schemes() {
        assert_eq!(runtime_scheme("containerd://1.6.6-k3s1"), "containerd");
        assert_eq!(runtime_scheme("Docker://20.10"), "docker");
        assert_eq!(runtime_scheme("1.2.3"), "");
        assert_eq!(runtime_scheme(""), "");
    }
}
