//! S3 delivery against a real moto server (`moto[server]` from tests/requirements.txt), through
//! the real CLI and agent: small and multipart bundles, create-only keys, missing bucket and
//! refused credentials failing fast, a server down for three runs, and the agent killed in the
//! middle of an upload.

use crate::support;

use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use support::daemon::{Daemon, wait_until};
use support::servers::{AWS_ENV, Moto, Proxy, file_sha256};
use support::{agent, dirs, stderr, stdout};
use troubleshoot_agent::jobs::model::UploadTarget;
use troubleshoot_agent::upload::{self, Object, UploadError};

fn job_yaml(name: &str, collectors: &str, s3: &str, extra: &str) -> String {
    format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"0 2 * * *\"\n  concurrencyPolicy: Allow\n{extra}  collect:\n    supportBundle:\n      hostCollectors:\n{collectors}  upload:\n    - s3: {s3}\n"
    )
}

const HELLO: &str =
    "        - run: {collectorName: hello, command: sh, args: [\"-c\", \"echo hello\"]}\n";

fn s3_target(endpoint: &str, bucket: &str, more: &str) -> String {
    format!(
        "{{bucket: {bucket}, region: us-east-1, endpoint: \"{endpoint}\", forcePathStyle: true{more}}}"
    )
}

/// `trigger JOB` in the foreground (no agent listens on the address).
fn trigger(jobs: &Path, state: &Path, job: &str) -> std::process::Output {
    support::trigger_foreground(jobs, state, job, AWS_ENV, Duration::from_secs(180))
}

fn check_targets(jobs: &Path, state: &Path, job: &str) -> std::process::Output {
    let mut cmd = agent(state);
    cmd.arg("--jobs-dir")
        .arg(jobs)
        .args(["trigger", "--check-targets", job]);
    for (k, v) in AWS_ENV {
        cmd.env(k, v);
    }
    cmd.timeout(Duration::from_secs(120))
        .output()
        .expect("run check")
}

fn queue_len(state: &Path) -> usize {
    std::fs::read_dir(state.join("uploads"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
                .count()
        })
        .unwrap_or(0)
}

const KMS_KEY: &str = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";

#[test]
fn a_small_bundle_lands_under_the_default_key_with_its_sha256() {
    let moto = Moto::start();
    moto.create_bucket("acme-bundles");
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "small",
            HELLO,
            &s3_target(
                &moto.endpoint(),
                "acme-bundles",
                &format!(
                    ", prefix: prod, tags: {{team: sre, env: prod}}, storageClass: STANDARD_IA, serverSideEncryption: \"aws:kms\", kmsKeyId: {KMS_KEY}"
                ),
            ),
            "",
        ),
    )
    .unwrap();
    let out = trigger(&d.jobs, &d.state, "small");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let record: Value = serde_json::from_str(&stdout(&out)).expect("record JSON");
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "succeeded", "{record:#}");
    assert_eq!(upload["attempts"], 1);
    let key = format!(
        "prod/{}/small/{}.tar.gz",
        record["host"].as_str().unwrap(),
        record["runId"].as_str().unwrap()
    );
    assert_eq!(upload["url"], format!("s3://acme-bundles/{key}"));
    let bundle = record["bundle"]["path"].as_str().unwrap();
    let sha = file_sha256(Path::new(bundle));
    assert_eq!(record["bundle"]["sha256"], sha.as_str());
    let (size, remote_sha) = moto.object_sha256("acme-bundles", &key).expect("object");
    assert_eq!(
        (size, remote_sha.as_str()),
        (record["bundle"]["size"].as_u64().unwrap(), sha.as_str())
    );
    let object = moto.object("acme-bundles", &key);
    assert_eq!(object["metadata"]["sha256"], sha.as_str(), "{object}");
    assert_eq!(object["storageClass"], "STANDARD_IA", "{object}");
    assert_eq!(object["sse"], "aws:kms", "{object}");
    assert_eq!(object["kmsKeyId"], KMS_KEY, "{object}");
    let tags = moto.tagging("acme-bundles", &key);
    assert_eq!(tags, serde_json::json!({"team": "sre", "env": "prod"}));
    let phase = record["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "upload")
        .unwrap();
    assert_eq!(phase["status"], "succeeded");
    assert_eq!(queue_len(&d.state), 0);

    let out = check_targets(&d.jobs, &d.state, "small");
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("ok      s3:acme-bundles"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_missing_bucket_fails_fast_with_a_clear_message() {
    let moto = Moto::start();
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "nobucket",
            HELLO,
            &s3_target(&moto.endpoint(), "no-such-bucket", ""),
            "",
        ),
    )
    .unwrap();
    let out = trigger(&d.jobs, &d.state, "nobucket");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record: Value = serde_json::from_str(&stdout(&out)).expect("record JSON");
    // Collection itself succeeded; the upload failed for good after one attempt.
    assert_eq!(record["status"], "succeeded");
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "failed", "{record:#}");
    assert_eq!(upload["attempts"], 1);
    let error = upload["error"].as_str().unwrap();
    assert!(error.contains("bucket does not exist"), "{error}");
    assert_eq!(queue_len(&d.state), 0);

    let out = check_targets(&d.jobs, &d.state, "nobucket");
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("FAILED  s3:no-such-bucket") && text.contains("does not exist"),
        "{text}"
    );
}

#[test]
fn refused_credentials_fail_fast() {
    // With IAM checks on, moto refuses keys it does not know (InvalidAccessKeyId, 403).
    let moto = Moto::start_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]);
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "badcreds",
            HELLO,
            &s3_target(&moto.endpoint(), "acme-bundles", ""),
            "",
        ),
    )
    .unwrap();
    let out = trigger(&d.jobs, &d.state, "badcreds");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let record: Value = serde_json::from_str(&stdout(&out)).expect("record JSON");
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "failed", "{record:#}");
    assert_eq!(upload["attempts"], 1);
    let error = upload["error"].as_str().unwrap();
    assert!(
        error.contains("credentials were refused") || error.contains("access denied"),
        "{error}"
    );
    let out = check_targets(&d.jobs, &d.state, "badcreds");
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("FAILED  s3:acme-bundles"),
        "{}",
        stdout(&out)
    );
}

/// The agent's scheduled run whose key is taken by another object: it is not overwritten.
#[test]
fn an_existing_object_is_never_overwritten() {
    let moto = Moto::start();
    moto.create_bucket("acme-bundles");
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "dup",
            HELLO,
            &s3_target(
                &moto.endpoint(),
                "acme-bundles",
                ", key: \"dup/{job}/{runId}.tar.gz\"",
            ),
            "",
        ),
    )
    .unwrap();
    let day = chrono::Utc::now().date_naive();
    let run_id = format!("{}T020000Z", day.format("%Y%m%d"));
    let key = format!("dup/dup/{run_id}.tar.gz");
    moto.put_object("acme-bundles", &key, "someone else's bytes", "0123");
    let mut builder = Daemon::builder()
        .jobs(&d.jobs)
        .state(&d.state)
        .clock_at(&format!("{}T01:59:58Z", day.format("%Y-%m-%d")));
    for (k, v) in AWS_ENV {
        builder = builder.env(k, v);
    }
    let agent = builder.start();
    let record = agent.wait_run("dup", &run_id, Duration::from_secs(120));
    let upload = &record["uploads"][0];
    assert_eq!(upload["status"], "failed", "{record:#}");
    assert!(
        upload["error"]
            .as_str()
            .unwrap()
            .contains("already holds a different object"),
        "{record:#}"
    );
    let (_, sha) = moto.object_sha256("acme-bundles", &key).unwrap();
    assert_eq!(
        sha,
        support::servers::hex(&<sha2::Sha256 as sha2::Digest>::digest(
            b"someone else's bytes"
        ))
    );
    wait_until(
        Duration::from_secs(30),
        "the failed upload to be counted",
        || match agent.metric(
            "troubleshoot_scheduler_uploads_total{target=\"s3:acme-bundles\",status=\"failed\"}",
        ) {
            Some(1.0) => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );
    agent.stop();
}

fn runs_with_upload(agent: &Daemon, job: &str, status: &str) -> Result<Vec<Value>, String> {
    let runs = agent.runs(job);
    let matching: Vec<Value> = runs
        .iter()
        .filter(|r| r["uploads"][0]["status"] == status)
        .cloned()
        .collect();
    Ok(matching).and_then(|m| {
        if m.is_empty() {
            Err(format!("no run with upload {status}: {runs:?}"))
        } else {
            Ok(m)
        }
    })
}

/// Three runs while the store is unreachable: their bundles wait in the queue (and retention,
/// keepLast 1, keeps them); once the store is back every one of them is delivered.
#[test]
fn a_store_down_for_three_runs_loses_no_bundle() {
    let moto = Moto::start();
    moto.create_bucket("acme-bundles");
    let proxy = Proxy::start(moto.addr);
    proxy.set_up(false);
    let d = dirs();
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "flaky",
            HELLO,
            &s3_target(&proxy.endpoint(), "acme-bundles", ""),
            "  retention: {keepLast: 1}\n",
        ),
    )
    .unwrap();
    let mut builder = Daemon::builder().jobs(&d.jobs).state(&d.state);
    for (k, v) in AWS_ENV {
        builder = builder.env(k, v);
    }
    let agent = builder.start();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            agent.trigger("flaky")["runId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let mut bundles = Vec::new();
    for id in &ids {
        let r = agent.wait_run("flaky", id, Duration::from_secs(180));
        assert_eq!(r["status"], "succeeded", "{r:#}");
        assert_eq!(r["uploads"][0]["status"], "pending", "{r:#}");
        assert!(r["uploads"][0]["attempts"].as_u64().unwrap() >= 3, "{r:#}");
        let phase = r["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "upload")
            .unwrap()
            .clone();
        assert_eq!(phase["status"], "pending", "{r:#}");
        bundles.push((
            r["bundle"]["path"].as_str().unwrap().to_string(),
            r["bundle"]["sha256"].as_str().unwrap().to_string(),
            r["uploads"][0]["url"].as_str().unwrap().to_string(),
        ));
    }
    assert_eq!(queue_len(&d.state), 3);
    // keepLast: 1, but none of the three may go while its upload is pending.
    for (path, _, _) in &bundles {
        assert!(
            Path::new(path).is_file(),
            "{path} was pruned while its upload was pending"
        );
    }
    // The record is written before the agent's control loop counts the run.
    wait_until(
        Duration::from_secs(30),
        "the pending uploads to be counted",
        || {
            let n = agent
            .metric("troubleshoot_scheduler_uploads_total{target=\"s3:acme-bundles\",status=\"pending\"}")
            .unwrap_or(0.0);
            if n >= 3.0 {
                Ok(())
            } else {
                Err(format!("{n}"))
            }
        },
    );

    proxy.set_up(true);
    let fourth = agent.trigger("flaky")["runId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = agent.wait_run("flaky", &fourth, Duration::from_secs(120));
    assert_eq!(r["uploads"][0]["status"], "succeeded", "{r:#}");
    // The working store makes the queued uploads due at once.
    wait_until(
        Duration::from_secs(120),
        "the queued uploads to be delivered",
        || {
            let done = runs_with_upload(&agent, "flaky", "succeeded").unwrap_or_default();
            if done.len() == 4 && queue_len(&d.state) == 0 {
                Ok(())
            } else {
                Err(format!(
                    "{} delivered, {} queued",
                    done.len(),
                    queue_len(&d.state)
                ))
            }
        },
    );
    for (_, sha, url) in &bundles {
        let key = url.strip_prefix("s3://acme-bundles/").unwrap();
        let (_, remote) = moto
            .object_sha256("acme-bundles", key)
            .expect("delivered object");
        assert_eq!(&remote, sha, "{key}");
    }
    assert_eq!(moto.keys("acme-bundles").len(), 4);
    agent.stop();
}

/// SIGKILL while a multipart upload is on the wire; the restarted agent finds the queue entry
/// and delivers the bundle (the stale multipart upload is aborted, not left billed).
#[test]
fn an_agent_killed_mid_upload_delivers_after_restart() {
    let moto = Moto::start();
    moto.create_bucket("acme-bundles");
    let proxy = Proxy::start(moto.addr);
    // ~40 MB at 4 MB/s: the upload takes about ten seconds.
    proxy.set_rate(4 * 1024 * 1024);
    let d = dirs();
    let big = d.root.path().join("big.bin");
    let mut random = std::fs::File::open("/dev/urandom").unwrap();
    let mut file = std::fs::File::create(&big).unwrap();
    std::io::copy(&mut std::io::Read::take(&mut random, 40 << 20), &mut file).unwrap();
    drop(file);
    let collectors = format!(
        "        - copy: {{collectorName: big, path: {}}}\n",
        big.display()
    );
    std::fs::write(
        d.jobs.join("job.yaml"),
        job_yaml(
            "killed",
            &collectors,
            &s3_target(
                &proxy.endpoint(),
                "acme-bundles",
                ", serverSideEncryption: AES256, storageClass: STANDARD_IA",
            ),
            "",
        ),
    )
    .unwrap();
    let start = |d: &support::Dirs| {
        let mut builder = Daemon::builder().jobs(&d.jobs).state(&d.state);
        for (k, v) in AWS_ENV {
            builder = builder.env(k, v);
        }
        builder.start()
    };
    let mut first = start(&d);
    let run_id = first.trigger("killed")["runId"]
        .as_str()
        .unwrap()
        .to_string();
    wait_until(
        Duration::from_secs(180),
        "the upload to be on the wire",
        || {
            let sent = proxy.forwarded.load(std::sync::atomic::Ordering::SeqCst);
            if sent > 8 << 20 {
                Ok(())
            } else {
                Err(format!("{sent} bytes sent"))
            }
        },
    );
    assert_eq!(
        queue_len(&d.state),
        1,
        "the upload is queued before it starts"
    );
    first.signal(libc::SIGKILL);
    first.wait_exit(Duration::from_secs(10)).expect("killed");
    assert!(
        moto.keys("acme-bundles").is_empty(),
        "the upload had not finished when the agent was killed"
    );
    proxy.set_rate(0);

    let second = start(&d);
    let record = wait_until(Duration::from_secs(180), "the re-driven upload", || {
        let text = std::fs::read_to_string(second.record_path("killed", &run_id))
            .map_err(|e| e.to_string())?;
        let v: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
        if v["uploads"][0]["status"] == "succeeded" {
            Ok(v)
        } else {
            Err(text)
        }
    });
    assert_eq!(record["status"], "interrupted", "{record:#}");
    let entry_url = record["uploads"][0]["url"].as_str().unwrap();
    let key = entry_url.strip_prefix("s3://acme-bundles/").unwrap();
    let (size, remote) = moto.object_sha256("acme-bundles", key).expect("delivered");
    assert!(size > 40 << 20, "{size}");
    let local: Vec<_> = std::fs::read_dir(d.state.join("jobs/killed/bundles"))
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    assert_eq!(local.len(), 1, "{local:?}");
    assert_eq!(remote, file_sha256(&local[0]));
    let object = moto.object("acme-bundles", key);
    assert_eq!(
        object["sse"], "AES256",
        "multipart keeps the encryption: {object}"
    );
    assert_eq!(object["storageClass"], "STANDARD_IA", "{object}");
    assert_eq!(queue_len(&d.state), 0);
    assert_eq!(
        moto.open_multipart_uploads("acme-bundles"),
        0,
        "stale multipart upload left behind"
    );
    second.stop();
}

/// A 256 MiB bundle (a sparse file, read as zeros) through the S3 sink's multipart path: 16
/// parts streamed from disk, the whole object verified by its sha256. (A true multi-GB upload is
/// the soak tier's `upload_large`; 256 MiB keeps this test to well under a minute on a debug
/// build.) The sink runs in this test, alone in a child process that has the AWS environment.
#[test]
fn a_large_bundle_goes_up_in_parts_and_arrives_whole() {
    let name = "a_large_bundle_goes_up_in_parts_and_arrives_whole";
    if support::alone::rerun(module_path!(), name, AWS_ENV) {
        return;
    }
    let moto = Moto::start();
    moto.create_bucket("big-bundles");
    let d = dirs();
    let file = d.root.path().join("big.tar.gz");
    std::fs::File::create(&file)
        .and_then(|f| f.set_len(256 << 20))
        .expect("sparse file");
    let sha = file_sha256(&file);
    let target: UploadTarget = serde_json::from_value(serde_json::json!({"s3": {
        "bucket": "big-bundles", "region": "us-east-1", "endpoint": moto.endpoint(),
        "forcePathStyle": true
    }}))
    .expect("target");
    let object = Object {
        path: &file,
        key: "a/big.tar.gz".into(),
        size: 256 << 20,
        sha256: sha.clone(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let delivered = runtime
        .block_on(upload::deliver(&target, &object))
        .unwrap_or_else(|e| panic!("upload: {e}"));
    assert_eq!(delivered.bytes, 256 << 20);
    let object_info = moto.object("big-bundles", "a/big.tar.gz");
    assert_eq!(object_info["size"], 256u64 << 20, "{object_info}");
    assert_eq!(object_info["sha256"], sha.as_str());
    assert_eq!(object_info["metadata"]["sha256"], sha.as_str());
    assert_eq!(moto.open_multipart_uploads("big-bundles"), 0);
    // The same bundle again: already delivered, not a second copy, not another error.
    match runtime.block_on(upload::deliver(&target, &object)) {
        Err(UploadError::AlreadyExists(_)) => {}
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(moto.keys("big-bundles"), vec!["a/big.tar.gz".to_string()]);
}
