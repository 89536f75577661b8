//! Writing Kubernetes JSON the way troubleshoot does (Go `MarshalIndent`, 2 spaces, no trailing
//! newline, `<>&` escaped), item by item, so a list of any size never sits in memory.

use crate::collect::host::output::go_escape;
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// `value` pretty-printed with 2 spaces, as if nested `level` levels deep (every line after the
/// first is indented by `level * 2` spaces), Go-escaped.
pub fn pretty_at(value: &Value, level: usize) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serializing a Value into a Vec cannot fail.
    let _ = serde::Serialize::serialize(value, &mut ser);
    let text = go_escape(&String::from_utf8_lossy(&buf));
    if level == 0 {
        return text;
    }
    // Raw newlines only occur between tokens (inside strings they are escaped).
    let pad = format!("\n{}", "  ".repeat(level));
    text.replace('\n', &pad)
}

/// The whole file `value`, 2-space indented (an error file, a single object).
pub fn pretty(value: &Value) -> String {
    pretty_at(value, 0)
}

/// What a streamed file looks like around its items.
#[derive(Clone, Debug, PartialEq)]
enum Shape {
    /// A Kubernetes List object; `items` is `null` when empty.
    List,
    /// A bare JSON array (custom resources).
    Array,
}

/// A List or array file being written item by item.
pub struct StreamFile {
    out: BufWriter<File>,
    state: Paused,
}

/// A [`StreamFile`] closed between items (to bound open files when items arrive interleaved).
#[derive(Clone, Debug)]
pub struct Paused {
    path: PathBuf,
    count: usize,
    shape: Shape,
}

impl StreamFile {
    /// Starts a List object file at `path` with its header.
    pub fn list(
        path: &Path,
        kind: &str,
        api_version: &str,
        metadata: &Value,
    ) -> std::io::Result<Self> {
        let mut f = Self::create(path, Shape::List)?;
        write!(
            f.out,
            "{{\n  \"kind\": {},\n  \"apiVersion\": {},\n  \"metadata\": {},\n  \"items\": ",
            pretty(&Value::String(kind.into())),
            pretty(&Value::String(api_version.into())),
            pretty_at(metadata, 1)
        )?;
        Ok(f)
    }

    /// Starts a bare array file at `path`.
    pub fn array(path: &Path) -> std::io::Result<Self> {
        Self::create(path, Shape::Array)
    }

    fn create(path: &Path, shape: Shape) -> std::io::Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        Ok(StreamFile {
            out: BufWriter::with_capacity(64 * 1024, File::create(path)?),
            state: Paused {
                path: path.to_path_buf(),
                count: 0,
                shape,
            },
        })
    }

    /// Appends one item.
    pub fn push(&mut self, item: &Value) -> std::io::Result<()> {
        let level = match self.state.shape {
            Shape::List => 2,
            Shape::Array => 1,
        };
        let pad = "  ".repeat(level);
        if self.state.count == 0 {
            write!(self.out, "[\n{pad}")?;
        } else {
            write!(self.out, ",\n{pad}")?;
        }
        self.out.write_all(pretty_at(item, level).as_bytes())?;
        self.state.count += 1;
        Ok(())
    }

    /// Items written so far.
    pub fn count(&self) -> usize {
        self.state.count
    }

    /// Closes the list or array and flushes it.
    pub fn finish(mut self) -> std::io::Result<()> {
        match (&self.state.shape, self.state.count) {
            (Shape::List, 0) => self.out.write_all(b"null\n}")?,
            (Shape::List, _) => self.out.write_all(b"\n  ]\n}")?,
            (Shape::Array, 0) => self.out.write_all(b"[]")?,
            (Shape::Array, _) => self.out.write_all(b"\n]")?,
        }
        self.out.flush()
    }

    /// Flushes and closes the file without ending it; [`Paused::resume`] goes on.
    pub fn pause(mut self) -> std::io::Result<Paused> {
        self.out.flush()?;
        Ok(self.state)
    }
}

impl Paused {
    /// Reopens the file for more items.
    pub fn resume(self) -> std::io::Result<StreamFile> {
        let file = OpenOptions::new().append(true).open(&self.path)?;
        Ok(StreamFile {
            out: BufWriter::with_capacity(64 * 1024, file),
            state: self,
        })
    }
}

/// `item` with `kind` and `apiVersion` first (as Go's typed objects serialize), then its fields.
pub fn with_type_meta(item: Value, kind: &str, api_version: &str) -> Value {
    match item {
        Value::Object(fields) => {
            let mut out = serde_json::Map::with_capacity(fields.len() + 2);
            out.insert("kind".into(), Value::String(kind.into()));
            out.insert("apiVersion".into(), Value::String(api_version.into()));
            for (k, v) in fields {
                if k != "kind" && k != "apiVersion" {
                    out.insert(k, v);
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

/// Writes a whole small file (error files, single objects) and creates its parent.
pub fn write_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).expect("read")
    }

    #[test]
    fn streamed_list_is_go_marshal_indent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("pods/default.json");
        let meta = json!({"resourceVersion": "687"});
        let mut f = StreamFile::list(&path, "PodList", "v1", &meta).expect("create");
        let item = with_type_meta(
            json!({"metadata": {"name": "a<b>"}, "spec": {"x": [1, 2]}}),
            "Pod",
            "v1",
        );
        f.push(&item).expect("push");
        let paused = f.pause().expect("pause");
        let mut f = paused.resume().expect("resume");
        f.push(&with_type_meta(json!({"metadata": {}}), "Pod", "v1"))
            .expect("push");
        f.finish().expect("finish");
        let whole = json!({
            "kind": "PodList", "apiVersion": "v1", "metadata": meta,
            "items": [item, {"kind": "Pod", "apiVersion": "v1", "metadata": {}}],
        });
        assert_eq!(read(&path), pretty(&whole));
        assert!(read(&path).contains("a\\u003cb\\u003e"));
        assert!(!read(&path).ends_with('\n'));
    }

    #[test]
    fn empty_list_has_null_items_and_empty_array_is_brackets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("x.json");
        StreamFile::list(&path, "PodList", "v1", &json!({"resourceVersion": "1"}))
            .expect("create")
            .finish()
            .expect("finish");
        assert_eq!(
            read(&path),
            "{\n  \"kind\": \"PodList\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {\n    \"resourceVersion\": \"1\"\n  },\n  \"items\": null\n}"
        );
        let arr = dir.path().join("a.json");
        let mut f = StreamFile::array(&arr).expect("create");
        f.push(&json!({"b": 1})).expect("push");
        f.finish().expect("finish");
        assert_eq!(read(&arr), pretty(&json!([{"b": 1}])));
    }

    #[test]
    fn type_meta_goes_first() {
        let v = with_type_meta(json!({"metadata": {}, "kind": "Old"}), "Pod", "v1");
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["kind", "apiVersion", "metadata"]);
        assert_eq!(v["kind"], "Pod");
    }
}
