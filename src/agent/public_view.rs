//! Run records as the TCP listener serves them: anyone who can reach it may read them, so URLs
//! lose what can carry a credential. A webhook URL's path often is the credential (Slack,
//! Teams), so only its scheme and host are shown; an upload URL keeps its path (the bundle's
//! key) but loses user info, query (presigned signatures) and fragment. Error texts that quote
//! those URLs are rewritten the same way. The control socket serves the records as written.

use crate::state::records::RunRecord;

/// `record` without the URL parts that may hold secrets.
pub fn public_record(mut record: RunRecord) -> RunRecord {
    for u in &mut record.uploads {
        let shown = strip_url(&u.url, false);
        if let Some(e) = &mut u.error {
            *e = e.replace(&u.url, &shown);
        }
        u.url = shown;
    }
    for n in &mut record.notifications {
        let shown = strip_url(&n.url, true);
        if let Some(e) = &mut n.error {
            *e = replace_url(e, &n.url, &shown);
        }
        n.url = shown;
    }
    record
}

/// Replaces `url` in `text`, also as the HTTP client prints it (normalised: a bare host gets a
/// trailing slash).
fn replace_url(text: &str, url: &str, shown: &str) -> String {
    let mut out = text.replace(url, shown);
    if let Ok(parsed) = reqwest::Url::parse(url) {
        out = out.replace(parsed.as_str(), shown);
    }
    out
}

/// The URL without user info, query and fragment; with `origin_only`, without its path too.
/// Text that does not parse as a URL is hidden entirely.
fn strip_url(url: &str, origin_only: bool) -> String {
    let Ok(mut parsed) = reqwest::Url::parse(url) else {
        return "(hidden)".to_string();
    };
    if parsed.cannot_be_a_base() {
        // `s3:bucket/key`-style targets have no host or credentials to strip.
        parsed.set_query(None);
        parsed.set_fragment(None);
        return parsed.to_string();
    }
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    parsed.set_query(None);
    parsed.set_fragment(None);
    if origin_only {
        return format!("{}/…", parsed.origin().ascii_serialization());
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials() {
        assert_eq!(
            strip_url(
                "https://u:p@store.example.com/b/k.tar.gz?X-Amz-Signature=abc#f",
                false
            ),
            "https://store.example.com/b/k.tar.gz"
        );
        assert_eq!(
            strip_url("https://hooks.slack.com/services/T0/B0/SECRET", true),
            "https://hooks.slack.com/…"
        );
        assert_eq!(
            strip_url("s3://bucket/prefix/key.tar.gz?versionId=1", false),
            "s3://bucket/prefix/key.tar.gz"
        );
        assert_eq!(strip_url("not a url", true), "(hidden)");
    }

    #[test]
    fn error_texts_quoting_the_url_are_rewritten() {
        let url = "http://127.0.0.1:9/hook/SECRET";
        let text = format!("error sending request for url ({url})");
        let out = replace_url(&text, url, &strip_url(url, true));
        assert!(!out.contains("SECRET"), "{out}");
        assert!(out.contains("http://127.0.0.1:9/…"), "{out}");
    }
}
