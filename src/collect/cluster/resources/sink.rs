//! Paged lists streamed item by item into a [`Sink`], and the one-file sinks.

use super::crds::Crd;
use super::kinds::{Kind, base_path};
use crate::collect::cluster::Ctx;
use crate::collect::cluster::api::{ApiError, Page};
use crate::collect::cluster::jsonout::{StreamFile, with_type_meta};
use serde_json::Value;
use std::path::PathBuf;

/// Why a list stopped.
#[derive(Debug, thiserror::Error)]
pub(super) enum Failure {
    /// The API call failed.
    #[error(transparent)]
    Api(ApiError),
    /// Writing an item failed.
    #[error(transparent)]
    Io(std::io::Error),
    /// The run was cancelled between pages.
    #[error("cancelled")]
    Cancelled,
}

/// Runs a sink's file work (creating, writing, pausing and finishing its files) without holding
/// an async worker: on the multi-threaded runtime the agent and `trigger` run on, the worker
/// hands its other tasks to the rest of the pool first (`block_in_place`), so a slow disk delays
/// only this list. The sinks borrow the collection's context and keep their open files between
/// pages, which `spawn_blocking` (owned, `'static` work) cannot hold; a current-thread runtime
/// (some unit tests) runs the work in place.
pub(super) fn blocking<R>(work: impl FnOnce() -> R) -> R {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

/// Where list items go.
pub(super) trait Sink {
    /// A list (or the next list of a per-namespace walk) starts with this page.
    fn start(&mut self, page: &Page);
    /// One item.
    fn item(&mut self, item: Value) -> std::io::Result<()>;
}

/// Reads every page of `path` into `sink`; returns the item count.
pub(super) async fn stream<S: Sink>(
    ctx: &Ctx,
    path: &str,
    sink: &mut S,
) -> Result<usize, (Failure, usize)> {
    let mut cont: Option<String> = None;
    let mut count = 0;
    loop {
        if ctx.cancel.is_cancelled() {
            return Err((Failure::Cancelled, count));
        }
        let page = ctx
            .api
            .list_page(path, ctx.opts.page_size, cont.as_deref())
            .await
            .map_err(|e| (Failure::Api(e), count))?;
        let next = page.next.clone();
        let first = cont.is_none();
        // One page's files written in one go, off the async workers.
        blocking(|| {
            if first {
                sink.start(&page);
            }
            for item in page.items {
                sink.item(item).map_err(|e| (Failure::Io(e), count))?;
                count += 1;
            }
            Ok(())
        })?;
        match next {
            Some(n) => cont = Some(n),
            None => return Ok(count),
        }
    }
}

/// Tries each API version of `kind` while the server says it does not exist.
pub(super) async fn stream_versions<S: Sink>(
    ctx: &Ctx,
    kind: &Kind,
    namespace: Option<&str>,
    sink: &mut S,
) -> Result<usize, (Failure, usize)> {
    let mut last = None;
    for gv in kind.versions {
        let path = match namespace {
            Some(ns) => format!("{}/namespaces/{ns}/{}", base_path(gv), kind.plural),
            None => format!("{}/{}", base_path(gv), kind.plural),
        };
        match stream(ctx, &path, sink).await {
            Err((Failure::Api(e), 0)) if e.is_not_found() => last = Some(e),
            other => return other,
        }
    }
    Err((
        Failure::Api(last.unwrap_or(ApiError::Status {
            code: 404,
            message: "the server could not find the requested resource".into(),
        })),
        0,
    ))
}

/// A cluster-scoped kind into one List file.
pub(super) struct OneFile<'a> {
    pub ctx: &'a Ctx,
    pub rel: String,
    pub item_kind: &'a str,
    pub api_version: String,
    pub file: Option<StreamFile>,
    /// Collects the CRDs seen, when listing CustomResourceDefinitions.
    pub crds: Option<Vec<Crd>>,
}

impl Sink for OneFile<'_> {
    fn start(&mut self, page: &Page) {
        self.api_version = page.api_version.clone().unwrap_or_else(|| "v1".into());
        let list_kind = page
            .kind
            .clone()
            .unwrap_or_else(|| format!("{}List", self.item_kind));
        let path = self.ctx.path(&self.rel);
        match StreamFile::list(&path, &list_kind, &self.api_version, &page.metadata) {
            Ok(f) => {
                self.ctx.record(&self.rel);
                self.file = Some(f);
            }
            Err(e) => tracing::warn!("cannot create {}: {e}", path.display()),
        }
    }

    fn item(&mut self, item: Value) -> std::io::Result<()> {
        if let Some(crds) = self.crds.as_mut()
            && let Some(crd) = Crd::from_object(&item)
        {
            crds.push(crd);
        }
        let item = with_type_meta(item, self.item_kind, &self.api_version);
        match self.file.as_mut() {
            Some(f) => f.push(&item),
            None => Err(std::io::Error::other(format!("cannot create {}", self.rel))),
        }
    }
}

/// Lists a cluster-scoped kind into its file; returns the CRDs seen (when asked) and the error.
pub(super) async fn cluster_scoped(
    ctx: &Ctx,
    kind: &Kind,
    crds: bool,
) -> (Option<Vec<Crd>>, Option<String>) {
    let mut sink = OneFile {
        ctx,
        rel: format!("cluster-resources/{}.json", kind.dir),
        item_kind: kind.item_kind,
        api_version: "v1".into(),
        file: None,
        crds: crds.then(Vec::new),
    };
    let result = stream_versions(ctx, kind, None, &mut sink).await;
    let mut error = result.err().map(|(e, _)| e.to_string());
    if let Some(f) = sink.file.take()
        && let Err(e) = blocking(|| f.finish())
    {
        error.get_or_insert(e.to_string());
    }
    (sink.crds, error)
}

/// Cluster-scoped custom resources: a bare array, created on the first object.
pub(super) struct RawFile {
    pub path: PathBuf,
    pub file: Option<StreamFile>,
}

impl Sink for RawFile {
    fn start(&mut self, _: &Page) {}

    fn item(&mut self, mut item: Value) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(StreamFile::array(&self.path)?);
        }
        item.sort_all_objects();
        match self.file.as_mut() {
            Some(f) => f.push(&item),
            None => Ok(()),
        }
    }
}
