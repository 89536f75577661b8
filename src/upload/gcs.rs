//! The GCS sink: googleapis' official client (google-cloud-storage) over the JSON API.
//!
//! - Credentials: Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, the gcloud
//!   user file, workload identity, the metadata server) for Google endpoints; anonymous for any
//!   other `endpoint` (emulators such as fake-gcs-server, test gateways).
//! - `STORAGE_EMULATOR_HOST` is deliberately not honoured: the job file is the single source of
//!   truth, and a variable left in a service's environment must not silently send customer
//!   bundles elsewhere. Set `endpoint:` in the job instead; a warning says so when the variable
//!   is set.
//! - Create-only: every write carries `ifGenerationMatch=0`, so a retried or duplicated run never
//!   overwrites a bundle; an existing object is [`UploadError::AlreadyExists`].
//! - Objects above the client's 16 MiB threshold go through a resumable upload streamed from the
//!   file (it is read again on a resume, never held in memory). The crc32c is computed here from
//!   the file and sent up front, so the service rejects a corrupted upload; the client's own
//!   alternative for small objects (a trailing third multipart part) is not understood by
//!   fake-gcs-server, which stores a different object. The sha256 travels as object metadata.
//!
//! Resumable uploads to an endpoint on a non-default port (`http://127.0.0.1:4443`) failed with
//! google-cloud-gax-internal 0.7.21: it sent `Host` without the port, so the emulator's session
//! URL pointed at port 80. Cargo.toml's `[patch.crates-io]` carries the fix (vendor/README.md),
//! written to be sent upstream; the tests run the emulator on a random port to keep it honest.

use super::target::GcsTarget;
use super::{Delivered, Object, UploadError};
use google_cloud_gax::retry_policy::RetryPolicyExt;
use google_cloud_storage::client::Storage;
use google_cloud_storage::retry_policy::RetryableErrors;
use std::time::Duration;

/// The public JSON API endpoint.
const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// Metadata key holding the bundle's hex sha256.
pub const SHA256_METADATA: &str = "sha256";

/// Attempts the client makes within one [`upload`] call (it resumes a resumable upload from the
/// offset the service persisted). Longer outages are the caller's backoff's business.
const CLIENT_ATTEMPTS: u32 = 3;

/// Cap on the client's own retry loop within one call.
const CLIENT_RETRY_TIME: Duration = Duration::from_secs(60);

/// Delivers one object to the target.
pub async fn upload(target: &GcsTarget, object: &Object<'_>) -> Result<Delivered, UploadError> {
    let url = format!("gs://{}/{}", target.bucket, object.key);
    let client = client(target).await?;
    let crc = super::crc32c_of(object.path, 0, object.size).await?;
    let file = tokio::fs::File::open(object.path).await.map_err(|e| {
        UploadError::Permanent(format!(
            "cannot read the bundle {}: {e}",
            object.path.display()
        ))
    })?;
    let written = client
        .write_object(bucket_resource(&target.bucket), &object.key, file)
        .set_if_generation_match(0)
        .set_content_type("application/gzip")
        .set_metadata([(SHA256_METADATA, object.sha256.as_str())])
        .with_known_crc32c(crc)
        .send_unbuffered()
        .await;
    match written {
        Ok(o) => Ok(Delivered {
            url,
            bytes: u64::try_from(o.size).unwrap_or(object.size),
        }),
        Err(e) => Err(classify(&e, &target.bucket, &url)),
    }
}

/// A real, harmless reachability check (credentials, bucket or endpoint), for `trigger --check-targets`:
/// reads the bucket's name through the JSON API (`storage.buckets.get`), writes nothing.
pub async fn check(target: &GcsTarget) -> Result<(), UploadError> {
    let endpoint = endpoint(target);
    let credentials = credentials(target)?;
    let headers = match credentials.headers(Default::default()).await {
        Ok(google_cloud_auth::credentials::CacheableResource::New { data, .. }) => data,
        Ok(google_cloud_auth::credentials::CacheableResource::NotModified) => Default::default(),
        Err(e) => {
            let message = format!("GCS credentials (Application Default Credentials): {e}");
            return Err(if e.is_transient() {
                UploadError::Transient(message)
            } else {
                UploadError::Permanent(message)
            });
        }
    };
    let url = format!(
        "{}/storage/v1/b/{}?fields=name",
        endpoint.trim_end_matches('/'),
        target.bucket
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| UploadError::Permanent(format!("HTTP client: {e}")))?;
    let response = client
        .get(&url)
        .headers(headers)
        .send()
        .await
        .map_err(|e| UploadError::Transient(format!("GCS endpoint {endpoint}: {e}")))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    Err(by_status(
        status,
        &target.bucket,
        &format!("gs://{}", target.bucket),
        &body,
    ))
}

/// The endpoint requests go to.
fn endpoint(target: &GcsTarget) -> &str {
    target.endpoint.as_deref().unwrap_or(DEFAULT_ENDPOINT)
}

/// Whether an endpoint is Google's (real credentials) rather than an emulator or gateway.
fn is_google_endpoint(endpoint: &str) -> bool {
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split(['/', ':'])
        .next()
        .unwrap_or_default();
    host == "googleapis.com" || host.ends_with(".googleapis.com")
}

fn credentials(
    target: &GcsTarget,
) -> Result<google_cloud_auth::credentials::Credentials, UploadError> {
    if target.endpoint.is_none() && std::env::var_os("STORAGE_EMULATOR_HOST").is_some() {
        tracing::warn!(
            bucket = %target.bucket,
            "STORAGE_EMULATOR_HOST is set but not honoured; set `endpoint:` in the job's gcs target to use an emulator"
        );
    }
    if is_google_endpoint(endpoint(target)) {
        google_cloud_auth::credentials::Builder::default()
            .build()
            .map_err(|e| {
                UploadError::Permanent(format!(
                    "no usable Google credentials (Application Default Credentials: set GOOGLE_APPLICATION_CREDENTIALS, run on GCP with a service account, or use workload identity): {e}"
                ))
            })
    } else {
        Ok(google_cloud_auth::credentials::anonymous::Builder::new().build())
    }
}

async fn client(target: &GcsTarget) -> Result<Storage, UploadError> {
    let mut builder = Storage::builder()
        .with_credentials(credentials(target)?)
        .with_retry_policy(
            RetryableErrors
                .with_time_limit(CLIENT_RETRY_TIME)
                .with_attempt_limit(CLIENT_ATTEMPTS),
        );
    if let Some(endpoint) = &target.endpoint {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
    }
    builder
        .build()
        .await
        .map_err(|e| UploadError::Permanent(format!("GCS client for {}: {e}", endpoint(target))))
}

fn bucket_resource(bucket: &str) -> String {
    format!("projects/_/buckets/{bucket}")
}

/// Sorts a client error into what the caller can do about it.
fn classify(e: &google_cloud_storage::Error, bucket: &str, url: &str) -> UploadError {
    if let Some(status) = e.http_status_code() {
        let body = e
            .http_payload()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_else(|| e.to_string());
        return by_status(status, bucket, url, &body);
    }
    if let Some(status) = e.status() {
        use google_cloud_gax::error::rpc::Code;
        let text = format!("{url}: {} ({})", status.message, status.code.name());
        return match status.code {
            Code::AlreadyExists | Code::FailedPrecondition => UploadError::AlreadyExists(format!(
                "{url} already exists; uploads are create-only, so it was left as it is"
            )),
            Code::NotFound => UploadError::Permanent(not_found(bucket, url)),
            Code::PermissionDenied | Code::Unauthenticated => {
                UploadError::Permanent(denied(bucket, &text))
            }
            Code::Unavailable
            | Code::Internal
            | Code::ResourceExhausted
            | Code::DeadlineExceeded
            | Code::Aborted => UploadError::Transient(text),
            _ => UploadError::Permanent(text),
        };
    }
    if e.is_authentication() {
        let transient = std::error::Error::source(e)
            .and_then(|s| s.downcast_ref::<google_cloud_gax::error::CredentialsError>())
            .is_some_and(google_cloud_gax::error::CredentialsError::is_transient);
        let text = format!("GCS credentials for {url}: {e}");
        return if transient {
            UploadError::Transient(text)
        } else {
            UploadError::Permanent(text)
        };
    }
    if e.is_connect() || e.is_io() || e.is_timeout() || e.is_transport() || e.is_exhausted() {
        return UploadError::Transient(format!("{url}: {}", crate::diagnostic::error_chain(e)));
    }
    UploadError::Permanent(format!("{url}: {}", crate::diagnostic::error_chain(e)))
}

/// Classifies an HTTP status of the JSON API.
fn by_status(status: u16, bucket: &str, url: &str, body: &str) -> UploadError {
    let detail = service_message(body);
    match status {
        412 => UploadError::AlreadyExists(format!(
            "{url} already exists; uploads are create-only, so it was left as it is"
        )),
        401 | 403 => UploadError::Permanent(denied(bucket, &format!("HTTP {status}: {detail}"))),
        404 => UploadError::Permanent(not_found(bucket, url)),
        408 | 429 | 500..=599 => UploadError::Transient(format!("{url}: HTTP {status}: {detail}")),
        _ => UploadError::Permanent(format!("{url}: HTTP {status}: {detail}")),
    }
}

fn not_found(bucket: &str, url: &str) -> String {
    format!(
        "GCS bucket `{bucket}` does not exist (or is not visible to these credentials); nothing was written to {url}. Create the bucket or fix `bucket:` in the job"
    )
}

fn denied(bucket: &str, detail: &str) -> String {
    format!(
        "access to GCS bucket `{bucket}` denied ({detail}); the credentials need storage.objects.create on it (e.g. roles/storage.objectCreator)"
    )
}

/// The service's own message out of a JSON API error body, else the body trimmed.
fn service_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .map(|m| super::scrub::body_excerpt(m.as_bytes()))
        .unwrap_or_else(|| super::scrub::body_excerpt(body.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_split_into_permanent_transient_and_existing() {
        let url = "gs://b/k";
        assert!(matches!(
            by_status(412, "b", url, ""),
            UploadError::AlreadyExists(_)
        ));
        for s in [401, 403, 404, 400] {
            assert!(
                matches!(by_status(s, "b", url, ""), UploadError::Permanent(_)),
                "{s}"
            );
        }
        for s in [408, 429, 500, 503] {
            assert!(by_status(s, "b", url, "").is_transient(), "{s}");
        }
        let missing = by_status(404, "acme", url, "").to_string();
        assert!(
            missing.contains("bucket `acme` does not exist"),
            "{missing}"
        );
        let denied = by_status(
            403,
            "acme",
            url,
            r#"{"error":{"code":403,"message":"sa@x does not have storage.objects.create"}}"#,
        )
        .to_string();
        assert!(
            denied.contains("does not have storage.objects.create"),
            "{denied}"
        );
    }

    #[test]
    fn only_google_hosts_get_real_credentials() {
        assert!(is_google_endpoint("https://storage.googleapis.com"));
        assert!(is_google_endpoint(
            "https://storage.us-east1.rep.googleapis.com/"
        ));
        assert!(!is_google_endpoint("http://127.0.0.1:4443"));
        assert!(!is_google_endpoint("https://googleapis.com.evil.example"));
    }
}
