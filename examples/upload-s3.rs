//! `upload-s3`: exists only for `bench/upload_s3.sh`. Uploads one file with the agent's S3 sink
//! (`upload::s3::upload`, the code path of the upload phase) to an S3-compatible endpoint.
//!
//! Usage: upload-s3 FILE BUCKET KEY ENDPOINT SHA256
//! (the bundle's sha256 is computed when it is archived, so it is an input here, as in a run)

use std::path::Path;
use std::process::ExitCode;
use troubleshoot_agent::jobs::model::UploadTarget;
use troubleshoot_agent::upload::{self, Object, UploadError};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, bucket, key, endpoint, sha256] = args.as_slice() else {
        eprintln!("usage: upload-s3 FILE BUCKET KEY ENDPOINT SHA256");
        return ExitCode::from(2);
    };
    let target: UploadTarget = match serde_json::from_value(serde_json::json!({
        "s3": {"bucket": bucket, "endpoint": endpoint, "forcePathStyle": true, "region": "us-east-1"}
    })) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("bad target: {e}");
            return ExitCode::from(2);
        }
    };
    let size = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("{file}: {e}");
            return ExitCode::from(1);
        }
    };
    let object = Object {
        path: Path::new(file),
        key: key.clone(),
        size,
        sha256: sha256.clone(),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(upload::deliver(&target, &object)) {
        Ok(d) => {
            eprintln!("{} ({} bytes)", d.url, d.bytes);
            ExitCode::SUCCESS
        }
        // As in a run: the same bundle already under its key was delivered by an earlier attempt.
        Err(UploadError::AlreadyExists(m)) => {
            eprintln!("{m}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("upload failed: {e}");
            ExitCode::from(1)
        }
    }
}
