//! `nodeResources`: nodes that pass the filters, judged by `count() < 3`, `min(memoryCapacity)
//! < 8Gi`, `max(..)`, `sum(cpuCapacity) >= 8`, `countDistinct(<label>)`,
//! `nodeCondition(Ready) == True`; a bare `< 3` means `count()`.

use super::super::outcome::{self, Op};
use super::super::quantity::{Quantity, QuantityError};
use super::super::template::{self, Missing};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::items;
use serde_json::{Map, Value, json};

const ICON: Icon = Icon(
    "kubernetes_node_resources",
    "https://troubleshoot.sh/images/analyzer-icons/node-resources.svg?w=16&h=18",
);
const FILE: &str = "cluster-resources/nodes.json";

/// Filter fields: (spec key, Go field name used by message templates).
const FILTER_FIELDS: [(&str, &str); 12] = [
    ("cpuArchitecture", "CPUArchitecture"),
    ("cpuCapacity", "CPUCapacity"),
    ("cpuAllocatable", "CPUAllocatable"),
    ("memoryCapacity", "MemoryCapacity"),
    ("memoryAllocatable", "MemoryAllocatable"),
    ("podCapacity", "PodCapacity"),
    ("podAllocatable", "PodAllocatable"),
    ("ephemeralStorageCapacity", "EphemeralStorageCapacity"),
    ("ephemeralStorageAllocatable", "EphemeralStorageAllocatable"),
    ("resourceName", "ResourceName"),
    ("resourceAllocatable", "ResourceAllocatable"),
    ("resourceCapacity", "ResourceCapacity"),
];

pub(super) fn node_resources(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Option<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let title = meta.title("Node Resources");
    let list = match ctx.json(FILE) {
        Err(AnalyzerError::File(e)) if e.is_not_found() => {
            if body.get("ignoreIfNoFiles").and_then(Value::as_bool) == Some(true) {
                return Ok(None);
            }
            let mut r = AnalyzeResult::new(title, ICON);
            r.severity = Some(super::super::Severity::Warn);
            r.message = "No node resources were collected, unable to analyze node resources".into();
            return Ok(Some(r));
        }
        other => other?,
    };
    let filters = body.get("filters").filter(|f| !f.is_null());
    let mut matching = Vec::new();
    for node in items(&list, FILE)? {
        if matches_filters(node, filters)? {
            matching.push(node);
        }
    }
    let resource_name = filters
        .and_then(|f| f.get("resourceName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut data = Map::new();
    if let Some(f) = filters {
        for (key, go) in FILTER_FIELDS {
            data.insert(go.into(), f.get(key).cloned().unwrap_or(json!("")));
        }
    }
    data.insert("NodeCount".into(), matching.len().into());
    let data = Value::Object(data);
    let hit = outcome::first_match(&outcomes, |when| {
        evaluate(when, &matching, resource_name)
            .map_err(|e| AnalyzerError::spec(format!("when {when:?}: {e}")))
    })?;
    let mut r = AnalyzeResult::new(title, ICON);
    if let Some(o) = hit {
        r = r.with(o);
        r.message = template::render(&o.message, &data, Missing::Empty)?;
    }
    Ok(Some(r))
}

/// The value a function gives: a count, or a quantity (`None`: no node had the property).
enum Actual {
    Count(i64),
    Quantity(Option<Quantity>),
}

/// Why a `nodeResources` `when` cannot be evaluated.
#[derive(Debug, thiserror::Error)]
enum WhenError {
    #[error("expected `<function>(<property>) <op> <value>`, e.g. `count() < 3`")]
    Shape,
    #[error("nodeCondition can only be compared with `==`")]
    ConditionOperator,
    #[error("nodeCondition needs a condition type, e.g. nodeCondition(Ready)")]
    ConditionType,
    #[error("unknown function `{0}`")]
    Function(String),
    #[error("unknown operator `{0}`")]
    Operator(String),
    #[error("a count is compared with a whole number, not `{0}`")]
    NotWhole(String),
    #[error("no matching node has `{property}`, so {function}() has no value")]
    NoValue { property: String, function: String },
    #[error("unknown property `{0}`")]
    Property(String),
    #[error(transparent)]
    Quantity(#[from] QuantityError),
}

fn evaluate(when: &str, nodes: &[&Value], resource_name: &str) -> Result<bool, WhenError> {
    let mut parts: Vec<&str> = when.split_whitespace().collect();
    if parts.len() == 2 {
        parts.insert(0, "count()");
    }
    let [call, op_text, expected] = parts.as_slice() else {
        return Err(WhenError::Shape);
    };
    let (function, property) = call
        .strip_suffix(')')
        .and_then(|c| c.split_once('('))
        .unwrap_or(("count", ""));
    if function == "nodeCondition" {
        // Only an equality is meaningful; the condition's status is compared as text.
        if !op_text.contains('=') {
            return Err(WhenError::ConditionOperator);
        }
        if property.is_empty() {
            return Err(WhenError::ConditionType);
        }
        if expected.parse::<i64>().is_ok() {
            return Ok(false);
        }
        return Ok(nodes.iter().any(|n| {
            n.pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|conds| {
                    conds.iter().any(|c| {
                        c.get("type").and_then(Value::as_str) == Some(property)
                            && c.get("status").and_then(Value::as_str) == Some(*expected)
                    })
                })
        }));
    }
    let actual = match function {
        "count" => Actual::Count(i64::try_from(nodes.len()).unwrap_or(i64::MAX)),
        "countDistinct" => {
            let mut seen: Vec<&str> = nodes
                .iter()
                .filter_map(|n| n.pointer("/metadata/labels").and_then(|l| l.get(property)))
                .filter_map(Value::as_str)
                .collect();
            seen.sort_unstable();
            seen.dedup();
            Actual::Count(i64::try_from(seen.len()).unwrap_or(i64::MAX))
        }
        "min" | "max" | "sum" => {
            let values = nodes
                .iter()
                .map(|n| quantity_of(n, property, resource_name))
                .collect::<Result<Vec<_>, _>>()?;
            let values = values.into_iter().flatten();
            Actual::Quantity(match function {
                "min" => values.min(),
                "max" => values.max(),
                _ => Some(values.fold(Quantity::default(), Quantity::saturating_add)),
            })
        }
        other => return Err(WhenError::Function(other.to_string())),
    };
    let op = Op::parse(op_text).ok_or_else(|| WhenError::Operator(op_text.to_string()))?;
    if op == Op::Ne {
        return Err(WhenError::Operator(op_text.to_string()));
    }
    match (actual, expected.parse::<i64>()) {
        (Actual::Count(n), Ok(want)) => Ok(op.holds(n, want)),
        (Actual::Count(_), Err(_)) => Err(WhenError::NotWhole(expected.to_string())),
        (Actual::Quantity(None), _) => Err(WhenError::NoValue {
            property: property.to_string(),
            function: function.to_string(),
        }),
        (Actual::Quantity(Some(q)), _) => Ok(op.holds(q, Quantity::parse(expected)?)),
    }
}

/// A node's property as a quantity; `None` when the node does not report it.
fn quantity_of(
    node: &Value,
    property: &str,
    resource_name: &str,
) -> Result<Option<Quantity>, WhenError> {
    let (section, resource) = match property {
        "cpuCapacity" => ("capacity", "cpu"),
        "cpuAllocatable" => ("allocatable", "cpu"),
        "memoryCapacity" => ("capacity", "memory"),
        "memoryAllocatable" => ("allocatable", "memory"),
        "podCapacity" => ("capacity", "pods"),
        "podAllocatable" => ("allocatable", "pods"),
        "ephemeralStorageCapacity" => ("capacity", "ephemeral-storage"),
        "ephemeralStorageAllocatable" => ("allocatable", "ephemeral-storage"),
        "resourceCapacity" => ("capacity", resource_name),
        "resourceAllocatable" => ("allocatable", resource_name),
        other => return Err(WhenError::Property(other.to_string())),
    };
    let value = node
        .get("status")
        .and_then(|s| s.get(section))
        .and_then(|s| s.get(resource));
    match value.and_then(Value::as_str) {
        Some(text) => Ok(Some(Quantity::parse(text)?)),
        // Kubernetes reports a missing standard resource as zero, a missing extended one as absent.
        None if property.starts_with("resource") => Ok(None),
        None => Ok(Some(Quantity::default())),
    }
}

fn filter_quantity(filters: &Value, key: &str) -> Result<Option<Quantity>, AnalyzerError> {
    match filters
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        None => Ok(None),
        Some(text) => Quantity::parse(text)
            .map(Some)
            .map_err(|e| AnalyzerError::spec(format!("filters.{key}: {e}"))),
    }
}

fn matches_filters(node: &Value, filters: Option<&Value>) -> Result<bool, AnalyzerError> {
    let Some(filters) = filters else {
        return Ok(true);
    };
    let resource_of = |section: &str, name: &str| {
        node.get("status")
            .and_then(|s| s.get(section))
            .and_then(|s| s.get(name))
            .and_then(Value::as_str)
            .map(|s| Quantity::parse(s).unwrap_or_default())
    };
    let resource_name = filters
        .get("resourceName")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !resource_name.is_empty() {
        let capacity = resource_of("capacity", resource_name);
        let allocatable = resource_of("allocatable", resource_name);
        if capacity.is_none() && allocatable.is_none() {
            return Ok(false);
        }
        for (key, have) in [
            ("resourceCapacity", capacity),
            ("resourceAllocatable", allocatable),
        ] {
            if let Some(want) = filter_quantity(filters, key)?
                && have.unwrap_or_default() < want
            {
                return Ok(false);
            }
        }
    }
    if let Some(selector) = filters.get("selector").filter(|s| !s.is_null()) {
        let labels = node
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        if !super::labels::selector_matches(selector, &labels, "matchLabel")? {
            return Ok(false);
        }
    }
    if let Some(taint) = filters.get("taint").filter(|t| !t.is_null()) {
        // troubleshoot decides on the taint alone: the filters after it are not applied.
        let key = taint.get("key");
        let effect = taint.get("effect");
        return Ok(node
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter()
                    .any(|t| t.get("key") == key && t.get("effect") == effect)
            }));
    }
    if let Some(arch) = filters
        .get("cpuArchitecture")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        let have = node
            .pointer("/status/nodeInfo/architecture")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !have.eq_ignore_ascii_case(arch) {
            return Ok(false);
        }
    }
    for (key, section, resource) in [
        ("cpuCapacity", "capacity", "cpu"),
        ("cpuAllocatable", "allocatable", "cpu"),
        ("memoryCapacity", "capacity", "memory"),
        ("memoryAllocatable", "allocatable", "memory"),
        ("podCapacity", "capacity", "pods"),
        ("podAllocatable", "allocatable", "pods"),
        ("ephemeralStorageCapacity", "capacity", "ephemeral-storage"),
        (
            "ephemeralStorageAllocatable",
            "allocatable",
            "ephemeral-storage",
        ),
    ] {
        if let Some(want) = filter_quantity(filters, key)?
            && resource_of(section, resource).unwrap_or_default() < want
        {
            return Ok(false);
        }
    }
    Ok(true)
}
