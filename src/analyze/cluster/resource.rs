//! `clusterResource`: one object of `cluster-resources/` (by `kind`, `name`, `namespace`
//! (default `default`) or `clusterScoped`), the value at its `yamlPath` (`spec.replicas`,
//! `spec.containers.[0].image`) judged by one of:
//! - `expectedValue` (YAML): `when: "true"/"false"` against "equal" (fail and warn default
//!   false, pass true), first match wins;
//! - `regex` / `regexGroups` over the value written as YAML, as `textAnalyze` judges a file;
//! - else `when: "<op> <n>"` on an integer, or on a quantity (`< 10Gi`) when the value is one.
//!
//! A missing object or file is a fail "<kind> <name> [in namespace <ns>] does not exist", a path
//! that does not lead anywhere a fail "YAML path provided is invalid"; nothing matched is a fail
//! "Invalid analyzer". troubleshoot v0.133.0 crashes on a few of these (a file whose `items` is
//! null, an index out of range, a `warn` with a `when`); here they give the results above, and a
//! `warn` outcome's `when` is its own.

use super::super::outcome::{self, Op, Outcome, Severity};
use super::super::quantity::Quantity;
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text as field;
use super::text::{groups_result, regex_result};
use serde_json::Value;

const ICON: Icon = Icon(
    "kubernetes_text_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/text-analyze.svg",
);
const MATCHED_ICON: Icon = Icon(
    "kubernetes_text_analyze",
    "https://troubleshoot.sh/images/analyzer-icons/text-analyze.svg?w=13&h=16",
);

/// Where each kind is collected: a per-namespace directory, or (`.json`) one cluster file.
fn location(kind: &str) -> Option<&'static str> {
    Some(match kind.to_lowercase().as_str() {
        "deployment" => "deployments",
        "daemonset" => "daemonsets",
        "statefulset" => "statefulsets",
        "networkpolicy" => "network-policy",
        "pod" => "pods",
        "ingress" => "ingress",
        "service" => "services",
        "resourcequota" => "resource-quota",
        "job" => "jobs",
        "persistentvolumeclaim" | "pvc" => "pvcs",
        "replicaset" => "replicasets",
        "configmap" => "configmaps",
        "validatingwebhookconfiguration" => "validating-webhook-configurations.json",
        "mutatingwebhookconfiguration" => "mutating-webhook-configurations.json",
        "namespace" => "namespaces.json",
        "persistentvolume" | "pv" => "pvs.json",
        "node" => "nodes.json",
        "storageclass" => "storage-classes.json",
        _ => return None,
    })
}

fn fail(title: &str, icon: Icon, message: impl Into<String>) -> AnalyzeResult {
    let mut r = AnalyzeResult::new(title, icon);
    r.severity = Some(Severity::Fail);
    r.message = message.into();
    r
}

/// The object named `name` in the collected file of `kind`; `None` when there is no such
/// file, kind or object.
fn find(ctx: &Ctx<'_>, body: &Value) -> Option<Value> {
    let kind = field(body, "kind");
    let location = location(&kind)?;
    let path = if body.get("clusterScoped").and_then(Value::as_bool) == Some(true) {
        format!("cluster-resources/{location}")
    } else {
        let mut namespace = field(body, "namespace");
        if namespace.is_empty() {
            namespace = "default".into();
        }
        format!("cluster-resources/{location}/{namespace}.json")
    };
    let file = match ctx.json(&path) {
        Ok(file) => file,
        Err(e) => {
            tracing::info!("clusterResource: {e}");
            return None;
        }
    };
    let name = field(body, "name");
    let items = file.get("items")?.as_array()?;
    items
        .iter()
        .find(|item| item.pointer("/metadata/name").and_then(Value::as_str) == Some(&name))
        .cloned()
}

/// The node at a dotted path whose `[n]` segments index lists; `None` when a segment looks
/// into something that is not a mapping (or list), or past a list's end.
fn at_path<'a>(mut node: &'a Value, path: &str) -> Option<&'a Value> {
    static NULL: Value = Value::Null;
    for key in path.split('.') {
        node = if let Some(index) = key.strip_prefix('[').and_then(|k| k.strip_suffix(']')) {
            let i: usize = index.parse().ok()?;
            node.as_array()?.get(i)?
        } else {
            node.as_object()?.get(key).unwrap_or(&NULL)
        };
    }
    Some(node)
}

pub(super) fn cluster_resource(
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let title = meta.title(field(body, "collectorName"));
    let Some(object) = find(ctx, body) else {
        let (kind, name) = (field(body, "kind"), field(body, "name"));
        let message = if body.get("clusterScoped").and_then(Value::as_bool) == Some(true) {
            format!("{kind} {name} does not exist")
        } else {
            format!(
                "{kind} {name} in namespace {} does not exist",
                field(body, "namespace")
            )
        };
        return Ok(fail(&title, ICON, message));
    };
    let Some(actual) = at_path(&object, &field(body, "yamlPath")) else {
        return Ok(fail(&title, ICON, "YAML path provided is invalid"));
    };
    let expected_text = field(body, "expectedValue");
    let expected: Value = if expected_text.is_empty() {
        Value::Null
    } else {
        serde_saphyr::from_str(&expected_text).map_err(|e| {
            AnalyzerError::spec(format!("expectedValue {expected_text:?} is not YAML: {e}"))
        })?
    };
    let regex = field(body, "regex");
    let groups = field(body, "regexGroups");
    let compile = |p: &str| {
        regex::Regex::new(p)
            .map_err(|e| AnalyzerError::spec(format!("failed to compile regex {p:?}: {e}")))
    };
    if !expected_text.is_empty() {
        by_value(&title, actual == &expected, &outcomes)
    } else if !regex.is_empty() {
        let re = compile(&regex)?;
        regex_result(&title, re.is_match(&go_yaml(actual)), &outcomes)
    } else if !groups.is_empty() {
        let re = regex::bytes::Regex::new(&groups)
            .map_err(|e| AnalyzerError::spec(format!("failed to compile regex {groups:?}: {e}")))?;
        groups_result(&title, &re, go_yaml(actual).as_bytes(), &outcomes)
    } else {
        by_when(&title, actual, &outcomes)
    }
}

fn by_value(
    title: &str,
    equal: bool,
    outcomes: &[Outcome],
) -> Result<AnalyzeResult, AnalyzerError> {
    for o in outcomes {
        let Some(severity) = o.severity else { continue };
        let want = if o.when.is_empty() {
            severity == Severity::Pass
        } else {
            outcome::parse_bool(&o.when).ok_or_else(|| {
                AnalyzerError::spec(format!("when {:?}: expected \"true\" or \"false\"", o.when))
            })?
        };
        if want == equal {
            return Ok(AnalyzeResult::new(title, MATCHED_ICON).with(o));
        }
    }
    Ok(fail(title, ICON, "Invalid analyzer"))
}

fn by_when(
    title: &str,
    actual: &Value,
    outcomes: &[Outcome],
) -> Result<AnalyzeResult, AnalyzerError> {
    for o in outcomes {
        if o.severity.is_none() {
            continue;
        }
        if o.is_else() || compare(&o.when, actual)? {
            return Ok(AnalyzeResult::new(title, MATCHED_ICON).with(o));
        }
    }
    Ok(fail(title, ICON, "Invalid analyzer"))
}

/// A quantity's `Value()`: the whole number it rounds up to.
fn whole(q: Quantity) -> i128 {
    let text = q.to_string();
    match text.strip_suffix('n').and_then(|n| n.parse::<i128>().ok()) {
        Some(nanos) => {
            nanos.div_euclid(1_000_000_000) + i128::from(nanos.rem_euclid(1_000_000_000) != 0)
        }
        None => text.parse().unwrap_or(0),
    }
}

/// `<op> <n>` against an integer, or a quantity against a quantity.
fn compare(when: &str, actual: &Value) -> Result<bool, AnalyzerError> {
    let bad = |why: &str| AnalyzerError::spec(format!("when {when:?}: {why}"));
    if !when.contains(['!', '=', '<', '>']) {
        return Err(bad("no operator (use <, <=, >, >= or ==)"));
    }
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [op, value] = parts.as_slice() else {
        return Err(bad("expected `<op> <value>`"));
    };
    let op = match Op::parse(op) {
        Some(Op::Ne) | None => return Err(bad("unknown comparator (use <, <=, >, >= or ==)")),
        Some(op) => op,
    };
    let (have, want): (i128, i128) = match actual {
        Value::Number(n) if n.is_i64() => {
            let want: i64 = value
                .parse()
                .map_err(|_| bad("the value is not a whole number"))?;
            (i128::from(n.as_i64().unwrap_or(0)), i128::from(want))
        }
        Value::String(s) => {
            let Ok(have) = Quantity::parse(s) else {
                return Err(bad(&format!(
                    "cannot compare {s:?} (not a number or quantity)"
                )));
            };
            let want =
                Quantity::parse(value).map_err(|_| bad("cannot compare a size with a non-size"))?;
            (whole(have), whole(want))
        }
        other => {
            return Err(bad(&format!(
                "cannot compare {other} (not a whole number or a quantity string)"
            )));
        }
    };
    Ok(op.holds(have, want))
}

/// `value` as Go's yaml.v2 writes it (what the regexes of this analyzer run over): scalars
/// exactly, mappings with sorted keys and lists in block style.
fn go_yaml(value: &Value) -> String {
    let mut out = String::new();
    emit(value, 0, &mut out);
    out
}

fn emit(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                let v = &map[k];
                out.push_str(&format!("{pad}{}:", scalar(k)));
                match v {
                    Value::Object(m) if !m.is_empty() => {
                        out.push('\n');
                        emit(v, indent + 2, out);
                    }
                    Value::Array(a) if !a.is_empty() => {
                        out.push('\n');
                        emit(v, indent, out);
                    }
                    _ => out.push_str(&format!(" {}\n", inline(v, indent))),
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                let mut nested = String::new();
                emit(item, indent + 2, &mut nested);
                let body = nested.get(indent + 2..).unwrap_or("");
                out.push_str(&format!("{pad}- {body}"));
            }
        }
        other => out.push_str(&format!("{pad}{}\n", inline(other, indent))),
    }
}

/// A multi-line string as a literal block (`|-`), its lines indented under `indent`.
fn literal(s: &str, indent: usize) -> String {
    let chomp = if s.ends_with("\n\n") {
        "+"
    } else if s.ends_with('\n') {
        ""
    } else {
        "-"
    };
    let pad = " ".repeat(indent + 2);
    let mut out = format!("|{chomp}");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad);
            out.push_str(line);
        }
    }
    out
}

fn inline(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => match n.as_f64() {
            Some(f) if !n.is_i64() && !n.is_u64() => go_float(f),
            _ => n.to_string(),
        },
        Value::String(s) if s.contains('\n') && !s.trim().is_empty() => literal(s, indent),
        Value::String(s) => scalar(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+.inf" } else { "-.inf" }.into();
    }
    let exp = if f == 0.0 {
        0
    } else {
        f.abs().log10().floor() as i32
    };
    if (-4..21).contains(&exp) {
        format!("{f}")
    } else {
        let s = format!("{f:e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let e: i32 = e.parse().unwrap_or(0);
        format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    }
}

/// A string scalar: plain when YAML reads it back as the same string, else quoted.
fn scalar(s: &str) -> String {
    let reads_as_other = s.is_empty()
        || matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
        )
        || s.parse::<f64>().is_ok()
        || s.starts_with("0x");
    if reads_as_other || s.contains('\n') {
        return serde_json::to_string(s).unwrap_or_default();
    }
    // `-`, `?` and `:` start a plain scalar unless a space (or nothing) follows.
    let indicator = matches!(
        s.as_bytes(),
        [b'-' | b'?' | b':'] | [b'-' | b'?' | b':', b' ', ..]
    );
    let special = indicator
        || s.starts_with([
            ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '\'', '"', '%', '@', '`', ' ',
        ])
        || s.ends_with(' ')
        || s.contains(": ")
        || s.contains(" #")
        || s.ends_with(':');
    if special {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_are_written_as_yaml_v2_writes_them() {
        assert_eq!(go_yaml(&json!("nginx:1.25")), "nginx:1.25\n");
        assert_eq!(go_yaml(&json!("true")), "\"true\"\n");
        assert_eq!(go_yaml(&json!("a: b")), "'a: b'\n");
        assert_eq!(go_yaml(&json!("-x")), "-x\n");
        assert_eq!(go_yaml(&json!("- x")), "'- x'\n");
        assert_eq!(go_yaml(&json!("l1\nl2")), "|-\n  l1\n  l2\n");
        assert_eq!(go_yaml(&json!({"k": "l1\nl2"})), "k: |-\n  l1\n  l2\n");
        assert_eq!(go_yaml(&json!(3)), "3\n");
        assert_eq!(go_yaml(&json!(2.5)), "2.5\n");
        assert_eq!(go_yaml(&json!(null)), "null\n");
        assert_eq!(
            go_yaml(&json!({"b": [1, {"x": "z", "a": []}], "a": {"c": "d"}})),
            "a:\n  c: d\nb:\n- 1\n- a: []\n  x: z\n"
        );
    }

    #[test]
    fn quantities_round_up_to_whole_numbers() {
        assert_eq!(whole(Quantity::parse("500m").expect("q")), 1);
        assert_eq!(whole(Quantity::parse("10Gi").expect("q")), 10 << 30);
        assert!(compare("< 11Gi", &json!("10Gi")).expect("cmp"));
        assert!(compare("== 1", &json!("500m")).expect("cmp"));
        assert!(compare(">= 3", &json!(3)).expect("cmp"));
        assert!(compare("!= 3", &json!(3)).is_err());
        assert!(compare("3", &json!(3)).is_err());
        assert!(compare("> 1Gi", &json!("abc")).is_err());
        assert!(compare("> 1", &json!(1.5)).is_err());
    }

    #[test]
    fn paths_index_lists_and_stop_at_scalars() {
        let obj = json!({"spec": {"containers": [{"image": "x"}]}});
        assert_eq!(
            at_path(&obj, "spec.containers.[0].image"),
            Some(&json!("x"))
        );
        assert_eq!(at_path(&obj, "spec.nope"), Some(&Value::Null));
        assert_eq!(at_path(&obj, "spec.nope.deeper"), None);
        assert_eq!(at_path(&obj, "spec.containers.[3]"), None);
        assert_eq!(at_path(&obj, "spec.containers.[0].image.x"), None);
    }
}
