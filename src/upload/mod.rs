//! Delivery of finished bundles: S3, GCS and HTTP sinks, retry with backoff, the persistent
//! upload queue. Each sink takes one [`Object`] (a file on disk and the key it goes to) and
//! either delivers it or says whether trying again can help.

pub mod gcs;
pub mod http;
pub mod retry;
pub mod s3;

use std::path::Path;

/// One bundle to deliver: the archive on disk and where it goes.
#[derive(Clone, Debug)]
pub struct Object<'a> {
    /// The archive on disk; sinks stream it, never read it whole.
    pub path: &'a Path,
    /// Object key (or URL path suffix) from the job's key template, prefix included.
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
