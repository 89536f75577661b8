//! Sending one webhook: a JSON `POST`, headers from secret references, a time limit per request,
//! retried with [`Backoff`](crate::upload::retry::Backoff) while the failure may pass.

use super::target::Webhook;
use crate::upload::retry::Backoff;
use std::time::Duration;

/// What became of one webhook call series.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    /// Requests made (0 when none could be built, e.g. a header's secret is missing).
    pub attempts: u32,
    /// HTTP status of the last answer.
    pub http_status: Option<u16>,
    /// Why it failed in the end; `None` when delivered.
    pub error: Option<String>,
}

/// Largest delay between two attempts: a notification should arrive while it still matters.
const MAX_DELAY: Duration = Duration::from_secs(30);

/// The retry schedule of a webhook: `attempts` requests, 1 s before the second, doubling.
pub fn backoff(hook: &Webhook) -> Backoff {
    Backoff {
        max_attempts: hook.attempts.max(1),
        initial: Duration::from_secs(1),
        max: MAX_DELAY,
    }
}

/// A stable jitter seed for one run's call to one URL.
pub fn seed(job: &str, run_id: &str, url: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{job}\0{run_id}\0{url}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// The URL as logs and records show it: no credentials, no query string (webhook tokens often
/// live there).
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => url.to_string(),
    }
}

/// Whether an answer with this status is worth another attempt.
fn retryable(status: u16) -> bool {
    matches!(status, 408 | 425 | 429 | 500..=599)
}

/// POSTs `body` to the webhook until it is accepted (2xx), a failure that cannot pass (another
/// status, a missing secret), or the attempts run out.
pub async fn send(hook: &Webhook, body: &serde_json::Value, seed: u64) -> SendResult {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, secret) in &hook.headers {
        let value = match secret.resolve() {
            Ok(v) => v,
            Err(e) => return given_up(0, None, format!("header `{name}`: {e}")),
        };
        let parsed = (
            reqwest::header::HeaderName::from_bytes(name.as_bytes()),
            reqwest::header::HeaderValue::from_str(&value),
        );
        match parsed {
            (Ok(n), Ok(mut v)) => {
                v.set_sensitive(true);
                headers.insert(n, v);
            }
            (Err(_), _) => {
                return given_up(0, None, format!("`{name}` is not a valid header name"));
            }
            (_, Err(_)) => {
                return given_up(
                    0,
                    None,
                    format!(
                        "the value of header `{name}` is not a valid header value (control characters?)"
                    ),
                );
            }
        }
    }
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/json"),
    );
    let client = match reqwest::Client::builder()
        .timeout(hook.timeout.0)
        .user_agent(concat!("troubleshoot-agent/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return given_up(0, None, format!("HTTP client: {e}")),
    };
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(e) => return given_up(0, None, format!("payload: {e}")),
    };
    let policy = backoff(hook);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .post(&hook.url)
            .headers(headers.clone())
            .body(bytes.clone())
            .send()
            .await;
        let (status, error, again) = match sent {
            Ok(r) if r.status().is_success() => {
                return SendResult {
                    attempts: attempt,
                    http_status: Some(r.status().as_u16()),
                    error: None,
                };
            }
            Ok(r) => {
                let code = r.status().as_u16();
                (Some(code), format!("HTTP {}", r.status()), retryable(code))
            }
            Err(e) if e.is_timeout() => (None, format!("no answer within {}", hook.timeout), true),
            Err(e) => (None, crate::diagnostic::error_chain(&e), true),
        };
        let delay = if again {
            policy.delay(attempt, seed)
        } else {
            None
        };
        match delay {
            Some(d) => {
                tracing::debug!(url = %display_url(&hook.url), attempt, "webhook attempt failed, retrying in {d:?}: {error}");
                tokio::time::sleep(d).await;
            }
            None => {
                let error = if attempt > 1 {
                    format!("{error} (after {attempt} attempts)")
                } else {
                    error
                };
                return given_up(attempt, status, error);
            }
        }
    }
}

fn given_up(attempts: u32, http_status: Option<u16>, error: String) -> SendResult {
    SendResult {
        attempts,
        http_status,
        error: Some(error),
    }
}
