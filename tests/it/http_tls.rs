//! The `http` collector over https, on the host and in-cluster: a loopback TLS server with a CA
//! made here by openssl; `tls.cacert`, the unknown-authority error, `insecureSkipVerify`, a client
//! certificate, and in-cluster the CA and client certificate from a `tls.secret`.

use crate::support;
use crate::support::kube_api;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use troubleshoot_agent::collect::CollectorStatus;
use troubleshoot_agent::collect::host::{self, HostOptions};
use troubleshoot_agent::spec::Entry;
use troubleshoot_agent::yaml::Loc;

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA.
fn pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let ca: Vec<&str> = ["req", "-x509"]
        .into_iter()
        .chain(ec)
        .chain(["-keyout", "ca.key", "-out", "ca.pem", "-days", "2"])
        .chain(["-subj", "/CN=troubleshoot-agent test CA"])
        .collect();
    openssl(&ca, dir);
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for (who, cn) in [("server", "/CN=127.0.0.1"), ("client", "/CN=agent")] {
        let key = format!("{who}.key");
        let csr = format!("{who}.csr");
        let req: Vec<&str> = ["req"]
            .into_iter()
            .chain(ec)
            .chain(["-keyout", &key, "-out", &csr, "-subj", cn])
            .collect();
        openssl(&req, dir);
        let pem = format!("{who}.pem");
        let ext = format!("{who}.ext");
        openssl(
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &pem,
                "-extfile",
                &ext,
            ],
            dir,
        );
    }
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Serves https on a loopback port: each request gets a JSON body naming the ALPN protocol and
/// whether the client sent a certificate. With `client_ca`, a client certificate is required.
async fn serve(dir: &Path, client_ca: bool) -> u16 {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(read(dir, "server.pem").as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
    let key = PrivateKeyDer::from_pem_slice(read(dir, "server.key").as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if client_ca {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(read(dir, "ca.pem").as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key).unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(mut s) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let (_, conn) = s.get_ref();
                let body = json!({
                    "alpn": conn.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
                    "clientCert": conn.peer_certificates().is_some_and(|c| !c.is_empty()),
                    "request": String::from_utf8_lossy(&req).lines().next().unwrap_or("").to_string(),
                })
                .to_string();
                let resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = s.write_all(resp.as_bytes()).await;
                let _ = s.shutdown().await;
            });
        }
    });
    port
}

fn entry(name: &str, get: Value) -> Entry {
    Entry {
        kind: "http".into(),
        collector_name: Some(name.into()),
        exclude: false,
        body: json!({ "collectorName": name, "get": get }),
        file: PathBuf::from("test.yaml"),
        loc: Loc::default(),
    }
}

/// Runs the entries and returns each one's result document.
async fn collect(entries: &[Entry]) -> Vec<Value> {
    let out = tempfile::tempdir().unwrap();
    let outcomes = tokio::time::timeout(
        Duration::from_secs(120),
        host::collect(
            entries,
            out.path(),
            &CancellationToken::new(),
            &HostOptions::default(),
            chrono::Utc::now(),
        ),
    )
    .await
    .expect("host collection hung");
    entries
        .iter()
        .map(|e| {
            let name = e.collector_name.as_deref().unwrap();
            let o = outcomes.iter().find(|o| o.title == name).unwrap();
            assert!(
                matches!(o.status, CollectorStatus::Succeeded),
                "{name}: {:?} {:?}",
                o.status,
                o.error
            );
            let path = out.path().join(format!("host-collectors/http/{name}.json"));
            let text = std::fs::read_to_string(&path).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_get_with_cacert_without_it_and_insecure_skip_verify() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let port = serve(dir.path(), false).await;
    let url = format!("https://127.0.0.1:{port}/healthz?x=1");
    let ca = read(dir.path(), "ca.pem");
    let docs = collect(&[
        entry("with-ca", json!({ "url": url, "tls": { "cacert": ca } })),
        entry("no-ca", json!({ "url": url })),
        entry(
            "insecure",
            json!({ "url": url, "insecureSkipVerify": true }),
        ),
        entry(
            "bad-ca",
            json!({ "url": url, "tls": { "cacert": "/etc/ca.pem" } }),
        ),
    ])
    .await;

    let ok = &docs[0]["response"];
    assert_eq!(ok["status"], 200, "{}", docs[0]);
    assert_eq!(ok["headers"]["Content-Type"], "application/json");
    assert_eq!(ok["raw_json"]["alpn"], "http/1.1");
    assert_eq!(ok["raw_json"]["request"], "GET /healthz?x=1 HTTP/1.1");
    assert_eq!(ok["raw_json"]["clientCert"], false);

    assert_eq!(
        docs[1]["error"]["message"],
        format!(
            "Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
        ),
        "{}",
        docs[1]
    );
    assert_eq!(docs[2]["response"]["status"], 200, "{}", docs[2]);
    let bad = docs[3]["error"]["message"].as_str().unwrap_or("");
    assert!(
        bad.contains("tls.cacert") && bad.contains("not supported yet"),
        "{bad}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_client_certificate_required_by_the_server() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let port = serve(dir.path(), true).await;
    let url = format!("https://127.0.0.1:{port}/");
    let ca = read(dir.path(), "ca.pem");
    let tls = json!({
        "cacert": ca,
        "clientCert": read(dir.path(), "client.pem"),
        "clientKey": read(dir.path(), "client.key"),
    });
    let docs = collect(&[
        entry("with-client-cert", json!({ "url": url, "tls": tls })),
        entry("without", json!({ "url": url, "tls": { "cacert": ca } })),
    ])
    .await;
    assert_eq!(docs[0]["response"]["status"], 200, "{}", docs[0]);
    assert_eq!(docs[0]["response"]["raw_json"]["clientCert"], true);
    // TLS 1.3: the server's refusal arrives as an alert after the client's handshake finished.
    let without = docs[1]["error"]["message"].as_str().unwrap_or("");
    assert_eq!(
        without,
        format!("Get \"{url}\": remote error: tls: certificate required"),
        "{}",
        docs[1]
    );
}

/// The test cluster with Secret `default/http-tls` holding the CA and the client's certificate
/// and key under troubleshoot's keys.
fn cluster_with_tls_secret(dir: &Path) -> kube_api::KubeApiServer {
    use base64::Engine;
    let b64 = |name: &str| base64::engine::general_purpose::STANDARD.encode(read(dir, name));
    let mut cluster = kube_api::Cluster::baseline();
    let secret = json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "http-tls", "namespace": "default"},
        "data": {
            "cacert": b64("ca.pem"),
            "clientCert": b64("client.pem"),
            "clientKey": b64("client.key"),
        },
    });
    cluster.insert_value(secret, None).expect("secret");
    kube_api::KubeApiServer::start(cluster)
}

#[test]
fn in_cluster_https_with_a_tls_secret_and_inline_pem() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The server's tasks run on the runtime's threads while the agent runs.
    let port = rt.block_on(serve(dir.path(), true));
    let url = format!("https://127.0.0.1:{port}/healthz");
    let api = cluster_with_tls_secret(dir.path());
    let q = |name: &str| serde_json::to_string(&read(dir.path(), name)).unwrap();
    let collectors = [
        format!(
            "- http:\n    collectorName: from-secret\n    get:\n      url: {url}\n      tls: {{secret: {{name: http-tls, namespace: default}}}}\n"
        ),
        format!(
            "- http:\n    collectorName: inline\n    get:\n      url: {url}\n      tls: {{cacert: {}, clientCert: {}, clientKey: {}}}\n",
            q("ca.pem"),
            q("client.pem"),
            q("client.key")
        ),
        format!(
            "- http:\n    collectorName: no-client-cert\n    get:\n      url: {url}\n      tls: {{cacert: {}}}\n",
            q("ca.pem")
        ),
        format!("- http:\n    collectorName: system-roots\n    get:\n      url: {url}\n"),
        format!(
            "- http:\n    collectorName: no-secret\n    get:\n      url: {url}\n      tls: {{secret: {{name: nope, namespace: default}}}}\n"
        ),
    ]
    .concat();
    let run = run_job(&collectors, &api.kubeconfig("default"));
    for name in ["from-secret", "inline"] {
        let doc = run.json(&format!("{name}.json"));
        assert_eq!(doc["response"]["status"], 200, "{name}: {doc}");
        assert_eq!(doc["response"]["raw_json"]["clientCert"], true, "{name}");
    }
    let error = |name: &str| {
        let doc = run.json(&format!("{name}.json"));
        doc["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        error("no-client-cert"),
        format!("Get \"{url}\": remote error: tls: certificate required")
    );
    assert_eq!(
        error("system-roots"),
        format!(
            "Get \"{url}\": tls: failed to verify certificate: x509: certificate signed by unknown authority"
        )
    );
    let missing = error("no-secret");
    assert!(missing.starts_with("failed to get secret"), "{missing}");
    drop(rt);
}

/// Runs one job whose spec has `collectors` (YAML list items) against the cluster of `kubeconfig`.
fn run_job(collectors: &str, kubeconfig: &str) -> support::triggered::Triggered {
    let dir = tempfile::tempdir().expect("tempdir");
    let jobs = dir.path().join("jobs");
    std::fs::create_dir_all(&jobs).expect("jobs");
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig).expect("kubeconfig");
    let mut job = format!(
        "apiVersion: troubleshoot.sh/v1beta3\nkind: SupportBundleSchedule\nmetadata:\n  name: kube\nspec:\n  schedule: \"0 2 * * *\"\n  collect:\n    kubeconfig: {}\n    supportBundle:\n      collectors:\n",
        path.display()
    );
    for line in collectors.lines() {
        job.push_str(&format!("        {line}\n"));
    }
    std::fs::write(jobs.join("kube.yaml"), &job).expect("job");
    support::triggered::Triggered::run(dir, &[], Duration::from_secs(300))
}
