//! The GCS sink: the JSON API's resumable upload over reqwest, with google-cloud-auth for tokens.
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
//! - The metadata (the sha256, and the crc32c computed here from the file, so the service
//!   rejects a corrupted upload) travels first. An object of up to [`CHUNK`] bytes goes in one
//!   multipart request; a larger one through a resumable upload session (`uploadType=resumable`),
//!   in [`CHUNK`]-byte `PUT`s read from disk one at a time (never held whole). After a failed chunk the session's status
//!   is asked (`Content-Range: bytes */SIZE`) and the upload resumes from the offset the service
//!   persisted, up to [`CLIENT_ATTEMPTS`] times in a row; longer outages are the caller's
//!   backoff's business (its next attempt starts a new session).
//! - The session URL is itself the authorisation (Google's documentation): the token goes only
//!   to the endpoint, never to the URL the service answered with.

use super::target::GcsTarget;
use super::{Delivered, Object, UploadError};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, CONTENT_TYPE, HeaderMap, LOCATION, RANGE};
use std::time::Duration;

/// The public JSON API endpoint.
const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// Metadata key holding the bundle's hex sha256.
pub const SHA256_METADATA: &str = "sha256";

/// Failed steps in a row (a chunk, or the status query after one) within one [`upload`] call
/// before it gives up with a transient error.
const CLIENT_ATTEMPTS: u32 = 3;

/// Bytes per chunk `PUT`: a multiple of 256 KiB, as the protocol requires of every chunk but
/// the last; one chunk is in memory at a time.
pub const CHUNK: u64 = 8 * 1024 * 1024;

/// How long a request may go without a byte from the service.
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// "Resume Incomplete": the service kept part of the object and wants the rest.
const RESUME_INCOMPLETE: u16 = 308;

/// Delivers one object to the target.
pub async fn upload(target: &GcsTarget, object: &Object<'_>) -> Result<Delivered, UploadError> {
    let url = format!("gs://{}/{}", target.bucket, object.key);
    let credentials = credentials(target)?;
    let http = http_client()?;
    let crc = super::crc32c_of(object.path, 0, object.size).await?;
    if object.size <= CHUNK {
        let bytes = upload_whole(&http, &credentials, target, object, crc, &url).await?;
        return Ok(Delivered { url, bytes });
    }
    let at = start_session(&http, &credentials, target, object, crc, &url).await?;
    let session = Session {
        http: &http,
        at,
        object,
        bucket: &target.bucket,
        url: &url,
    };
    let bytes = session.send().await?;
    Ok(Delivered { url, bytes })
}

/// The HTTP client of the sink: no redirects (a 308 is the protocol's "resume incomplete").
fn http_client() -> Result<reqwest::Client, UploadError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(READ_TIMEOUT)
        .build()
        .map_err(|e| UploadError::Permanent(format!("HTTP client: {e}")))
}

/// The object's metadata as the JSON API takes it.
fn metadata(object: &Object<'_>, crc: u32) -> serde_json::Value {
    serde_json::json!({
        "name": object.key,
        "contentType": "application/gzip",
        "crc32c": aws_smithy_types::base64::encode(crc.to_be_bytes()),
        "metadata": { SHA256_METADATA: object.sha256 },
    })
}

/// `{endpoint}/upload/storage/v1/b/{bucket}/o?uploadType=…&ifGenerationMatch=0&name=…`.
fn upload_url(
    target: &GcsTarget,
    object: &Object<'_>,
    upload_type: &str,
) -> Result<reqwest::Url, UploadError> {
    let endpoint = endpoint(target).trim_end_matches('/');
    let mut url = reqwest::Url::parse(&format!("{endpoint}/upload/storage/v1/b/"))
        .map_err(|e| UploadError::Permanent(format!("GCS endpoint `{endpoint}`: {e}")))?;
    url.path_segments_mut()
        .map_err(|()| UploadError::Permanent(format!("GCS endpoint `{endpoint}` is not a URL")))?
        .pop_if_empty()
        .extend([target.bucket.as_str(), "o"]);
    url.query_pairs_mut()
        .append_pair("uploadType", upload_type)
        .append_pair("ifGenerationMatch", "0")
        .append_pair("name", &object.key);
    Ok(url)
}

/// Sends an object of at most [`CHUNK`] bytes in one multipart request (metadata and data).
/// Resumable sessions are for larger ones: an emulator (fake-gcs-server) ignores
/// `ifGenerationMatch` on them, so create-only stays testable on the path most bundles take.
async fn upload_whole(
    http: &reqwest::Client,
    credentials: &google_cloud_auth::credentials::Credentials,
    target: &GcsTarget,
    object: &Object<'_>,
    crc: u32,
    url: &str,
) -> Result<u64, UploadError> {
    let data = read_chunk(object, 0, object.size).await?;
    // The data cannot hold a boundary made of its own sha256.
    let boundary = format!("tsa-{}", object.sha256);
    let mut body = format!(
        "--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{}\r\n--{boundary}\r\nContent-Type: application/gzip\r\n\r\n",
        metadata(object, crc)
    )
    .into_bytes();
    body.extend_from_slice(&data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = http
        .post(upload_url(target, object, "multipart")?)
        .headers(auth_headers(credentials).await?)
        .header(
            CONTENT_TYPE,
            format!("multipart/related; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .map_err(|e| network(url, &e))?;
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(by_status(status, &target.bucket, url, &body));
    }
    Ok(reported_size(&body).unwrap_or(object.size))
}

/// The `size` of an object resource (a decimal string in the JSON API).
fn reported_size(body: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|o| o["size"].as_str().and_then(|s| s.parse().ok()))
}

/// Starts a resumable session for `object` and returns its URL.
async fn start_session(
    http: &reqwest::Client,
    credentials: &google_cloud_auth::credentials::Credentials,
    target: &GcsTarget,
    object: &Object<'_>,
    crc: u32,
    url: &str,
) -> Result<reqwest::Url, UploadError> {
    let endpoint = endpoint(target).trim_end_matches('/');
    let response = http
        .post(upload_url(target, object, "resumable")?)
        .headers(auth_headers(credentials).await?)
        .header("X-Upload-Content-Type", "application/gzip")
        .header("X-Upload-Content-Length", object.size)
        .header(CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(metadata(object, crc).to_string())
        .send()
        .await
        .map_err(|e| network(url, &e))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        let body = response.text().await.unwrap_or_default();
        return Err(by_status(status, &target.bucket, url, &body));
    }
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| {
            UploadError::Transient(format!(
                "{url}: the service started no upload session (HTTP {status} without a Location)"
            ))
        })?;
    session_url(endpoint, location, url)
}

/// The session URL the service answered with, refused when it would take the bundle off TLS.
fn session_url(endpoint: &str, location: &str, url: &str) -> Result<reqwest::Url, UploadError> {
    let session = reqwest::Url::parse(location).map_err(|e| {
        UploadError::Permanent(format!("{url}: the upload session URL is not a URL ({e})"))
    })?;
    let tls = endpoint.starts_with("https://");
    match session.scheme() {
        "https" => Ok(session),
        "http" if !tls => Ok(session),
        other => Err(UploadError::Permanent(format!(
            "{url}: the service answered with an upload session on `{other}://`, which the endpoint {endpoint} does not use; nothing was sent"
        ))),
    }
}

/// What the session holds after a step.
enum Step {
    /// The object is complete: its size as the service reports it.
    Done(u64),
    /// The service persisted the first this-many bytes and wants the rest.
    Persisted(u64),
}

/// One resumable upload session and what it uploads.
struct Session<'a> {
    http: &'a reqwest::Client,
    /// The session URL.
    at: reqwest::Url,
    object: &'a Object<'a>,
    bucket: &'a str,
    /// `gs://bucket/key`, for messages.
    url: &'a str,
}

impl Session<'_> {
    /// Sends the file from offset 0, resuming after failed chunks; returns the object's size.
    async fn send(&self) -> Result<u64, UploadError> {
        let size = self.object.size;
        let mut offset = 0u64;
        let mut failures = 0u32;
        let mut resync = false;
        loop {
            let step = if resync {
                self.query().await
            } else {
                self.put_chunk(offset).await
            };
            match step {
                Ok(Step::Done(size)) => return Ok(size),
                Ok(Step::Persisted(kept)) if kept > size => {
                    return Err(UploadError::Permanent(format!(
                        "{}: the service says it holds {kept} bytes of a {size}-byte bundle",
                        self.url
                    )));
                }
                // Progress, or (after a failure) where the service stands, even behind us.
                Ok(Step::Persisted(kept)) if kept > offset || resync => {
                    if kept > offset {
                        failures = 0;
                    }
                    offset = kept;
                    resync = false;
                }
                Ok(Step::Persisted(kept)) => {
                    failures += 1;
                    if failures >= CLIENT_ATTEMPTS {
                        return Err(UploadError::Transient(format!(
                            "{}: the service kept {kept} of {size} bytes and took no more",
                            self.url
                        )));
                    }
                    resync = true;
                }
                Err(e) if e.is_transient() && failures + 1 < CLIENT_ATTEMPTS => {
                    failures += 1;
                    tracing::debug!(url = self.url, offset, error = %e, "GCS chunk failed; asking the session where it stands");
                    tokio::time::sleep(Duration::from_millis(500) * 2u32.pow(failures)).await;
                    resync = true;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `PUT`s the chunk that starts at `offset` (the final, empty one of an empty file).
    async fn put_chunk(&self, offset: u64) -> Result<Step, UploadError> {
        let size = self.object.size;
        let len = CHUNK.min(size - offset);
        let bytes = read_chunk(self.object, offset, len).await?;
        let range = if len == 0 {
            format!("bytes */{size}")
        } else {
            format!("bytes {offset}-{}/{size}", offset + len - 1)
        };
        self.put(range, bytes).await
    }

    /// Asks the session how much it holds.
    async fn query(&self) -> Result<Step, UploadError> {
        self.put(format!("bytes */{}", self.object.size), Vec::new())
            .await
    }

    /// One `PUT` to the session, and what the service answered.
    async fn put(&self, range: String, body: Vec<u8>) -> Result<Step, UploadError> {
        let response = self
            .http
            .put(self.at.clone())
            .header(CONTENT_RANGE, range)
            .body(body)
            .send()
            .await
            .map_err(|e| network(self.url, &e))?;
        let status = response.status();
        if status.as_u16() == RESUME_INCOMPLETE {
            // `Range: bytes=0-N` names the last byte kept; without one nothing is kept yet.
            let kept = response
                .headers()
                .get(RANGE)
                .and_then(|r| r.to_str().ok())
                .and_then(|r| r.strip_prefix("bytes=0-"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .map_or(0, |last| last + 1);
            return Ok(Step::Persisted(kept));
        }
        let code = status.as_u16();
        let body = response.text().await.unwrap_or_default();
        match status {
            StatusCode::OK | StatusCode::CREATED => {
                Ok(Step::Done(reported_size(&body).unwrap_or(self.object.size)))
            }
            // The session is gone (expired, or cancelled): the next attempt starts a new one.
            StatusCode::NOT_FOUND | StatusCode::GONE => Err(UploadError::Transient(format!(
                "{}: the upload session ended (HTTP {code}: {}); the next attempt starts a new one",
                self.url,
                service_message(&body)
            ))),
            _ => Err(by_status(code, self.bucket, self.url, &body)),
        }
    }
}

/// `len` bytes of the file from `offset`, read off the async threads.
async fn read_chunk(object: &Object<'_>, offset: u64, len: u64) -> Result<Vec<u8>, UploadError> {
    let path = object.path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        use std::io::{Read, Seek, SeekFrom};
        let mut file = std::fs::File::open(&path)?;
        file.seek(SeekFrom::Start(offset))?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        file.take(len).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "expected {len} bytes from offset {offset}, the file had {}",
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    })
    .await;
    match read {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(UploadError::Permanent(format!(
            "cannot read the bundle {}: {e}",
            object.path.display()
        ))),
        Err(e) => Err(UploadError::Transient(format!(
            "chunk read task failed: {e}"
        ))),
    }
}

/// A request that got no answer: worth another attempt.
fn network(url: &str, e: &reqwest::Error) -> UploadError {
    UploadError::Transient(format!("{url}: {}", crate::diagnostic::error_chain(e)))
}

/// The credentials' request headers (none for anonymous ones).
async fn auth_headers(
    credentials: &google_cloud_auth::credentials::Credentials,
) -> Result<HeaderMap, UploadError> {
    match credentials.headers(Default::default()).await {
        Ok(google_cloud_auth::credentials::CacheableResource::New { data, .. }) => Ok(data),
        Ok(google_cloud_auth::credentials::CacheableResource::NotModified) => Ok(HeaderMap::new()),
        Err(e) => {
            let message = format!("GCS credentials (Application Default Credentials): {e}");
            Err(if e.is_transient() {
                UploadError::Transient(message)
            } else {
                UploadError::Permanent(message)
            })
        }
    }
}

/// A real, harmless reachability check (credentials, bucket or endpoint), for `trigger --check-targets`:
/// reads the bucket's name through the JSON API (`storage.buckets.get`), writes nothing.
pub async fn check(target: &GcsTarget) -> Result<(), UploadError> {
    let endpoint = endpoint(target);
    let headers = auth_headers(&credentials(target)?).await?;
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
    fn a_session_url_never_takes_the_bundle_off_tls() {
        let https = "https://storage.googleapis.com";
        assert!(
            session_url(
                https,
                "https://storage.googleapis.com/upload?upload_id=x",
                "u"
            )
            .is_ok()
        );
        let err = session_url(
            https,
            "http://storage.googleapis.com/upload?upload_id=x",
            "gs://b/k",
        )
        .expect_err("downgrade");
        assert!(matches!(err, UploadError::Permanent(_)), "{err}");
        assert!(err.to_string().contains("nothing was sent"), "{err}");
        assert!(session_url("http://127.0.0.1:4443", "http://127.0.0.1:4443/s", "u").is_ok());
        assert!(session_url("http://127.0.0.1:4443", "file:///etc/passwd", "u").is_err());
        assert!(session_url("http://127.0.0.1:4443", "not a url", "u").is_err());
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
