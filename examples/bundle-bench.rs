//! `bundle-bench`: exists only for `bench/bundle_archive.sh`. It generates a reproducible
//! corpus of logs and Kubernetes JSON, and times `bundle::write_bundle` on a tree.
//!
//! Usage:
//!   bundle-bench gen DIR MEGABYTES SEED [SECRETS_PER_10K]
//!     (SECRETS_PER_10K > 0 plants credentials for bench/redact.sh: that many log lines in 10,000
//!     carry one, and as many pods in 10,000 get a pretty-printed env block with passwords;
//!     0, the default, draws nothing extra, so the corpus is the same as without it)
//!   bundle-bench archive SRC DEST [LEVEL] [THREADS]   (prints seconds, size, peak RSS)

use std::fs;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use troubleshoot_agent::bundle::{BundleOptions, write_bundle};

/// xorshift64*: tiny, seeded, reproducible across runs and machines.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize]))
            .collect()
    }
}

const LEVELS: &[&str] = &["INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"];
const COMPONENTS: &[&str] = &[
    "kubelet",
    "controller",
    "scheduler",
    "api",
    "worker",
    "reconciler",
    "http",
    "db",
];
const MESSAGES: &[&str] = &[
    "request completed",
    "reconciling object",
    "watch channel closed, restarting",
    "failed to pull image, backing off",
    "lease renewed",
    "probe succeeded",
    "connection reset by peer",
    "cache synced",
    "updated status",
    "slow query detected",
];

/// One log file of about `bytes`: timestamped lines with some fields varying.
fn gen_log(rng: &mut Rng, path: &Path, bytes: u64, secrets: u64) -> std::io::Result<()> {
    let mut w = BufWriter::new(fs::File::create(path)?);
    let mut written = 0u64;
    let mut t = 1_765_000_000u64 + rng.below(1_000_000);
    let mut ms = 0;
    while written < bytes {
        t += rng.below(3);
        ms = (ms + rng.below(997)) % 1000;
        if secrets > 0 && rng.below(10_000) < secrets {
            let line = format!(
                "2025-12-{:02}T{:02}:{:02}:{:02}.{ms:03}Z INFO  [{}] {}\n",
                10 + (t / 86400) % 18,
                (t / 3600) % 24,
                (t / 60) % 60,
                t % 60,
                rng.pick(COMPONENTS),
                secret_line(rng),
            );
            w.write_all(line.as_bytes())?;
            written += line.len() as u64;
            continue;
        }
        let line = format!(
            "2025-12-{:02}T{:02}:{:02}:{:02}.{ms:03}Z {:<5} [{}] {} id={} latency_ms={} pod=app-{}-{}\n",
            10 + (t / 86400) % 18,
            (t / 3600) % 24,
            (t / 60) % 60,
            t % 60,
            rng.pick(LEVELS),
            rng.pick(COMPONENTS),
            rng.pick(MESSAGES),
            rng.hex(16),
            rng.below(5000),
            rng.hex(5),
            rng.hex(5),
        );
        w.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    w.flush()
}

/// A log message carrying one credential, of a kind the default redactors mask.
fn secret_line(rng: &mut Rng) -> String {
    let pw = rng.hex(14);
    match rng.below(10) {
        0 => format!(
            "connecting to postgres://app_{}:{pw}@pg-{}.internal:5432/orders",
            rng.hex(3),
            rng.hex(3)
        ),
        1 => format!("opening dsn svc:{pw}@tcp(mysql-{}:3306)/shop", rng.below(3)),
        2 => format!("odbc \"Server=sql1;Database=app;Uid=svc;Pwd={pw};\""),
        3 => format!("env AWS_SECRET_ACCESS_KEY={pw}{}", rng.hex(26)),
        4 => format!(
            "GET /api/v1/items Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{}.{}",
            rng.hex(20),
            rng.hex(32)
        ),
        5 => format!("pushing to https://ci:{pw}@git.example.com/app.git"),
        6 => format!("spec env {{\"name\":\"DB_PASSWORD\",\"value\":\"{pw}\"}}"),
        7 => format!("clone with token ghp_{}{}", rng.hex(20), rng.hex(16)),
        8 => format!("export REDIS_PASSWORD={pw}"),
        _ => format!("amqp connect amqp://guest:{pw}@rabbit:5672/vhost"),
    }
}

/// A pretty-printed container env block with two secrets (the shape of `kubectl get -o json`).
fn env_block(rng: &mut Rng) -> String {
    format!(
        "            \"env\": [\n              {{\n                \"name\": \"DB_PASSWORD\",\n                \"value\": \"{}\"\n              }},\n              {{\n                \"name\": \"API_TOKEN\",\n                \"value\": \"{}\"\n              }}\n            ],\n",
        rng.hex(16),
        rng.hex(24)
    )
}

/// One Kubernetes List of pods, 2-space indented like Go's MarshalIndent, about `bytes`.
fn gen_json(rng: &mut Rng, path: &Path, bytes: u64, secrets: u64) -> std::io::Result<()> {
    let mut w = BufWriter::new(fs::File::create(path)?);
    let mut written = 0u64;
    let head = "{\n  \"kind\": \"PodList\",\n  \"apiVersion\": \"v1\",\n  \"metadata\": {\n    \"resourceVersion\": \"123456\"\n  },\n  \"items\": [\n";
    w.write_all(head.as_bytes())?;
    let mut first = true;
    while written < bytes {
        let name = format!("{}-{}-{}", rng.pick(COMPONENTS), rng.hex(10), rng.hex(5));
        let env = if secrets > 0 && rng.below(10_000) < secrets {
            env_block(rng)
        } else {
            String::new()
        };
        let item = format!(
            "{}    {{\n      \"metadata\": {{\n        \"name\": \"{name}\",\n        \"namespace\": \"{}\",\n        \"uid\": \"{}-{}-{}-{}-{}\",\n        \"resourceVersion\": \"{}\",\n        \"creationTimestamp\": \"2025-12-10T{:02}:{:02}:{:02}Z\",\n        \"labels\": {{\n          \"app\": \"{}\",\n          \"pod-template-hash\": \"{}\"\n        }}\n      }},\n      \"spec\": {{\n        \"containers\": [\n          {{\n            \"name\": \"main\",\n{env}            \"image\": \"registry.example.com/{}:v1.{}.{}\",\n            \"resources\": {{\n              \"limits\": {{\n                \"cpu\": \"{}m\",\n                \"memory\": \"{}Mi\"\n              }}\n            }}\n          }}\n        ],\n        \"nodeName\": \"node-{}\",\n        \"restartPolicy\": \"Always\"\n      }},\n      \"status\": {{\n        \"phase\": \"{}\",\n        \"podIP\": \"10.42.{}.{}\",\n        \"containerStatuses\": [\n          {{\n            \"name\": \"main\",\n            \"ready\": {},\n            \"restartCount\": {}\n          }}\n        ]\n      }}\n    }}",
            if first { "" } else { ",\n" },
            rng.pick(&["default", "kube-system", "monitoring", "app"]),
            rng.hex(8),
            rng.hex(4),
            rng.hex(4),
            rng.hex(4),
            rng.hex(12),
            rng.below(10_000_000),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            rng.pick(COMPONENTS),
            rng.hex(10),
            rng.pick(COMPONENTS),
            rng.below(30),
            rng.below(10),
            rng.below(40) * 50,
            rng.below(32) * 64,
            rng.below(12),
            rng.pick(&["Running", "Running", "Running", "Pending", "Failed"]),
            rng.below(256),
            rng.below(256),
            rng.below(4) != 0,
            rng.below(5),
        );
        first = false;
        w.write_all(item.as_bytes())?;
        written += item.len() as u64;
    }
    w.write_all(b"\n  ]\n}")?;
    w.flush()
}

/// Writes about `mb` MB of mixed logs (≈65%) and JSON (≈35%) in a bundle-shaped tree.
fn generate(dir: &Path, mb: u64, seed: u64, secrets: u64) -> std::io::Result<()> {
    let mut rng = Rng(seed.max(1));
    let total = mb * 1_000_000;
    let mut done = 0u64;
    let mut i = 0u64;
    while done < total {
        // File sizes from 2 KB to ~40 MB, skewed small (many small JSON, a few big logs).
        let size = match rng.below(10) {
            0..=4 => 2_000 + rng.below(60_000),
            5..=7 => 100_000 + rng.below(2_000_000),
            _ => 5_000_000 + rng.below(35_000_000),
        }
        .min(total - done);
        let ns = rng.pick(&["default", "kube-system", "monitoring", "app"]);
        if rng.below(100) < 65 {
            let d = dir.join(format!("cluster-resources/pods/logs/{ns}/pod-{i}"));
            fs::create_dir_all(&d)?;
            gen_log(&mut rng, &d.join("main.log"), size, secrets)?;
        } else {
            let d = dir.join(format!("cluster-resources/pods-{}", i % 7));
            fs::create_dir_all(&d)?;
            gen_json(&mut rng, &d.join(format!("{ns}-{i}.json")), size, secrets)?;
        }
        done += size;
        i += 1;
    }
    Ok(())
}

/// Peak resident set size in KiB, from /proc/self/status.
fn vm_hwm_kib() -> Option<u64> {
    let s = fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("gen") if args.len() == 5 || args.len() == 6 => {
            let secrets = args.get(5).map_or(Ok(0), |s| s.parse());
            let (Ok(mb), Ok(seed), Ok(secrets)) = (args[3].parse(), args[4].parse(), secrets)
            else {
                eprintln!("gen DIR MEGABYTES SEED [SECRETS_PER_10K]");
                return ExitCode::from(2);
            };
            if let Err(e) = generate(Path::new(&args[2]), mb, seed, secrets) {
                eprintln!("gen: {e}");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Some("archive") if args.len() >= 4 => {
            let level = args.get(4).and_then(|l| l.parse().ok()).unwrap_or(6);
            let threads = args.get(5).and_then(|l| l.parse().ok()).unwrap_or(1);
            let opts = BundleOptions {
                compression_level: level,
                threads,
            };
            let start = Instant::now();
            match write_bundle(Path::new(&args[2]), Path::new(&args[3]), "bench", &opts) {
                Ok(info) => {
                    println!(
                        "seconds={:.3} size={} files={} vmhwm_kib={}",
                        start.elapsed().as_secs_f64(),
                        info.size,
                        info.files,
                        vm_hwm_kib().unwrap_or(0)
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("archive: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        _ => {
            eprintln!(
                "usage: bundle-bench gen DIR MEGABYTES SEED [SECRETS_PER_10K] | archive SRC DEST [LEVEL] [THREADS]"
            );
            ExitCode::from(2)
        }
    }
}
