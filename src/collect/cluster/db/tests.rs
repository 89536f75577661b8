//! The shared parts: the connection file's shape and the secrets kept out of messages.

use super::*;

#[test]
fn report_has_troubleshoots_fields_and_omissions() {
    let r = Report {
        is_connected: true,
        version: "15.4".into(),
        ..Report::default()
    };
    assert_eq!(
        go_json(&r, None).expect("json"),
        r#"{"isConnected":true,"version":"15.4"}"#
    );
    let r = Report::failed("dial tcp 127.0.0.1:1: connection refused <x>");
    assert_eq!(
        go_json(&r, None).expect("json"),
        r#"{"isConnected":false,"error":"dial tcp 127.0.0.1:1: connection refused \u003cx\u003e"}"#
    );
    let r = Report {
        is_connected: true,
        variables: Some(BTreeMap::from([
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
        ])),
        ..Report::default()
    };
    assert_eq!(
        go_json(&r, None).expect("json"),
        r#"{"isConnected":true,"variables":{"a":"1","b":"2"}}"#
    );
    let r = Report {
        variables: Some(BTreeMap::new()),
        ..Report::default()
    };
    assert_eq!(go_json(&r, None).expect("json"), r#"{"isConnected":false}"#);
}

#[test]
fn secrets_are_scrubbed_in_every_uri_form() {
    for (uri, secret) in [
        ("postgresql://app:s3cr%40t@db:5432/app", "s3cr%40t"),
        ("postgresql://app:s3cr%40t@db:5432/app", "s3cr@t"),
        ("app:hunter2@tcp(db:3306)/app", "hunter2"),
        ("host=db user=app password=hunter2 dbname=x", "hunter2"),
        ("server=db;user id=sa;Password='hunter2';", "hunter2"),
        ("redis://:hunter2@cache:6379/0", "hunter2"),
    ] {
        let s = Secrets::of(uri);
        let msg = format!("failed for {uri}: the password {secret} was wrong");
        let clean = s.scrub(&msg);
        assert!(!clean.contains(secret), "{uri}: {clean}");
        assert!(clean.contains("failed for ***"), "{uri}: {clean}");
    }
    assert_eq!(Secrets::of("").scrub("as is"), "as is");
}

#[test]
fn only_a_tls_secret_needs_the_cluster() {
    let body = serde_json::json!({"uri": "redis://x", "tls": {"skipVerify": true}});
    assert!(runs_locally("redis", &body));
    let body = serde_json::json!({"tls": {"secret": {"name": "ca"}}});
    assert!(!runs_locally("postgres", &body));
    assert!(!runs_locally("logs", &serde_json::json!({})));
}

#[test]
fn host_ports() {
    assert_eq!(host_port("db:7", 1), Ok(("db".into(), 7)));
    assert_eq!(host_port("db", 1), Ok(("db".into(), 1)));
    assert_eq!(host_port("[::1]:5", 1), Ok(("::1".into(), 5)));
    assert_eq!(host_port(":5", 1), Ok(("localhost".into(), 5)));
    assert_eq!(
        host_port("db:x", 1).unwrap_err().to_string(),
        "\"x\" is not a port number"
    );
    assert_eq!(
        host_port("[::1", 1).unwrap_err().to_string(),
        "\"[::1\": unclosed '['"
    );
}
