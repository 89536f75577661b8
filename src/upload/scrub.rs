//! What an upload target answered goes into run records, the upload queue and logs, and the
//! history API serves records: an error body can echo the request's credentials or hold the
//! server's own secrets. So a body is cut to [`MAX_BODY`] bytes on one line, and every error
//! message of a delivery is run through the built-in redactors and stripped of the target's own
//! header secrets before anyone keeps it. The status code stays (the sinks put it first).

use super::UploadError;
use super::target::UploadTarget;

/// The most of an error body that is kept.
pub const MAX_BODY: usize = 512;

/// The start of an error body for a message: at most [`MAX_BODY`] bytes (cut on a character
/// boundary, `…` when cut), line breaks as spaces, trimmed.
pub fn body_excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut end = text.len().min(MAX_BODY);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let mut out = text[..end].replace(['\n', '\r'], " ").trim().to_string();
    if end < text.len() && !out.is_empty() {
        out.push('…');
    }
    out
}

/// `message` with the built-in redactors applied and the target's resolved header secrets masked.
pub fn scrub_message(target: &UploadTarget, message: &str) -> String {
    let mut text = crate::redact::redact_text(message);
    if let UploadTarget::Http(http) = target {
        let secrets = http.headers.values().chain(&http.bearer_token);
        for value in secrets.filter_map(|s| s.resolve().ok()) {
            // Short values would shred the message (same floor as the bundle's literal redaction).
            if value.len() >= 4 {
                text = text.replace(&value, crate::redact::MASK);
            }
        }
    }
    text
}

impl UploadError {
    /// The same error with its message scrubbed for `target` ([`scrub_message`]).
    pub fn scrubbed(self, target: &UploadTarget) -> Self {
        match self {
            UploadError::Permanent(m) => UploadError::Permanent(scrub_message(target, &m)),
            UploadError::Transient(m) => UploadError::Transient(scrub_message(target, &m)),
            UploadError::AlreadyExists(m) => UploadError::AlreadyExists(scrub_message(target, &m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_cut_on_a_character_boundary() {
        let long = "é".repeat(400);
        let cut = body_excerpt(long.as_bytes());
        assert!(cut.len() <= MAX_BODY + '…'.len_utf8());
        assert!(cut.ends_with('…'));
        assert_eq!(body_excerpt(b" a\nb \r\n"), "a b");
    }

    #[test]
    fn secrets_in_messages_are_masked() {
        let target: UploadTarget = serde_json::from_value(serde_json::json!(
            {"s3": {"bucket": "b"}}
        ))
        .unwrap();
        let text = scrub_message(
            &target,
            "HTTP 500: Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.canaryvalue123 password=hunter2hunter2",
        );
        assert!(!text.contains("canaryvalue123"), "{text}");
        assert!(!text.contains("hunter2hunter2"), "{text}");
        assert!(text.starts_with("HTTP 500"), "{text}");
    }
}
