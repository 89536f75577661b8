//! Troubleshoot's redaction behaviours (pkg/redact `Test_Redactors`, single/multi-line, literal and yaml
//! cases), rewritten as our own vectors and run through the public API, with upstream's default set
//! (`redact.defaults: upstream`); the agent extras have their own tests (tests/redact_canary.rs).

use troubleshoot_agent::redact::{Compiled, Counts, DefaultSet, MASK, compile_with, redact_stream};
use troubleshoot_agent::spec::{FileSelector, RedactorRule, RegexRemoval, Removals};

fn run(rules: &Compiled, path: &str, input: &str) -> (String, Counts) {
    let mut out = Vec::new();
    let mut counts = Counts::default();
    redact_stream(input.as_bytes(), &mut out, rules, path, &mut counts).expect("redacts");
    (String::from_utf8(out).expect("utf8"), counts)
}

fn defaults() -> Compiled {
    compile_with(&[], DefaultSet::Upstream).expect("defaults compile")
}

fn one(removals: Removals) -> Compiled {
    compile_with(
        &[RedactorRule {
            name: "t".into(),
            removals,
            ..Default::default()
        }],
        DefaultSet::Upstream,
    )
    .expect("compiles")
}

/// A deployment list like troubleshoot's `Test_Redactors` fixture: escaped env pairs in the
/// last-applied annotation, and pretty-printed env with DSNs and connection strings.
const DEPLOYMENT: &str = r#"[
  {
    "metadata": {
      "name": "awesome-api",
      "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{\"containers\":[{\"env\":[{\"name\":\"JWT_SIGNING_KEY\",\"value\":\"jwt-signing-key\"},{\"name\":\"MYSQL_USER\",\"value\":\"mysqluser\"},{\"name\":\"MYSQL_PASSWORD\",\"value\":\"password\"},{\"name\":\"MYSQL_DATABASE\",\"value\":\"mysqldb\"},{\"name\":\"GRAPHQL_ENDPOINT\",\"value\":\"http://awesome-api:8013/graphql\"},{\"name\":\"AWS_ACCESS_KEY_ID\",\"value\":\"fake\"},{\"name\":\"AWS_SECRET_ACCESS_KEY\",\"value\":\"fake\"},{\"name\":\"AWS_REGION\",\"value\":\"notaregion\"},{\"name\":\"AWS_OWNER_ACCOUNT\",\"value\":\"fake\"},{\"name\":\"ELASTICSEARCH_NODES\",\"value\":\"http://esuser:thisisnotasecret@elasticsearch:9200\"}]}]}}\n"
      }
    },
    "spec": {
      "containers": [
        {
          "name": "awesome-api",
          "env": [
            {
              "name": "DB_CONNECTION_STRING",
              "value": "dbuser:thisisasecret@tcp(dbserver.org:3309)/blog_production"
            },
            {
              "name": "POSTGRES_CONNECTION_STRING",
              "value": "Provider=PostgreSQL OLE DB Provider;Data Source=myServerAddress;location=myDataBase;User ID=myUsername;password=myPassword;timeout=1000;"
            },
            {
              "name": "POSTGRES_CONNECTION_STRING_2",
              "value": "postgres://pg_user:pg_password@pg_host:5432/pg_database"
            },
            {
              "name": "MYSQL_CONNECTION_STRING",
              "value": "Server=myServerAddress;Database=myDataBase;Uid=myUsername;Pwd=myPassword;UseProcedureBodies=False;"
            },
            {
              "name": "MYSQL_USER",
              "value": "mysqluser"
            },
            {
              "name": "MYSQL_PASSWORD",
              "value": "password"
            },
            {
              "name": "GITHUB_TOKEN",
              "value": "ghp_notreal"
            },
            {
              "name": "AWS_SECRET_ACCESS_KEY",
              "value": "fake"
            },
            {
              "name": "AWS_REGION",
              "value": "notaregion"
            },
            {
              "name": "GRAPHQL_ENDPOINT",
              "value": "http://awesome-api:8013/graphql"
            }
          ]
        }
      ]
    }
  }
]"#;

const DEPLOYMENT_REDACTED: &str = r#"[
  {
    "metadata": {
      "name": "awesome-api",
      "annotations": {
        "kubectl.kubernetes.io/last-applied-configuration": "{\"spec\":{\"containers\":[{\"env\":[{\"name\":\"JWT_SIGNING_KEY\",\"value\":\"jwt-signing-key\"},{\"name\":\"MYSQL_USER\",\"value\":\"***HIDDEN***\"},{\"name\":\"MYSQL_PASSWORD\",\"value\":\"***HIDDEN***\"},{\"name\":\"MYSQL_DATABASE\",\"value\":\"***HIDDEN***\"},{\"name\":\"GRAPHQL_ENDPOINT\",\"value\":\"http://awesome-api:8013/graphql\"},{\"name\":\"AWS_ACCESS_KEY_ID\",\"value\":\"***HIDDEN***\"},{\"name\":\"AWS_SECRET_ACCESS_KEY\",\"value\":\"***HIDDEN***\"},{\"name\":\"AWS_REGION\",\"value\":\"notaregion\"},{\"name\":\"AWS_OWNER_ACCOUNT\",\"value\":\"***HIDDEN***\"},{\"name\":\"ELASTICSEARCH_NODES\",\"value\":\"http://***HIDDEN***:***HIDDEN***@elasticsearch:9200\"}]}]}}\n"
      }
    },
    "spec": {
      "containers": [
        {
          "name": "awesome-api",
          "env": [
            {
              "name": "DB_CONNECTION_STRING",
              "value": "***HIDDEN***:***HIDDEN***@tcp(***HIDDEN***:3309)/***HIDDEN***"
            },
            {
              "name": "POSTGRES_CONNECTION_STRING",
              "value": "Provider=PostgreSQL OLE DB Provider;Data Source=***HIDDEN***;location=***HIDDEN***;User ID=***HIDDEN***;password=***HIDDEN***;timeout=1000;"
            },
            {
              "name": "POSTGRES_CONNECTION_STRING_2",
              "value": "postgres://***HIDDEN***:***HIDDEN***@***HIDDEN***:5432/***HIDDEN***"
            },
            {
              "name": "MYSQL_CONNECTION_STRING",
              "value": "Server=***HIDDEN***;Database=***HIDDEN***;Uid=***HIDDEN***;Pwd=***HIDDEN***;UseProcedureBodies=False;"
            },
            {
              "name": "MYSQL_USER",
              "value": "***HIDDEN***"
            },
            {
              "name": "MYSQL_PASSWORD",
              "value": "***HIDDEN***"
            },
            {
              "name": "GITHUB_TOKEN",
              "value": "***HIDDEN***"
            },
            {
              "name": "AWS_SECRET_ACCESS_KEY",
              "value": "***HIDDEN***"
            },
            {
              "name": "AWS_REGION",
              "value": "notaregion"
            },
            {
              "name": "GRAPHQL_ENDPOINT",
              "value": "http://awesome-api:8013/graphql"
            }
          ]
        }
      ]
    }
  }
]"#;

#[test]
fn deployment_fixture_redacts_exactly() {
    let (out, counts) = run(
        &defaults(),
        "cluster-resources/deployments/default.json",
        DEPLOYMENT,
    );
    assert_eq!(out, DEPLOYMENT_REDACTED);
    // One count per replacement: 6 escaped pairs + URL + tcp DSN + 4 ADO + generic DSN + 4 ODBC + 4 pretty.
    assert_eq!(counts.total(), 6 + 1 + 1 + 4 + 1 + 4 + 4);
}

#[test]
fn single_line_cases() {
    // Upstream single_line_test shapes: a named mask, named kept groups, no match, no final newline.
    let c = one(Removals {
        regex: vec![RegexRemoval {
            selector: None,
            redactor: Some(r#"(?i)(Pwd *= *)(?P<mask>[^\;]+)(;)"#.into()),
        }],
        ..Default::default()
    });
    assert_eq!(run(&c, "f", "pwd = abcdef;").0, format!("pwd = {MASK};"));
    assert_eq!(run(&c, "f", "no match\n").0, "no match\n");
    let c = one(Removals {
        regex: vec![RegexRemoval {
            selector: None,
            redactor: Some(r"(another)(?P<mask>.*)(here)".into()),
        }],
        ..Default::default()
    });
    assert_eq!(
        run(&c, "f", "another thing here\nnot this\n").0,
        format!("another{MASK}here\nnot this\n")
    );
    // The ipv4 example from upstream comments: duplicate `drop` names inside a `mask`.
    let c = one(Removals {
        regex: vec![RegexRemoval {
            selector: None,
            redactor: Some(r"(?P<mask>\b(?P<drop>25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.(?P<drop>25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.(?P<drop>25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\.(?P<drop>25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\b)".into()),
        }],
        ..Default::default()
    });
    assert_eq!(run(&c, "f", "ip 10.0.0.1 up").0, format!("ip {MASK} up"));
}

#[test]
fn multi_line_cases() {
    let c = defaults();
    // Trailing newline kept; absent newline stays absent.
    assert_eq!(
        run(
            &c,
            "f",
            "\"name\": \"secret_access_key\"\n\"value\": \"dfeadsfsdfe\"\n"
        )
        .0,
        format!("\"name\": \"secret_access_key\"\n\"value\": \"{MASK}\"\n")
    );
    assert_eq!(
        run(
            &c,
            "f",
            "\"name\": \"ACCESS_KEY_ID\"\n\"value\": \"dfeadsfsdfe\""
        )
        .0,
        format!("\"name\": \"ACCESS_KEY_ID\"\n\"value\": \"{MASK}\"")
    );
    assert_eq!(
        run(&c, "f", "no match\n\n no match \n\n").0,
        "no match\n\n no match \n\n"
    );
    // Selector on the last line: nothing to redact, nothing lost.
    assert_eq!(
        run(&c, "f", "\"name\": \"PASSWORD\"").0,
        "\"name\": \"PASSWORD\""
    );
}

#[test]
fn literal_cases() {
    let c = one(Removals {
        values: vec!["abc123".into(), "€uro".into()],
        ..Default::default()
    });
    assert_eq!(
        run(&c, "f", "test abc123 and abc1234\n€uro\n").0,
        format!("test {MASK} and {MASK}4\n{MASK}\n")
    );
}

#[test]
fn yaml_path_cases() {
    let c = one(Removals {
        yaml_path: vec!["abc.xyz.*".into(), "list.1.secret".into()],
        ..Default::default()
    });
    let (out, counts) = run(
        &c,
        "f.yaml",
        "abc:\n  xyz:\n  - a\n  - b\n  other: kept\nlist:\n- secret: one\n- secret: two\n",
    );
    let v: serde_json::Value = serde_saphyr::from_str(&out).expect("yaml out");
    assert_eq!(
        v,
        serde_json::json!({"abc": {"xyz": [MASK, MASK], "other": "kept"}, "list": [{"secret": "one"}, {"secret": MASK}]})
    );
    assert_eq!(counts.by_redactor.get("t.yaml.0"), Some(&2));
    assert_eq!(counts.by_redactor.get("t.yaml.1"), Some(&1));
    // No match: byte-identical, formatting kept.
    let input = "abc:   {q: 1}   # comment\n";
    assert_eq!(run(&c, "f.yaml", input).0, input);
    // Unparseable: passes through.
    let input = "abc: [unclosed\n";
    assert_eq!(run(&c, "f.yaml", input).0, input);
}

#[test]
fn file_selector_limits_user_rules() {
    let c = compile_with(
        &[RedactorRule {
            name: "logs-only".into(),
            file_selector: Some(FileSelector {
                file: None,
                files: vec!["cluster-resources/pods/logs/**".into(), "*.txt".into()],
            }),
            removals: Removals {
                values: vec!["needle".into()],
                ..Default::default()
            },
            ..Default::default()
        }],
        DefaultSet::Upstream,
    )
    .expect("compiles");
    assert_eq!(
        run(&c, "cluster-resources/pods/logs/ns/pod/c.log", "a needle").0,
        format!("a {MASK}")
    );
    assert_eq!(run(&c, "notes.txt", "a needle").0, format!("a {MASK}"));
    assert_eq!(run(&c, "dir/notes.txt", "a needle").0, "a needle");
    assert_eq!(
        run(&c, "cluster-resources/pods/default.json", "a needle").0,
        "a needle"
    );
}
