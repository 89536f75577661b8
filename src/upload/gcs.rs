//! The GCS sink.

use super::{Delivered, Object, UploadError};
use crate::jobs::model::GcsTarget;

/// Delivers one object to the target.
pub async fn upload(_target: &GcsTarget, _object: &Object<'_>) -> Result<Delivered, UploadError> {
    Err(UploadError::Permanent(
        "GCS upload is not available in this build yet".into(),
    ))
}

/// A real, harmless reachability check (credentials, bucket or endpoint), for `trigger --check-targets`.
pub async fn check(_target: &GcsTarget) -> Result<(), UploadError> {
    Err(UploadError::Permanent(
        "GCS upload is not available in this build yet".into(),
    ))
}
