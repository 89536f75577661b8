//! Our own vectors for every default, modelled on troubleshoot's `Test_Redactors` cases.

use super::*;
use crate::redact::{Compiled, Counts, DefaultSet, MASK, compile_with, redact_stream};

/// Redacts `input` with upstream's defaults only (byte-exact upstream behaviour), as file `path`.
fn red(path: &str, input: &str) -> (String, Counts) {
    red_with(DefaultSet::Upstream, path, input)
}

/// Redacts `input` with the extended defaults (upstream's plus the agent extras).
fn red_ext(path: &str, input: &str) -> (String, Counts) {
    red_with(DefaultSet::Extended, path, input)
}

fn red_with(set: DefaultSet, path: &str, input: &str) -> (String, Counts) {
    let rules = compile_with(&[], set).expect("defaults compile");
    let mut out = Vec::new();
    let mut counts = Counts::default();
    redact_stream(input.as_bytes(), &mut out, &rules, path, &mut counts).expect("redacts");
    (String::from_utf8(out).expect("utf8"), counts)
}

fn esc_env(name: &str, value: &str) -> String {
    format!(r#"{{\"name\":\"{name}\",\"value\":\"{value}\"}}"#)
}

#[test]
fn every_default_compiles_in_order_with_names() {
    let rules = compile_with(&[], DefaultSet::Upstream).expect("defaults compile");
    let names = rules.names();
    assert_eq!(
        names.len(),
        SINGLE_LINE.len() + MULTI_LINE.len() + KURL_YAML.len()
    );
    // The extras come after upstream's line redactors, before the scoped kurl ones.
    let ext = Compiled::defaults().expect("extended defaults compile");
    let ext_names = ext.names();
    let extras = EXTRA_SINGLE.len() + EXTRA_MULTI.len() + EXTRA_BLOCK.len();
    assert_eq!(ext_names.len(), names.len() + extras);
    assert_eq!(&ext_names[..26], &names[..26]);
    assert_eq!(ext_names[26], EXTRA_SINGLE[0].name);
    for n in &ext_names[26..26 + extras] {
        assert!(n.starts_with("agent extra: "), "{n}");
    }
    assert_eq!(SINGLE_LINE.len(), 18);
    assert_eq!(MULTI_LINE.len(), 8);
    assert_eq!(names[0], SINGLE_LINE[0].name);
    assert_eq!(names[18], MULTI_LINE[0].name);
    for d in SINGLE_LINE {
        assert!(
            !d.regex.contains("(?P<mask>") || d.regex.matches("(?P<mask").count() == 1,
            "{}",
            d.name
        );
    }
}

#[test]
fn escaped_json_env_vars() {
    let cases = [
        ("AWS_SECRET_ACCESS_KEY", SINGLE_LINE[0].name),
        ("aws_secretaccesskey", SINGLE_LINE[0].name),
        ("AWS_ACCESS_KEY_ID", SINGLE_LINE[1].name),
        ("AWS_OWNER_ACCOUNT", SINGLE_LINE[2].name),
        ("MYSQL_PASSWORD", SINGLE_LINE[3].name),
        ("GITHUB_TOKEN_X", SINGLE_LINE[4].name),
        ("MYSQL_DATABASE", SINGLE_LINE[5].name),
        ("MYSQL_USER", SINGLE_LINE[6].name),
    ];
    for (name, redactor) in cases {
        let line = format!("\"annotation\": \"{}\"", esc_env(name, "v4lue"));
        let (out, counts) = red("f.json", &line);
        assert_eq!(
            out,
            format!("\"annotation\": \"{}\"", esc_env(name, MASK)),
            "{name}"
        );
        assert!(
            counts.by_redactor.get(redactor).is_some_and(|&n| n >= 1),
            "{name}: {counts:?}"
        );
    }
    // Unrelated names stay.
    let line = esc_env("AWS_REGION", "us-east-1");
    assert_eq!(red("f.json", &line).0, line);
    // Several pairs on one line: all masked (ReplaceAll).
    let line = format!(
        "[{},{}]",
        esc_env("A_PASSWORD", "one"),
        esc_env("B_PASSWORD", "two")
    );
    let (out, _) = red("f.json", &line);
    assert_eq!(
        out,
        format!(
            "[{},{}]",
            esc_env("A_PASSWORD", MASK),
            esc_env("B_PASSWORD", MASK)
        )
    );
}

#[test]
fn url_credentials() {
    let (out, counts) = red(
        "f",
        r#""value": "http://esuser:thisisnotasecret@elasticsearch:9200""#,
    );
    assert_eq!(
        out,
        format!(r#""value": "http://{MASK}:{MASK}@elasticsearch:9200""#)
    );
    assert_eq!(counts.by_redactor.get(SINGLE_LINE[7].name), Some(&1));
    assert_eq!(
        red("f", "ftp://u:p@host:21").0,
        format!("ftp://{MASK}:{MASK}@host:21")
    );
    // With a path the generic DSN redactor, later in the chain, also masks host and path.
    let (out, counts) = red("f", "ftp://u:p@host/x");
    assert_eq!(out, format!("ftp://{MASK}:{MASK}@{MASK}/{MASK}"));
    assert_eq!(counts.by_redactor.get(SINGLE_LINE[7].name), Some(&1));
    assert_eq!(counts.by_redactor.get(SINGLE_LINE[9].name), Some(&1));
    // No credentials: untouched.
    let plain = r#""value": "http://awesome-api:8013/graphql""#;
    assert_eq!(red("f", plain).0, plain);
}

#[test]
fn mysql_tcp_dsn() {
    let (out, counts) = red(
        "f",
        r#""value": "dbuser:thisisasecret@tcp(dbserver.org:3309)/blog_production""#,
    );
    assert_eq!(
        out,
        format!(r#""value": "{MASK}:{MASK}@tcp({MASK}:3309)/{MASK}""#)
    );
    assert_eq!(counts.by_redactor.get(SINGLE_LINE[8].name), Some(&1));
}

#[test]
fn generic_scheme_dsn() {
    let (out, counts) = red(
        "f",
        r#""value": "postgres://pg_user:pg_password@pg_host:5432/pg_database""#,
    );
    assert_eq!(
        out,
        format!(r#""value": "postgres://{MASK}:{MASK}@{MASK}:5432/{MASK}""#)
    );
    assert_eq!(counts.by_redactor.get(SINGLE_LINE[9].name), Some(&1));
}

#[test]
fn ado_odbc_pairs() {
    let line = r#""value": "Provider=PostgreSQL OLE DB Provider;Data Source=myServerAddress;location=myDataBase;User ID=myUsername;password=myPassword;timeout=1000;""#;
    let (out, counts) = red("f", line);
    assert_eq!(
        out,
        format!(
            r#""value": "Provider=PostgreSQL OLE DB Provider;Data Source={MASK};location={MASK};User ID={MASK};password={MASK};timeout=1000;""#
        )
    );
    for d in &SINGLE_LINE[10..14] {
        assert_eq!(counts.by_redactor.get(d.name), Some(&1), "{}", d.name);
    }
    let line = r#""value": "Server=myServerAddress;Database=myDataBase;Uid=myUsername;Pwd=myPassword;UseProcedureBodies=False;""#;
    let (out, counts) = red("f", line);
    assert_eq!(
        out,
        format!(
            r#""value": "Server={MASK};Database={MASK};Uid={MASK};Pwd={MASK};UseProcedureBodies=False;""#
        )
    );
    for d in &SINGLE_LINE[14..18] {
        assert_eq!(counts.by_redactor.get(d.name), Some(&1), "{}", d.name);
    }
    // A trailing `;` is required.
    assert_eq!(red("f", "Pwd=nosemicolon").0, "Pwd=nosemicolon");
}

#[test]
fn pretty_printed_env_pairs() {
    let names = [
        ("AWS_SECRET_ACCESS_KEY", 0),
        ("AWS_ACCESS_KEY_ID", 1),
        ("AWS_OWNER_ACCOUNT", 2),
        ("MYSQL_PASSWORD", 3),
        ("API_TOKEN", 4),
        ("MYSQL_DATABASE", 5),
        ("MYSQL_USER", 6),
    ];
    for (name, i) in names {
        let input = format!("  {{\n    \"name\": \"{name}\",\n    \"value\": \"s3cr3t\"\n  }}\n");
        let (out, counts) = red("f.json", &input);
        assert_eq!(
            out,
            format!("  {{\n    \"name\": \"{name}\",\n    \"value\": \"{MASK}\"\n  }}\n"),
            "{name}"
        );
        assert_eq!(
            counts.by_redactor.get(MULTI_LINE[i].name),
            Some(&1),
            "{name}"
        );
    }
    // The value line is masked greedily to the last quote on the line.
    let (out, _) = red("f", "\"name\": \"PASSWORD\"\n\"value\": \"a\"b\"");
    assert_eq!(
        out,
        format!("\"name\": \"PASSWORD\"\n\"value\": \"{MASK}\"")
    );
    // A value not on the next line is left alone.
    let input = "\"name\": \"PASSWORD\"\n\"other\": 1\n\"value\": \"kept\"";
    assert_eq!(red("f", input).0, input);
}

#[test]
fn ceph_auth_key() {
    let input =
        "\"entity\": \"osd.1abcdef\"\n\"key\": \"Gjt8s0WkfPtxZUo7gI8a0awbQGHgzuprdaedfb==\"";
    let (out, counts) = red("f", input);
    assert_eq!(
        out,
        format!("\"entity\": \"osd.1abcdef\"\n\"key\": \"{MASK}\"")
    );
    assert_eq!(counts.by_redactor.get(MULTI_LINE[7].name), Some(&1));
}

#[test]
fn no_ip_redaction() {
    let line = "node 10.0.0.1 and 192.168.1.254";
    assert_eq!(red("f", line).0, line);
}

#[test]
fn kurl_installer_scoped() {
    let input = r#"[{"metadata":{"name":"x","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"spec\":{\"kubernetes\":{\"bootstrapToken\":\"abc.def\"}}}"}},"spec":{"kubernetes":{"bootstrapToken":"abc.def","certKey":"ck","kubeadmToken":"kt","version":"1.27"}}}]"#;
    let path = "cluster-resources/custom-resources/installers.cluster.kurl.sh.json";
    let (out, counts) = red(path, input);
    let v: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
    let k = &v[0]["spec"]["kubernetes"];
    assert_eq!(k["bootstrapToken"], MASK);
    assert_eq!(k["certKey"], MASK);
    assert_eq!(k["kubeadmToken"], MASK);
    assert_eq!(k["version"], "1.27");
    assert_eq!(
        v[0]["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        MASK
    );
    assert_eq!(counts.total(), 4);
    let ns_path = "cluster-resources/custom-resources/installers.cluster.kurl.sh/default.json";
    assert!(!red(ns_path, input).0.contains("abc.def"));
    // Elsewhere the kurl redactors do not apply.
    assert_eq!(red("cluster-resources/other.json", input).0, input);
}

/// (input, secret): upstream leaves the secret, the extended set masks it.
const EXTRA_CASES: &[(&str, &str)] = &[
    ("export DB_PASSWORD=hunter2pw", "hunter2pw"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG",
        "wJalrXUtnFEMI/K7MDENG",
    ),
    ("GET /x?access_token=qwerty123&page=2", "qwerty123"),
    ("Authorization: Bearer abc.def.ghi123", "abc.def.ghi123"),
    ("authorization: Basic dXNlcjpwYXNz", "dXNlcjpwYXNz"),
    (
        r#""Authorization": ["Bearer tok3nvalue99"]"#,
        "tok3nvalue99",
    ),
    ("X-Api-Key: k3y-v4lue-1", "k3y-v4lue-1"),
    ("Cookie: session=abcdef0123; theme=dark", "abcdef0123"),
    (r#"{"name":"DB_PASSWORD","value":"pl41n"}"#, "pl41n"),
    (
        r#"{"name": "API_SECRET", "value": "s3cr3tval"}"#,
        "s3cr3tval",
    ),
    (
        r#"\"name\": \"API_SECRET\", \"value\": \"esc4ped\""#,
        "esc4ped",
    ),
    (r#"  "password": "jsonpw""#, "jsonpw"),
    (
        r#"{"auths":{"r.io":{"auth":"dXNlcjpwYXNzd29yZA=="}}}"#,
        "dXNlcjpwYXNzd29yZA==",
    ),
    ("  token: yamltok3n", "yamltok3n"),
    ("    client-secret: 'cs-value-9'", "cs-value-9"),
    ("mysql --password hunter3", "hunter3"),
    ("redis://:r3dispw@redis:6379", "r3dispw"),
    ("mongodb+srv://mu:m0ngopw@cluster0.example.net", "m0ngopw"),
    ("key AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
    (
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
    ),
    ("glpat-abcdefghij0123456789", "glpat-abcdefghij0123456789"),
    ("xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    (
        "https://hooks.slack.com/services/T000/B000/XXXXYYYY",
        "T000/B000/XXXXYYYY",
    ),
    (
        "sk_live_abcdefghij0123456789",
        "sk_live_abcdefghij0123456789",
    ),
    (
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
    ),
    (
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.sig_part",
        "eyJzdWIiOiIxMjM0In0",
    ),
    (
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
        "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
    ),
    (
        "SG.abcdefghijklmnop.qrstuvwxyz0123456789",
        "SG.abcdefghijklmnop.qrstuvwxyz0123456789",
    ),
    (
        "VAULT hvs.CAESIabcdefghijklmnopqrst",
        "hvs.CAESIabcdefghijklmnopqrst",
    ),
    (
        "AccountName=acct;AccountKey=bXlrZXk=;EndpointSuffix=core.windows.net",
        "bXlrZXk=",
    ),
    (
        "https://a.blob.core.windows.net/c?sv=2020&sig=s1gn4ture%3D",
        "s1gn4ture%3D",
    ),
    (
        "client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQpNSUlF",
        "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBL",
    ),
    (
        r#""key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----\n""#,
        "MIIEvQIBADAN",
    ),
];

#[test]
fn extras_mask_what_upstream_misses() {
    for (input, secret) in EXTRA_CASES {
        let (up, _) = red("f", input);
        assert!(
            up.contains(secret),
            "upstream already masks {input:?}: {up}"
        );
        let (out, counts) = red_ext("f", input);
        assert!(!out.contains(secret), "{input:?} leaked: {out}");
        assert!(out.contains(MASK), "{out}");
        assert!(counts.total() >= 1, "{input:?}");
        assert!(
            counts
                .by_redactor
                .keys()
                .all(|k| k.starts_with("agent extra: ")),
            "{input:?}: {counts:?}"
        );
    }
}

#[test]
fn extras_multi_line_and_blocks() {
    let input =
        "  - name: DB_PASSWORD\n    value: \"yamlpw\"\n  - name: LOG_LEVEL\n    value: debug\n";
    let (out, _) = red_ext("d.yaml", input);
    assert_eq!(
        out,
        format!(
            "  - name: DB_PASSWORD\n    value: \"{MASK}\"\n  - name: LOG_LEVEL\n    value: debug\n"
        )
    );
    let input = "\"name\": \"STRIPE_API_KEY\",\n\"value\": \"pretty\\\"quoted\"\n";
    let (out, _) = red_ext("p.json", input);
    assert_eq!(
        out,
        format!("\"name\": \"STRIPE_API_KEY\",\n\"value\": \"{MASK}\"\n")
    );
    for kind in ["RSA ", "EC ", "OPENSSH ", ""] {
        let input = format!(
            "tls.key: |\n  -----BEGIN {kind}PRIVATE KEY-----\n  MIIEbody1\n  body2==\n  -----END {kind}PRIVATE KEY-----\nafter: 1\n"
        );
        let (out, counts) = red_ext("k.yaml", &input);
        assert_eq!(
            out,
            format!(
                "tls.key: |\n  -----BEGIN {kind}PRIVATE KEY-----\n  {MASK}\n  {MASK}\n  -----END {kind}PRIVATE KEY-----\nafter: 1\n"
            ),
            "{kind}"
        );
        assert_eq!(counts.by_redactor.get(EXTRA_BLOCK[0].name), Some(&2));
    }
    // Certificates are not secrets.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n";
    assert_eq!(red_ext("c.pem", cert).0, cert);
}

#[test]
fn extras_leave_clean_lines_and_masks_alone() {
    for clean in [
        r#""secretName": "db-credentials-ref","#,
        r#""automountServiceAccountToken": false,"#,
        r#""type": "kubernetes.io/service-account-token","#,
        r#""imagePullSecrets": [{"name": "regcred"}],"#,
        r#""key": "node-role.kubernetes.io/control-plane","#,
        "max_tokens=512 timeZone=Asia/Tokyo",
        "authorization failed for user bob",
        "Bearer token expired",
        "http://awesome-api:8013/graphql",
        "-----BEGIN CERTIFICATE-----",
        "2025-12-10T17:00:00Z INFO [api] request completed id=0123456789abcdef",
    ] {
        assert_eq!(red_ext("f", clean).0, clean, "changed");
    }
    // A value upstream masked is not masked (or counted) again by an extra.
    let (out, counts) = red_ext("f", "password=abc;");
    assert_eq!(out, format!("password={MASK};"));
    assert_eq!(counts.total(), 1, "{counts:?}");
}
