//! Whole-tree redaction on real files: planted canaries, a clean corpus, binary data, missing final
//! newlines and archives inside the bundle.

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use troubleshoot_agent::redact::defaults::{MULTI_LINE, SINGLE_LINE};
use troubleshoot_agent::redact::{Compiled, DefaultSet, MASK, compile_with, redact_tree};
use troubleshoot_agent::spec::{RedactorRule, RegexRemoval, Removals};

/// Writes `content` at `root/rel`, creating directories.
fn put(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, content).expect("write");
}

/// A tar (optionally gzipped) holding the given entries.
fn tarball(entries: &[(&str, &[u8])], gz: bool) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).expect("append");
    }
    let raw = b.into_inner().expect("tar");
    if !gz {
        return raw;
    }
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    std::io::Write::write_all(&mut enc, &raw).expect("gz");
    enc.finish().expect("gz")
}

/// Every regular-file content under `root`, archives expanded recursively, keyed by path.
fn all_contents(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (rel, abs) in files(root, "") {
        let data = fs::read(&abs).expect("read");
        expand(&rel, data, &mut out);
    }
    out
}

/// Adds a file, or an archive's entries as `archive/entry`, to `out`.
fn expand(rel: &str, data: Vec<u8>, out: &mut BTreeMap<String, Vec<u8>>) {
    let lower = rel.to_ascii_lowercase();
    if lower.ends_with(".tar") || lower.ends_with(".tgz") || lower.ends_with(".tar.gz") {
        let raw = if data.starts_with(&[0x1f, 0x8b]) {
            let mut v = Vec::new();
            GzDecoder::new(&data[..])
                .read_to_end(&mut v)
                .expect("gunzip");
            v
        } else {
            data
        };
        let mut ar = tar::Archive::new(&raw[..]);
        for e in ar.entries().expect("entries") {
            let mut e = e.expect("entry");
            let name = format!("{rel}/{}", e.path().expect("path").display());
            let mut v = Vec::new();
            e.read_to_end(&mut v).expect("read entry");
            expand(&name, v, out);
        }
    } else {
        out.insert(rel.to_string(), data);
    }
}

/// Regular files under `dir` as (relative, absolute).
fn files(dir: &Path, rel: &str) -> Vec<(String, PathBuf)> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).expect("ls") {
        let e = e.expect("entry");
        let name = e.file_name().to_string_lossy().into_owned();
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let t = e.file_type().expect("type");
        if t.is_dir() {
            v.extend(files(&e.path(), &r));
        } else if t.is_file() {
            v.push((r, e.path()));
        }
    }
    v.sort();
    v
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Escaped-JSON env pair as found in a last-applied-configuration annotation.
fn esc(name: &str, value: &str) -> String {
    format!(r#"{{\"name\":\"{name}\",\"value\":\"{value}\"}}"#)
}

/// The user Redactor an operator would add for what the defaults do not cover
/// (env-style `KEY=value`, bearer tokens, compact JSON env pairs, a known literal, a YAML key).
fn operator_rules() -> Vec<RedactorRule> {
    vec![RedactorRule {
        name: "site".into(),
        removals: Removals {
            values: vec!["CANARY30license".into()],
            regex: vec![
                RegexRemoval {
                    selector: None,
                    redactor: Some(
                        r"(?i)^((?:export )?[A-Z0-9_]*(?:KEY|SECRET|PASSWORD|TOKEN)[A-Z0-9_]*=)(?P<mask>.+)$".into(),
                    ),
                },
                RegexRemoval {
                    selector: None,
                    redactor: Some(r"(?i)(bearer )(?P<mask>[A-Za-z0-9._~+/=-]+)".into()),
                },
                RegexRemoval {
                    selector: None,
                    redactor: Some(
                        r#"(?i)("name":"[^"]*(?:password|secret|key|token)[^"]*","value":")(?P<mask>[^"]*)(")"#.into(),
                    ),
                },
            ],
            yaml_path: vec!["auth.apiKey".into()],
        },
        ..Default::default()
    }]
}

#[test]
fn canaries_are_all_removed_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // (kind, planted secret values); every value below must vanish from every file.
    let mut kinds: Vec<(&str, Vec<&str>)> = Vec::new();

    // Escaped JSON in a last-applied annotation: the 7 single-line env defaults.
    let annotation = [
        esc("AWS_SECRET_ACCESS_KEY", "CANARY01wJalrXUtnFEMIK7MDENG"),
        esc("AWS_ACCESS_KEY_ID", "CANARY02AKIAIOSFODNN7"),
        esc("AWS_OWNER_ACCOUNT", "CANARY03acct"),
        esc("MYSQL_PASSWORD", "CANARY04pw"),
        esc("SLACK_TOKEN", "CANARY05tok"),
        esc("MYSQL_DATABASE", "CANARY06db"),
        esc("MYSQL_USER", "CANARY07usr"),
        esc("LOG_LEVEL", "debug"),
    ]
    .join(",");
    kinds.push((
        "escaped-json AWS secret key",
        vec!["CANARY01wJalrXUtnFEMIK7MDENG"],
    ));
    kinds.push((
        "escaped-json AWS access key id",
        vec!["CANARY02AKIAIOSFODNN7"],
    ));
    kinds.push(("escaped-json AWS owner account", vec!["CANARY03acct"]));
    kinds.push(("escaped-json password", vec!["CANARY04pw"]));
    kinds.push(("escaped-json token", vec!["CANARY05tok"]));
    kinds.push(("escaped-json database", vec!["CANARY06db"]));
    kinds.push(("escaped-json user", vec!["CANARY07usr"]));

    // Pretty-printed pod env: the 7 multi-line env defaults.
    let pretty = [
        ("AWS_SECRET_ACCESS_KEY", "CANARY08secretkey"),
        ("AWS_ACCESS_KEY_ID", "CANARY09AKIA"),
        ("AWS_OWNER_ACCOUNT", "CANARY10acct"),
        ("DB_PASSWORD", "CANARY11pw"),
        ("GITHUB_TOKEN", "CANARY12ghp"),
        ("DATABASE_URL", "CANARY13dburl"),
        ("ADMIN_USER", "CANARY14admin"),
    ];
    let mut deployment = format!(
        "{{\n  \"metadata\": {{\n    \"annotations\": {{\n      \"kubectl.kubernetes.io/last-applied-configuration\": \"{{\\\"env\\\":[{annotation}]}}\"\n    }}\n  }},\n  \"env\": [\n"
    );
    for (name, value) in pretty {
        deployment.push_str(&format!(
            "    {{\n      \"name\": \"{name}\",\n      \"value\": \"{value}\"\n    }},\n"
        ));
    }
    deployment.push_str(
        "    {\n      \"name\": \"LOG_LEVEL\",\n      \"value\": \"debug\"\n    }\n  ]\n}\n",
    );
    put(
        root,
        "cluster-resources/deployments/default.json",
        deployment.as_bytes(),
    );
    kinds.push(("pretty-json AWS secret key", vec!["CANARY08secretkey"]));
    kinds.push(("pretty-json AWS access key id", vec!["CANARY09AKIA"]));
    kinds.push(("pretty-json AWS owner account", vec!["CANARY10acct"]));
    kinds.push(("pretty-json password", vec!["CANARY11pw"]));
    kinds.push(("pretty-json token", vec!["CANARY12ghp"]));
    kinds.push(("pretty-json database", vec!["CANARY13dburl"]));
    kinds.push(("pretty-json user", vec!["CANARY14admin"]));

    // Ceph auth list.
    let ceph_key = format!("AQCANARY15{}==", "B".repeat(28));
    put(
        root,
        "ceph/auth.json",
        format!(
            "[\n  {{\n    \"entity\": \"client.admin\",\n    \"key\": \"{ceph_key}\"\n  }}\n]\n"
        )
        .as_bytes(),
    );
    kinds.push(("ceph auth key", vec!["CANARY15"]));

    // Connection strings in a log.
    let log = "\
level=info msg=\"connecting\" url=http://CANARY16u:CANARY16p@es.internal:9200
level=info upstream=https://CANARY17u:CANARY17p@api.example.com
dsn: CANARY18u:CANARY18p@tcp(CANARY18host:3306)/CANARY18db
pg: postgres://CANARY19u:CANARY19p@CANARY19host:5432/CANARY19db
mongo: mongodb://CANARY20u:CANARY20p@CANARY20host:27017/CANARY20db
my: mysql://CANARY21u:CANARY21p@CANARY21host:3306/CANARY21db
ado: Provider=SQLOLEDB;Data Source=CANARY22ds;location=CANARY22loc;User ID=CANARY22uid;password=CANARY22pw;Timeout=30;
odbc: Server=CANARY23srv;Database=CANARY23db;Uid=CANARY23u;Pwd=CANARY23p;Pooling=true;
no final newline here";
    put(
        root,
        "cluster-resources/pods/logs/default/app/app.log",
        log.as_bytes(),
    );
    kinds.push(("http basic-auth url", vec!["CANARY16u", "CANARY16p"]));
    kinds.push(("https basic-auth url", vec!["CANARY17u", "CANARY17p"]));
    kinds.push((
        "mysql tcp dsn",
        vec!["CANARY18u", "CANARY18p", "CANARY18host", "CANARY18db"],
    ));
    kinds.push((
        "postgres dsn",
        vec!["CANARY19u", "CANARY19p", "CANARY19host", "CANARY19db"],
    ));
    kinds.push((
        "mongodb dsn",
        vec!["CANARY20u", "CANARY20p", "CANARY20host", "CANARY20db"],
    ));
    kinds.push((
        "mysql url dsn",
        vec!["CANARY21u", "CANARY21p", "CANARY21host", "CANARY21db"],
    ));
    kinds.push((
        "ado connection string",
        vec!["CANARY22ds", "CANARY22loc", "CANARY22uid", "CANARY22pw"],
    ));
    kinds.push((
        "odbc connection string",
        vec!["CANARY23srv", "CANARY23db", "CANARY23u", "CANARY23p"],
    ));

    // kurl installer (scoped default).
    put(
        root,
        "cluster-resources/custom-resources/installers.cluster.kurl.sh.json",
        br#"[{"spec":{"kubernetes":{"bootstrapToken":"CANARY24bt","certKey":"CANARY24ck","kubeadmToken":"CANARY24kt"}}}]"#,
    );
    kinds.push((
        "kurl installer tokens",
        vec!["CANARY24bt", "CANARY24ck", "CANARY24kt"],
    ));

    // Archive inside the bundle, with an archive inside it.
    let inner_tar = tarball(
        &[(
            "deep/conn.txt",
            b"pg postgres://CANARY25u:CANARY25p@h:5432/CANARY25db\n",
        )],
        false,
    );
    let outer = tarball(
        &[
            ("logs/db.log", b"Pwd=CANARY26pwd;\n".as_slice()),
            ("nested.tar", &inner_tar),
        ],
        true,
    );
    put(root, "host-collectors/run/dump.tar.gz", &outer);
    kinds.push((
        "dsn in a tar inside a tar.gz",
        vec!["CANARY25u", "CANARY25p", "CANARY25db"],
    ));
    kinds.push(("odbc pwd in a tar.gz", vec!["CANARY26pwd"]));

    // Operator-supplied rules for what the defaults do not cover.
    put(
        root,
        "config/app.env",
        b"AWS_ACCESS_KEY_ID=CANARY27AKIA\nAWS_SECRET_ACCESS_KEY=CANARY27secret\nexport DB_PASSWORD=CANARY28pw\nLOG_LEVEL=debug\n",
    );
    kinds.push(("env-style AWS keys", vec!["CANARY27AKIA", "CANARY27secret"]));
    kinds.push(("env-style password", vec!["CANARY28pw"]));
    put(
        root,
        "http/requests.log",
        b"GET /api Authorization: Bearer CANARY29eyJhbGciOi.payload.sig\n",
    );
    kinds.push(("bearer token", vec!["CANARY29eyJhbGciOi"]));
    put(root, "config/license.txt", b"license: CANARY30license\n");
    kinds.push(("known literal", vec!["CANARY30license"]));
    put(
        root,
        "configmaps/compact.json",
        br#"{"env":[{"name":"API_PASSWORD","value":"CANARY31cpw"},{"name":"MODE","value":"prod"}]}"#,
    );
    kinds.push(("compact json env password", vec!["CANARY31cpw"]));
    put(
        root,
        "config/app.yaml",
        b"auth:\n  apiKey: CANARY32apikey\n  user: svc\n",
    );
    kinds.push(("yaml api key", vec!["CANARY32apikey"]));

    assert!(kinds.len() >= 20, "{} kinds", kinds.len());
    // Upstream's default set, so that the operator's own rules are what closes the gaps (with the
    // agent extras they would find those values already masked).
    let rules = compile_with(&operator_rules(), DefaultSet::Upstream).expect("compiles");
    let report = redact_tree(root, &rules, 4).expect("redacts");

    let contents = all_contents(root);
    let mut leaks = Vec::new();
    for (kind, values) in &kinds {
        for v in values {
            for (path, data) in &contents {
                if contains(data, v) {
                    leaks.push(format!("{kind}: {v} still in {path}"));
                }
            }
        }
    }
    assert!(leaks.is_empty(), "leaks:\n{}", leaks.join("\n"));
    // Non-secrets survive.
    assert!(contains(&contents["config/app.env"], "LOG_LEVEL=debug"));
    assert!(contains(
        &contents["cluster-resources/pods/logs/default/app/app.log"],
        "@es.internal:9200"
    ));
    assert!(
        contents["cluster-resources/pods/logs/default/app/app.log"]
            .ends_with(b"no final newline here")
    );

    // Every targeted default is counted, and per-file counts add up to the totals.
    for d in SINGLE_LINE {
        assert!(
            report.totals.contains_key(d.name),
            "missing count for {}",
            d.name
        );
    }
    for d in MULTI_LINE {
        assert!(
            report.totals.contains_key(d.name),
            "missing count for {}",
            d.name
        );
    }
    for name in [
        "site.literal.0",
        "site.regex.0",
        "site.regex.1",
        "site.regex.2",
        "site.yaml.0",
    ] {
        assert!(report.totals.contains_key(name), "missing count for {name}");
    }
    let mut summed: BTreeMap<String, u64> = BTreeMap::new();
    for f in &report.files {
        for (k, n) in &f.by_redactor {
            *summed.entry(k.clone()).or_default() += n;
        }
    }
    assert_eq!(summed, report.totals);
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert!(
        paths.contains(&"host-collectors/run/dump.tar.gz/nested.tar/deep/conn.txt"),
        "{paths:?}"
    );
    assert!(
        paths.contains(&"host-collectors/run/dump.tar.gz/logs/db.log"),
        "{paths:?}"
    );
    // The report never carries values.
    let json = serde_json::to_string(&report).expect("serializes");
    assert!(!json.contains("CANARY"), "{json}");
    assert!(json.contains("\"byRedactor\""));
}

#[test]
fn upstream_defaults_leave_env_style_and_bearer_extras_mask_them() {
    // troubleshoot's default set has no rule for `KEY=value` env files, bearer tokens or compact
    // (unescaped) JSON env pairs: with `redact.defaults: upstream` they stay, byte for byte; the
    // agent extras (the default) mask each of them.
    let input = "AWS_SECRET_ACCESS_KEY=leftalone\nAuthorization: Bearer leftalone2\n{\"name\":\"PASSWORD\",\"value\":\"leftalone3\"}\n";
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "a.env", input.as_bytes());
    let upstream = compile_with(&[], DefaultSet::Upstream).expect("defaults");
    let report = redact_tree(dir.path(), &upstream, 1).expect("redacts");
    assert_eq!(
        fs::read_to_string(dir.path().join("a.env")).expect("read"),
        input
    );
    assert!(report.files.is_empty());

    let report =
        redact_tree(dir.path(), &Compiled::defaults().expect("defaults"), 1).expect("redacts");
    assert_eq!(
        fs::read_to_string(dir.path().join("a.env")).expect("read"),
        format!(
            "AWS_SECRET_ACCESS_KEY={MASK}\nAuthorization: Bearer {MASK}\n{{\"name\":\"PASSWORD\",\"value\":\"{MASK}\"}}\n"
        )
    );
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].by_redactor.values().sum::<u64>(), 3);
    assert!(
        report.totals.keys().all(|k| k.starts_with("agent extra: ")),
        "{:?}",
        report.totals
    );
}

/// Copies a directory tree.
fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).expect("mkdir");
    for e in fs::read_dir(src).expect("ls") {
        let e = e.expect("entry");
        let t = e.file_type().expect("type");
        if t.is_dir() {
            copy_tree(&e.path(), &dst.join(e.file_name()));
        } else if t.is_file() {
            fs::copy(e.path(), dst.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn clean_corpus_only_the_real_secret_changes() {
    // The credentials in this corpus: the shipcloud Postgres DSN (upstream's set masks it) and
    // API_ENCRYPTION_KEY in the escaped last-applied annotation (only the agent extras mask it),
    // each in two copies of the deployments file. Nothing else may change.
    let dsn_line = (
        283,
        "                  \"postgres://shipcloud:password@postgres.default.svc.cluster.local:5432/shipcloud?sslmode=disable\",",
        "                  \"postgres://***HIDDEN***:***HIDDEN***@***HIDDEN***:5432/***HIDDEN***\",".to_string(),
    );
    let key = "IvWItkB8+ezMisPjSMBknT1PdKjBx7Xc/txZqOP8Y2Oe7+Jy";
    let dsn = "Redact database connection strings that contain username and password";
    let extra = "agent extra: escaped JSON env pairs with spaces";
    for set in [DefaultSet::Upstream, DefaultSet::Extended] {
        let src = Path::new("/work/shared/compat/cluster-resources");
        let dir = tempfile::tempdir().expect("tempdir");
        copy_tree(src, dir.path());
        let rules = compile_with(&[], set).expect("defaults");
        let report = redact_tree(dir.path(), &rules, 4).expect("redacts");

        let dsn_file_a = "deployments/default.json";
        let dsn_file_b = "support-bundle/cluster-resources/deployments/default.json";
        let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec![dsn_file_a, dsn_file_b]);
        let mut per_file = BTreeMap::from([(dsn.to_string(), 1)]);
        if set == DefaultSet::Extended {
            per_file.insert(extra.to_string(), 1);
        }
        for f in &report.files {
            assert_eq!(f.by_redactor, per_file, "{set:?}");
        }
        let totals: BTreeMap<String, u64> =
            per_file.iter().map(|(k, v)| (k.clone(), v * 2)).collect();
        assert_eq!(report.totals, totals);

        let mut files_seen = 0;
        for (rel, abs) in files(src, "") {
            files_seen += 1;
            let before = fs::read(&abs).expect("read");
            let after = fs::read(dir.path().join(&rel)).expect("read");
            if rel != dsn_file_a && rel != dsn_file_b {
                assert!(before == after, "{rel} changed");
                continue;
            }
            let before = String::from_utf8(before).expect("utf8");
            let after = String::from_utf8(after).expect("utf8");
            let changed: Vec<(usize, &str, String)> = before
                .split('\n')
                .zip(after.split('\n'))
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (a, b))| (i + 1, a, b.to_string()))
                .collect();
            assert_eq!(before.split('\n').count(), after.split('\n').count());
            let mut expected = Vec::new();
            if set == DefaultSet::Extended {
                let line = before.split('\n').nth(21).expect("line 22");
                assert!(line.contains(key));
                expected.push((22, line, line.replace(key, MASK)));
            }
            expected.push(dsn_line.clone());
            assert_eq!(changed, expected, "{rel} {set:?}");
        }
        assert_eq!(files_seen, 37);
    }
}

#[test]
fn binary_file_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut data: Vec<u8> = b"\x7fELF\x02\x01\x01\0".to_vec();
    data.extend(b"Pwd=hunter2;\npassword=x;\n");
    data.extend((0..=255u8).cycle().take(70_000));
    put(dir.path(), "host/bin/tool", &data);
    let report =
        redact_tree(dir.path(), &Compiled::defaults().expect("defaults"), 2).expect("redacts");
    assert_eq!(
        fs::read(dir.path().join("host/bin/tool")).expect("read"),
        data
    );
    assert!(report.files.is_empty());
}

#[test]
fn missing_final_newline_is_preserved() {
    let dir = tempfile::tempdir().expect("tempdir");
    put(dir.path(), "a.txt", b"line1\nPwd=x;");
    put(dir.path(), "b.txt", b"line1\nPwd=x;\n");
    redact_tree(dir.path(), &Compiled::defaults().expect("defaults"), 2).expect("redacts");
    assert_eq!(
        fs::read(dir.path().join("a.txt")).expect("read"),
        format!("line1\nPwd={MASK};").as_bytes()
    );
    assert_eq!(
        fs::read(dir.path().join("b.txt")).expect("read"),
        format!("line1\nPwd={MASK};\n").as_bytes()
    );
}

#[test]
fn tar_gz_inside_tree_is_redacted_recursively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let inner = tarball(&[("x/inner.log", b"Uid=innersecret;\n")], true);
    let outer = tarball(
        &[
            ("a.log", b"Pwd=outersecret;\nkeep me\n".as_slice()),
            ("bin.dat", b"\0Pwd=binary;"),
            ("deeper.tgz", &inner),
        ],
        false,
    );
    put(dir.path(), "bundle/data.tar", &outer);
    let report =
        redact_tree(dir.path(), &Compiled::defaults().expect("defaults"), 1).expect("redacts");
    let contents = all_contents(dir.path());
    assert_eq!(
        contents["bundle/data.tar/a.log"],
        format!("Pwd={MASK};\nkeep me\n").as_bytes()
    );
    assert_eq!(contents["bundle/data.tar/bin.dat"], b"\0Pwd=binary;");
    assert_eq!(
        contents["bundle/data.tar/deeper.tgz/x/inner.log"],
        format!("Uid={MASK};\n").as_bytes()
    );
    let paths: Vec<&str> = report.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(
        paths,
        vec![
            "bundle/data.tar/a.log",
            "bundle/data.tar/deeper.tgz/x/inner.log"
        ]
    );
    // Original headers kept: mode and mtime.
    let raw = fs::read(dir.path().join("bundle/data.tar")).expect("read");
    let mut ar = tar::Archive::new(&raw[..]);
    for e in ar.entries().expect("entries") {
        let e = e.expect("entry");
        assert_eq!(e.header().mode().expect("mode"), 0o644);
        assert_eq!(e.header().mtime().expect("mtime"), 1_700_000_000);
    }
    // The inner archive is still gzip.
    let mut ar = tar::Archive::new(&raw[..]);
    for e in ar.entries().expect("entries") {
        let mut e = e.expect("entry");
        if e.path().expect("path").ends_with("deeper.tgz") {
            let mut v = Vec::new();
            e.read_to_end(&mut v).expect("read");
            assert!(v.starts_with(&[0x1f, 0x8b]));
        }
    }
}
