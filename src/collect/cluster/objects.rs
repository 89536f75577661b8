//! `configMap` and `secret` (TROUBLESHOOT-FORMAT.md §1.6). Secret values are written only with
//! `includeValue` (or `includeAllData`); the default is presence only.

use super::api::{ApiError, encode};
use super::jsonout::pretty;
use super::{Ctx, Error, namespace_of};
use crate::collect::host::sanitize_component;
use base64::Engine;
use serde_json::{Map, Value};

/// Which object type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `configMap` → `configmaps/`.
    ConfigMap,
    /// `secret` → `secrets/`.
    Secret,
}

impl Kind {
    fn dir(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configmaps",
            Kind::Secret => "secrets",
        }
    }

    fn exists_key(self) -> &'static str {
        match self {
            Kind::ConfigMap => "configMapExists",
            Kind::Secret => "secretExists",
        }
    }
}

/// The spec fields that shape the output.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Want {
    /// `key`.
    pub key: String,
    /// `includeValue`.
    pub include_value: bool,
    /// `includeAllData`.
    pub include_all: bool,
}

/// The output document for one object (`None`: it does not exist).
pub fn document(kind: Kind, ns: &str, name: &str, object: Option<&Value>, want: &Want) -> Value {
    let data: Map<String, Value> = object.map(|o| decoded_data(kind, o)).unwrap_or_default();
    let key_exists = !want.key.is_empty() && data.contains_key(&want.key);
    let mut m = Map::new();
    m.insert("namespace".into(), ns.into());
    m.insert("name".into(), name.into());
    m.insert("key".into(), want.key.clone().into());
    m.insert(kind.exists_key().into(), object.is_some().into());
    m.insert("keyExists".into(), key_exists.into());
    if want.include_value && key_exists {
        m.insert("value".into(), data[&want.key].clone());
    }
    let all = (want.include_all && !data.is_empty()).then(|| Value::Object(data));
    match (kind, all) {
        (_, Some(d)) => {
            m.insert("data".into(), d);
        }
        // troubleshoot's ConfigMap output always has `data` (its struct tag lacks omitempty).
        (Kind::ConfigMap, None) => {
            m.insert("data".into(), Value::Null);
        }
        (Kind::Secret, None) => {}
    }
    Value::Object(m)
}

/// `data` (and `stringData`/`binaryData`) as strings: secrets decoded from base64.
fn decoded_data(kind: Kind, object: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for (k, v) in object["data"].as_object().into_iter().flatten() {
        let text = match (kind, v.as_str()) {
            (Kind::Secret, Some(s)) => b64
                .decode(s)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|_| s.to_string()),
            (_, Some(s)) => s.to_string(),
            (_, None) => v.to_string(),
        };
        out.insert(k.clone(), Value::String(text));
    }
    if kind == Kind::ConfigMap {
        for (k, v) in object["binaryData"].as_object().into_iter().flatten() {
            out.insert(k.clone(), v.clone());
        }
    }
    out
}

/// A selector as troubleshoot puts it in file names: terms joined with `-`, `=` → `-`, `*` →
/// `all`, and `? : < > | " / \` → `_`.
pub fn sanitize_selector(selector: &[&str]) -> String {
    selector
        .join("-")
        .replace('=', "-")
        .replace('*', "all")
        .chars()
        .map(|c| match c {
            '?' | ':' | '<' | '>' | '|' | '"' | '/' | '\\' => '_',
            c => c,
        })
        .collect()
}

/// The file of one object: `<dir>/<ns>/<name>[/<key>].json`.
pub fn object_path(kind: Kind, ns: &str, name: &str, want: &Want) -> String {
    let key_in_path = !want.key.is_empty() && (kind == Kind::ConfigMap || !want.include_all);
    let base = format!(
        "{}/{}/{}",
        kind.dir(),
        sanitize_component(ns),
        sanitize_component(name)
    );
    if key_in_path {
        format!("{base}/{}.json", sanitize_component(&want.key))
    } else {
        format!("{base}.json")
    }
}

/// Runs a `configMap` or `secret` collector.
pub(super) async fn collect(ctx: &Ctx, kind: Kind, body: &Value) -> Result<(), Error> {
    let ns = namespace_of(ctx, body);
    let want = Want {
        key: body["key"].as_str().unwrap_or("").to_string(),
        include_value: body["includeValue"].as_bool() == Some(true),
        include_all: body["includeAllData"].as_bool() == Some(true),
    };
    let name = body["name"].as_str().unwrap_or("");
    let selector: Vec<&str> = body["selector"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let plural = kind.dir();
    let write_error = |label: &str, e: &ApiError| -> Result<(), Error> {
        let mut rel = format!(
            "{}-errors/{}/{}",
            kind.dir(),
            sanitize_component(&ns),
            sanitize_component(label)
        );
        if !want.key.is_empty() && (kind == Kind::ConfigMap || !want.include_all) {
            rel.push('/');
            rel.push_str(&sanitize_component(&want.key));
        }
        rel.push_str(".json");
        ctx.write(&rel, &pretty(&serde_json::json!([e.to_string()])))
    };
    if !name.is_empty() {
        let path = format!(
            "/api/v1/namespaces/{}/{plural}/{}",
            encode(&ns),
            encode(name)
        );
        let object = match ctx.api.get(&path).await {
            Ok(o) => Some(o),
            Err(e) if e.is_not_found() => {
                write_error(name, &e)?;
                None
            }
            Err(e) => {
                write_error(name, &e)?;
                return Err(e.into());
            }
        };
        let doc = document(kind, &ns, name, object.as_ref(), &want);
        return ctx.write(&object_path(kind, &ns, name, &want), &pretty(&doc));
    }
    if selector.is_empty() {
        return Err(Error::Spec(format!(
            "`{}` needs `name` or `selector`",
            if kind == Kind::Secret {
                "secret"
            } else {
                "configMap"
            }
        )));
    }
    let path = format!(
        "/api/v1/namespaces/{}/{plural}?labelSelector={}",
        encode(&ns),
        encode(&selector.join(","))
    );
    let mut cont: Option<String> = None;
    loop {
        let page = match ctx
            .api
            .list_page(&path, ctx.opts.page_size, cont.as_deref())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                write_error(&sanitize_selector(&selector), &e)?;
                return Err(e.into());
            }
        };
        for item in &page.items {
            let item_name = item["metadata"]["name"].as_str().unwrap_or("");
            let doc = document(kind, &ns, item_name, Some(item), &want);
            ctx.write(&object_path(kind, &ns, item_name, &want), &pretty(&doc))?;
        }
        match page.next {
            Some(n) => cont = Some(n),
            None => return Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secret() -> Value {
        let b64 = base64::engine::general_purpose::STANDARD;
        json!({"data": {"password": b64.encode("hunter2"), "user": b64.encode("bob")}})
    }

    #[test]
    fn secret_values_only_with_include_value() {
        let want = Want {
            key: "password".into(),
            ..Want::default()
        };
        let doc = document(Kind::Secret, "ns", "db", Some(&secret()), &want);
        assert_eq!(
            pretty(&doc),
            pretty(
                &json!({"namespace": "ns", "name": "db", "key": "password", "secretExists": true, "keyExists": true})
            )
        );
        assert!(!doc.to_string().contains("hunter2"));
        let with = Want {
            include_value: true,
            ..want.clone()
        };
        assert_eq!(
            document(Kind::Secret, "ns", "db", Some(&secret()), &with)["value"],
            "hunter2"
        );
        let all = Want {
            include_all: true,
            ..Want::default()
        };
        assert_eq!(
            document(Kind::Secret, "ns", "db", Some(&secret()), &all)["data"]["user"],
            "bob"
        );
    }

    #[test]
    fn missing_objects_and_configmap_data_null() {
        let doc = document(Kind::ConfigMap, "default", "x", None, &Want::default());
        assert_eq!(
            pretty(&doc),
            "{\n  \"namespace\": \"default\",\n  \"name\": \"x\",\n  \"key\": \"\",\n  \"configMapExists\": false,\n  \"keyExists\": false,\n  \"data\": null\n}"
        );
        let s = document(Kind::Secret, "default", "x", None, &Want::default());
        assert_eq!(s["secretExists"], false);
        assert!(s.get("data").is_none());
    }

    #[test]
    fn paths_and_selectors() {
        let key = Want {
            key: "k".into(),
            ..Want::default()
        };
        assert_eq!(
            object_path(Kind::Secret, "ns", "s", &key),
            "secrets/ns/s/k.json"
        );
        let all = Want {
            include_all: true,
            ..key.clone()
        };
        assert_eq!(
            object_path(Kind::Secret, "ns", "s", &all),
            "secrets/ns/s.json"
        );
        assert_eq!(
            object_path(Kind::ConfigMap, "ns", "c", &all),
            "configmaps/ns/c/k.json"
        );
        assert_eq!(
            sanitize_selector(&["app=web", "tier in (a/b)", "x=*"]),
            "app-web-tier in (a_b)-x-all"
        );
    }
}
