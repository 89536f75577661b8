//! The S3 sink.

use super::{Delivered, Object, UploadError};
use crate::jobs::model::S3Target;

/// Delivers one object to the target.
pub async fn upload(_target: &S3Target, _object: &Object<'_>) -> Result<Delivered, UploadError> {
    Err(UploadError::Permanent(
        "S3 upload is not available in this build yet".into(),
    ))
}

/// A real, harmless reachability check (credentials, bucket or endpoint), for `trigger --check-targets`.
pub async fn check(_target: &S3Target) -> Result<(), UploadError> {
    Err(UploadError::Permanent(
        "S3 upload is not available in this build yet".into(),
    ))
}
