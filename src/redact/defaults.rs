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
//! A scan must match every line its regex (or selector) can match; most are upstream's, some are
//! narrower than upstream's but still implied by the regex (`uid *=` for `(Uid *= *)…`), because a
//! word as common as `uid` or `://` sends most lines of Kubernetes JSON and logs down the slow path.

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
        scan: r#"(?:https?|ftp)://[^"/]*@"#,
        regex: r#"(?i)(https?|ftp)(:\/\/)(?P<mask_1>[^:\"\/]+){1}(:)(?P<mask_2>[^@\"\/]+){1}(?P<host>@[^:\/\s\"]+){1}(?P<port>:[\d]+)?"#,
    },
    // user:password@tcp(host:3309)/db-name — four `mask` groups and `[\w\d\S-_]` upstream.
    DefaultSingle {
        name: "Redact database connection strings that contain username and password",
        scan: r"@tcp",
        regex: r#"\b(?P<mask_1>[^:\"\/]*){1}(:)(?P<mask_2>[^:\"\/]*){1}(@tcp\()(?P<mask_3>[^:\"\/]*){1}(?P<port>:[\d]*)?(\)\/)(?P<mask_4>[\w\d\S\-_]+){1}\b"#,
    },
    // protocol://user:password@host:5432/db — upstream's scan is the same pattern without the group
    // names; `://`, which every match contains, pre-filters the same lines far more cheaply.
    DefaultSingle {
        name: "Redact database connection strings that contain username and password",
        scan: r#"://[^"/]*@"#,
        regex: r#"\b(\w*:\/\/)(?P<mask_1>[^:\"\/]*){1}(:)(?P<mask_2>[^:\"\/]*){1}(@)(?P<mask_3>[^:\"\/]*){1}(?P<port>:[\d]*)?(\/)(?P<mask_4>[\w\d\S\-_]+){1}\b"#,
    },
    DefaultSingle {
        name: "Redact 'Data Source' values commonly found in database connection strings",
        scan: r"data source *=",
        regex: r"(?i)(Data Source *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'location' values commonly found in database connection strings",
        scan: r"location *=",
        regex: r"(?i)(location *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'User ID' values commonly found in database connection strings",
        scan: r"user id *=",
        regex: r"(?i)(User ID *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'password' values commonly found in database connection strings",
        scan: r"password *=",
        regex: r"(?i)(password *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Server' values commonly found in database connection strings",
        scan: r"server *=",
        regex: r"(?i)(Server *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Database' values commonly found in database connection strings",
        scan: r"database *=",
        regex: r"(?i)(Database *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'UID' values commonly found in database connection strings",
        scan: r"uid *=",
        regex: r"(?i)(Uid *= *)(?P<mask>[^\;]+)(;)",
    },
    DefaultSingle {
        name: "Redact 'Pwd' values commonly found in database connection strings",
        scan: r"pwd *=",
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

/// Key or variable names that hold secrets, for the agent extras (lower-case; matched case-insensitively).
macro_rules! secret_word {
    () => {
        r"(?:password|passwd|passphrase|secret|token|api_?key|apikey|access_?key|secret_?key|private_?key(?:_?id)?|client_?secret|credentials?|auth|dockerconfigjson|dockercfg)"
    };
}

/// How an env-var name that holds a secret ENDS, in name/value pairs (upstream's words plus the
/// extras'). Ending, not containing: `TLS_SECRET_NAME` or `PRIVATE_KEY_FILE` name a secret or a
/// path, while `API_ENCRYPTION_KEY` and `DB_PASSWORD` hold one. A bare `_KEY` is too wide
/// (`DISCOVER_TOLERATION_KEY` holds a node label), so only kinds of key that are secrets count.
macro_rules! env_word {
    () => {
        r"(?:password|passwd|passphrase|secret|token|credentials?|auth|user(?:name)?|database|owner_?account|(?:api|access|private|secret|encryption|signing|session|master|license|client|account|hmac|storage)[_.-]?key)"
    };
}

/// A PEM private-key armour line (`-----BEGIN RSA PRIVATE KEY-----`, `... OPENSSH PRIVATE KEY-----`,
/// `... PGP PRIVATE KEY BLOCK-----`); `$edge` is `BEGIN` or `END`.
macro_rules! pem_armour {
    ($edge:literal) => {
        concat!(
            "-----",
            $edge,
            r" (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
        )
    };
}

/// A multi-line block default: every line after a `begin` match, up to a line matching `end`, is masked.
#[derive(Clone, Copy, Debug)]
pub struct DefaultBlock {
    /// Redaction name.
    pub name: &'static str,
    /// Lower-case pre-filter for the begin line.
    pub scan: &'static str,
    /// The line that opens the block (left as is).
    pub begin: &'static str,
    /// The line that closes the block (left as is).
    pub end: &'static str,
}

/// Agent extras, single-line: what upstream's set misses (README "Agent extras"). They run after
/// upstream's set, so a value upstream already masked is left alone (see `Replacer::replace_with`).
pub const EXTRA_SINGLE: &[DefaultSingle] = &[
    DefaultSingle {
        name: "agent extra: Authorization and API-key header values",
        scan: r"authorization|api-key|auth-token|vault-token|private-token|security-token",
        regex: r#"(?i)(\b(?:proxy-)?authorization|\bx-api-key|\bapi-key|\bx-auth-token|\bx-vault-token|\bprivate-token|\bx-amz-security-token)("?\s*[:=]\s*\[?"?\s*(?:(?:bearer|basic|digest|token|negotiate|apikey)\s+)?)(?P<mask>[^\s"',;\]]+)"#,
    },
    DefaultSingle {
        name: "agent extra: Cookie header values",
        scan: r"cookie",
        regex: r#"(?i)(\b(?:set-)?cookie"?\s*:\s*"?)(?P<mask>[^"\r\n]+)"#,
    },
    DefaultSingle {
        name: "agent extra: bearer tokens",
        scan: r"bearer",
        regex: r"(?i)(\bbearer\s+)(?P<mask>[A-Za-z0-9\-._~+/]{8,}=*)",
    },
    DefaultSingle {
        name: "agent extra: KEY=value assignments of secrets (env files, flags, query strings)",
        scan: r"pass|secret|token|key|credential|auth|dockercfg",
        regex: concat!(
            r#"(?i)(\b[A-Za-z0-9_.-]*"#,
            secret_word!(),
            r#"(?:_[A-Za-z0-9_]*)?\s*=\s*["']?)(?P<mask>[^\s"'&;,]+)"#
        ),
    },
    DefaultSingle {
        name: "agent extra: secret command-line flags",
        scan: r"pass|secret|token|key",
        regex: r#"(?i)(\s--?[A-Za-z0-9-]*(?:password|passwd|secret|token|api-?key|access-?key)\s+)(?P<mask>[^\s"'-][^\s"']*)"#,
    },
    DefaultSingle {
        name: "agent extra: one-line JSON env pairs",
        scan: r"pass|secret|token|credential|auth|user|database|owner|key",
        regex: concat!(
            r#"(?i)("name"\s*:\s*"[^"]*"#,
            env_word!(),
            r#""\s*,\s*"value"\s*:\s*")(?P<mask>(?:[^"\\]|\\.)+)(")"#
        ),
    },
    DefaultSingle {
        name: "agent extra: escaped JSON env pairs with spaces",
        scan: r"pass|secret|token|credential|auth|user|database|owner|key",
        regex: concat!(
            r#"(?i)(\\"name\\"\s*:\s*\\"[^"\\]*"#,
            env_word!(),
            r#"\\"\s*,\s*(?:\\n\s*)?\\"value\\"\s*:\s*\\")(?P<mask>[^"\\]+)(\\")"#
        ),
    },
    DefaultSingle {
        name: "agent extra: JSON keys that hold secrets",
        scan: r"pass|secret|token|key|credential|auth|dockercfg",
        regex: concat!(
            r#"(?i)("[A-Za-z0-9_.-]*"#,
            secret_word!(),
            r#""\s*:\s*")(?P<mask>(?:[^"\\]|\\.)+)(")"#
        ),
    },
    DefaultSingle {
        name: "agent extra: escaped JSON keys that hold secrets",
        scan: r"pass|secret|token|key|credential|auth|dockercfg",
        regex: concat!(
            r#"(?i)(\\"[A-Za-z0-9_.-]*"#,
            secret_word!(),
            r#"\\"\s*:\s*\\")(?P<mask>[^"\\]+)(\\")"#
        ),
    },
    // Unquoted keys only: a quoted key is JSON, whose string values the rules above handle and
    // whose other values (`false`, numbers) are not secrets.
    DefaultSingle {
        name: "agent extra: YAML keys that hold secrets",
        scan: r"pass|secret|token|key|credential|auth|dockercfg",
        regex: concat!(
            r#"(?i)^(\s*(?:-\s+)?[A-Za-z0-9_.-]*"#,
            secret_word!(),
            r#"\s*:\s+["']?)(?P<mask>[^\s"'#|>&!{\[][^"'#]*?)(["']?\s*)$"#
        ),
    },
    DefaultSingle {
        name: "agent extra: credentials in any URL",
        scan: r#"://[^"/]*@"#,
        regex: r#"(?i)\b([a-z][a-z0-9+.-]*://)(?P<mask_1>[^:@/\s"']*)(:)(?P<mask_2>[^@/\s"']+)(@)"#,
    },
    DefaultSingle {
        name: "agent extra: AWS access key ids",
        scan: r"a[skbc][ic]a",
        regex: r"\b(?P<mask>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})\b",
    },
    DefaultSingle {
        name: "agent extra: GitHub tokens",
        scan: r"gh[pousr]_|github_pat_",
        regex: r"\b(?P<mask>gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    },
    DefaultSingle {
        name: "agent extra: GitLab tokens",
        scan: r"gl(?:pat|dt|rt|ptt|soat|cbt)-",
        regex: r"\b(?P<mask>gl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_-]{20,})",
    },
    DefaultSingle {
        name: "agent extra: Slack tokens",
        scan: r"xox",
        regex: r"\b(?P<mask>xox[abposr]-[A-Za-z0-9-]{10,})",
    },
    DefaultSingle {
        name: "agent extra: Slack webhook URLs",
        scan: r"hooks\.slack\.com",
        regex: r"(hooks\.slack\.com/services/)(?P<mask>[A-Za-z0-9/_-]+)",
    },
    DefaultSingle {
        name: "agent extra: Stripe secret keys",
        scan: r"k_live_|k_test_",
        regex: r"\b(?P<mask>[sr]k_(?:live|test)_[0-9A-Za-z]{10,})",
    },
    DefaultSingle {
        name: "agent extra: npm tokens",
        scan: r"npm_",
        regex: r"\b(?P<mask>npm_[A-Za-z0-9]{36})\b",
    },
    DefaultSingle {
        name: "agent extra: JSON Web Tokens",
        scan: r"eyj",
        regex: r"\b(?P<mask>eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)",
    },
    DefaultSingle {
        name: "agent extra: Google API keys",
        scan: r"aiza",
        regex: r"\b(?P<mask>AIza[0-9A-Za-z_-]{35})",
    },
    DefaultSingle {
        name: "agent extra: SendGrid and Vault tokens",
        scan: r"sg\.|hv[sbr]\.",
        regex: r"\b(?P<mask>SG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}|hv[sbr]\.[A-Za-z0-9_-]{20,})",
    },
    DefaultSingle {
        name: "agent extra: Azure account keys and SAS signatures",
        scan: r"accountkey|sharedaccess|sig=",
        regex: r#"(?i)(\b(?:AccountKey|SharedAccessKey|SharedAccessSignature)\s*=\s*|[?&]sig=)(?P<mask>[^;&"\s]+)"#,
    },
    DefaultSingle {
        name: "agent extra: base64-encoded PEM private keys",
        scan: r"ls0tls1crudjti",
        regex: r"(?P<mask>LS0tLS1CRUdJTi(?:BSU0EgUFJJVkFURSBL|BFQyBQUklWQVRFIEtF|BQUklWQVRFIEtFWS0t|BPUEVOU1NIIFBSSVZB|BEU0EgUFJJVkFURSBL|BFTkNSWVBURUQgUFJJ|BQR1AgUFJJVkFURSBL)[A-Za-z0-9+/=]*)",
    },
    DefaultSingle {
        name: "agent extra: PEM private keys on one line",
        scan: r"private key",
        regex: concat!(
            "(",
            pem_armour!("BEGIN"),
            ")(?P<mask>.+?)(",
            pem_armour!("END"),
            ")"
        ),
    },
];

/// Agent extras, two-line: env name/value pairs in pretty JSON and YAML that upstream's set misses.
pub const EXTRA_MULTI: &[DefaultMulti] = &[
    DefaultMulti {
        name: "agent extra: secret env values in multiline JSON",
        scan: r"pass|secret|token|credential|auth|user|database|owner|key",
        selector: concat!(r#"(?i)"name": *"[^"]*"#, env_word!(), r#"""#),
        redactor: r#"(?i)("value": *")(?P<mask>(?:[^"\\]|\\.)+)(")"#,
    },
    DefaultMulti {
        name: "agent extra: secret env values in YAML name/value pairs",
        scan: r"pass|secret|token|credential|auth|user|database|owner|key",
        selector: concat!(
            r#"(?i)^\s*(?:-\s+)?name:\s*["']?[A-Za-z0-9_.-]*"#,
            env_word!(),
            r#"["']?\s*$"#
        ),
        redactor: r#"(?i)^(\s*value:\s*["']?)(?P<mask>[^"'\s][^"']*?)(["']?\s*)$"#,
    },
];

/// Agent extras, blocks: multi-line PEM private keys (the body between the armour lines).
pub const EXTRA_BLOCK: &[DefaultBlock] = &[DefaultBlock {
    name: "agent extra: PEM private key blocks",
    scan: r"private key",
    begin: pem_armour!("BEGIN"),
    end: pem_armour!("END"),
}];

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

    #[test]
    fn extras_mask_what_upstream_misses() {
        // (input, secret): upstream leaves the secret, the extended set masks it.
        let cases: &[(&str, &str)] = &[
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
        for (input, secret) in cases {
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
}
