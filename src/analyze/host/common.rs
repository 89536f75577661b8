//! What most host analyzers share: finding the collected file (the local one, else one per node
//! listed in `host-collectors/system/node_list.json`), and walking the outcomes for each file
//! with the analyzer's own `when` grammar (TROUBLESHOOT-FORMAT.md §4.1, host analyzers).

use super::super::outcome::{self, Outcome, Severity};
use super::super::{AnalyzeResult, AnalyzerError, Ctx, Icon};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Where per-node host files live and where the node list is.
pub(crate) const SYSTEM_DIR: &str = "host-collectors/system";
const NODE_LIST: &str = "host-collectors/system/node_list.json";

/// One collected file: from this host (`node` is `None`) or from a node of the cluster.
pub(crate) struct Collected {
    pub node: Option<String>,
    pub path: String,
    pub data: Vec<u8>,
}

impl Collected {
    /// The result title for this file: `<title> - Node <node>` for a node's file.
    pub fn title(&self, title: &str) -> String {
        match &self.node {
            Some(node) => format!("{title} - Node {node}"),
            None => title.to_string(),
        }
    }

    /// The data parsed as `T`; a parse error names the file and the shape expected.
    pub fn decode<T: DeserializeOwned>(&self, what: &str) -> Result<T, AnalyzerError> {
        let fail = |e: &dyn std::fmt::Display| {
            AnalyzerError::data(
                &self.path,
                format!("failed to unmarshal data into {what}: {e}"),
            )
        };
        let value: Value = serde_json::from_slice(&self.data).map_err(|e| fail(&e))?;
        // serde fills a struct from a JSON array by position; Go refuses. A `T` that an empty
        // object can fill is object-shaped, so an array for it is refused here as Go does.
        if value.is_array() && serde_json::from_value::<T>(Value::Object(Map::new())).is_ok() {
            return Err(fail(&"cannot unmarshal an array into an object"));
        }
        serde_json::from_value(value).map_err(|e| fail(&e))
    }
}

/// The local file `local` when the bundle has it; else `<base>/<node>/<file>` for every node of
/// the node list (a node's missing file is an error); else nothing (the analyzer gives no
/// result, as troubleshoot).
pub(crate) fn collected(
    ctx: &Ctx<'_>,
    local: &str,
    base: &str,
    file: &str,
) -> Result<Vec<Collected>, AnalyzerError> {
    match ctx.view.read(local) {
        Ok(data) => {
            return Ok(vec![Collected {
                node: None,
                path: local.to_string(),
                data,
            }]);
        }
        Err(e) if !e.is_not_found() => return Err(e.into()),
        Err(_) => {}
    }
    let list = match ctx.view.read(NODE_LIST) {
        Ok(list) => list,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    #[derive(serde::Deserialize)]
    struct NodeList {
        #[serde(default)]
        nodes: Option<Vec<String>>,
    }
    let list: NodeList = serde_json::from_slice(&list).map_err(|e| {
        AnalyzerError::data(NODE_LIST, format!("failed to unmarshal node names: {e}"))
    })?;
    list.nodes
        .unwrap_or_default()
        .into_iter()
        .map(|node| {
            let path = format!("{base}/{node}/{file}");
            let data = ctx.read(&path).map_err(|e| {
                AnalyzerError::data(
                    &path,
                    format!("failed to retrieve content for node {node}: {e}"),
                )
            })?;
            Ok(Collected {
                node: Some(node),
                path,
                data,
            })
        })
        .collect()
}

/// A result of `outcome` titled `title`.
pub(crate) fn result_of(title: &str, icon: Icon, outcome: &Outcome) -> AnalyzeResult {
    AnalyzeResult::new(title, icon).with(outcome)
}

/// For each collected file, the first outcome whose `when` holds by `check` (an empty `when`
/// always does), titled per node. A `when` that cannot be evaluated fails the analyzer.
pub(crate) fn first_matches(
    files: &[Collected],
    outcomes: &[Outcome],
    title: &str,
    icon: Icon,
    mut check: impl FnMut(&str, &Collected) -> Result<bool, AnalyzerError>,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut out = Vec::new();
    for file in files {
        let title = file.title(title);
        let hit = outcome::first_match(outcomes, |when| {
            check(when, file).map_err(|e| compare_error(when, e))
        })?;
        if let Some(o) = hit {
            out.push(result_of(&title, icon, o));
        }
    }
    Ok(out)
}

/// For each collected file: `judge` reads it and picks the outcome that holds, if any, with
/// what its message is rendered over; `message` renders that message. Results are titled per
/// node. (For analyzers whose messages are templates over the file's data.)
pub(crate) fn judged_per_file<'o, T>(
    files: &[Collected],
    title: &str,
    mut judge: impl FnMut(&Collected) -> Result<Option<(&'o Outcome, T)>, AnalyzerError>,
    mut message: impl FnMut(&'o Outcome, &T) -> String,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let mut out = Vec::new();
    for f in files {
        if let Some((o, data)) = judge(f)? {
            let mut r = result_of(&f.title(title), NO_ICON, o);
            r.message = message(o, &data);
            out.push(r);
        }
    }
    Ok(out)
}

/// `failed to compare <when>: <why>`, keeping a data error's file.
pub(crate) fn compare_error(when: &str, e: AnalyzerError) -> AnalyzerError {
    match e {
        AnalyzerError::Data { path, message } => AnalyzerError::Data {
            path,
            message: format!("failed to compare {when}: {message}"),
        },
        other => AnalyzerError::spec(format!("failed to compare {when}: {other}")),
    }
}

/// The usual host analyzer: `local`, else `<base>/<node>/<file>`, parsed as `T` only when an
/// outcome needs it (an unconditional first outcome never reads the data, as troubleshoot).
pub(crate) fn simple<T: DeserializeOwned>(
    ctx: &Ctx<'_>,
    body: &Value,
    (local, base, file): (&str, &str, &str),
    (title, icon, what): (&str, Icon, &str),
    check: impl Fn(&str, &T) -> Result<bool, AnalyzerError>,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let outcomes = outcome::parse(body)?;
    let files = collected(ctx, local, base, file)?;
    first_matches(&files, &outcomes, title, icon, |when, f| {
        let data: T = f.decode(what)?;
        check(when, &data)
    })
}

/// The text field `name` of an analyzer body ("" when absent).
pub(crate) fn text(body: &Value, name: &str) -> String {
    body.get(name)
        .and_then(outcome::scalar_text)
        .unwrap_or_default()
}

/// `text(body, "collectorName")`, else `default`.
pub(crate) fn collector_name(body: &Value, default: &str) -> String {
    let name = text(body, "collectorName");
    if name.is_empty() {
        default.to_string()
    } else {
        name
    }
}

/// The outcomes' severities, for analyzers that walk outcomes in their own way.
pub(crate) fn severity_of(o: &Outcome) -> Result<Severity, AnalyzerError> {
    o.severity
        .ok_or_else(|| AnalyzerError::spec("invalid outcome: none of fail, warn or pass"))
}

/// No icon (host analyzers have none).
pub(crate) const NO_ICON: Icon = Icon("", "");
