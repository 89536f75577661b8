//! The canary suite: more than 50 kinds of credentials planted in host outputs, JSON, YAML, env
//! files, keys and logs, collected by a real job run through the daemon, must be 100 % masked in
//! the archive and appear nowhere in the agent's logs (stderr), the run record, the status and
//! history APIs or `/metrics`. Then a crash: a partial bundle is redacted with the job's own
//! redactors when the job is still defined, and the record says what was used.

use crate::support;

use flate2::read::GzDecoder;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::time::Duration;
use support::daemon::{Daemon, dirs, read_json};

/// One planted kind: a label, the file it goes in, the text, and the values that must vanish.
struct Kind {
    label: &'static str,
    file: &'static str,
    text: String,
    secrets: Vec<String>,
}

fn kind(label: &'static str, file: &'static str, text: &str, secrets: &[&str]) -> Kind {
    for s in secrets {
        assert!(text.contains(s), "{label}: {s} not in its text");
    }
    Kind {
        label,
        file,
        text: text.to_string(),
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
    }
}

fn pem(kind: &str, body: &[&str], indent: &str) -> String {
    let mut s = format!("{indent}-----BEGIN {kind}PRIVATE KEY-----\n");
    for line in body {
        s.push_str(&format!("{indent}{line}\n"));
    }
    s.push_str(&format!("{indent}-----END {kind}PRIVATE KEY-----"));
    s
}

fn kinds() -> Vec<Kind> {
    let log = "app.log";
    let env = "app.env";
    let json = "config.json";
    let yaml = "kubeconfig.yaml";
    let keys = "keys.txt";
    let host = "hostout.txt";
    let rsa = pem(
        "RSA ",
        &["MIIEpAIBAAKCAQEAcanaryRsaBody01", "canaryRsaBody02xyz=="],
        "",
    );
    let ec = pem("EC ", &["MHcCAQEEIcanaryEcBody0001"], "");
    let ossh = pem("OPENSSH ", &["b3BlbnNzaC1rZXktdjEAcanaryOpenSsh01"], "");
    let pkcs8 = format!(
        "tls.key: |\n{}",
        pem("", &["MIIEvQIBADANcanaryPkcs8Body1"], "  ")
    );
    vec![
        // Logs.
        kind(
            "AWS access key id in a log",
            log,
            "2025-12-10T17:00:01Z INFO using key AKIACANARYKEYID00001 for s3",
            &["AKIACANARYKEYID00001"],
        ),
        kind(
            "AWS STS key id",
            log,
            "assumed role with ASIACANARYSTSKEY0002",
            &["ASIACANARYSTSKEY0002"],
        ),
        kind(
            "GitHub classic token",
            log,
            "clone with ghp_canaryGitHubToken0123456789abcdefghi",
            &["ghp_canaryGitHubToken0123456789abcdefghi"],
        ),
        kind(
            "GitHub fine-grained token",
            log,
            "token github_pat_11CANARY0123456789_finegrainedPAT",
            &["github_pat_11CANARY0123456789_finegrainedPAT"],
        ),
        kind(
            "GitLab token",
            log,
            "runner uses glpat-canaryGitLab0123456789",
            &["glpat-canaryGitLab0123456789"],
        ),
        kind(
            "Slack bot token",
            log,
            "slack xoxb-1234567890-canarySlackBot",
            &["xoxb-1234567890-canarySlackBot"],
        ),
        kind(
            "Slack webhook",
            log,
            "POST https://hooks.slack.com/services/T0CANARY/B0CANARY/canaryWebhookSecret",
            &["T0CANARY/B0CANARY/canaryWebhookSecret"],
        ),
        kind(
            "JWT",
            log,
            "session eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.canaryJwtSignature",
            &["eyJzdWIiOiJjYW5hcnkifQ", "canaryJwtSignature"],
        ),
        kind(
            "Authorization: Bearer",
            log,
            "GET /api Authorization: Bearer canaryBearerToken42",
            &["canaryBearerToken42"],
        ),
        kind(
            "Authorization: Basic",
            log,
            "authorization: Basic Y2FuYXJ5OmJhc2ljcHc=",
            &["Y2FuYXJ5OmJhc2ljcHc="],
        ),
        kind(
            "basic-auth URL",
            log,
            "fetching https://deploy:canaryUrlPass@git.example.com/repo.git",
            &["canaryUrlPass"],
        ),
        kind(
            "postgres DSN",
            log,
            "db postgres://pguser:canaryPgPass@pg.internal:5432/orders",
            &["canaryPgPass"],
        ),
        kind(
            "mysql tcp DSN",
            log,
            "dsn shop:canaryMysqlPass@tcp(mysql:3306)/shop",
            &["canaryMysqlPass"],
        ),
        kind(
            "mongodb DSN",
            log,
            "mongo mongodb://mongo:canaryMongoPass@mongo-0:27017/app",
            &["canaryMongoPass"],
        ),
        kind(
            "mongodb+srv DSN",
            log,
            "mongo mongodb+srv://atlas:canarySrvPass@cluster0.example.net",
            &["canarySrvPass"],
        ),
        kind(
            "redis DSN",
            log,
            "cache redis://:canaryRedisPass@redis:6379/0",
            &["canaryRedisPass"],
        ),
        kind(
            "amqp DSN",
            log,
            "bus amqp://guest:canaryAmqpPass@rabbit:5672/vhost",
            &["canaryAmqpPass"],
        ),
        kind(
            "ODBC pairs",
            log,
            "odbc Server=sql1;Database=app;Uid=canaryUid;Pwd=canaryOdbcPwd;",
            &["canaryUid", "canaryOdbcPwd"],
        ),
        kind(
            "ADO pairs",
            log,
            "ado Data Source=db1;User ID=canaryAdoUser;Password=canaryAdoPass;Timeout=3;",
            &["canaryAdoUser", "canaryAdoPass"],
        ),
        kind(
            "Stripe secret key",
            log,
            "billing sk_live_canaryStripe0123456789",
            &["sk_live_canaryStripe0123456789"],
        ),
        kind(
            "npm token",
            log,
            "publish npm_canaryNpmToken0123456789abcdefghijkl",
            &["npm_canaryNpmToken0123456789abcdefghijkl"],
        ),
        kind(
            "Google API key",
            log,
            "maps AIzaSyCanaryGoogleKey0123456789abcdefgh",
            &["AIzaSyCanaryGoogleKey0123456789abcdefgh"],
        ),
        kind(
            "SendGrid key",
            log,
            "mail SG.canarySendGrid0001.canarySendGridSecret0001",
            &["SG.canarySendGrid0001.canarySendGridSecret0001"],
        ),
        kind(
            "Vault token",
            log,
            "vault hvs.canaryVaultToken0123456789",
            &["hvs.canaryVaultToken0123456789"],
        ),
        kind(
            "X-Api-Key header",
            log,
            "X-Api-Key: canaryApiKeyHeader",
            &["canaryApiKeyHeader"],
        ),
        kind(
            "Cookie header",
            log,
            "Cookie: session=canaryCookieSession; theme=dark",
            &["canaryCookieSession"],
        ),
        kind(
            "password flag",
            log,
            "exec mysql --password canaryFlagPass -h db",
            &["canaryFlagPass"],
        ),
        kind(
            "query-string token",
            log,
            "GET /cb?access_token=canaryQueryToken&state=1",
            &["canaryQueryToken"],
        ),
        kind(
            "Azure storage connection string",
            log,
            "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=canaryAzureKey0==;EndpointSuffix=core.windows.net",
            &["canaryAzureKey0=="],
        ),
        kind(
            "Azure SAS signature",
            log,
            "blob https://a.blob.core.windows.net/c/x?sv=2022&sig=canaryAzureSig%3D",
            &["canaryAzureSig%3D"],
        ),
        kind(
            "password= in a log",
            log,
            "login attempt user=bob password=canaryLogPass from 10.0.0.1",
            &["canaryLogPass"],
        ),
        // Env files.
        kind(
            "export KEY=value",
            env,
            "export DB_PASSWORD=canaryExportPass",
            &["canaryExportPass"],
        ),
        kind(
            "API_KEY env",
            env,
            "API_KEY=canaryEnvApiKey",
            &["canaryEnvApiKey"],
        ),
        kind(
            "SECRET_KEY_BASE env",
            env,
            "SECRET_KEY_BASE=canarySecretKeyBase",
            &["canarySecretKeyBase"],
        ),
        kind(
            "PGPASSWORD env",
            env,
            "PGPASSWORD='canaryPgEnvPass'",
            &["canaryPgEnvPass"],
        ),
        kind(
            ".npmrc auth token",
            env,
            "//registry.npmjs.org/:_authToken=canaryNpmrcToken",
            &["canaryNpmrcToken"],
        ),
        kind(
            "AWS credentials file",
            env,
            "aws_secret_access_key = canaryAwsCredSecret",
            &["canaryAwsCredSecret"],
        ),
        // JSON.
        kind(
            "one-line JSON env pair",
            json,
            r#"{"name":"DB_PASSWORD","value":"canaryOneLineEnv"}"#,
            &["canaryOneLineEnv"],
        ),
        kind(
            "escaped JSON env pair",
            json,
            r#"{"cmd": "[{\"name\":\"MYSQL_PASSWORD\",\"value\":\"canaryEscapedEnv\"}]"}"#,
            &["canaryEscapedEnv"],
        ),
        kind(
            "escaped JSON env with spaces",
            json,
            r#"{"cmd": "{\"name\": \"API_SECRET\", \"value\": \"canaryEscSpaced\"}"}"#,
            &["canaryEscSpaced"],
        ),
        kind(
            "pretty JSON env password",
            json,
            "{\n  \"name\": \"REDIS_PASSWORD\",\n  \"value\": \"canaryPrettyPass\"\n}",
            &["canaryPrettyPass"],
        ),
        kind(
            "pretty JSON env secret",
            json,
            "{\n  \"name\": \"STRIPE_SECRET\",\n  \"value\": \"canaryPrettySecret\"\n}",
            &["canaryPrettySecret"],
        ),
        kind(
            "pretty JSON AWS key id",
            json,
            "{\n  \"name\": \"AWS_ACCESS_KEY_ID\",\n  \"value\": \"canaryPrettyKeyId\"\n}",
            &["canaryPrettyKeyId"],
        ),
        kind(
            "JSON password key",
            json,
            r#"{"password": "canaryJsonPass"}"#,
            &["canaryJsonPass"],
        ),
        kind(
            "JSON client_secret",
            json,
            r#"{"client_id": "app", "client_secret": "canaryClientSecret"}"#,
            &["canaryClientSecret"],
        ),
        kind(
            "docker config auths",
            json,
            r#"{"auths":{"registry.example.com":{"auth":"Y2FuYXJ5OmRvY2tlcg=="}}}"#,
            &["Y2FuYXJ5OmRvY2tlcg=="],
        ),
        kind(
            "GCP service-account private key",
            json,
            r#"{"type": "service_account", "private_key_id": "canaryGcpKeyId", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANcanaryGcpKeyBody\n-----END PRIVATE KEY-----\n"}"#,
            &["canaryGcpKeyId", "MIIEvgIBADANcanaryGcpKeyBody"],
        ),
        kind(
            "Ceph auth key",
            json,
            "{\n  \"entity\": \"client.admin\",\n  \"key\": \"AQCanaryCephKey0123456789abcdefghijklm==\"\n}",
            &["AQCanaryCephKey0123456789abcdefghijklm=="],
        ),
        // YAML.
        kind(
            "kubeconfig token",
            yaml,
            "users:\n- name: admin\n  user:\n    token: canaryKubeToken123",
            &["canaryKubeToken123"],
        ),
        kind(
            "kubeconfig client-key-data",
            yaml,
            "    client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpjanaryKeyData",
            &["LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpjanaryKeyData"],
        ),
        kind(
            "YAML password",
            yaml,
            "db:\n  password: canaryYamlPass",
            &["canaryYamlPass"],
        ),
        kind(
            "YAML env pair",
            yaml,
            "env:\n  - name: SMTP_PASSWORD\n    value: canaryYamlEnvPass",
            &["canaryYamlEnvPass"],
        ),
        kind(
            "auth-provider tokens",
            yaml,
            "    access-token: canaryAccessTok\n    refresh-token: canaryRefreshTok",
            &["canaryAccessTok", "canaryRefreshTok"],
        ),
        // Private keys.
        kind(
            "PEM RSA key",
            keys,
            &rsa,
            &["MIIEpAIBAAKCAQEAcanaryRsaBody01", "canaryRsaBody02xyz=="],
        ),
        kind("PEM EC key", keys, &ec, &["MHcCAQEEIcanaryEcBody0001"]),
        kind(
            "OpenSSH key",
            keys,
            &ossh,
            &["b3BlbnNzaC1rZXktdjEAcanaryOpenSsh01"],
        ),
        kind(
            "PKCS8 key in a YAML block",
            keys,
            &pkcs8,
            &["MIIEvQIBADANcanaryPkcs8Body1"],
        ),
        // Host outputs (a `run` collector prints them).
        kind(
            "root password in command output",
            host,
            "MYSQL_ROOT_PASSWORD=canaryHostRootPass",
            &["canaryHostRootPass"],
        ),
        kind(
            "bearer token in curl -v output",
            host,
            "> Authorization: Bearer canaryCurlBearer99",
            &["canaryCurlBearer99"],
        ),
        kind(
            "DSN in command output",
            host,
            "DATABASE_URL=postgres://app:canaryHostDsnPass@db:5432/app",
            &["canaryHostDsnPass"],
        ),
    ]
}

/// Every file of the gzipped tar at `path`, by entry path.
fn archive_contents(path: &Path) -> BTreeMap<String, Vec<u8>> {
    let file = std::fs::File::open(path).expect("bundle");
    let mut archive = tar::Archive::new(GzDecoder::new(file));
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let name = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read entry");
        out.insert(name, data);
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Writes the planted files into `dir` and a job that collects them, and returns the kinds.
fn plant(dir: &Path, jobs: &Path, extra_spec: &str) -> Vec<Kind> {
    let kinds = kinds();
    let mut files: BTreeMap<&str, String> = BTreeMap::new();
    for k in &kinds {
        let f = files.entry(k.file).or_default();
        f.push_str(&k.text);
        f.push('\n');
    }
    let mut collectors = String::new();
    for (name, text) in &files {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("plant");
        if *name == "hostout.txt" {
            collectors.push_str(&format!(
                "        - run: {{collectorName: hostout, command: cat, args: [\"{}\"]}}\n",
                path.display()
            ));
        } else {
            collectors.push_str(&format!(
                "        - copy: {{collectorName: {}, path: {}}}\n",
                name.replace('.', "-"),
                path.display()
            ));
        }
    }
    std::fs::write(
        jobs.join("canary.yaml"),
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: canary}}\nspec:\n  schedule: \"0 1 * * *\"\n{extra_spec}  collect:\n    supportBundle:\n      hostCollectors:\n{collectors}"
        ),
    )
    .expect("job");
    kinds
}

#[test]
fn fifty_kinds_of_credentials_are_masked_and_never_leak() {
    let dd = dirs();
    let kinds = plant(dd.jobs.parent().expect("root"), &dd.jobs, "");
    assert!(kinds.len() >= 50, "{} kinds", kinds.len());
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = d.trigger("canary")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    let record = d.wait_run("canary", &id, Duration::from_secs(60));
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let bundle = record["bundle"]["path"].as_str().expect("bundle path");
    let contents = archive_contents(Path::new(bundle));

    // Each planted file arrived (so the check below is about redaction, not missing files).
    for file in [
        "app.log",
        "app.env",
        "config.json",
        "kubeconfig.yaml",
        "keys.txt",
    ] {
        assert!(
            contents.keys().any(|k| k.ends_with(file)),
            "{file} not collected: {:?}",
            contents.keys()
        );
    }
    assert!(
        contents
            .iter()
            .any(|(_, v)| contains(v, "MYSQL_ROOT_PASSWORD=***HIDDEN***")),
        "host output not collected or not redacted"
    );

    let record_text = std::fs::read_to_string(d.record_path("canary", &id)).expect("record");
    let history = d.get("/api/v1/jobs/canary/runs?limit=5").body;
    let status = d.get("/api/v1/status").body;
    let metrics = d.get("/metrics").body;
    let logs = d.stderr();
    let mut leaks = Vec::new();
    for k in &kinds {
        for s in &k.secrets {
            for (name, data) in &contents {
                if contains(data, s) {
                    leaks.push(format!("{}: {s} in the archive ({name})", k.label));
                }
            }
            for (place, text) in [
                ("run record", &record_text),
                ("history API", &history),
                ("status API", &status),
                ("/metrics", &metrics),
                ("agent logs", &logs),
            ] {
                if text.contains(s.as_str()) {
                    leaks.push(format!("{}: {s} in the {place}", k.label));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks:\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    // Masks are counted per file and redactor; the record never carries values.
    let totals = &record["redaction"]["totals"];
    let masked: u64 = totals
        .as_object()
        .expect("totals")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    let planted: usize = kinds.iter().map(|k| k.secrets.len()).sum();
    assert!(
        masked as usize >= planted - 8,
        "{masked} masks for {planted} planted values: {totals:#}"
    );
    assert!(
        totals
            .as_object()
            .expect("totals")
            .keys()
            .any(|k| k.starts_with("agent extra: ")),
        "{totals:#}"
    );
}

#[test]
fn upstream_defaults_leave_what_only_the_extras_mask() {
    let dd = dirs();
    plant(
        dd.jobs.parent().expect("root"),
        &dd.jobs,
        "  redact: {defaults: upstream}\n",
    );
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let id = d.trigger("canary")["runId"]
        .as_str()
        .expect("runId")
        .to_string();
    let record = d.wait_run("canary", &id, Duration::from_secs(60));
    assert_eq!(record["status"], "succeeded", "{record:#}");
    let contents = archive_contents(Path::new(
        record["bundle"]["path"].as_str().expect("bundle"),
    ));
    let all: Vec<u8> = contents.into_values().flatten().collect();
    // Upstream's set: DSNs and escaped env pairs masked, bearer tokens and KEY=value left.
    assert!(!contains(&all, "canaryPgPass"));
    assert!(!contains(&all, "canaryEscapedEnv"));
    assert!(contains(&all, "canaryBearerToken42"));
    assert!(contains(&all, "canaryExportPass"));
    let totals = record["redaction"]["totals"].as_object().expect("totals");
    assert!(
        totals.keys().all(|k| !k.starts_with("agent extra: ")),
        "{totals:?}"
    );
}

#[test]
fn a_crashed_runs_partial_bundle_is_redacted_as_its_job_asks() {
    let dd = dirs();
    let secret_file = dd.jobs.parent().expect("root").join("custom.log");
    std::fs::write(&secret_file, "ticket CUSTOMER-CANARY-7731 opened\n").expect("plant");
    std::fs::write(
        dd.jobs.join("redactors.yaml"),
        "apiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nmetadata: {name: r}\nspec:\n  redactors:\n    - name: customer\n      removals:\n        values: [CUSTOMER-CANARY-7731]\n",
    )
    .expect("redactor");
    let job = |name: &str| {
        format!(
            "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata: {{name: {name}}}\nspec:\n  schedule: \"0 1 * * *\"\n  redact: {{redactors: [redactors.yaml]}}\n  collect:\n    supportBundle:\n      hostCollectors:\n        - copy: {{collectorName: custom, path: {}}}\n        - run: {{collectorName: slow, command: sleep, args: [\"60\"]}}\n",
            secret_file.display()
        )
    };
    std::fs::write(dd.jobs.join("kept.yaml"), job("kept")).expect("job");
    std::fs::write(dd.jobs.join("gone.yaml"), job("gone")).expect("job");
    let d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    let kept = d.trigger("kept")["runId"].as_str().expect("id").to_string();
    let gone = d.trigger("gone")["runId"].as_str().expect("id").to_string();
    // Wait until both runs have copied the file into staging, then crash.
    support::daemon::wait_until(Duration::from_secs(20), "staged copies", || {
        let n = walk(&dd.state.join("jobs"))
            .iter()
            .filter(|p| p.contains("/staging/") && p.ends_with("custom.log"))
            .count();
        if n >= 2 {
            Ok(())
        } else {
            Err(format!("{n} staged"))
        }
    });
    let kept_path = d.record_path("kept", &kept);
    let gone_path = d.record_path("gone", &gone);
    d.kill9();
    std::fs::remove_file(dd.jobs.join("gone.yaml")).expect("remove job");

    let _d = Daemon::builder().jobs(&dd.jobs).state(&dd.state).start();
    for (path, via_job) in [(&kept_path, true), (&gone_path, false)] {
        // Recovery archives partial bundles in the background, after the agent is ready.
        let r = support::daemon::wait_until(Duration::from_secs(60), "the partial bundle", || {
            let r = read_json(path)?;
            if r["bundle"].is_object() {
                Ok(r)
            } else {
                Err(r.to_string())
            }
        });
        assert_eq!(r["status"], "interrupted", "{r:#}");
        assert_eq!(r["bundle"]["partial"], true, "{r:#}");
        let used = r["redaction"]["recovery"].as_str().unwrap_or_default();
        let all: Vec<u8> =
            archive_contents(Path::new(r["bundle"]["path"].as_str().expect("bundle")))
                .into_values()
                .flatten()
                .collect();
        if via_job {
            assert_eq!(used, "the job's redaction settings", "{r:#}");
            assert!(
                !contains(&all, "CUSTOMER-CANARY-7731"),
                "custom value leaked"
            );
            assert_eq!(r["redaction"]["totals"]["customer.literal.0"], 1, "{r:#}");
        } else {
            assert!(used.contains("not defined in the jobs directory"), "{r:#}");
            assert!(
                contains(&all, "CUSTOMER-CANARY-7731"),
                "only the built-in set ran"
            );
        }
    }
}

/// Every path under `dir`, as strings.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
