//! Writing host collector results safely under the bundle root, error files, and Go-compatible JSON.

use super::Error;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Longest path component (in bytes) this module writes; Linux allows 255, and suffixes such as
/// `-error.json` or `-stderr.txt` are appended after sanitizing.
pub const MAX_COMPONENT: usize = 200;

/// Turns arbitrary text (a collector name, a title, a file name) into one safe path component.
///
/// `/`, `\` and NUL become `_`; a component made only of dots (`.`, `..`) becomes underscores; the
/// empty string becomes `_`; anything longer than [`MAX_COMPONENT`] bytes is cut at a character
/// boundary and given a short SHA-256 suffix so distinct long names stay distinct. This is the only
/// place names become paths, so nothing a spec says can escape the output root.
pub fn sanitize_component(raw: &str) -> String {
    clean(raw, MAX_COMPONENT)
}

/// A file name made of a sanitized `stem` and a fixed `suffix` (e.g. `-stderr.txt`); the stem is
/// capped first so the suffix always survives.
pub fn file_name(stem: &str, suffix: &str) -> String {
    format!("{}{suffix}", sanitize_component(stem))
}

/// The longest name Linux filesystems accept; `prepare` re-checks every component against it
/// (a stem capped at [`MAX_COMPONENT`] plus a short suffix fits).
const FS_NAME_MAX: usize = 255;

fn clean(raw: &str, max: usize) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | '\0' => '_',
            c => c,
        })
        .collect();
    if s.is_empty() {
        return "_".to_string();
    }
    if s.chars().all(|c| c == '.') {
        s = "_".repeat(s.len());
    }
    if s.len() > max {
        let digest = Sha256::digest(raw.as_bytes());
        let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let mut cut = max - hash.len() - 1;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('-');
        s.push_str(&hash);
    }
    s
}

/// Splits a relative path written in a spec (e.g. `outputDir`) into safe components, dropping
/// empty, `.` and `..` parts so the result always stays below its parent.
pub fn safe_relative(raw: &str) -> Vec<String> {
    raw.split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .map(sanitize_component)
        .collect()
}

/// Where one collector writes, and the bundle-relative paths it has written so far.
#[derive(Debug)]
pub struct Output {
    root: PathBuf,
    files: Mutex<Vec<String>>,
}

impl Output {
    /// An output rooted at the bundle staging directory.
    pub fn new(root: &Path) -> Self {
        Output {
            root: root.to_path_buf(),
            files: Mutex::new(Vec::new()),
        }
    }

    /// The output root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The bundle-relative paths written, in order.
    pub fn into_files(self) -> Vec<String> {
        self.files.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// The absolute and bundle-relative path of `components` (each sanitized); creates parent dirs.
    pub async fn prepare(&self, components: &[&str]) -> Result<(PathBuf, String), Error> {
        let parts: Vec<String> = components.iter().map(|c| clean(c, FS_NAME_MAX)).collect();
        let rel = parts.join("/");
        let mut abs = self.root.clone();
        for p in &parts {
            abs.push(p);
        }
        if let Some(parent) = abs.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(|e| Error::io(format!("create {}", parent.display()), e))?;
        }
        Ok((abs, rel))
    }

    /// Records a file written through [`Output::prepare`].
    pub fn record(&self, rel: String) {
        let mut files = self.files.lock().unwrap_or_else(|e| e.into_inner());
        if !files.contains(&rel) {
            files.push(rel);
        }
    }

    /// Writes `bytes` at `components` and records it.
    pub async fn write(&self, components: &[&str], bytes: &[u8]) -> Result<String, Error> {
        let (abs, rel) = self.prepare(components).await?;
        tokio::fs::write(&abs, bytes)
            .await
            .map_err(|e| Error::io(format!("write {}", abs.display()), e))?;
        self.record(rel.clone());
        Ok(rel)
    }

    /// Writes a new file `<dir>/<stem><suffix>`; when that name is taken (two collectors share a
    /// title), ` (2)`, ` (3)`... are inserted before the suffix, so nothing written is lost.
    /// Names are claimed with create_new, so collectors running in parallel never collide.
    pub async fn write_new(
        &self,
        dir: &[&str],
        stem: &str,
        suffix: &str,
        bytes: &[u8],
    ) -> Result<String, Error> {
        use tokio::io::AsyncWriteExt;
        // `stem` is at most MAX_COMPONENT bytes, so `<stem> (N)<suffix>` stays under FS_NAME_MAX.
        for n in 1u32..10_000 {
            let name = if n == 1 {
                format!("{stem}{suffix}")
            } else {
                format!("{stem} ({n}){suffix}")
            };
            let mut parts = dir.to_vec();
            parts.push(&name);
            let (abs, rel) = self.prepare(&parts).await?;
            match tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&abs)
                .await
            {
                Ok(mut f) => {
                    // tokio's File writes in the background: without flush the bytes may not be
                    // in the file yet when the archiver reads it.
                    f.write_all(bytes)
                        .await
                        .map_err(|e| Error::io(format!("write {}", abs.display()), e))?;
                    f.flush()
                        .await
                        .map_err(|e| Error::io(format!("write {}", abs.display()), e))?;
                    self.record(rel.clone());
                    return Ok(rel);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(Error::io(format!("create {}", abs.display()), e)),
            }
        }
        Err(Error::Other(format!(
            "no free file name for {stem}{suffix}"
        )))
    }

    /// Writes `value` as compact Go-style JSON at `components`.
    pub async fn write_json<T: Serialize>(
        &self,
        components: &[&str],
        value: &T,
    ) -> Result<String, Error> {
        let text = go_json(value, None)?;
        self.write(components, text.as_bytes()).await
    }
}

/// Serializes like Go's `encoding/json`: no trailing newline, `<`, `>`, `&`, U+2028 and U+2029
/// escaped, and `indent` spaces per level when given (Go `MarshalIndent`).
///
/// Key order is the caller's: structs in field order (Go struct order), and `BTreeMap`s where Go
/// used a map (Go sorts map keys).
pub fn go_json<T: Serialize>(value: &T, indent: Option<usize>) -> Result<String, Error> {
    let raw = match indent {
        None => serde_json::to_vec(value),
        Some(n) => {
            let pad = vec![b' '; n];
            let mut buf = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(&pad);
            let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
            value.serialize(&mut ser).map(|()| buf)
        }
    }
    .map_err(|e| Error::Other(format!("encode JSON: {e}")))?;
    let text = String::from_utf8(raw).map_err(|e| Error::Other(format!("encode JSON: {e}")))?;
    Ok(go_escape(&text))
}

/// Applies Go's HTML-safe escaping to already-encoded JSON text. These characters can only appear
/// inside JSON strings, so replacing them everywhere is exact.
pub fn go_escape(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The `{"collector","error","timestamp"}` error document (keys alphabetical, as Go wrote them).
#[derive(Serialize)]
struct ErrorDoc<'a> {
    collector: &'a str,
    error: &'a str,
    timestamp: String,
}

/// Writes `host-collectors/errors/<title>-error.json`, returning its bundle-relative path.
pub async fn write_error_file(
    root: &Path,
    title: &str,
    error: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<String, Error> {
    let doc = ErrorDoc {
        collector: title,
        error,
        timestamp: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    let text = go_json(&doc, None)?;
    // Titles are not unique (two `copy` entries named `syslog` in host/default.yaml); upstream
    // overwrites the first error with the second, we keep both.
    Output::new(root)
        .write_new(
            &["host-collectors", "errors"],
            &sanitize_component(title),
            "-error.json",
            text.as_bytes(),
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_ordinary_names() {
        assert_eq!(sanitize_component("k8s-api-keypair"), "k8s-api-keypair");
        assert_eq!(sanitize_component("weave host 1"), "weave host 1");
        assert_eq!(sanitize_component("a..b"), "a..b");
    }

    #[test]
    fn sanitize_removes_separators_dots_and_nul() {
        assert_eq!(sanitize_component("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(sanitize_component(".."), "__");
        assert_eq!(sanitize_component("."), "_");
        assert_eq!(sanitize_component(""), "_");
        assert_eq!(sanitize_component("a\0b"), "a_b");
        assert_eq!(sanitize_component("/"), "_");
        assert!(!sanitize_component("..\\..").contains('\\'));
    }

    #[test]
    fn sanitize_caps_length_with_distinct_hashes() {
        let a = "é".repeat(150); // 300 bytes, multi-byte to exercise the char boundary
        let b = format!("{}x", "é".repeat(150));
        let (sa, sb) = (sanitize_component(&a), sanitize_component(&b));
        assert!(sa.len() <= MAX_COMPONENT, "{}", sa.len());
        assert!(sb.len() <= MAX_COMPONENT);
        assert_ne!(sa, sb);
        assert_eq!(sanitize_component(&"x".repeat(300)).len(), MAX_COMPONENT);
    }

    #[test]
    fn safe_relative_drops_traversal() {
        assert_eq!(safe_relative("../a/./b//..") as Vec<String>, ["a", "b"]);
        assert!(safe_relative("/..").is_empty());
    }

    #[test]
    fn go_json_escapes_html_and_indents() {
        let v = serde_json::json!({"a": "<x> & y"});
        assert_eq!(
            go_json(&v, None).unwrap(),
            r#"{"a":"\u003cx\u003e \u0026 y"}"#
        );
        assert_eq!(
            go_json(&v, Some(1)).unwrap(),
            "{\n \"a\": \"\\u003cx\\u003e \\u0026 y\"\n}"
        );
    }
}
