//! The container image `scripts/build-image` writes (an OCI image layout, no Docker daemon): its
//! layer holds exactly the binary, the libraries it links, the CA certificates and the accounts;
//! its config runs the agent as a non-root user and carries the OCI labels; the same binary gives
//! the same digest; and podman runs `validate` and a one-shot `trigger` in it, as the non-root
//! user on a read-only root filesystem.

use crate::support;

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;
use support::daemon::wait_until;
use support::{JobFile, stderr, stdout};

/// The `created` time of the test images: 2023-11-14T22:13:20Z.
const EPOCH: u64 = 1_700_000_000;
const SOURCE: &str = "https://example.invalid/troubleshoot-agent";
const AGENT_UID: u32 = 65532;

/// The image every test here looks at, built once per test process from the binary under test.
struct Built {
    layout: PathBuf,
    archive: PathBuf,
    digest: String,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image");
        std::fs::create_dir_all(&dir).expect("mkdir image dir");
        let (layout, archive) = (dir.join("layout"), dir.join("image.oci.tar"));
        let digest = build_image(Path::new(agent_binary()), &layout, Some(&archive));
        Built {
            layout,
            archive,
            digest,
        }
    })
}

fn agent_binary() -> &'static str {
    env!("CARGO_BIN_EXE_troubleshoot-agent")
}

fn build_command() -> Command {
    let mut cmd = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/build-image"));
    cmd.env("SOURCE_DATE_EPOCH", EPOCH.to_string());
    cmd
}

/// Runs `scripts/build-image` on `binary`; returns the digest it prints.
fn build_image(binary: &Path, layout: &Path, archive: Option<&Path>) -> String {
    let mut cmd = build_command();
    cmd.arg("--binary")
        .arg(binary)
        .arg("--out")
        .arg(layout)
        .args(["--source", SOURCE]);
    if let Some(archive) = archive {
        cmd.arg("--archive").arg(archive);
    }
    let out = cmd.output().expect("scripts/build-image runs (python3)");
    assert!(
        out.status.success(),
        "scripts/build-image failed: {}",
        stderr(&out)
    );
    let digest = stdout(&out).trim().to_string();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "a digest on stdout: {digest:?}"
    );
    digest
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// A blob of the layout, checked against its digest (and its size when the descriptor has one).
fn blob(layout: &Path, descriptor: &Value) -> Vec<u8> {
    let digest = descriptor["digest"].as_str().expect("digest");
    let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
    let bytes = std::fs::read(layout.join("blobs/sha256").join(hex)).expect("blob");
    assert_eq!(sha256_hex(&bytes), hex, "blob {digest} holds what it names");
    if let Some(size) = descriptor["size"].as_u64() {
        assert_eq!(bytes.len() as u64, size, "size of {digest}");
    }
    bytes
}

fn json_blob(layout: &Path, descriptor: &Value) -> Value {
    serde_json::from_slice(&blob(layout, descriptor)).expect("JSON blob")
}

/// index.json's one manifest and the manifest itself.
fn manifest(layout: &Path) -> (Value, Value) {
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
            .expect("index JSON");
    let manifests = index["manifests"].as_array().expect("manifests");
    assert_eq!(manifests.len(), 1, "{index:#}");
    let descriptor = manifests[0].clone();
    let manifest = json_blob(layout, &descriptor);
    (descriptor, manifest)
}

fn config(layout: &Path) -> Value {
    let (_, manifest) = manifest(layout);
    json_blob(layout, &manifest["config"])
}

/// One tar entry of the layer: (type, mode, uid, gid, mtime, sha256 of the content).
type EntryFacts = (char, u32, u64, u64, u64, String);

/// The layer's entries by path, after checking the layer's digest and its diff_id.
fn layer(layout: &Path) -> BTreeMap<String, EntryFacts> {
    let (_, manifest) = manifest(layout);
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 1, "one layer on scratch: {manifest:#}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(&blob(layout, &layers[0])[..])
        .read_to_end(&mut tar_bytes)
        .expect("gunzip layer");
    assert_eq!(
        config(layout)["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar_bytes)),
        "the config's diff_id is the digest of the uncompressed layer"
    );
    let mut entries = BTreeMap::new();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    for entry in archive.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let header = entry.header().clone();
        let kind = match header.entry_type() {
            tar::EntryType::Directory => 'd',
            tar::EntryType::Regular => 'f',
            other => panic!("unexpected entry type {other:?}"),
        };
        let mut content = Vec::new();
        entry.read_to_end(&mut content).expect("entry content");
        // Directories are named `etc/`, as tar writes them.
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let path = path.trim_end_matches('/').to_string();
        let facts = (
            kind,
            header.mode().expect("mode"),
            header.uid().expect("uid"),
            header.gid().expect("gid"),
            header.mtime().expect("mtime"),
            sha256_hex(&content),
        );
        assert!(
            entries.insert(path.clone(), facts).is_none(),
            "{path} twice"
        );
    }
    entries
}

/// The libraries `ldd` resolves for `binary`, the dynamic loader included: (path as the loader
/// looks for it, the file it is on this machine).
fn ldd(binary: &str) -> Vec<(String, PathBuf)> {
    let out = Command::new("ldd").arg(binary).output().expect("ldd runs");
    assert!(out.status.success(), "ldd: {}", stderr(&out));
    stdout(&out)
        .lines()
        .filter_map(|line| {
            let line = line.trim();
            assert!(!line.contains("not found"), "{line}");
            let path = line.split_once("=> ").map_or(line, |(_, p)| p);
            let path = path.split(" (").next()?;
            path.starts_with('/').then(|| {
                let real = std::fs::canonicalize(path).expect("library exists");
                (path.trim_start_matches('/').to_string(), real)
            })
        })
        .collect()
}

fn file_sha256(path: &Path) -> String {
    sha256_hex(&std::fs::read(path).expect("read file"))
}

#[test]
fn the_layer_holds_exactly_the_binary_its_libraries_the_certificates_and_the_accounts() {
    let entries = layer(&built().layout);
    let dir = |mode| ('d', mode, 0, 0);
    let mut want: BTreeMap<String, (char, u32, u64, u64)> = BTreeMap::new();
    let mut contents: BTreeMap<String, PathBuf> = BTreeMap::new();
    for (path, mode) in [
        ("etc", 0o755),
        ("etc/ssl", 0o755),
        ("etc/ssl/certs", 0o755),
        ("etc/troubleshoot", 0o755),
        ("etc/troubleshoot/jobs.d", 0o755),
        ("usr", 0o755),
        ("usr/bin", 0o755),
        ("var", 0o755),
        ("var/lib", 0o755),
    ] {
        want.insert(path.into(), dir(mode));
    }
    // The state directory is the agent user's, 0700 as the agent itself creates it.
    want.insert(
        "var/lib/troubleshoot-agent".into(),
        ('d', 0o700, AGENT_UID.into(), AGENT_UID.into()),
    );
    want.insert("usr/bin/troubleshoot-agent".into(), ('f', 0o755, 0, 0));
    contents.insert("usr/bin/troubleshoot-agent".into(), agent_binary().into());
    want.insert(
        "etc/ssl/certs/ca-certificates.crt".into(),
        ('f', 0o644, 0, 0),
    );
    contents.insert(
        "etc/ssl/certs/ca-certificates.crt".into(),
        "/etc/ssl/certs/ca-certificates.crt".into(),
    );
    for name in ["etc/passwd", "etc/group", "etc/nsswitch.conf"] {
        want.insert(name.into(), ('f', 0o644, 0, 0));
    }
    let libs = ldd(agent_binary());
    assert!(
        libs.iter().any(|(p, _)| p.contains("libc.so")),
        "the debug binary links glibc: {libs:?}"
    );
    for (path, real) in libs {
        for (i, _) in path.match_indices('/') {
            want.insert(path[..i].to_string(), dir(0o755));
        }
        want.insert(path.clone(), ('f', 0o755, 0, 0));
        contents.insert(path, real);
    }
    let got: BTreeMap<String, (char, u32, u64, u64)> = entries
        .iter()
        .map(|(p, (k, m, u, g, _, _))| (p.clone(), (*k, *m, *u, *g)))
        .collect();
    assert_eq!(got, want, "the layer's entries (type, mode, uid, gid)");
    for (path, source) in contents {
        assert_eq!(
            entries[&path].5,
            file_sha256(&source),
            "{path} is {}",
            source.display()
        );
    }
    assert!(
        entries.values().all(|e| e.4 == EPOCH),
        "every entry has the created time as mtime"
    );
    let passwd = layer_file(&built().layout, "etc/passwd");
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("troubleshoot:x:65532:65532:")),
        "{passwd}"
    );
    let group = layer_file(&built().layout, "etc/group");
    assert!(
        group.lines().any(|l| l == "troubleshoot:x:65532:"),
        "{group}"
    );
}

/// The text of one file of the layer.
fn layer_file(layout: &Path, name: &str) -> String {
    let (_, manifest) = manifest(layout);
    let gz = blob(layout, &manifest["layers"][0]);
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&gz[..]));
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        if entry.path().expect("path").to_str() == Some(name) {
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("text");
            return text;
        }
    }
    panic!("{name} is not in the layer")
}

fn git(args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-C", env!("CARGO_MANIFEST_DIR")])
        .args(args)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out).trim().to_string()
}

fn git_head() -> String {
    git(&["rev-parse", "HEAD"])
}

/// Without $SOURCE_DATE_EPOCH the created time is the commit time of HEAD, so a build of a
/// commit is reproducible without any setting.
#[test]
fn the_created_time_defaults_to_the_commit_time_of_head() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = dir.path().join("layout");
    let out = build_command()
        .env_remove("SOURCE_DATE_EPOCH")
        .args([
            "--binary",
            agent_binary(),
            "--gzip-level",
            "1",
            "--tag",
            "test",
        ])
        .arg("--out")
        .arg(&layout)
        .output()
        .expect("build-image runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let commit_time: i64 = git(&["log", "-1", "--format=%ct"])
        .parse()
        .expect("seconds");
    let created = chrono::DateTime::from_timestamp(commit_time, 0)
        .expect("a time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let config = config(&layout);
    assert_eq!(config["created"], created.as_str());
    assert_eq!(
        config["config"]["Labels"]["org.opencontainers.image.created"],
        created.as_str()
    );
    let (descriptor, _) = manifest(&layout);
    assert_eq!(
        descriptor["annotations"]["org.opencontainers.image.ref.name"],
        "test"
    );
    let entries = layer(&layout);
    assert!(entries.values().all(|e| e.4 == commit_time as u64));
}

#[test]
fn the_config_runs_the_agent_as_the_non_root_user_with_the_oci_labels() {
    let layout = &built().layout;
    let (descriptor, manifest) = manifest(layout);
    assert_eq!(
        descriptor["annotations"]["org.opencontainers.image.ref.name"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(descriptor["digest"], built().digest.as_str());
    let config = config(layout);
    assert_eq!(config["os"], "linux");
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(config["architecture"], arch);
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532", "{c:#}");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/bin/troubleshoot-agent"])
    );
    assert_eq!(c["Cmd"], serde_json::json!(["run"]));
    assert_eq!(
        c["Volumes"],
        serde_json::json!({"/var/lib/troubleshoot-agent": {}, "/etc/troubleshoot/jobs.d": {}})
    );
    let want = serde_json::json!({
        "org.opencontainers.image.title": "troubleshoot-agent",
        "org.opencontainers.image.description": env!("CARGO_PKG_DESCRIPTION"),
        "org.opencontainers.image.version": env!("CARGO_PKG_VERSION"),
        "org.opencontainers.image.revision": git_head(),
        "org.opencontainers.image.licenses": env!("CARGO_PKG_LICENSE"),
        "org.opencontainers.image.created": "2023-11-14T22:13:20Z",
        "org.opencontainers.image.source": SOURCE,
    });
    assert_eq!(c["Labels"], want);
    assert_eq!(
        manifest["annotations"], want,
        "the manifest repeats the labels"
    );
}

#[test]
fn the_same_binary_gives_the_same_digest() {
    let built = built();
    // The same bytes under another name, mtime and mode: none of that may reach the image.
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("agent-copy");
    std::fs::copy(agent_binary(), &copy).expect("copy binary");
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let touched = Command::new("touch")
        .args(["-d", "2001-02-03 04:05:06"])
        .arg(&copy)
        .status()
        .expect("touch");
    assert!(touched.success());
    let (layout, archive) = (dir.path().join("layout"), dir.path().join("image.oci.tar"));
    let digest = build_image(&copy, &layout, Some(&archive));
    assert_eq!(digest, built.digest, "same binary, same image digest");
    for name in ["index.json", "oci-layout"] {
        assert_eq!(
            std::fs::read(layout.join(name)).expect("read"),
            std::fs::read(built.layout.join(name)).expect("read"),
            "{name}"
        );
    }
    assert_eq!(
        file_sha256(&archive),
        file_sha256(&built.archive),
        "the oci-archive tarballs are identical too"
    );
}

#[test]
fn build_image_refuses_bad_arguments_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-binary");
    let out = build_command()
        .arg("--binary")
        .arg(&missing)
        .arg("--out")
        .arg(dir.path().join("layout"))
        .output()
        .expect("build-image runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "build-image: error: {}: no such binary; build it",
            missing.display()
        )),
        "{}",
        stderr(&out)
    );
    // An --out that holds something else than an image layout is not wiped.
    let precious = dir.path().join("precious");
    std::fs::create_dir(&precious).expect("mkdir");
    std::fs::write(precious.join("notes.txt"), "keep me").expect("write");
    let out = build_command()
        .args(["--binary", agent_binary(), "--out"])
        .arg(&precious)
        .output()
        .expect("build-image runs");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("exists and is not an OCI layout"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(precious.join("notes.txt")).expect("still there"),
        "keep me"
    );
    let out = build_command()
        .args(["--gzip-level", "11"])
        .output()
        .expect("build-image runs");
    assert_eq!(out.status.code(), Some(2), "argparse usage error");
    assert!(stderr(&out).contains("--gzip-level"), "{}", stderr(&out));
}

/// podman with its own storage (vfs: no overlay mounts) in a temp dir, so the test touches no
/// image store of the machine's. `runc`: crun refuses these machines' hybrid cgroup layout
/// ("cgroups in hybrid mode not supported"). The rlimits are lowered explicitly: podman's
/// defaults raise them above this machine's hard limits, which the runtime may not do.
struct Podman {
    dir: tempfile::TempDir,
}

impl Podman {
    fn new() -> Podman {
        for tool in ["podman", "runc"] {
            let found = Command::new(tool).arg("--version").output();
            assert!(
                found.is_ok_and(|o| o.status.success()),
                "{tool} is not installed: scripts/test installs it (apt-get install podman runc)"
            );
        }
        Podman {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn cmd(&self) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(d.join("root"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--tmpdir")
            .arg(d.join("tmp"))
            .args([
                "--storage-driver",
                "vfs",
                "--runtime",
                "runc",
                "--cgroup-manager",
                "cgroupfs",
                "--events-backend",
                "none",
            ]);
        cmd
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("podman runs");
        assert!(
            out.status.success(),
            "podman {args:?}: {}{}",
            stdout(&out),
            stderr(&out)
        );
        stdout(&out)
    }

    /// `podman run` of `image` with no network, as the image's user, on a read-only root
    /// filesystem, with `mounts` (host dir, container dir, options); `--rm`, or `-d` to detach.
    fn run_command(&self, image: &str, mounts: &[(&Path, &str, &str)], detach: bool) -> Command {
        let mut cmd = self.cmd();
        cmd.args(["run", if detach { "-d" } else { "--rm" }])
            .args(["--network=none", "--read-only", "--read-only-tmpfs=false"])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ]);
        for (host, container, options) in mounts {
            cmd.arg("--volume")
                .arg(format!("{}:{container}:{options}", host.display()));
        }
        cmd.arg(image);
        cmd
    }

    fn run(&self, image: &str, mounts: &[(&Path, &str, &str)], args: &[&str]) -> Output {
        let mut cmd = self.run_command(image, mounts, false);
        cmd.args(args).output().expect("podman run runs")
    }

    /// `podman exec` of the agent in `container`, as the image's user.
    fn exec(&self, container: &str, args: &[&str]) -> Output {
        let mut cmd = self.cmd();
        cmd.args(["exec", container, "/usr/bin/troubleshoot-agent"])
            .args(args)
            .output()
            .expect("podman exec runs")
    }

    /// Pulls the built image through both transports; returns its id.
    fn pull(&self, built: &Built) -> String {
        let config_digest = manifest(&built.layout).1["config"]["digest"]
            .as_str()
            .expect("config digest")
            .to_string();
        let tag = env!("CARGO_PKG_VERSION");
        let layout = format!("oci:{}:{tag}", built.layout.display());
        let id = self.ok(&["pull", "-q", &layout]);
        assert_eq!(format!("sha256:{}", id.trim()), config_digest);
        let archive = format!("oci-archive:{}", built.archive.display());
        let id = self.ok(&["pull", "-q", &archive]);
        assert_eq!(
            format!("sha256:{}", id.trim()),
            config_digest,
            "the oci-archive is the same image"
        );
        id.trim().to_string()
    }
}

/// A detached container, killed and removed when the test ends however it ends.
struct Container<'a> {
    podman: &'a Podman,
    id: String,
}

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = self
            .podman
            .cmd()
            .args(["rm", "--force", "--time", "0", &self.id])
            .output();
    }
}

/// The jobs and state directories the containers mount.
struct Volumes {
    _dir: tempfile::TempDir,
    jobs: PathBuf,
    state: PathBuf,
}

impl Volumes {
    /// Root's jobs directory, readable by the agent's user, with the job `image-smoke`; a state
    /// directory the agent's user owns, as a podman named volume copies it from the image.
    fn new() -> Volumes {
        let dir = tempfile::tempdir().expect("tempdir");
        let (jobs, state) = (dir.path().join("jobs"), dir.path().join("state"));
        std::fs::create_dir(&jobs).expect("mkdir jobs");
        std::fs::create_dir(&state).expect("mkdir state");
        std::fs::set_permissions(&jobs, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        std::os::unix::fs::chown(&state, Some(AGENT_UID), Some(AGENT_UID)).expect("chown");
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).expect("chmod");
        JobFile::new("image-smoke").write(&jobs);
        Volumes {
            _dir: dir,
            jobs,
            state,
        }
    }

    fn jobs(&self) -> (&Path, &'static str, &'static str) {
        (&self.jobs, "/etc/troubleshoot/jobs.d", "ro")
    }

    fn both(&self) -> [(&Path, &'static str, &'static str); 2] {
        [
            self.jobs(),
            (&self.state, "/var/lib/troubleshoot-agent", "rw"),
        ]
    }

    /// Checks a run record: succeeded, its bundle in the state volume, written by the image's
    /// non-root user.
    fn check_run(&self, out: &Output) {
        let record: Value = serde_json::from_str(&stdout(out))
            .unwrap_or_else(|e| panic!("no run record ({e}): {}{}", stdout(out), stderr(out)));
        assert_eq!(out.status.code(), Some(0), "{record:#}\n{}", stderr(out));
        assert_eq!(record["status"], "succeeded", "{record:#}");
        let bundle = record["bundle"]["path"].as_str().expect("bundle path");
        let on_host = self.state.join(
            bundle
                .strip_prefix("/var/lib/troubleshoot-agent/")
                .unwrap_or_else(|| panic!("bundle in the state volume: {bundle}")),
        );
        let meta = std::fs::metadata(&on_host).expect("the bundle is in the state volume");
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (AGENT_UID, AGENT_UID, 0o600),
            "written by the image's non-root user"
        );
        assert_eq!(
            file_sha256(&on_host),
            record["bundle"]["sha256"].as_str().expect("sha256")
        );
    }
}

#[test]
fn podman_runs_validate_a_one_shot_trigger_and_the_daemon_as_the_non_root_user() {
    let podman = Podman::new();
    let image = podman.pull(built());
    let volumes = Volumes::new();

    let out = podman.run(&image, &[volumes.jobs()], &["validate"]);
    assert_eq!(out.status.code(), Some(0), "validate: {}", stderr(&out));
    assert!(
        stdout(&out)
            .lines()
            .any(|l| l.starts_with("valid: 1 file, 1 job")),
        "{}",
        stdout(&out)
    );

    // One run in the foreground: no agent listens in this container.
    let trigger = ["--output", "json", "trigger", "image-smoke"];
    volumes.check_run(&podman.run(&image, &volumes.both(), &trigger));

    check_daemon(&podman, &image, &volumes);

    // A broken job file: validate names it with file:line:column, exit 1.
    std::fs::write(
        volumes.jobs.join("image-smoke.yaml"),
        JobFile::new("image-smoke")
            .render()
            .replace("schedule:", "schedul:"),
    )
    .expect("write job");
    let out = podman.run(&image, &[volumes.jobs()], &["validate"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("/etc/troubleshoot/jobs.d/image-smoke.yaml:6:3: error"),
        "{}",
        stderr(&out)
    );
}

/// The image's default command is the daemon: it becomes ready, runs a trigger that comes
/// through its control socket, and stops cleanly on `podman stop` (SIGTERM).
fn check_daemon(podman: &Podman, image: &str, volumes: &Volumes) {
    let out = podman
        .run_command(image, &volumes.both(), true)
        .output()
        .expect("podman run -d runs");
    assert!(out.status.success(), "podman run -d: {}", stderr(&out));
    let container = Container {
        podman,
        id: stdout(&out).trim().to_string(),
    };
    let status = wait_until(
        Duration::from_secs(60),
        "the agent in the container to be ready",
        || {
            let out = podman.exec(&container.id, &["status"]);
            let text = stdout(&out);
            if out.status.success() && text.contains("(ready)") {
                Ok(text)
            } else {
                Err(format!("{text}{}", stderr(&out)))
            }
        },
    );
    assert!(status.contains("image-smoke"), "{status}");
    let out = podman.exec(
        &container.id,
        &["--output", "json", "trigger", "image-smoke"],
    );
    volumes.check_run(&out);
    assert!(
        !stderr(&out).contains("in the foreground"),
        "the running agent ran it: {}",
        stderr(&out)
    );
    podman.ok(&["stop", "--time", "60", &container.id]);
    let code = podman.ok(&["inspect", "--format", "{{.State.ExitCode}}", &container.id]);
    let logs = podman
        .cmd()
        .args(["logs", &container.id])
        .output()
        .expect("logs");
    assert_eq!(code.trim(), "0", "clean stop: {}", stderr(&logs));
    assert!(stderr(&logs).contains("agent stopped"), "{}", stderr(&logs));
}
