//! `postgres`, `mysql`, `mssql`, `redis`, `clickhouse`, `s3Status`: the database collectors' connection file
//! (`<type>/<collectorName>.json`: `isConnected`, `error`, `version`) against `when` grammars
//! `connected <op> <bool>` and `version <op> <version>` (`x` reads as 0, so `>= 10.x` is
//! `>= 10.0.0`). The result is titled by `checkName`, else the collector name.

use super::super::outcome::{self, Op, Outcome};
use super::super::semver::{Range, SemverError, Version};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon, Meta};
use super::text;
use serde_json::Value;
use std::cmp::Ordering;

/// One database analyzer type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Db {
    Postgres,
    Mysql,
    Mssql,
    Redis,
    Clickhouse,
    /// `s3Status`: the same connection file and grammar, for an S3 bucket.
    S3Status,
}

impl Db {
    /// The analyzer key, also the collector's folder and default collector name.
    fn key(self) -> &'static str {
        match self {
            Db::Postgres => "postgres",
            Db::Mysql => "mysql",
            Db::Mssql => "mssql",
            Db::Redis => "redis",
            Db::Clickhouse => "clickhouse",
            Db::S3Status => "s3Status",
        }
    }

    fn icon(self) -> Icon {
        match self {
            Db::Postgres => Icon(
                "kubernetes_postgres_analyze",
                "https://troubleshoot.sh/images/analyzer-icons/postgres-analyze.svg",
            ),
            Db::Mysql => Icon(
                "kubernetes_mysql_analyze",
                "https://troubleshoot.sh/images/analyzer-icons/mysql-analyze.svg",
            ),
            // troubleshoot gives mssql results no icon.
            Db::Mssql => Icon("", ""),
            Db::Redis => Icon(
                "kubernetes_redis_analyze",
                "https://troubleshoot.sh/images/analyzer-icons/redis-analyze.svg",
            ),
            Db::Clickhouse => Icon(
                "kubernetes_clickhouse_analyze",
                "https://troubleshoot.sh/images/analyzer-icons/clickhouse-analyze.svg",
            ),
            Db::S3Status => Icon(
                "kubernetes_s3_analyze",
                "https://troubleshoot.sh/images/analyzer-icons/s3-analyze.svg",
            ),
        }
    }

    /// Whether `version` compares any number of dot-separated numbers (hashicorp/go-version, for
    /// versions such as SQL Server's `15.0.2000.5`) rather than blang semver.
    fn loose_versions(self) -> bool {
        matches!(self, Db::Mssql | Db::Clickhouse)
    }

    /// Whether a matched (conditional) fail outcome's message gets the connection error
    /// appended, as troubleshoot does for these types only.
    fn appends_error(self) -> bool {
        matches!(
            self,
            Db::Postgres | Db::Mssql | Db::Clickhouse | Db::S3Status
        )
    }
}

/// What the collector wrote.
#[derive(Debug, Default)]
struct Connection {
    connected: bool,
    error: String,
    version: String,
}

fn connection(file: &Value, path: &str) -> Result<Connection, AnalyzerError> {
    let Value::Object(m) = file else {
        return Err(AnalyzerError::data(path, "not a JSON object"));
    };
    let field = |name: &str| -> Result<String, AnalyzerError> {
        match m.get(name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(AnalyzerError::data(path, format!("`{name}` is not text"))),
        }
    };
    Ok(Connection {
        connected: match m.get("isConnected") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(AnalyzerError::data(path, "`isConnected` is not true/false")),
        },
        error: field("error")?,
        version: field("version")?,
    })
}

/// A database version (collected or in a `when`) that does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
enum VersionError {
    #[error("{0:?}: a short version cannot have pre-release or build data")]
    ShortWithSuffix(String),
    #[error(transparent)]
    Semver(#[from] SemverError),
    #[error("{0:?} is not a version")]
    NotLoose(String),
    #[error("expected version: {0}")]
    Expected(Box<VersionError>),
    #[error("the collected version cannot be compared: {0}")]
    Collected(Box<VersionError>),
    #[error("unknown operator {0:?}")]
    Operator(String),
}

/// blang's `ParseTolerant`: surrounding space and a leading `v` dropped, leading zeros trimmed,
/// a missing minor or patch read as 0.
fn tolerant_version(text: &str) -> Result<Version, VersionError> {
    Ok(Version::parse(&tolerant_text(text)?)?)
}

/// The strict version text [`tolerant_version`] parses.
fn tolerant_text(text: &str) -> Result<String, VersionError> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let mut parts: Vec<String> = text
        .splitn(3, '.')
        .map(|p| {
            if p.len() > 1 {
                let t = p.trim_start_matches('0');
                if t.starts_with(|c: char| c.is_ascii_digit()) {
                    t.to_string()
                } else {
                    format!("0{t}")
                }
            } else {
                p.to_string()
            }
        })
        .collect();
    if parts.len() < 3 {
        if parts.last().is_some_and(|p| p.contains(['+', '-'])) {
            return Err(VersionError::ShortWithSuffix(text.to_string()));
        }
        parts.resize(3, "0".to_string());
    }
    let strict = parts.join(".");
    Version::parse(&strict)?;
    Ok(strict)
}

/// Whether `when` holds for `conn`; a `when` on anything but `connected` or `version` never does.
fn holds(when: &str, db: Db, conn: &Connection) -> Result<bool, AnalyzerError> {
    let bad = |why: String| AnalyzerError::spec(format!("when {when:?}: {why}"));
    // Exactly `<subject> <op> <value>`, single spaces, as troubleshoot splits it.
    let parts: Vec<&str> = when.trim().split(' ').collect();
    let [subject, op, value] = parts.as_slice() else {
        return Err(bad(
            "expected `connected <op> <true|false>` or `version <op> <version>`".into(),
        ));
    };
    match *subject {
        "connected" => {
            let want = outcome::parse_bool(value)
                .ok_or_else(|| bad(format!("{value:?} is not true or false")))?;
            match Op::parse(op) {
                Some(Op::Eq) => Ok(want == conn.connected),
                Some(Op::Ne) => Ok(want != conn.connected),
                _ => Err(bad(format!(
                    "`connected` compares with ==, = or != only, not {op:?}"
                ))),
            }
        }
        "version" if db.loose_versions() => {
            loose::holds(op, value, &conn.version).map_err(|e| bad(e.to_string()))
        }
        "version" => {
            let expected = tolerant_text(&value.replace('x', "0"))
                .map_err(|e| bad(format!("expected version: {e}")))?;
            let actual = tolerant_version(&conn.version.replace('x', "0")).map_err(|e| {
                bad(format!(
                    "the collected version {:?} cannot be compared: {e}",
                    conn.version
                ))
            })?;
            let range =
                Range::parse(&format!("{op} {expected}")).map_err(|e| bad(e.to_string()))?;
            Ok(range.contains(&actual))
        }
        _ => Ok(false),
    }
}

pub(super) fn database(
    ctx: &Ctx<'_>,
    db: Db,
    body: &Value,
    meta: &Meta,
) -> Result<AnalyzeResult, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let mut collector = text(body, "collectorName");
    if collector.is_empty() {
        collector = db.key().to_string();
    }
    let path = format!("{}/{collector}.json", db.key());
    let conn = connection(&ctx.json(&path)?, &path)?;
    let r = AnalyzeResult::new(meta.title(collector), db.icon());
    // Unlike most analyzers, an item with no severity is skipped, not an error.
    for o in outcomes.iter().filter(|o| o.severity.is_some()) {
        if o.is_else() {
            return Ok(r.with(o));
        }
        if holds(&o.when, db, &conn)? {
            return Ok(matched(r, o, db, &conn));
        }
    }
    // No outcome matched: the titled result without a severity, as troubleshoot gives.
    Ok(r)
}

fn matched(r: AnalyzeResult, o: &Outcome, db: Db, conn: &Connection) -> AnalyzeResult {
    let mut r = r.with(o);
    if o.severity == Some(outcome::Severity::Fail) && db.appends_error() && !conn.error.is_empty() {
        r.message = format!("{} {}", o.message, conn.error);
    }
    r
}

/// hashicorp/go-version: `v?N(.N)*` with an optional pre-release (`-rc.1`, or letters right
/// after the numbers) and build (`+...`), compared segment by segment (missing ones are 0).
mod loose {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Loose {
        segments: Vec<u64>,
        pre: String,
    }

    pub(super) fn parse(text: &str) -> Result<Loose, VersionError> {
        let t = text.trim();
        let t = t.strip_prefix('v').unwrap_or(t);
        let t = t.split_once('+').map_or(t, |(v, _)| v);
        let end = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (core, rest) = t.split_at(end);
        let pre = rest.strip_prefix('-').unwrap_or(rest);
        let pre_ok = pre
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '~' | '.'));
        let segments: Result<Vec<u64>, _> = core.split('.').map(str::parse::<u64>).collect();
        match segments {
            Ok(segments) if pre_ok && !(rest.starts_with(|c: char| c.is_ascii_digit())) => {
                Ok(Loose {
                    segments,
                    pre: pre.to_string(),
                })
            }
            _ => Err(VersionError::NotLoose(text.to_string())),
        }
    }

    fn cmp_pre(a: &str, b: &str) -> Ordering {
        match (a.is_empty(), b.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => {
                let key = |id: &str| (id.parse::<u64>().ok(), id.to_string());
                let (a, b): (Vec<_>, Vec<_>) = (
                    a.split('.').map(key).collect(),
                    b.split('.').map(key).collect(),
                );
                a.cmp(&b)
            }
        }
    }

    fn core(v: &Loose, i: usize) -> u64 {
        v.segments.get(i).copied().unwrap_or(0)
    }

    impl Loose {
        fn cmp_to(&self, other: &Loose) -> Ordering {
            let n = self.segments.len().max(other.segments.len());
            (0..n)
                .map(|i| core(self, i).cmp(&core(other, i)))
                .find(|o| o.is_ne())
                .unwrap_or_else(|| cmp_pre(&self.pre, &other.pre))
        }

        fn same_core(&self, other: &Loose) -> bool {
            let n = self.segments.len().max(other.segments.len()).max(3);
            (0..n).all(|i| core(self, i) == core(other, i))
        }
    }

    /// `actual <op> expected`. Ordering operators follow go-version's pre-release rule: a
    /// pre-release version only satisfies a constraint that names a pre-release of the same
    /// release.
    pub(super) fn holds(op: &str, expected: &str, actual: &str) -> Result<bool, VersionError> {
        let expected =
            parse(&expected.replace('x', "0")).map_err(|e| VersionError::Expected(Box::new(e)))?;
        let actual =
            parse(&actual.replace('x', "0")).map_err(|e| VersionError::Collected(Box::new(e)))?;
        let op = Op::parse(op).ok_or_else(|| VersionError::Operator(op.to_string()))?;
        let order = actual.cmp_to(&expected);
        let pre_ok = match (actual.pre.is_empty(), expected.pre.is_empty()) {
            (false, false) => actual.same_core(&expected),
            (false, true) => false,
            _ => true,
        };
        Ok(match op {
            Op::Eq => order.is_eq(),
            Op::Ne => order.is_ne(),
            _ => pre_ok && op.holds(order, Ordering::Equal),
        })
    }

    #[test]
    fn go_version_rules() {
        let h = |op, e, a| holds(op, e, a);
        assert_eq!(h(">=", "15.x", "15.0.2000.5"), Ok(true));
        assert_eq!(h(">", "15.0.2000.5", "15.0.2000.5"), Ok(false));
        assert_eq!(h("=", "23.8", "23.8.0.0"), Ok(true));
        assert_eq!(h("<", "24", "23.8.2.7"), Ok(true));
        assert_eq!(h(">=", "1.0", "1.2.0-rc1"), Ok(false));
        assert_eq!(h(">=", "1.2.0-rc0", "1.2.0-rc1"), Ok(true));
        assert_eq!(h("!=", "1.2", "v1.2.0+build"), Ok(false));
        assert!(h("~>", "1.2", "1.2").is_err());
        assert!(h(">=", "1.2", "").is_err());
        assert!(h(">=", "1..2", "1").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerant_versions_follow_blang() {
        let v = |s: &str| tolerant_version(s).map_err(|e| e.to_string());
        assert_eq!(v("v10"), v("10.0.0"));
        assert_eq!(v(" 8.0 "), v("8.0.0"));
        assert_eq!(v("08.01.02"), v("8.1.2"));
        assert!(v("8-beta").is_err());
        assert!(v("").is_err());
        assert!(v("PostgreSQL 14").is_err());
    }

    #[test]
    fn when_grammar() {
        let conn = Connection {
            connected: true,
            error: String::new(),
            version: "10.12".into(),
        };
        let h = |w: &str| holds(w, Db::Postgres, &conn).map_err(|e| e.to_string());
        assert_eq!(h("connected == true"), Ok(true));
        assert_eq!(h("connected === false"), Ok(false));
        assert_eq!(h("connected != false"), Ok(true));
        assert_eq!(h("version >= 10.x"), Ok(true));
        assert_eq!(h("version < 10.12.1"), Ok(true));
        assert_eq!(h("version > 11"), Ok(false));
        assert_eq!(h("uptime > 3"), Ok(false));
        for bad in [
            "connected",
            "connected  == true",
            "connected == yes",
            "connected >= true",
            "version >= ten",
            "version ~ 10",
        ] {
            let e = h(bad).expect_err(bad);
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        let none = Connection::default();
        let e = holds("version >= 10", Db::Mysql, &none).expect_err("no version");
        assert!(e.to_string().contains("collected version"), "{e}");
    }
}

#[cfg(test)]
mod table {
    use super::super::super::Severity;
    use super::super::super::tests::{run, summary};

    const OUTCOMES: &str = "    outcomes:\n      - fail: {when: connected == false, message: cannot connect}\n      - warn: {when: version < 10.x, message: old}\n      - pass: {message: fine}\n";

    fn one(files: &[(&str, &str)], yaml: &str) -> (Option<Severity>, String, String) {
        let a = run(files, yaml);
        assert!(a.errors.is_empty() && a.unsupported.is_empty(), "{a:?}");
        summary(&a).remove(0)
    }

    #[test]
    fn pass_warn_fail_and_the_appended_error() {
        let up = r#"{"isConnected": true, "version": "14.5"}"#;
        let old = r#"{"isConnected": true, "version": "9.6.2"}"#;
        let down = r#"{"isConnected": false, "error": "dial tcp: refused"}"#;
        for (kind, appends) in [
            ("postgres", true),
            ("mssql", true),
            ("clickhouse", true),
            ("s3Status", true),
            ("mysql", false),
            ("redis", false),
        ] {
            let path = format!("{kind}/{kind}.json");
            let yaml = format!("- {kind}:{OUTCOMES}");
            let yaml = yaml.replacen(":    outcomes", ":\n    outcomes", 1);
            let got = one(&[(&path, up)], &yaml);
            assert_eq!(got, (Some(Severity::Pass), kind.into(), "fine".into()));
            let got = one(&[(&path, old)], &yaml);
            assert_eq!(got, (Some(Severity::Warn), kind.into(), "old".into()));
            let want = if appends {
                "cannot connect dial tcp: refused"
            } else {
                "cannot connect"
            };
            let got = one(&[(&path, down)], &yaml);
            assert_eq!(got, (Some(Severity::Fail), kind.into(), want.into()));
        }
    }

    #[test]
    fn collector_name_check_name_defaults_and_no_match() {
        let files = [(
            "redis/cache.json",
            r#"{"isConnected": true, "version": "7.2.4"}"#,
        )];
        let yaml = "- redis:\n    collectorName: cache\n    outcomes:\n      - fail: {when: connected == false, message: down}\n";
        // Nothing matched: a titled result without a severity.
        assert_eq!(one(&files, yaml), (None, "cache".into(), String::new()));
        let yaml = "- redis:\n    collectorName: cache\n    checkName: Cache\n    outcomes:\n      - {}\n      - fail: {message: always}\n";
        assert_eq!(
            one(&files, yaml),
            (Some(Severity::Fail), "Cache".into(), "always".into())
        );
        let a = run(&files, "- redis:\n    collectorName: cache\n");
        assert_eq!(a.results[0].icon_key, "kubernetes_redis_analyze");
    }

    #[test]
    fn missing_malformed_and_bad_when_are_errors() {
        let yaml =
            "- mysql:\n    outcomes:\n      - pass: {when: connected == true, message: ok}\n";
        let a = run(&[], yaml);
        assert!(a.results.is_empty(), "{a:?}");
        assert!(a.errors[0].message.contains("mysql/mysql.json"), "{a:?}");
        assert!(!a.errors[0].spec_problem);
        for bad in ["{not json", "[1]", r#"{"isConnected": "yes"}"#] {
            let a = run(&[("mysql/mysql.json", bad)], yaml);
            assert!(a.results.is_empty(), "{bad}: {a:?}");
            assert!(a.errors[0].message.contains("mysql/mysql.json"), "{a:?}");
        }
        let files = [("mysql/mysql.json", r#"{"isConnected": true}"#)];
        let a = run(
            &files,
            &yaml.replace("connected == true", "connected is up"),
        );
        assert!(a.errors[0].spec_problem, "{a:?}");
        assert!(a.errors[0].message.contains("connected is up"), "{a:?}");
        // A version check on a collector that found no version cannot be judged.
        let a = run(&files, &yaml.replace("connected == true", "version >= 8"));
        assert!(a.errors[0].message.contains("collected version"), "{a:?}");
    }
}
