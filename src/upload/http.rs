//! The HTTP sink.

use super::{Delivered, Object, UploadError};
use crate::jobs::model::HttpTarget;

/// Delivers one object to the target.
pub async fn upload(_target: &HttpTarget, _object: &Object<'_>) -> Result<Delivered, UploadError> {
    Err(UploadError::Permanent(
        "HTTP upload is not available in this build yet".into(),
    ))
}

/// A real, harmless reachability check (credentials, bucket or endpoint), for `trigger --check-targets`.
pub async fn check(_target: &HttpTarget) -> Result<(), UploadError> {
    Err(UploadError::Permanent(
        "HTTP upload is not available in this build yet".into(),
    ))
}
