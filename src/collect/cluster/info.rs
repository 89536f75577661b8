//! `clusterInfo` → `cluster-info/cluster_version.json` (TROUBLESHOOT-FORMAT.md §1.3).

use super::jsonout::pretty;
use super::{Ctx, Error};
use serde_json::Value;

/// The `{"info": <version>, "string": <gitVersion>}` document.
pub fn version_document(info: &Value) -> Value {
    let mut info = info.clone();
    if let Some(o) = info.as_object_mut() {
        // Go's version.Info has exactly these fields, in this order.
        let order = [
            "major",
            "minor",
            "gitVersion",
            "gitCommit",
            "gitTreeState",
            "buildDate",
            "goVersion",
            "compiler",
            "platform",
        ];
        let mut sorted = serde_json::Map::new();
        for k in order {
            sorted.insert(
                k.into(),
                o.get(k).cloned().unwrap_or(Value::String(String::new())),
            );
        }
        *o = sorted;
    }
    let string = info["gitVersion"].clone();
    serde_json::json!({"info": info, "string": string})
}

/// Runs clusterInfo: on error the version file is empty and `errors.json` says why.
pub(super) async fn cluster_info(ctx: &Ctx) -> Result<(), Error> {
    match ctx.api.get("/version").await {
        Ok(info) => ctx.write(
            "cluster-info/cluster_version.json",
            &pretty(&version_document(&info)),
        ),
        Err(e) => {
            ctx.write("cluster-info/cluster_version.json", "")?;
            ctx.write(
                "cluster-info/errors.json",
                &pretty(&serde_json::json!([e.to_string()])),
            )?;
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_document_orders_fields_like_go() {
        let doc = version_document(
            &json!({"platform": "linux/amd64", "gitVersion": "v1.31.2+k3s1", "major": "1", "minor": "31"}),
        );
        assert_eq!(doc["string"], "v1.31.2+k3s1");
        let keys: Vec<&String> = doc["info"].as_object().expect("obj").keys().collect();
        assert_eq!(keys[0], "major");
        assert_eq!(keys[8], "platform");
        assert_eq!(doc["info"]["compiler"], "");
    }
}
