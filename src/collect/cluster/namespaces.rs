//! Which namespaces clusterResources collects (TROUBLESHOOT-FORMAT.md §1.4).

/// How the namespaces were chosen; it also decides the shape of `namespaces.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// Every namespace the identity may read pods in: `namespaces.json` is a NamespaceList.
    All,
    /// One namespace (the job's single `collect.namespaces`, as `--namespace`): a Namespace object.
    One(String),
    /// A list (the spec's `namespaces:`, or several job namespaces): an array of Namespaces.
    Listed(Vec<String>),
}

impl Selection {
    /// The namespaces named, empty for [`Selection::All`].
    pub fn named(&self) -> Vec<String> {
        match self {
            Selection::All => Vec::new(),
            Selection::One(ns) => vec![ns.clone()],
            Selection::Listed(l) => l.clone(),
        }
    }
}

/// The spec's list wins, then the job's (`--namespace` for one), else all.
pub fn select(spec: &[String], job: &[String]) -> Selection {
    let clean = |l: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for ns in l.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == ns) {
                out.push(ns.to_string());
            }
        }
        out
    };
    let (spec, job) = (clean(spec), clean(job));
    if !spec.is_empty() {
        return Selection::Listed(spec);
    }
    match job.len() {
        0 => Selection::All,
        1 => Selection::One(job[0].clone()),
        _ => Selection::Listed(job),
    }
}

/// In [`Selection::All`] mode, the namespaces kept: those whose rules allow get or list on pods
/// (`rules` is `None` when the review failed: the namespace is kept, its calls will tell).
pub fn readable<'a>(
    all: &'a [String],
    rules: &dyn Fn(&str) -> Option<bool>,
    ignore_rbac: bool,
) -> Vec<&'a String> {
    all.iter()
        .filter(|ns| ignore_rbac || rules(ns).unwrap_or(true))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(l: &[&str]) -> Vec<String> {
        l.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn spec_then_job_then_all() {
        assert_eq!(
            select(&v(&["a", "b", "a"]), &v(&["c"])),
            Selection::Listed(v(&["a", "b"]))
        );
        assert_eq!(select(&[], &v(&["c"])), Selection::One("c".into()));
        assert_eq!(
            select(&[], &v(&["c", "d"])),
            Selection::Listed(v(&["c", "d"]))
        );
        assert_eq!(select(&v(&[""]), &[]), Selection::All);
        assert!(Selection::All.named().is_empty());
    }

    #[test]
    fn rbac_drops_unreadable_namespaces_unless_ignored() {
        let all = v(&["a", "b", "c"]);
        let rules = |ns: &str| match ns {
            "a" => Some(true),
            "b" => Some(false),
            _ => None,
        };
        let kept: Vec<&str> = readable(&all, &rules, false)
            .into_iter()
            .map(String::as_str)
            .collect();
        assert_eq!(kept, ["a", "c"]);
        assert_eq!(readable(&all, &rules, true).len(), 3);
    }
}
