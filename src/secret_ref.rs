//! References to secrets: job files never hold a secret value, only where to find it.

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

/// Secret files larger than this are refused (a token or a key is a few hundred bytes).
pub(crate) const SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Where a secret value comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SecretRef {
    /// An environment variable of the agent.
    FromEnv(String),
    /// A file readable by the agent (contents, trailing newline trimmed).
    FromFile(String),
}

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

const INLINE: &str =
    "inline secret values are refused: write `{fromEnv: VARIABLE}` or `{fromFile: /path/to/file}`";

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`{fromEnv: VARIABLE}` or `{fromFile: PATH}`")
    }

    // The value itself is never echoed: it may be the secret.
    fn visit_str<E: de::Error>(self, _: &str) -> Result<SecretRef, E> {
        Err(E::custom(INLINE))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretRef, E> {
        Err(E::custom(INLINE))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretRef, E> {
        Err(E::custom(INLINE))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretRef, E> {
        Err(E::custom(INLINE))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretRef, E> {
        Err(E::custom(INLINE))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SecretRef, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: String = map.next_value()?;
            let reference = match key.as_str() {
                "fromEnv" => SecretRef::FromEnv(value),
                "fromFile" => SecretRef::FromFile(value),
                _ => return Err(de::Error::unknown_field(&key, &["fromEnv", "fromFile"])),
            };
            if found.replace(reference).is_some() {
                return Err(de::Error::custom(
                    "give exactly one of `fromEnv` and `fromFile`",
                ));
            }
        }
        found.ok_or_else(|| de::Error::custom("give one of `fromEnv` or `fromFile`"))
    }
}

/// Why a secret reference gave no value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The variable is not set (or not UTF-8).
    #[error("environment variable `{0}` is not set in the agent's environment")]
    MissingEnv(String),
    /// The file cannot be read.
    #[error("cannot read secret file `{path}`: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl SecretRef {
    /// The value, read now (so a rotated file or variable is picked up by the next use); a
    /// file's trailing newline is trimmed. The error names where, never the value.
    pub fn resolve(&self) -> Result<String, SecretError> {
        match self {
            SecretRef::FromEnv(var) => {
                std::env::var(var).map_err(|_| SecretError::MissingEnv(var.clone()))
            }
            SecretRef::FromFile(path) => read_file(Path::new(path))
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|source| SecretError::File {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

/// The file's text, read without blocking and at most [`SECRET_FILE_BYTES`]:
/// a FIFO or a device is refused rather than stalling a run. Its owner and permissions were
/// checked when the job was loaded (`validate` and every reload report them), so they are not
/// judged again here.
fn read_file(path: &Path) -> std::io::Result<String> {
    let lenient = crate::trust::Policy::new(true);
    let mut walk = crate::trust::Walk::default();
    let read =
        crate::trust::read(path, SECRET_FILE_BYTES, &lenient, &mut walk).map_err(|e| match e {
            crate::trust::ReadError::Io(e) => e,
            refused => std::io::Error::other(refused.to_string()),
        })?;
    String::from_utf8(read.bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}
