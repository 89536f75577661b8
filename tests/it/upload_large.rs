//! Large bundles delivered with the agent's sinks to moto's S3 server and to fake-gcs-server: the
//! object arrives whole (read back and hashed), in parts (S3 multipart, GCS resumable), and the
//! uploading process stays small while it streams the file from disk. The default tier sends a
//! 35 MiB bundle of three parts; the soak tier (`./scripts/test --soak`) a 2¼ GiB one, past the
//! 2 GiB mark where 32-bit sizes and offsets break (the part arithmetic past it is also a unit
//! test in src/upload/s3.rs).
//!
//! The bundle is a sparse file with blocks of a non-repeating pattern at the start, astride part
//! boundaries (and 2^31) and at the end, so a misplaced, dropped or repeated part changes the
//! hash. The test reruns itself alone in a child process (`support::alone`): the S3 client reads the
//! AWS environment given to that child, and the peak RSS read there is this test's alone.

use crate::support;

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use support::gcs::Emulator;
use support::servers::{AWS_ENV, Moto};
use troubleshoot_agent::jobs::model::UploadTarget;
use troubleshoot_agent::upload::s3::PART_SIZE;
use troubleshoot_agent::upload::{self, Object};

const MIB: u64 = 1024 * 1024;
/// 2¼ GiB plus an odd tail, so the last part is short.
const SOAK_SIZE: u64 = 2304 * MIB + 4_321;
/// Two whole parts and a short third: above the S3 sink's single-PUT limit (16 MiB) and the GCS sink's
/// resumable threshold (8 MiB).
const SMALL_SIZE: u64 = 2 * PART_SIZE + 3 * MIB + 4_321;
/// What the uploading process may hold at its peak: the test harness, two clients and their
/// buffers. A sink that buffered the 2¼ GiB bundle would be far above this.
const PEAK_RSS_LIMIT_KIB: u64 = 150 * 1024;

/// The sparse bundle of `size` bytes described in the module comment, with patterned blocks at
/// `offsets`.
fn sparse_bundle(dir: &Path, size: u64, offsets: &[u64]) -> PathBuf {
    let path = dir.join("bundle.tar.gz");
    let mut file = File::create(&path).expect("create");
    file.set_len(size).expect("set_len");
    let mut block = vec![0u8; MIB as usize];
    for (n, &offset) in offsets.iter().enumerate() {
        let mut counter = n as u64 + 1;
        for word in block.chunks_mut(8) {
            counter = counter
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            word.copy_from_slice(&counter.to_le_bytes());
        }
        file.seek(SeekFrom::Start(offset)).expect("seek");
        file.write_all(&block).expect("write");
    }
    file.sync_all().expect("sync");
    assert_eq!(file.metadata().expect("metadata").len(), size);
    path
}

/// This process's peak resident set (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

fn assert_small(after: &str, started: std::time::Instant, size: u64) {
    let peak = peak_rss_kib();
    eprintln!(
        "{after}: {:.1} s, peak RSS so far {peak} KiB",
        started.elapsed().as_secs_f64()
    );
    assert!(
        peak < PEAK_RSS_LIMIT_KIB,
        "peak RSS {peak} KiB after {after}: the {size}-byte bundle was not streamed"
    );
}

#[test]
fn a_bundle_astride_part_boundaries_reaches_s3_and_gcs_whole_while_the_sender_stays_small() {
    let name =
        "a_bundle_astride_part_boundaries_reaches_s3_and_gcs_whole_while_the_sender_stays_small";
    if support::alone::rerun(module_path!(), name, AWS_ENV) {
        return;
    }
    let offsets = [
        0,
        PART_SIZE - MIB / 2,
        2 * PART_SIZE - MIB / 2,
        SMALL_SIZE - MIB,
    ];
    deliver_whole(SMALL_SIZE, &offsets);
}

#[test]
#[ignore = "soak tier: ./scripts/test --soak"]
fn a_multi_gigabyte_bundle_reaches_s3_and_gcs_whole_while_the_sender_stays_small() {
    let name = "a_multi_gigabyte_bundle_reaches_s3_and_gcs_whole_while_the_sender_stays_small";
    if support::alone::rerun(module_path!(), name, AWS_ENV) {
        return;
    }
    let offsets = [
        0,
        PART_SIZE - MIB / 2,
        1024 * MIB + 3,
        (1u64 << 31) - MIB / 2,
        SOAK_SIZE - MIB,
    ];
    deliver_whole(SOAK_SIZE, &offsets);
}

/// Sends a sparse bundle of `size` bytes (patterned at `offsets`) to moto and fake-gcs-server,
/// reads each object back and checks its parts and the sender's peak RSS.
fn deliver_whole(size: u64, offsets: &[u64]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = sparse_bundle(dir.path(), size, offsets);
    let (sha256, hashed) = troubleshoot_agent::digest::sha256_file(&path).expect("hash");
    assert_eq!(hashed, size);
    let object = Object {
        path: &path,
        key: "node-1/big/big-2030-01-01T02_00_00.tar.gz".into(),
        size,
        sha256: sha256.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // S3: multipart, every part in place.
    let started = std::time::Instant::now();
    let moto = Moto::start();
    moto.create_bucket("big");
    let target: UploadTarget = serde_json::from_value(serde_json::json!({"s3": {
        "bucket": "big", "region": "us-east-1", "endpoint": moto.endpoint(), "forcePathStyle": true
    }}))
    .expect("target");
    let delivered = runtime
        .block_on(upload::deliver(&target, &object))
        .unwrap_or_else(|e| panic!("S3 upload: {e}"));
    assert_eq!(delivered.url, format!("s3://big/{}", object.key));
    assert_eq!(delivered.bytes, size);
    assert_small("the S3 upload", started, size);
    let stored = moto.object("big", &object.key);
    assert_eq!(stored["size"], size, "{stored}");
    assert_eq!(stored["sha256"], sha256.as_str(), "content differs");
    assert_eq!(stored["metadata"]["sha256"], sha256.as_str(), "{stored}");
    let parts = size.div_ceil(PART_SIZE);
    let etag = stored["etag"].as_str().unwrap_or_default();
    assert!(
        etag.ends_with(&format!("-{parts}")),
        "expected a multipart object of {parts} parts, ETag {etag}"
    );
    assert_eq!(moto.open_multipart_uploads("big"), 0);
    drop(moto);

    // GCS: resumable, on the emulator's random (non-default) port.
    let started = std::time::Instant::now();
    runtime.block_on(async {
        let gcs = Emulator::start().await;
        gcs.create_bucket("big").await;
        let target = UploadTarget::Gcs(gcs.target("big"));
        let delivered = upload::deliver(&target, &object)
            .await
            .unwrap_or_else(|e| panic!("GCS upload: {e}; emulator log:\n{}", gcs.log()));
        assert_eq!(delivered.url, format!("gs://big/{}", object.key));
        assert_eq!(delivered.bytes, size);
        assert_small("the GCS upload", started, size);
        assert_eq!(
            gcs.download_sha256("big", &object.key).await,
            (sha256.clone(), size),
            "content differs"
        );
        let meta = gcs.metadata("big", &object.key).await;
        assert_eq!(meta["size"], size.to_string(), "{meta}");
        assert_eq!(meta["metadata"]["sha256"], sha256.as_str(), "{meta}");
        assert!(
            gcs.log().contains("uploadType=resumable"),
            "the upload did not use the resumable protocol"
        );
    });
}
