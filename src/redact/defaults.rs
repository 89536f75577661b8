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
#[path = "defaults_tests.rs"]
mod tests;
