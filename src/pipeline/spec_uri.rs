//! `collect.followSpecURI: true`: troubleshoot's self-update of a spec from its `uri:`.
//!
//! At the start of each run (never in `validate` or `plan`, which stay offline), every
//! SupportBundle document with a `uri:` is fetched over http(s). As `support-bundle` does without
//! `--no-uri`, the SupportBundle documents of the answer take the place of the document that
//! names the URI, one level deep (a fetched spec's own `uri:` is not followed); when the fetch
//! or the fetched spec fails, the document is used as written and the run record says why.
//!
//! A URL is a party other than root, so what it serves is trusted as a spec stored in the cluster
//! is (`clusterspecs.rs`): its host collectors are never run on the agent's host, and its
//! `afterCollection` steps are not used (it does not choose where bundles go). Its in-cluster
//! collectors and analyzers run.

use crate::diagnostic::error_chain;
use crate::digest::sha256_hex;
use crate::jobs::Job;
use crate::spec::{self, Entry, MAX_SPEC_BYTES, SpecUri, TroubleshootSpec};
use crate::state::records::SpecUriRecord;
use crate::state::records::SpecUriStatus;
use crate::units::HumanDuration;
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

/// troubleshoot's `User-Agent` for spec downloads (vendor servers may key on it).
const USER_AGENT: &str = "Replicated_Troubleshoot/v1beta1";

/// Redirects followed at most (Go's client follows 10 too).
const MAX_REDIRECTS: usize = 10;

/// `job` with each followed `uri:` applied to its collection (`None` when the job does not opt
/// in or names no URI), and one record per URI.
pub(super) async fn follow(job: &Job, timeout: Duration) -> (Option<Job>, Vec<SpecUriRecord>) {
    if !job.document.spec.collect.follow_spec_uri || job.collection.uris.is_empty() {
        return (None, Vec::new());
    }
    let client = client(timeout);
    let mut collection = job.collection.clone();
    let mut records = Vec::new();
    for at in &job.collection.uris {
        let (record, fetched) = follow_one(&client, at, timeout).await;
        if let Some(fetched) = fetched {
            replace(&mut collection, at, fetched);
        }
        records.push(record);
    }
    collection.uris.clear();
    collection.dedup();
    let mut job = job.clone();
    job.collection = collection;
    (Some(job), records)
}

/// Why a URI's spec was not used.
#[derive(Debug, thiserror::Error)]
enum NotUsed {
    #[error("`{0}` is not a URL ({1})")]
    NotUrl(String, String),
    #[error("only http and https URIs are fetched, not `{0}:`")]
    Scheme(String),
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    #[error("no complete answer within {0} (`specUriTimeout`)")]
    Timeout(HumanDuration),
    #[error("cannot fetch it: {0}")]
    Fetch(String),
    #[error("the server answered HTTP {0}")]
    Status(u16),
    #[error("the answer is larger than {MAX_SPEC_BYTES} bytes, the most a spec may have")]
    TooBig,
    #[error("the answer is not UTF-8 text")]
    NotText,
    #[error("the fetched spec has errors: {0}")]
    Errors(String),
    #[error("the answer has no SupportBundle document")]
    NoBundle,
}

async fn follow_one(
    client: &Result<reqwest::Client, NotUsed>,
    at: &SpecUri,
    timeout: Duration,
) -> (SpecUriRecord, Option<TroubleshootSpec>) {
    let shown = shown(&at.uri);
    let mut record = SpecUriRecord {
        uri: shown.clone(),
        document: format!("{}:{}", at.file.display(), at.lines.start),
        status: SpecUriStatus::Fallback,
        sha256: None,
        warning: None,
    };
    let mut sha256 = None;
    let result = async {
        let url = http_url(&at.uri)?;
        let client = match client {
            Ok(c) => c,
            Err(NotUsed::Client(why)) => return Err(NotUsed::Client(why.clone())),
            Err(other) => return Err(NotUsed::Client(other.to_string())),
        };
        let bytes = fetch(client, url, &shown, timeout).await?;
        sha256 = Some(sha256_hex(&bytes));
        let text = String::from_utf8(bytes).map_err(|_| NotUsed::NotText)?;
        use_fetched(&shown, &text)
    }
    .await;
    record.sha256 = sha256;
    match result {
        Ok((spec, notes)) => {
            tracing::info!(uri = %shown, "spec uri followed");
            record.status = SpecUriStatus::Fetched;
            record.warning = (!notes.is_empty()).then(|| notes.join("; "));
            (record, Some(spec))
        }
        Err(why) => {
            let warning = format!("{why}; the spec was used as written");
            tracing::warn!(uri = %shown, document = %record.document, "{warning}");
            record.warning = Some(warning);
            (record, None)
        }
    }
}

/// The URI without its user information, query and fragment, which may carry a credential.
fn shown(uri: &str) -> String {
    let bare = uri.split(['?', '#']).next().unwrap_or(uri);
    match reqwest::Url::parse(bare) {
        Ok(mut url) if url.has_authority() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.to_string()
        }
        _ => bare.to_string(),
    }
}

/// `uri` as an http(s) URL; other schemes (troubleshoot also pulls `oci://`) are not fetched.
fn http_url(uri: &str) -> Result<reqwest::Url, NotUsed> {
    let url =
        reqwest::Url::parse(uri.trim()).map_err(|e| NotUsed::NotUrl(shown(uri), e.to_string()))?;
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(NotUsed::Scheme(other.to_string())),
    }
}

/// The agent's client for spec URIs: the proxy environment (`HTTPS_PROXY`, `NO_PROXY`...) is
/// honoured as by the agent's other HTTP clients; redirects stay on the URI's scheme, so an https
/// URI never continues in clear text.
fn client(timeout: Duration) -> Result<reqwest::Client, NotUsed> {
    let policy = reqwest::redirect::Policy::custom(|attempt| {
        let first = attempt.previous().first().map(|u| u.scheme().to_string());
        if attempt.previous().len() > MAX_REDIRECTS {
            attempt.error(format!("more than {MAX_REDIRECTS} redirects"))
        } else if first.as_deref() != Some(attempt.url().scheme()) {
            let to = format!("{}:", attempt.url().scheme());
            attempt.error(format!(
                "a redirect to another scheme (`{to}`) is not followed"
            ))
        } else {
            attempt.follow()
        }
    });
    reqwest::Client::builder()
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout)
        .user_agent(USER_AGENT)
        .redirect(policy)
        .build()
        .map_err(|e| NotUsed::Client(error_chain(&e)))
}

/// The body of a 200 answer, at most [`MAX_SPEC_BYTES`] (the cap of a spec file on disk).
async fn fetch(
    client: &reqwest::Client,
    url: reqwest::Url,
    shown: &str,
    timeout: Duration,
) -> Result<Vec<u8>, NotUsed> {
    let failed = |e: reqwest::Error| -> NotUsed {
        if e.is_timeout() {
            return NotUsed::Timeout(HumanDuration(timeout));
        }
        // A reqwest error may echo the URL with its query.
        let text = error_chain(&e);
        let text = match e.url() {
            Some(u) => text.replace(u.as_str(), shown),
            None => text,
        };
        NotUsed::Fetch(text)
    };
    let mut response = client.get(url).send().await.map_err(failed)?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        return Err(NotUsed::Status(status.as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_SPEC_BYTES)
    {
        return Err(NotUsed::TooBig);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(failed)? {
        if (body.len() + chunk.len()) as u64 > MAX_SPEC_BYTES {
            return Err(NotUsed::TooBig);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The part of a fetched spec that is used, and notes on what was left out of it.
fn use_fetched(shown: &str, text: &str) -> Result<(TroubleshootSpec, Vec<String>), NotUsed> {
    let file = spec::parse_spec_text(Path::new(shown), text);
    let errors: Vec<String> = file
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .take(3)
        .map(|d| format!("line {}: {}", d.line, d.message))
        .collect();
    if !errors.is_empty() {
        return Err(NotUsed::Errors(errors.join("; ")));
    }
    let bundles = support_bundle_documents(text);
    if bundles.is_empty() {
        return Err(NotUsed::NoBundle);
    }
    let mut spec = file.spec;
    let mut notes = Vec::new();
    // troubleshoot takes only the SupportBundle documents of the answer.
    let inside = |e: &Entry| bundles.iter().any(|r| r.contains(&e.loc.line));
    let before = spec.collectors.len() + spec.analyzers.len() + spec.host_analyzers.len();
    spec.collectors.retain(inside);
    spec.analyzers.retain(inside);
    spec.host_analyzers.retain(inside);
    let others = before
        - (spec.collectors.len() + spec.analyzers.len() + spec.host_analyzers.len())
        + spec.redactors.len();
    spec.redactors.clear();
    if others > 0 {
        notes.push(format!(
            "{others} item(s) of its other documents were not used (only SupportBundle documents are, as troubleshoot does)"
        ));
    }
    notes.extend(spec.confine_to_cluster("a spec fetched from a URL"));
    if !spec.after_collection.is_empty() {
        notes.push(
            "its afterCollection steps were not used: a spec fetched from a URL does not choose where bundles go"
                .into(),
        );
        spec.after_collection.clear();
    }
    if let Some(uri) = spec.uri.take() {
        notes.push(format!(
            "its own `uri: {}` was not followed (one level, as troubleshoot)",
            self::shown(&uri)
        ));
    }
    spec.uris.clear();
    Ok((spec, notes))
}

/// The lines of each `kind: SupportBundle` document of `text`.
fn support_bundle_documents(text: &str) -> Vec<Range<u32>> {
    let Ok(docs) = crate::yaml::parse_documents(text) else {
        return Vec::new();
    };
    docs.iter()
        .enumerate()
        .filter(|(_, d)| d.get("kind").and_then(|k| k.as_str()) == Some("SupportBundle"))
        .map(|(i, d)| {
            let end = docs.get(i + 1).map_or(u32::MAX, |next| next.loc.line);
            d.loc.line..end
        })
        .collect()
}

/// Puts `fetched` in place of the entries of the document `at` names, in every list.
fn replace(into: &mut TroubleshootSpec, at: &SpecUri, fetched: TroubleshootSpec) {
    let from_doc = |e: &Entry| e.file == at.file && at.lines.contains(&e.loc.line);
    splice(&mut into.collectors, fetched.collectors, &from_doc);
    splice(
        &mut into.host_collectors,
        fetched.host_collectors,
        &from_doc,
    );
    splice(&mut into.analyzers, fetched.analyzers, &from_doc);
    splice(&mut into.host_analyzers, fetched.host_analyzers, &from_doc);
}

/// Replaces the entries `old` selects by `new`, where the first of them was (else at the end).
fn splice(list: &mut Vec<Entry>, new: Vec<Entry>, old: &impl Fn(&Entry) -> bool) {
    let at = list.iter().position(old).unwrap_or(list.len());
    list.retain(|e| !old(e));
    list.splice(at..at, new);
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCAL: &str = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: local\nspec:\n  uri: https://example.com/spec.yaml?token=secret\n  collectors:\n    - data: {name: local/a.txt, data: a}\n  hostCollectors:\n    - cpu: {}\n  analyzers:\n    - textAnalyze: {checkName: t, fileName: a, regex: a, outcomes: [{pass: {message: ok}}]}\n---\napiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: other\nspec:\n  collectors:\n    - data: {name: other/b.txt, data: b}\n";

    const FETCHED: &str = "apiVersion: troubleshoot.sh/v1beta2\nkind: SupportBundle\nmetadata:\n  name: upstream\nspec:\n  uri: https://example.com/next.yaml\n  collectors:\n    - data: {name: upstream/c.txt, data: c}\n  hostCollectors:\n    - run: {collectorName: root, command: touch, args: [/tmp/x]}\n  afterCollection:\n    - uploadResultsTo: {uri: 'https://elsewhere.example/', method: PUT}\n---\napiVersion: troubleshoot.sh/v1beta2\nkind: Collector\nmetadata:\n  name: ignored\nspec:\n  collectors:\n    - data: {name: ignored/d.txt, data: d}\n---\napiVersion: troubleshoot.sh/v1beta2\nkind: Redactor\nmetadata:\n  name: ignored\nspec:\n  redactors:\n    - name: r\n      removals: {values: [x]}\n";

    fn names(list: &[Entry]) -> Vec<String> {
        list.iter()
            .map(|e| format!("{}:{}", e.kind, e.body["name"].as_str().unwrap_or("")))
            .collect()
    }

    #[test]
    fn each_document_with_a_uri_is_located() {
        let file = spec::parse_spec_text(Path::new("/etc/local.yaml"), LOCAL);
        assert_eq!(file.spec.uris.len(), 1, "{:?}", file.spec.uris);
        let at = &file.spec.uris[0];
        assert_eq!(at.uri, "https://example.com/spec.yaml?token=secret");
        assert_eq!(at.lines, 1..14);
    }

    #[test]
    fn the_fetched_bundle_replaces_only_its_document_without_host_collectors() {
        let mut local = spec::parse_spec_text(Path::new("/etc/local.yaml"), LOCAL).spec;
        let at = local.uris[0].clone();
        let (fetched, notes) = use_fetched("https://example.com/spec.yaml", FETCHED).expect("used");
        assert!(fetched.host_collectors.is_empty());
        assert!(fetched.after_collection.is_empty());
        assert!(fetched.redactors.is_empty());
        let text = notes.join("\n");
        for part in [
            "2 item(s) of its other documents were not used",
            "its 1 hostCollectors were not run",
            "afterCollection steps were not used",
            "its own `uri: https://example.com/next.yaml` was not followed",
        ] {
            assert!(text.contains(part), "{part} not in {text}");
        }
        replace(&mut local, &at, fetched);
        assert_eq!(
            names(&local.collectors),
            ["data:upstream/c.txt", "data:other/b.txt"]
        );
        // The local document's host collector and analyzer went with it.
        assert!(local.host_collectors.is_empty());
        assert!(local.analyzers.is_empty());
    }

    #[test]
    fn answers_that_are_not_a_support_bundle_are_not_used() {
        let err = use_fetched("u", "apiVersion: troubleshoot.sh/v1beta2\nkind: Collector\nspec:\n  collectors:\n    - data: {name: a, data: a}\n")
            .expect_err("no bundle")
            .to_string();
        assert_eq!(err, "the answer has no SupportBundle document");
        let err = use_fetched("u", "<html>not yaml: [</html>\n")
            .expect_err("not yaml")
            .to_string();
        assert!(
            err.starts_with("the fetched spec has errors: line 1"),
            "{err}"
        );
    }

    #[test]
    fn only_http_and_https_are_fetched_and_queries_are_never_shown() {
        assert!(http_url("https://example.com/a").is_ok());
        let why = http_url("oci://registry.example/app")
            .expect_err("oci")
            .to_string();
        assert_eq!(why, "only http and https URIs are fetched, not `oci:`");
        let why = http_url("secret/ns/name")
            .expect_err("not a URL")
            .to_string();
        assert!(why.starts_with("`secret/ns/name` is not a URL"), "{why}");
        assert_eq!(shown("https://h/p?token=x#f"), "https://h/p");
        assert_eq!(shown("https://u:pw@h/p.yaml"), "https://h/p.yaml");
        assert_eq!(shown("secret/ns/name"), "secret/ns/name");
    }
}
