//! The S3 sink (aws-sdk-s3): the default credential chain, S3-compatible endpoints, create-only
//! writes, and multipart uploads streamed from disk for large bundles.
//!
//! Create-only: an existing object under the key is looked at first (same sha256 metadata: an
//! earlier attempt landed, [`UploadError::AlreadyExists`]; different: refused), and the write
//! itself carries `If-None-Match: *`, so a store that honours it refuses a racing duplicate too.

use super::target::S3Target;
use super::{Delivered, Object, UploadError};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{BehaviorVersion, Region};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ServerSideEncryption, StorageClass,
};
use std::path::PathBuf;
use std::time::Duration;
use tokio::task::JoinSet;

/// Bundles up to this size go in one PUT; larger ones in parts of at least this size.
pub const PART_SIZE: u64 = 16 * 1024 * 1024;
/// Parts in flight at once; each streams from the file, so memory does not grow with this much.
const CONCURRENT_PARTS: usize = 8;
/// S3's limit on parts per upload.
const MAX_PARTS: u64 = 10_000;
/// Read size when streaming a part from disk.
const READ_BUFFER: usize = 256 * 1024;
/// The metadata key (`x-amz-meta-sha256`) holding the bundle's hex sha256.
pub const SHA256_METADATA: &str = "sha256";

/// Delivers one object to the target.
pub async fn upload(target: &S3Target, object: &Object<'_>) -> Result<Delivered, UploadError> {
    let client = client(target).await?;
    let url = format!("s3://{}/{}", target.bucket, object.key);
    existing(&client, target, object, &url).await?;
    if object.size <= PART_SIZE {
        put_single(&client, target, object, &url).await?;
    } else {
        put_multipart(&client, target, object, &url).await?;
    }
    Ok(Delivered {
        url,
        bytes: object.size,
    })
}

/// A real, harmless reachability check: `HeadBucket` (credentials, bucket, endpoint).
pub async fn check(target: &S3Target) -> Result<(), UploadError> {
    let client = client(target).await?;
    client
        .head_bucket()
        .bucket(&target.bucket)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            // HEAD answers have no body: 404 here can only mean the bucket.
            if e.raw_response().map(|r| r.status().as_u16()) == Some(404) {
                UploadError::Permanent(format!(
                    "bucket `{}` does not exist (HTTP 404); create it or fix `bucket`",
                    target.bucket
                ))
            } else {
                classify(&e, &format!("s3://{}", target.bucket))
            }
        })
}

async fn client(target: &S3Target) -> Result<Client, UploadError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &target.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let shared = loader.load().await;
    let mut conf = aws_sdk_s3::config::Builder::from(&shared)
        .force_path_style(target.force_path_style)
        .timeout_config(
            aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .build(),
        )
        // Our own backoff retries whole uploads; the SDK's retries cover single requests (a part).
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::standard().with_max_attempts(3));
    if let Some(endpoint) = &target.endpoint {
        conf = conf.endpoint_url(endpoint);
        if shared.region().is_none() {
            // S3-compatible stores rarely care; SigV4 needs some region.
            conf = conf.region(Region::new("us-east-1"));
        }
    } else if shared.region().is_none() {
        return Err(UploadError::Permanent(
            "no AWS region: set `region` on the target or AWS_REGION in the agent's environment"
                .into(),
        ));
    }
    Ok(Client::from_conf(conf.build()))
}

/// An object already under the key: the same bundle (an earlier attempt landed) or another one.
/// A failed look (a writer allowed `PutObject` only gets 403 here) is no answer: the
/// create-only write decides.
async fn existing(
    client: &Client,
    target: &S3Target,
    object: &Object<'_>,
    url: &str,
) -> Result<(), UploadError> {
    let Ok(head) = client
        .head_object()
        .bucket(&target.bucket)
        .key(&object.key)
        .send()
        .await
    else {
        return Ok(());
    };
    same_or_refuse(
        head.metadata().and_then(|m| m.get(SHA256_METADATA)),
        object,
        url,
    )
}

fn same_or_refuse(
    found: Option<&String>,
    object: &Object<'_>,
    url: &str,
) -> Result<(), UploadError> {
    match found {
        Some(sha) if *sha == object.sha256 => Err(UploadError::AlreadyExists(format!(
            "{url} already holds this bundle (sha256 {sha}): an earlier attempt delivered it"
        ))),
        Some(sha) => Err(UploadError::Permanent(format!(
            "{url} already holds a different object (sha256 {sha}, this bundle {}); uploads never overwrite, so it is kept",
            object.sha256
        ))),
        None => Err(UploadError::Permanent(format!(
            "{url} already exists without a sha256 (not written by this agent); uploads never overwrite, so it is kept"
        ))),
    }
}

/// After a refused create-only write: tells which kind of existing object refused it.
async fn after_precondition(
    client: &Client,
    target: &S3Target,
    object: &Object<'_>,
    url: &str,
) -> UploadError {
    match client
        .head_object()
        .bucket(&target.bucket)
        .key(&object.key)
        .send()
        .await
    {
        Ok(head) => same_or_refuse(
            head.metadata().and_then(|m| m.get(SHA256_METADATA)),
            object,
            url,
        )
        .err()
        .unwrap_or_else(|| UploadError::AlreadyExists(format!("{url} already exists"))),
        // Cannot read it back (PutObject-only permissions): the key is taken, and only an
        // earlier attempt of this run writes this key.
        Err(_) => UploadError::AlreadyExists(format!(
            "{url} already exists (create-only write refused; not readable to compare sha256)"
        )),
    }
}

fn tagging(target: &S3Target) -> Option<String> {
    if target.tags.is_empty() {
        return None;
    }
    Some(
        target
            .tags
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// `application/x-www-form-urlencoded` escaping for tag keys and values.
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn sse(target: &S3Target) -> Option<ServerSideEncryption> {
    target
        .server_side_encryption
        .as_deref()
        .map(ServerSideEncryption::from)
}

fn storage_class(target: &S3Target) -> Option<StorageClass> {
    target.storage_class.as_deref().map(StorageClass::from)
}

fn sha256_base64(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    bytes.map(aws_smithy_types::base64::encode)
}

async fn read_body(path: PathBuf, offset: u64, len: u64) -> Result<ByteStream, UploadError> {
    ByteStream::read_from()
        .path(&path)
        .offset(offset)
        .length(Length::Exact(len))
        .buffer_size(READ_BUFFER)
        .build()
        .await
        .map_err(|e| UploadError::Permanent(format!("cannot read {}: {e}", path.display())))
}

async fn put_single(
    client: &Client,
    target: &S3Target,
    object: &Object<'_>,
    url: &str,
) -> Result<(), UploadError> {
    let body = read_body(object.path.to_path_buf(), 0, object.size).await?;
    let result = client
        .put_object()
        .bucket(&target.bucket)
        .key(&object.key)
        .body(body)
        .content_length(i64::try_from(object.size).unwrap_or(i64::MAX))
        .content_type("application/gzip")
        .if_none_match("*")
        .metadata(SHA256_METADATA, &object.sha256)
        .set_checksum_sha256(sha256_base64(&object.sha256))
        .set_server_side_encryption(sse(target))
        .set_ssekms_key_id(target.kms_key_id.clone())
        .set_storage_class(storage_class(target))
        .set_tagging(tagging(target))
        .send()
        .await;
    match result {
        Ok(_) => Ok(()),
        Err(e) if is_precondition_failed(&e) => {
            Err(after_precondition(client, target, object, url).await)
        }
        Err(e) => Err(classify(&e, url)),
    }
}

async fn put_multipart(
    client: &Client,
    target: &S3Target,
    object: &Object<'_>,
    url: &str,
) -> Result<(), UploadError> {
    abort_stale(client, target, object, url).await;
    let created = client
        .create_multipart_upload()
        .bucket(&target.bucket)
        .key(&object.key)
        .content_type("application/gzip")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .metadata(SHA256_METADATA, &object.sha256)
        .set_server_side_encryption(sse(target))
        .set_ssekms_key_id(target.kms_key_id.clone())
        .set_storage_class(storage_class(target))
        .set_tagging(tagging(target))
        .send()
        .await
        .map_err(|e| classify(&e, url))?;
    let Some(upload_id) = created.upload_id().map(str::to_string) else {
        return Err(UploadError::Transient(format!(
            "{url}: the store started a multipart upload without an upload id"
        )));
    };
    let result = send_parts(client, target, object, &upload_id, url).await;
    let result = match result {
        Ok(parts) => client
            .complete_multipart_upload()
            .bucket(&target.bucket)
            .key(&object.key)
            .upload_id(&upload_id)
            .if_none_match("*")
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| (is_precondition_failed(&e), classify(&e, url))),
        Err(e) => Err((false, e)),
    };
    match result {
        Ok(()) => Ok(()),
        Err((precondition, e)) => {
            // Parts of an unfinished upload are billed until aborted: never leave them behind.
            if let Err(abort) = client
                .abort_multipart_upload()
                .bucket(&target.bucket)
                .key(&object.key)
                .upload_id(&upload_id)
                .send()
                .await
            {
                tracing::warn!(%url, "cannot abort the failed multipart upload {upload_id}: {}", describe(&abort));
            }
            if precondition {
                Err(after_precondition(client, target, object, url).await)
            } else {
                Err(e)
            }
        }
    }
}

/// Aborts unfinished multipart uploads of this key: only an earlier attempt of this same upload
/// writes it (the key is per run), one cut off by a crash or kill before it could abort.
async fn abort_stale(client: &Client, target: &S3Target, object: &Object<'_>, url: &str) {
    let Ok(listed) = client
        .list_multipart_uploads()
        .bucket(&target.bucket)
        .prefix(&object.key)
        .send()
        .await
    else {
        return;
    };
    for upload in listed.uploads() {
        if upload.key() != Some(object.key.as_str()) {
            continue;
        }
        if let Some(id) = upload.upload_id() {
            match client
                .abort_multipart_upload()
                .bucket(&target.bucket)
                .key(&object.key)
                .upload_id(id)
                .send()
                .await
            {
                Ok(_) => {
                    tracing::info!(%url, "aborted the unfinished multipart upload {id} of an earlier attempt")
                }
                Err(e) => {
                    tracing::warn!(%url, "cannot abort the stale multipart upload {id}: {}", describe(&e))
                }
            }
        }
    }
}

/// One part of a multipart upload: its number (from 1, as S3 counts) and its byte range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Part {
    number: i32,
    offset: u64,
    len: u64,
}

/// How an object of `size` bytes is cut into parts: `PART_SIZE` each, larger when that would make
/// more than S3's 10,000, the last one short. Offsets and lengths stay `u64` all the way to the
/// request: bundles pass 2 and 4 GiB, where 32-bit arithmetic breaks.
fn parts(size: u64) -> Vec<Part> {
    let part_size = PART_SIZE.max(size.div_ceil(MAX_PARTS));
    (0..size.div_ceil(part_size))
        .map(|n| {
            let offset = n * part_size;
            Part {
                // At most MAX_PARTS: fits.
                number: i32::try_from(n + 1).unwrap_or(i32::MAX),
                offset,
                len: part_size.min(size - offset),
            }
        })
        .collect()
}

/// Uploads every part, `CONCURRENT_PARTS` at a time; the first failure stops the rest.
async fn send_parts(
    client: &Client,
    target: &S3Target,
    object: &Object<'_>,
    upload_id: &str,
    url: &str,
) -> Result<Vec<CompletedPart>, UploadError> {
    let layout = parts(object.size);
    let mut parts: Vec<Option<CompletedPart>> = vec![None; layout.len()];
    let mut pending = layout.into_iter();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < CONCURRENT_PARTS
            && let Some(Part {
                number,
                offset,
                len,
            }) = pending.next()
        {
            let client = client.clone();
            let bucket = target.bucket.clone();
            let key = object.key.clone();
            let upload_id = upload_id.to_string();
            let path = object.path.to_path_buf();
            let url = url.to_string();
            tasks.spawn(async move {
                let crc = super::crc32c_of(&path, offset, len).await?;
                let body = read_body(path, offset, len).await?;
                let done = client
                    .upload_part()
                    .bucket(bucket)
                    .key(key)
                    .upload_id(upload_id)
                    .part_number(number)
                    .content_length(i64::try_from(len).unwrap_or(i64::MAX))
                    .checksum_crc32_c(aws_smithy_types::base64::encode(crc.to_be_bytes()))
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| classify(&e, &format!("{url} (part {number})")))?;
                Ok::<_, UploadError>(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(done.e_tag().map(str::to_string))
                        .set_checksum_crc32_c(done.checksum_crc32_c().map(str::to_string))
                        .build(),
                )
            });
        }
        let Some(joined) = tasks.join_next().await else {
            break;
        };
        let part = match joined {
            Ok(Ok(part)) => part,
            Ok(Err(e)) => return Err(e),
            Err(e) => {
                return Err(UploadError::Transient(format!(
                    "{url}: part task failed: {e}"
                )));
            }
        };
        let index = usize::try_from(part.part_number().unwrap_or(1) - 1).unwrap_or(0);
        if let Some(slot) = parts.get_mut(index) {
            *slot = Some(part);
        }
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            p.ok_or_else(|| UploadError::Transient(format!("{url}: part {} is missing", i + 1)))
        })
        .collect()
}

type Response = aws_sdk_s3::config::http::HttpResponse;

fn http_status<E>(e: &SdkError<E, Response>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

fn is_precondition_failed<E: ProvideErrorMetadata>(e: &SdkError<E, Response>) -> bool {
    http_status(e) == Some(412) || e.code() == Some("PreconditionFailed")
}

/// Permanent: refused for a reason another attempt cannot change (403, no such bucket, bad
/// request, bad credentials). Transient: the store was unreachable, slow, or overloaded.
fn classify<E>(e: &SdkError<E, Response>, url: &str) -> UploadError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = describe(e);
    match e {
        SdkError::ServiceError(_) => {
            let status = http_status(e).unwrap_or(0);
            let code = e.code().unwrap_or("");
            match (status, code) {
                (_, "NoSuchBucket") => UploadError::Permanent(format!(
                    "{url}: the bucket does not exist (NoSuchBucket); create it or fix `bucket`"
                )),
                (
                    _,
                    "InvalidAccessKeyId"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "InvalidToken",
                ) => UploadError::Permanent(format!(
                    "{url}: the credentials were refused ({code}); check the AWS credentials the agent runs with"
                )),
                (403, _) => UploadError::Permanent(format!(
                    "{url}: access denied (HTTP 403{}); the agent's AWS identity needs s3:PutObject on this bucket",
                    if code.is_empty() {
                        String::new()
                    } else {
                        format!(", {code}")
                    }
                )),
                (
                    _,
                    "SlowDown"
                    | "RequestTimeout"
                    | "RequestTimeTooSkewed"
                    | "InternalError"
                    | "ServiceUnavailable"
                    | "Throttling"
                    | "ThrottlingException",
                ) => UploadError::Transient(format!("{url}: {text}")),
                (408 | 409 | 429, _) | (500..=599, _) => {
                    UploadError::Transient(format!("{url}: {text}"))
                }
                _ => UploadError::Permanent(format!("{url}: {text}")),
            }
        }
        SdkError::ConstructionFailure(_) => UploadError::Permanent(format!("{url}: {text}")),
        _ if text.contains("credentials") || text.contains("Credentials") => {
            UploadError::Permanent(format!(
                "{url}: no usable AWS credentials: {text}; set them in the agent's environment, a profile, or its role"
            ))
        }
        // Dispatch failures (connect, TLS, reset), timeouts, unreadable responses.
        _ => UploadError::Transient(format!("{url}: {text}")),
    }
}

/// The error and its causes on one line (the SDK's own Display is only the outer layer).
fn describe<E>(e: &SdkError<E, Response>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = match (e.code(), e.message()) {
        // The message comes from the store's error body: cut like every other body.
        (Some(c), Some(m)) => format!("{c}: {}", super::scrub::body_excerpt(m.as_bytes())),
        (Some(c), None) => c.to_string(),
        _ => e.to_string(),
    };
    crate::diagnostic::with_causes(text, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_form_encoded() {
        let mut t = S3Target {
            bucket: "b".into(),
            prefix: None,
            key: None,
            region: None,
            endpoint: None,
            force_path_style: false,
            server_side_encryption: None,
            kms_key_id: None,
            storage_class: None,
            tags: Default::default(),
        };
        assert_eq!(tagging(&t), None);
        t.tags.insert("team".into(), "sre ops".into());
        t.tags.insert("a&b".into(), "x=y".into());
        assert_eq!(tagging(&t).unwrap(), "a%26b=x%3Dy&team=sre%20ops");
    }

    #[test]
    fn sha256_hex_to_base64() {
        assert_eq!(
            sha256_base64("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
                .unwrap(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(sha256_base64("zz"), None);
    }

    /// The parts tile the object: in order, numbered from 1, no gap, no overlap, nothing past
    /// the end; every part but the last is `size` bytes.
    fn assert_tiles(parts: &[Part], object: u64, size: u64) {
        let mut next = 0u64;
        for (i, p) in parts.iter().enumerate() {
            assert_eq!(i64::from(p.number), i as i64 + 1);
            assert_eq!(p.offset, next, "part {}", p.number);
            assert!(
                p.len > 0 && p.len <= size,
                "part {}: {} bytes",
                p.number,
                p.len
            );
            if i + 1 < parts.len() {
                assert_eq!(p.len, size, "part {}", p.number);
            }
            next += p.len;
        }
        assert_eq!(next, object);
    }

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn parts_of_the_soak_tier_bundle_cross_2_gib_in_64_bits() {
        // tests/it/upload_large.rs's 2¼ GiB bundle: 145 parts, the last one short.
        let size = 2304 * MIB + 4_321;
        let parts = parts(size);
        assert_eq!(parts.len(), 145);
        assert_tiles(&parts, size, PART_SIZE);
        assert_eq!(parts[144].len, 4_321);
        assert_eq!(parts[144].offset, 144 * PART_SIZE);
        // Part 129 starts at 2^31, one past i32::MAX: its offset stays whole.
        assert_eq!(parts[128].number, 129);
        assert_eq!(parts[128].offset, 1 << 31);
        // Past 4 GiB too.
        let size = 5 * 1024 * MIB + 1;
        let parts = super::parts(size);
        assert_eq!(parts.len(), 321);
        assert_tiles(&parts, size, PART_SIZE);
        assert_eq!(parts[320].offset, 5 * 1024 * MIB);
        assert!(parts[320].offset > u64::from(u32::MAX));
    }

    #[test]
    fn parts_grow_to_stay_within_10000() {
        // S3's largest object, 5 TiB: 10,000 parts of 5 TiB / 10,000 (rounded up).
        let size = 5 * 1024 * 1024 * MIB;
        let parts = parts(size);
        assert_eq!(parts.len(), 10_000);
        assert_tiles(&parts, size, size.div_ceil(MAX_PARTS));
        assert_eq!(parts[9_999].number, 10_000);
        // The part size only grows: 10,000 parts of exactly PART_SIZE stay as they are.
        assert_eq!(super::parts(MAX_PARTS * PART_SIZE).len(), 10_000);
        assert_eq!(super::parts(MAX_PARTS * PART_SIZE + 1).len(), 10_000);
    }

    #[test]
    fn parts_at_the_edges() {
        assert_eq!(parts(0), []);
        assert_eq!(
            parts(1),
            [Part {
                number: 1,
                offset: 0,
                len: 1
            }]
        );
        assert_eq!(parts(PART_SIZE).len(), 1);
        let two = parts(PART_SIZE + 1);
        assert_tiles(&two, PART_SIZE + 1, PART_SIZE);
        assert_eq!(two[1].len, 1);
    }
}
