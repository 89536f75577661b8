//! [`compare`]: what changed between two fingerprints, as a plain function (no I/O).

use super::fingerprint::Fingerprint;
use crate::state::records::ChangesRecord;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A kind of change; also the names `changedOnly` takes in a job's webhook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[derive(schemars::JsonSchema)]
pub enum Category {
    /// Analyzer results that appeared, cleared or changed severity.
    Analysis,
    /// Kubernetes objects added, removed or changed.
    Objects,
    /// Containers whose restart count rose.
    Restarts,
    /// New Warning events (or more of one).
    Events,
    /// Node conditions that changed.
    Nodes,
    /// Host facts that changed (packages, kernel, OS, services, disks).
    Host,
}

impl Category {
    /// Every category, in report order.
    pub const ALL: [Category; 6] = [
        Category::Analysis,
        Category::Objects,
        Category::Restarts,
        Category::Events,
        Category::Nodes,
        Category::Host,
    ];

    /// The name in job files, JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Analysis => "analysis",
            Category::Objects => "objects",
            Category::Restarts => "restarts",
            Category::Events => "events",
            Category::Nodes => "nodes",
            Category::Host => "host",
        }
    }

    /// The category `name` names.
    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// One value that appeared, went, or changed: `before`/`after` absent for added/removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValueChange {
    /// What changed (a title, a container, a node condition, a host fact).
    pub key: String,
    /// The value in the older bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    /// The value in the newer bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Kubernetes objects, by `Kind/namespace/name`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectChanges {
    /// In the newer bundle only.
    pub added: Vec<String>,
    /// In the older bundle only.
    pub removed: Vec<String>,
    /// In both, with a different hash.
    pub changed: Vec<String>,
}

impl ObjectChanges {
    fn len(&self) -> usize {
        self.added.len() + self.removed.len() + self.changed.len()
    }
}

/// A count that rose (restarts, event counts); `before` is 0 for a new key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CountChange {
    /// `namespace/pod/container`, or the event key `namespace/Kind/name/reason/<message hash>`.
    pub key: String,
    /// The count in the older bundle.
    pub before: u64,
    /// The count in the newer bundle.
    pub after: u64,
}

/// Everything that changed from one bundle to the next (`changes.json`, `diff -o json`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Changes {
    /// Analyzer results by title: `before`/`after` are `pass`, `warn` or `fail`.
    pub analysis: Vec<ValueChange>,
    /// Kubernetes objects added, removed, changed.
    pub objects: ObjectChanges,
    /// Containers whose restart count rose.
    pub restarts: Vec<CountChange>,
    /// Warning events that are new, or whose count rose.
    pub events: Vec<CountChange>,
    /// Node conditions: key `node/ConditionType`, values the condition status (`True`, ...).
    pub nodes: Vec<ValueChange>,
    /// Host facts: key `kernel`, `os`, `package:<name>`, `service:<unit>`, `disk:<name>`.
    pub host: Vec<ValueChange>,
}

/// How many changes of each category (the run record's `changes.counts`).
pub type Counts = BTreeMap<Category, usize>;

impl Changes {
    /// Changes per category, only the categories that have some.
    pub fn counts(&self) -> Counts {
        Category::ALL
            .into_iter()
            .map(|c| (c, self.count(c)))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// How many changes of `category`.
    pub fn count(&self, category: Category) -> usize {
        match category {
            Category::Analysis => self.analysis.len(),
            Category::Objects => self.objects.len(),
            Category::Restarts => self.restarts.len(),
            Category::Events => self.events.len(),
            Category::Nodes => self.nodes.len(),
            Category::Host => self.host.len(),
        }
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        Category::ALL.into_iter().all(|c| self.count(c) == 0)
    }

    /// The one-line summary.
    pub fn summary_line(&self) -> String {
        let parts: Vec<String> = Category::ALL
            .into_iter()
            .filter(|c| self.count(*c) > 0)
            .map(|c| match c {
                Category::Objects => format!(
                    "{} objects (+{} -{} ~{})",
                    self.objects.len(),
                    self.objects.added.len(),
                    self.objects.removed.len(),
                    self.objects.changed.len()
                ),
                c => format!("{} {}", self.count(c), c.as_str()),
            })
            .collect();
        if parts.is_empty() {
            "no changes".to_string()
        } else {
            parts.join(", ")
        }
    }

    /// The run record's summary (also sent to webhooks); `since` is the run compared with.
    pub fn summary(&self, since: Option<String>) -> ChangesRecord {
        ChangesRecord {
            summary: self.summary_line(),
            counts: self
                .counts()
                .into_iter()
                .map(|(c, n)| (c.as_str().to_string(), u64::try_from(n).unwrap_or(u64::MAX)))
                .collect(),
            since,
        }
    }
}

/// Keys in either map whose values differ (`None` where absent), in key order.
fn value_changes<V: PartialEq + ToString>(
    old: &BTreeMap<String, V>,
    new: &BTreeMap<String, V>,
) -> Vec<ValueChange> {
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| ValueChange {
            key: k.clone(),
            before: old.get(k).map(ToString::to_string),
            after: new.get(k).map(ToString::to_string),
        })
        .collect()
}

/// Keys whose count in `new` is above that in `old` (absent counts 0).
fn rises(old: &BTreeMap<String, u64>, new: &BTreeMap<String, u64>) -> Vec<CountChange> {
    new.iter()
        .filter_map(|(k, after)| {
            let before = old.get(k).copied().unwrap_or(0);
            (*after > before).then(|| CountChange {
                key: k.clone(),
                before,
                after: *after,
            })
        })
        .collect()
}

/// What changed from `old` to `new`.
pub fn compare(old: &Fingerprint, new: &Fingerprint) -> Changes {
    let mut objects = ObjectChanges::default();
    for (k, hash) in &new.objects {
        match old.objects.get(k) {
            None => objects.added.push(k.clone()),
            Some(h) if h != hash => objects.changed.push(k.clone()),
            Some(_) => {}
        }
    }
    objects.removed = old
        .objects
        .keys()
        .filter(|k| !new.objects.contains_key(*k))
        .cloned()
        .collect();
    let flat = |f: &Fingerprint| -> BTreeMap<String, String> {
        f.nodes
            .iter()
            .flat_map(|(node, conds)| {
                conds
                    .iter()
                    .map(move |(t, s)| (format!("{node}/{t}"), s.clone()))
            })
            .collect()
    };
    Changes {
        analysis: value_changes(&old.analysis, &new.analysis),
        objects,
        // A container new in this bundle with restarts counts from zero.
        restarts: rises(&old.restarts, &new.restarts),
        events: rises(&old.events, &new.events),
        nodes: value_changes(&flat(old), &flat(new)),
        host: value_changes(&old.host, &new.host),
    }
}
