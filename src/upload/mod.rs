//! Delivery of finished bundles: S3, GCS and HTTP sinks, retry with backoff, the persistent
//! upload queue. Each sink takes one [`Object`] (a file on disk and the key it goes to) and
//! either delivers it or says whether trying again can help.

pub mod gcs;
pub(crate) mod http;
pub(crate) mod key;
pub mod queue;
pub(crate) mod retry;
pub mod s3;
pub(crate) mod scrub;
pub(crate) mod target;

use std::path::Path;
use target::UploadTarget;

/// One bundle to deliver: the archive on disk and where it goes.
#[derive(Clone, Debug)]
pub struct Object<'a> {
    /// The archive on disk; sinks stream it, never read it whole.
    pub path: &'a Path,
    /// Object key from the job's key template, prefix included; for HTTP targets, the URL with
    /// its placeholders filled in.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Hex sha256 of the file, sent as metadata or checksum.
    pub sha256: String,
}

/// Where a delivered object landed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// A URL people can use to find it (`s3://bucket/key`, `gs://bucket/key`, the HTTP URL).
    pub url: String,
    /// Bytes sent.
    pub bytes: u64,
}

/// Why a delivery failed, split by whether another attempt can help.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// Retrying cannot help (403, no such bucket, bad configuration); fail fast.
    #[error("{0}")]
    Permanent(String),
    /// Retrying may help (connection refused, timeout, 5xx, throttling).
    #[error("{0}")]
    Transient(String),
    /// The object already exists under this key: a retried or duplicated run was already delivered.
    #[error("{0}")]
    AlreadyExists(String),
}

impl UploadError {
    /// Whether another attempt can succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, UploadError::Transient(_))
    }
}

/// The CRC32C of `len` bytes of `path` from `offset`, read off the async threads. Sinks send it
/// up front so the store verifies what it received (and S3 parts need no chunked trailer).
pub(crate) async fn crc32c_of(path: &Path, offset: u64, len: u64) -> Result<u32, UploadError> {
    let owned = path.to_path_buf();
    let joined = tokio::task::spawn_blocking(move || -> std::io::Result<u32> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&owned)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut reader = file.take(len);
        let mut buf = vec![0u8; 1 << 20];
        let mut crc = 0u32;
        let mut read = 0u64;
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            crc = crc32c::crc32c_append(crc, &buf[..n]);
            read += n as u64;
        }
        if read != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("expected {len} bytes from offset {offset}, the file had {read}"),
            ));
        }
        Ok(crc)
    })
    .await;
    match joined {
        Ok(Ok(crc)) => Ok(crc),
        Ok(Err(e)) => Err(UploadError::Permanent(format!(
            "cannot read the bundle {}: {e}",
            path.display()
        ))),
        Err(e) => Err(UploadError::Transient(format!("checksum task failed: {e}"))),
    }
}

/// Delivers one object to whichever sink `target` names.
pub async fn deliver(target: &UploadTarget, object: &Object<'_>) -> Result<Delivered, UploadError> {
    let result = match target {
        UploadTarget::S3(t) => s3::upload(t, object).await,
        UploadTarget::Gcs(t) => gcs::upload(t, object).await,
        UploadTarget::Http(t) => http::upload(t, object).await,
    };
    // Every message that leaves here may end up in a record the history API serves.
    result.map_err(|e| e.scrubbed(target))
}

/// The harmless reachability check of whichever sink `target` names; `url` is an HTTP target's
/// URL with its placeholders filled in.
pub async fn check(target: &UploadTarget, url: &str) -> Result<(), UploadError> {
    let result = match target {
        UploadTarget::S3(t) => s3::check(t).await,
        UploadTarget::Gcs(t) => gcs::check(t).await,
        UploadTarget::Http(t) => http::check_url(t, url).await,
    };
    result.map_err(|e| e.scrubbed(target))
}

/// The object key (S3, GCS) or URL (HTTP) for one run.
pub fn object_key(target: &UploadTarget, vars: &key::Vars) -> Result<String, key::TemplateError> {
    match target {
        UploadTarget::S3(t) => key::object_key(t.prefix.as_deref(), t.key.as_deref(), vars),
        UploadTarget::Gcs(t) => key::object_key(t.prefix.as_deref(), t.key.as_deref(), vars),
        UploadTarget::Http(t) => Ok(key::render_parts(&key::parse_parts(&t.url)?, vars)),
    }
}
