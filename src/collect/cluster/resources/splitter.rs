//! Per-namespace kinds: one list split into `<dir>/<ns>.json` files as items arrive.

use super::kinds::Kind;
use super::sink::{Failure, Sink, blocking, stream_versions};
use crate::collect::cluster::Ctx;
use crate::collect::cluster::api::Page;
use crate::collect::cluster::jsonout::{Paused, StreamFile, with_type_meta};
use crate::collect::cluster::podstatus::{ContainerRef, containers, is_unhealthy};
use crate::collect::host::sanitize_component;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a split file holds.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Shape {
    /// A List object per namespace (empty namespaces get `items: null`).
    List,
    /// A bare array of raw objects per namespace, keys sorted; no file when empty.
    Raw,
}

/// Splits items by namespace into `<dir>/<ns>.json`, keeping one file open at a time.
pub(super) struct Splitter<'a> {
    ctx: &'a Ctx,
    rel_dir: String,
    shape: Shape,
    item_kind: &'a str,
    list_kind: String,
    api_version: String,
    meta: Value,
    selected: HashSet<String>,
    pub open: Option<(String, StreamFile)>,
    pub paused: HashMap<String, Paused>,
    unhealthy: Option<Vec<(String, String, Vec<ContainerRef>)>>,
}

impl<'a> Splitter<'a> {
    pub fn new(
        ctx: &'a Ctx,
        rel_dir: String,
        shape: Shape,
        item_kind: &'a str,
        names: &[String],
    ) -> Self {
        Splitter {
            ctx,
            rel_dir,
            shape,
            item_kind,
            list_kind: format!("{item_kind}List"),
            api_version: "v1".into(),
            meta: Value::Object(Default::default()),
            selected: names.iter().cloned().collect(),
            open: None,
            paused: HashMap::new(),
            unhealthy: None,
        }
    }

    pub fn rel(&self, ns: &str) -> String {
        format!("{}/{}.json", self.rel_dir, sanitize_component(ns))
    }

    fn file_for(&mut self, ns: &str) -> std::io::Result<&mut StreamFile> {
        if self.open.as_ref().is_none_or(|(o, _)| o != ns) {
            if let Some((old, f)) = self.open.take() {
                self.paused.insert(old, f.pause()?);
            }
            let f = match self.paused.remove(ns) {
                Some(p) => p.resume()?,
                None => {
                    let rel = self.rel(ns);
                    let path = self.ctx.path(&rel);
                    self.ctx.record(&rel);
                    match self.shape {
                        Shape::List => {
                            StreamFile::list(&path, &self.list_kind, &self.api_version, &self.meta)?
                        }
                        Shape::Raw => StreamFile::array(&path)?,
                    }
                }
            };
            self.open = Some((ns.to_string(), f));
        }
        match self.open.as_mut() {
            Some((_, f)) => Ok(f),
            None => Err(std::io::Error::other("no open file")),
        }
    }

    /// Ends every file; List files are created (empty) for the `expect`ed namespaces never seen.
    pub fn finish(
        mut self,
        expect: &[String],
        failed: &BTreeMap<String, String>,
    ) -> std::io::Result<Self> {
        let mut first_error = None;
        let mut seen: HashSet<String> = HashSet::new();
        if let Some((ns, f)) = self.open.take() {
            seen.insert(ns);
            if let Err(e) = f.finish() {
                first_error.get_or_insert(e);
            }
        }
        for (ns, p) in std::mem::take(&mut self.paused) {
            seen.insert(ns);
            if let Err(e) = p.resume().and_then(StreamFile::finish) {
                first_error.get_or_insert(e);
            }
        }
        if self.shape == Shape::List {
            for ns in expect {
                if seen.contains(ns) || failed.contains_key(ns) {
                    continue;
                }
                let rel = self.rel(ns);
                let path = self.ctx.path(&rel);
                match StreamFile::list(&path, &self.list_kind, &self.api_version, &self.meta)
                    .and_then(StreamFile::finish)
                {
                    Ok(()) => self.ctx.record(&rel),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }
}

impl Sink for Splitter<'_> {
    fn start(&mut self, page: &Page) {
        if let Some(k) = &page.kind {
            self.list_kind = k.clone();
        }
        if let Some(v) = &page.api_version {
            self.api_version = v.clone();
        }
        self.meta = page.metadata.clone();
    }

    fn item(&mut self, mut item: Value) -> std::io::Result<()> {
        let ns = item["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if !self.selected.contains(&ns) {
            return Ok(());
        }
        if let Some(list) = self.unhealthy.as_mut()
            && is_unhealthy(&item)
        {
            let name = item["metadata"]["name"].as_str().unwrap_or("").to_string();
            list.push((ns.clone(), name, containers(&item, &[])));
        }
        let item = match self.shape {
            Shape::List => {
                let api_version = self.api_version.clone();
                with_type_meta(item, self.item_kind, &api_version)
            }
            Shape::Raw => {
                item.sort_all_objects();
                item
            }
        };
        self.file_for(&ns)?.push(&item)
    }
}

/// Collects one per-namespace kind into `rel_dir`, returning errors by namespace.
pub(super) async fn namespaced<'a>(
    ctx: &'a Ctx,
    kind: &'a Kind,
    rel_dir: String,
    shape: Shape,
    all: bool,
    names: &[String],
    with_unhealthy: bool,
) -> (
    BTreeMap<String, String>,
    Vec<(String, String, Vec<ContainerRef>)>,
) {
    let mut errors = BTreeMap::new();
    let mut split = Splitter::new(ctx, rel_dir, shape, kind.item_kind, names);
    if with_unhealthy {
        split.unhealthy = Some(Vec::new());
    }
    let mut per_namespace = !all;
    if all {
        match stream_versions(ctx, kind, None, &mut split).await {
            Ok(_) => {}
            // Refused or unknown across the cluster, nothing written yet: ask each namespace.
            Err((Failure::Api(e), 0)) if !e.is_unreachable() => per_namespace = true,
            Err((e, n)) => {
                let message = if n > 0 {
                    format!("{e} (the list stopped after {n} items; files may be incomplete)")
                } else {
                    e.to_string()
                };
                for ns in names {
                    errors.insert(ns.clone(), message.clone());
                }
            }
        }
    }
    if per_namespace {
        let mut down: Option<String> = None;
        for ns in names {
            if let Some(message) = &down {
                errors.insert(ns.clone(), message.clone());
                continue;
            }
            split.selected = [ns.clone()].into_iter().collect();
            let result = stream_versions(ctx, kind, Some(ns), &mut split).await;
            match result {
                Ok(_) => {
                    // Close this namespace's file now so its header carried its own list metadata.
                    if shape == Shape::List && split.open.as_ref().is_none_or(|(o, _)| o != ns) {
                        let rel = split.rel(ns);
                        let path = ctx.path(&rel);
                        let written = blocking(|| {
                            StreamFile::list(
                                &path,
                                &split.list_kind,
                                &split.api_version,
                                &split.meta,
                            )
                            .and_then(StreamFile::finish)
                        });
                        match written {
                            Ok(()) => ctx.record(&rel),
                            Err(e) => {
                                errors.insert(ns.clone(), e.to_string());
                            }
                        }
                    }
                }
                Err((e, _)) => {
                    if let Failure::Api(api) = &e
                        && api.is_unreachable()
                    {
                        down = Some(e.to_string());
                    }
                    errors.insert(ns.clone(), e.to_string());
                }
            }
        }
        split.selected = names.iter().cloned().collect();
    }
    // Per-namespace files were finished as they went; only those still open or paused remain.
    let expect: Vec<String> = if per_namespace {
        Vec::new()
    } else {
        names.to_vec()
    };
    let unhealthy = match blocking(|| split.finish(&expect, &errors)) {
        Ok(s) => s.unhealthy.unwrap_or_default(),
        Err(e) => {
            errors.insert(String::new(), format!("write {}: {e}", kind.dir));
            Vec::new()
        }
    };
    (errors, unhealthy)
}
