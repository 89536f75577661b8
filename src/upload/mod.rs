//! Delivery of finished bundles: S3, GCS and HTTP sinks, retry with backoff, the persistent
//! upload queue. Each sink takes one [`Object`] (a file on disk and the key it goes to) and
//! either delivers it or says whether trying again can help.

pub mod gcs;
pub mod http;
pub mod key;
pub mod queue;
pub mod retry;
pub mod s3;

use crate::jobs::model::UploadTarget;
use std::path::Path;

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

/// Delivers one object to whichever sink `target` names.
pub async fn deliver(target: &UploadTarget, object: &Object<'_>) -> Result<Delivered, UploadError> {
    match target {
        UploadTarget::S3(t) => s3::upload(t, object).await,
        UploadTarget::Gcs(t) => gcs::upload(t, object).await,
        UploadTarget::Http(t) => http::upload(t, object).await,
    }
}

/// The harmless reachability check of whichever sink `target` names; `url` is an HTTP target's
/// URL with its placeholders filled in.
pub async fn check(target: &UploadTarget, url: &str) -> Result<(), UploadError> {
    match target {
        UploadTarget::S3(t) => s3::check(t).await,
        UploadTarget::Gcs(t) => gcs::check(t).await,
        UploadTarget::Http(t) => http::check_url(t, url).await,
    }
}

/// The object key (S3, GCS) or URL (HTTP) for one run.
pub fn object_key(target: &UploadTarget, vars: &key::Vars) -> Result<String, key::TemplateError> {
    match target {
        UploadTarget::S3(t) => key::object_key(t.prefix.as_deref(), t.key.as_deref(), vars),
        UploadTarget::Gcs(t) => key::object_key(t.prefix.as_deref(), t.key.as_deref(), vars),
        UploadTarget::Http(t) => Ok(key::render_parts(&key::parse_parts(&t.url)?, vars)),
    }
}
