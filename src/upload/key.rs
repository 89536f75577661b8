//! Object names: the key template (`{job}`, `{runId}`, `{timestamp}`, `{hostname}`, `{node}`,
//! `{cluster}`) and the prefix. One parser serves `validate` and the upload phase, so what validates renders.
//!
//! The default template is [`DEFAULT_TEMPLATE`], `{hostname}/{job}/{runId}.tar.gz`: the host comes
//! first because scheduled runs of the same job on two hosts share a run id (the nominal fire
//! instant), and uploads are create-only, so a fleet writing to one bucket needs the host in the key.
//! In node mode the agent's host name is its node name, so `{hostname}` and `{node}` both name
//! the node: agents on different nodes never write the same key.

use chrono::{DateTime, Utc};

/// The key template used when a target names none.
pub const DEFAULT_TEMPLATE: &str = "{hostname}/{job}/{runId}.tar.gz";

/// The placeholder names a template may use.
pub const PLACEHOLDERS: &[&str] = &["job", "runId", "timestamp", "hostname", "node", "cluster"];

/// What `{cluster}` renders to when the agent setting `clusterName` is not set.
pub const UNKNOWN_CLUSTER: &str = "unknown-cluster";

/// One placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholder {
    /// The job name.
    Job,
    /// The run id (`20250309T070000Z`, `manual-...`).
    RunId,
    /// When the run started, UTC, `20250309T070312Z`.
    Timestamp,
    /// This host's name.
    Hostname,
    /// The node's name: in node mode `--node-name` (default `NODE_NAME`), else the host name.
    Node,
    /// The agent's `clusterName` setting.
    Cluster,
}

/// A piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// Text copied as written.
    Literal(String),
    /// A value filled in per run.
    Placeholder(Placeholder),
}

/// Why a template cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `{` without `}`.
    #[error("unclosed `{{` in key template `{0}`")]
    Unclosed(String),
    /// `{name}` that is not a placeholder.
    #[error("unknown placeholder `{{{name}}}` in key template; known: {}", PLACEHOLDERS.join(", "))]
    Unknown {
        /// The name between the braces.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
    /// Empty, absolute, or with `.`/`..` segments.
    #[error("key template `{0}` can produce an empty or unsafe key")]
    Unsafe(String),
    /// Neither `{runId}` nor `{timestamp}`: every run would get the same key.
    #[error(
        "key template `{0}` gives every run the same key; uploads are create-only, so every run after the first would fail"
    )]
    SameEveryRun(String),
}

/// A template checked once and rendered per run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

/// Parses `template` and checks that every run gets its own safe key.
pub fn parse(template: &str) -> Result<Template, TemplateError> {
    let parts = parse_parts(template)?;
    if template.trim().is_empty()
        || template.starts_with('/')
        || template
            .split('/')
            .any(|segment| segment == ".." || segment == ".")
    {
        return Err(TemplateError::Unsafe(template.to_string()));
    }
    let per_run = parts.iter().any(|p| {
        matches!(
            p,
            Part::Placeholder(Placeholder::RunId | Placeholder::Timestamp)
        )
    });
    if !per_run {
        return Err(TemplateError::SameEveryRun(template.to_string()));
    }
    Ok(Template { parts })
}

/// Splits `text` into literals and placeholders (no rule about what the result must contain):
/// the HTTP sink uses it for URLs, which may legitimately be the same for every run.
pub fn parse_parts(text: &str) -> Result<Vec<Part>, TemplateError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_string()));
        }
        let Some(close) = rest[open..].find('}') else {
            return Err(TemplateError::Unclosed(text.to_string()));
        };
        let name = &rest[open + 1..open + close];
        let placeholder = match name {
            "job" => Placeholder::Job,
            "runId" => Placeholder::RunId,
            "timestamp" => Placeholder::Timestamp,
            "hostname" => Placeholder::Hostname,
            "node" => Placeholder::Node,
            "cluster" => Placeholder::Cluster,
            _ => {
                return Err(TemplateError::Unknown {
                    name: name.to_string(),
                    suggestion: crate::yaml::suggest(name, PLACEHOLDERS),
                });
            }
        };
        parts.push(Part::Placeholder(placeholder));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Ok(parts)
}

/// The values placeholders take for one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    /// Job name.
    pub job: String,
    /// Run id.
    pub run_id: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// This host's name (in node mode, the node's name).
    pub hostname: String,
    /// The cluster name, when the agent knows one.
    pub cluster: Option<String>,
}

impl Vars {
    fn value(&self, p: Placeholder) -> String {
        let raw = match p {
            Placeholder::Job => self.job.clone(),
            Placeholder::RunId => self.run_id.clone(),
            Placeholder::Timestamp => self.started_at.format("%Y%m%dT%H%M%SZ").to_string(),
            Placeholder::Hostname | Placeholder::Node => self.hostname.clone(),
            Placeholder::Cluster => self
                .cluster
                .clone()
                .unwrap_or_else(|| UNKNOWN_CLUSTER.to_string()),
        };
        safe_segment(&raw)
    }
}

/// A value as one key segment: anything but `[A-Za-z0-9._-]` becomes `_`, so a value can never
/// add a `/` or be `.`/`..`; an empty value becomes `_`.
fn safe_segment(value: &str) -> String {
    let s: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        s.replace('.', "_") + "_"
    } else {
        s
    }
}

impl Template {
    /// The key for one run, without prefix.
    pub fn render(&self, vars: &Vars) -> String {
        render_parts(&self.parts, vars)
    }
}

/// Whether `parts` name the host (`{hostname}` or `{node}`): only then do agents on different
/// hosts or nodes running the same job never write the same key.
pub fn names_host(parts: &[Part]) -> bool {
    parts.iter().any(|p| {
        matches!(
            p,
            Part::Placeholder(Placeholder::Hostname | Placeholder::Node)
        )
    })
}

/// Fills in `parts` with `vars`.
pub fn render_parts(parts: &[Part], vars: &Vars) -> String {
    parts
        .iter()
        .map(|p| match p {
            Part::Literal(s) => s.clone(),
            Part::Placeholder(p) => vars.value(*p),
        })
        .collect()
}

/// The full object key: `prefix` (a folder: a missing trailing `/` is added) and the rendered
/// template (`key`, else [`DEFAULT_TEMPLATE`]).
pub fn object_key(
    prefix: Option<&str>,
    key: Option<&str>,
    vars: &Vars,
) -> Result<String, TemplateError> {
    let template = parse(key.unwrap_or(DEFAULT_TEMPLATE))?;
    let name = template.render(vars);
    let prefix = prefix.unwrap_or("").trim_start_matches('/');
    Ok(match prefix {
        "" => name,
        p if p.ends_with('/') => format!("{p}{name}"),
        p => format!("{p}/{name}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        Vars {
            job: "prod-daily".into(),
            run_id: "20250309T070000Z".into(),
            started_at: "2025-03-09T07:00:12Z".parse().unwrap(),
            hostname: "node-1.example.com".into(),
            cluster: None,
        }
    }

    #[test]
    fn default_template_and_prefix() {
        assert_eq!(
            object_key(None, None, &vars()).unwrap(),
            "node-1.example.com/prod-daily/20250309T070000Z.tar.gz"
        );
        assert_eq!(
            object_key(Some("prod/"), Some("{job}/{timestamp}.tgz"), &vars()).unwrap(),
            "prod/prod-daily/20250309T070012Z.tgz"
        );
        assert_eq!(
            object_key(Some("prod"), Some("{cluster}-{runId}"), &vars()).unwrap(),
            "prod/unknown-cluster-20250309T070000Z"
        );
    }

    #[test]
    fn values_cannot_escape_their_segment() {
        let mut v = vars();
        v.hostname = "../../etc".into();
        v.cluster = Some("a/b c".into());
        assert_eq!(
            object_key(None, Some("{hostname}/{cluster}/{runId}"), &v).unwrap(),
            ".._.._etc/a_b_c/20250309T070000Z"
        );
        v.hostname = "..".into();
        assert_eq!(
            object_key(None, Some("{hostname}/{runId}"), &v).unwrap(),
            "___/20250309T070000Z"
        );
        v.hostname = String::new();
        assert_eq!(
            object_key(None, Some("{hostname}/{runId}"), &v).unwrap(),
            "_/20250309T070000Z"
        );
    }

    #[test]
    fn bad_templates_are_refused() {
        assert_eq!(
            parse("{job}/{runid}"),
            Err(TemplateError::Unknown {
                name: "runid".into(),
                suggestion: Some("runId".into())
            })
        );
        assert!(matches!(
            parse("{job/{runId}"),
            Err(TemplateError::Unknown { .. })
        ));
        assert!(matches!(parse("{runId"), Err(TemplateError::Unclosed(_))));
        assert!(matches!(
            parse("/abs/{runId}"),
            Err(TemplateError::Unsafe(_))
        ));
        assert!(matches!(
            parse("a/../{runId}"),
            Err(TemplateError::Unsafe(_))
        ));
        assert!(matches!(parse("  "), Err(TemplateError::Unsafe(_))));
        assert!(matches!(
            parse("{job}.tar.gz"),
            Err(TemplateError::SameEveryRun(_))
        ));
        assert!(parse(DEFAULT_TEMPLATE).is_ok());
    }

    #[test]
    fn node_names_the_agents_host() {
        let mut v = vars();
        v.hostname = "worker-2".into();
        assert_eq!(
            object_key(Some("fleet"), Some("{node}/{job}/{runId}.tar.gz"), &v).unwrap(),
            "fleet/worker-2/prod-daily/20250309T070000Z.tar.gz"
        );
        assert!(names_host(&parse_parts("{node}/{runId}").unwrap()));
        assert!(names_host(&parse_parts(DEFAULT_TEMPLATE).unwrap()));
        assert!(!names_host(&parse_parts("{job}/{runId}").unwrap()));
    }
}
