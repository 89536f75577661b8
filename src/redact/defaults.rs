//! The built-in redactors, in troubleshoot's order (format notes §3.2). There is no IP-address redaction.
//!
//! Every pattern here is already in Rust `regex` syntax and is compiled on bytes with Unicode off, so
//! `\w \d \s \b` are ASCII-only like Go's RE2. Porting changes against upstream, and why:
//! - repeated `(?P<mask>…)` groups are renamed `mask_1`, `mask_2`, … (Rust rejects duplicate names;
//!   every `mask*` group is masked, so the replacement is unchanged);
//! - `[\w\d\S-_]` becomes `[\w\d\S\-_]` (Rust rejects a range starting at a class escape; Go reads the
//!   `-` as a literal).
//!
//! `scan` is the cheap pre-filter: it is tested against the lower-cased line (we test it case-insensitively
//! on the line, which is the same for these ASCII patterns) and the main regex runs only when it matches.

/// A single-line default: `regex` is applied to every line whose lower-cased text matches `scan`.
#[derive(Clone, Copy, Debug)]
pub struct DefaultSingle {
    /// Descriptive redaction name (upstream's).
    pub name: &'static str,
    /// Lower-case pre-filter.
    pub scan: &'static str,
    /// Main pattern, ported to Rust syntax.
    pub regex: &'static str,
}

/// A two-line default: a `selector` match on line N masks `redactor` matches on line N+1.
#[derive(Clone, Copy, Debug)]
pub struct DefaultMulti {
    /// Descriptive redaction name (upstream's).
    pub name: &'static str,
    /// Lower-case pre-filter for the selector.
    pub scan: &'static str,
    /// Selector pattern for line N.
    pub selector: &'static str,
    /// Pattern masked on line N+1.
    pub redactor: &'static str,
}

/// A scoped default applied as a yamlPath to kurl installer resources.
#[derive(Clone, Copy, Debug)]
pub struct DefaultYaml {
    /// Redaction name.
    pub name: &'static str,
    /// Path segments (a segment may contain dots, e.g. the last-applied annotation key).
    pub path: &'static [&'static str],
}

/// Escaped-JSON env-var pattern (`\"name\":\"…X…\",\"value\":\"V\"`) masking V.
macro_rules! escaped_env {
    ($name_class:literal) => {
        concat!(
            r#"(?i)(\\\"name\\\":\\\"[^\"]*"#,
            $name_class,
            r#"\\\",\\\"value\\\":\\\")(?P<mask>[^\"]*)(\\\")"#
        )
    };
}

/// The value line of pretty-printed env JSON: greedy to the last quote on the line.
const PRETTY_VALUE: &str = r#"(?i)("value": *")(?P<mask>.*[^\"]*)(")"#;

/// Single-line defaults, in upstream order.
pub const SINGLE_LINE: &[DefaultSingle] = &[
    DefaultSingle {
        name: "Redact values for environment variables that look like AWS Secret Access Keys",
        scan: r"secret_?access_?key",
        regex: escaped_env!("SECRET_?ACCESS_?KEY"),
    },
    DefaultSingle {
        name: "Redact values for environment variables that look like AWS Access Keys",
        scan: r"access_?key_?id",
        regex: escaped_env!("ACCESS_?KEY_?ID"),
    },
    DefaultSingle {
        name: "Redact values for environment variables that look like AWS Owner or Account numbers",
        scan: r"owner_?account",
        regex: escaped_env!("OWNER_?ACCOUNT"),
    },
    DefaultSingle {
        name: "Redact values for environment variables with names beginning with 'password'",
        scan: r"password",
        regex: escaped_env!(r#"password[^\"]*"#),
    },
    DefaultSingle {
        name: "Redact values for environment variables with names beginning with 'token'",
        scan: r"token",
        regex: escaped_env!(r#"token[^\"]*"#),
    },
    DefaultSingle {
        name: "Redact values for environment variables with names beginning with 'database'",
        scan: r"database",
        regex: escaped_env!(r#"database[^\"]*"#),
    },
    DefaultSingle {
        name: "Redact values for environment variables with names beginning with 'user'",
        scan: r"user",
        regex: escaped_env!(r#"user[^\"]*"#),
    },
    // http://user:password@host:8888 — two `mask` groups upstream, renamed.
    DefaultSingle {
        name: "Redact connection strings with username and password",
        scan: r"https?|ftp",
        regex: r#"(?i)(https?|ftp)(:\/\/)(?P<mask_1>[^:\"\/]+){1}(:)(?P<mask_2>[^@\"\/]+){1}(?P<host>@[^:\/\s\"]+){1}(?P<port>:[\d]+)?"#,
    },
    // user:password@tcp(host:3309)/db-name — four `mask` groups and `[\w\d\S-_]` upstream.
    DefaultSingle {
        name: "Redact database connection strings that contain username and password",
        scan: r"@tcp",
        regex: r#"\b(?P<mask_1>[^:\"\/]*){1}(:)(?P<mask_2>[^:\"\/]*){1}(@tcp\()(?P<mask_3>[^:\"\/]*){1}(?P<port>:[\d]*)?(\)\/)(?P<mask_4>[\w\d\S\-_]+){1}\b"#,
    },
    // protocol://user:password@host:5432/db — the scan is itself a full (unnamed-group) pattern.
    DefaultSingle {
        name: "Redact database connection strings that contain username and password",
        scan: r#"\b(\w*:\/\/)([^:\"\/]*)(:)([^@\"\/]*)(@)([^:\"\/]*)(:[\d]*)?(\/)([\w\d\S\-_]+)\b"#,
        regex: r#"\b(\w*:\/\/)(?P<mask_1>[^:\"\/]*){1}(:)(?P<mask_2>[^:\"\/]*){1}(@)(?P<mask_3>[^:\"\/]*){1}(?P<port>:[\d]*)?(\/)(?P<mask_4>[\w\d\S\-_]+){1}\b"#,
    },
    DefaultSingle {
        name: "Redact 'Data Source' values commonly found in database connection strings",
        scan: r"data source",
        regex: r"(?i)(Data Source *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'location' values commonly found in database connection strings",
        scan: r"location",
        regex: r"(?i)(location *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'User ID' values commonly found in database connection strings",
        scan: r"user id",
        regex: r"(?i)(User ID *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'password' values commonly found in database connection strings",
        scan: r"password",
        regex: r"(?i)(password *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Server' values commonly found in database connection strings",
        scan: r"server",
        regex: r"(?i)(Server *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Database' values commonly found in database connection strings",
        scan: r"database",
        regex: r"(?i)(Database *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'UID' values commonly found in database connection strings",
        scan: r"uid",
        regex: r"(?i)(Uid *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Pwd' values commonly found in database connection strings",
        scan: r"pwd",
        regex: r"(?i)(Pwd *= *)(?P<mask>[^\;]+)(;)",
    },
];

/// Two-line defaults (pretty-printed env vars and Ceph auth keys), in upstream order.
pub const MULTI_LINE: &[DefaultMulti] = &[
    DefaultMulti {
        name: "Redact AWS Secret Access Key values in multiline JSON",
        scan: r"secret_?access_?key",
        selector: r#"(?i)"name": *"[^\"]*SECRET_?ACCESS_?KEY[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact AWS Access Key ID values in multiline JSON",
        scan: r"access_?key_?id",
        selector: r#"(?i)"name": *"[^\"]*ACCESS_?KEY_?ID[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact AWS Owner and Account Numbers in multiline JSON",
        scan: r"owner_?account",
        selector: r#"(?i)"name": *"[^\"]*OWNER_?ACCOUNT[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact password environment variables in multiline JSON",
        scan: r"password",
        selector: r#"(?i)"name": *".*password[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact values that look like API tokens in multiline JSON",
        scan: r"token",
        selector: r#"(?i)"name": *".*token[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact database connection strings in multiline JSON",
        scan: r"database",
        selector: r#"(?i)"name": *".*database[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact usernames in multiline JSON",
        scan: r"user",
        selector: r#"(?i)"name": *".*user[^\"]*""#,
        redactor: PRETTY_VALUE,
    },
    DefaultMulti {
        name: "Redact 'key' values found in Ceph auth lists",
        scan: r"(osd|client|mgr)",
        selector: r#"(?i)"entity": *"(osd|client|mgr)\..*[^\"]*""#,
        redactor: r#"(?i)("key": *")(?P<mask>.{38}==[^\"]*)(")"#,
    },
];

/// Bundle-relative globs of the kurl installer custom-resource files the scoped defaults apply to.
/// The `.yaml` forms are what older troubleshoot releases wrote; both are kept.
pub const KURL_GLOBS: &[&str] = &[
    "cluster-resources/custom-resources/installers.cluster.kurl.sh.json",
    "cluster-resources/custom-resources/installers.cluster.kurl.sh/*.json",
    "cluster-resources/custom-resources/installers.cluster.kurl.sh.yaml",
    "cluster-resources/custom-resources/installers.cluster.kurl.sh/*.yaml",
];

/// Scoped kurl defaults: custom-resource files are arrays, hence the leading `*`.
pub const KURL_YAML: &[DefaultYaml] = &[
    DefaultYaml {
        name: "Redact kurl installer bootstrapToken",
        path: &["*", "spec", "kubernetes", "bootstrapToken"],
    },
    DefaultYaml {
        name: "Redact kurl installer last-applied-configuration",
        path: &[
            "*",
            "metadata",
            "annotations",
            "kubectl.kubernetes.io/last-applied-configuration",
        ],
    },
    DefaultYaml {
        name: "Redact kurl installer certKey",
        path: &["*", "spec", "kubernetes", "certKey"],
    },
    DefaultYaml {
        name: "Redact kurl installer kubeadmToken",
        path: &["*", "spec", "kubernetes", "kubeadmToken"],
    },
];

#[cfg(test)]
mod tests {
    //! Our own vectors for every default, modelled on troubleshoot's `Test_Redactors` cases.
    use super::*;
    use crate::redact::{Compiled, Counts, MASK, redact_stream};

    /// Redacts `input` with the defaults only, as file `path`.
    fn red(path: &str, input: &str) -> (String, Counts) {
        let rules = Compiled::defaults().expect("defaults compile");
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
        let rules = Compiled::defaults().expect("defaults compile");
        let names = rules.names();
        assert_eq!(
            names.len(),
            SINGLE_LINE.len() + MULTI_LINE.len() + KURL_YAML.len()
        );
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
            let input =
                format!("  {{\n    \"name\": \"{name}\",\n    \"value\": \"s3cr3t\"\n  }}\n");
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
}
