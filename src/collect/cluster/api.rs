//! Raw calls to the Kubernetes API: JSON in, JSON out, each under its own timeout.
//!
//! Responses stay `serde_json::Value`, so every field the server sends reaches the bundle (typed
//! structs would drop fields newer than the compiled API version).

use futures_util::AsyncBufRead;
use serde_json::Value;
use std::time::Duration;

/// Why one API call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The server answered with an error status; `message` is the Status message, which is what
    /// troubleshoot writes to its error files.
    #[error("{message}")]
    Status {
        /// HTTP status code.
        code: u16,
        /// The server's message.
        message: String,
    },
    /// No answer within the per-call timeout.
    #[error("{what}: no answer within {}s", .after.as_secs())]
    Timeout {
        /// The request.
        what: String,
        /// The timeout.
        after: Duration,
    },
    /// Connecting or talking to the server failed.
    #[error("{what}: {message}")]
    Transport {
        /// The request.
        what: String,
        /// What went wrong.
        message: String,
    },
    /// The answer was not the JSON expected.
    #[error("{what}: the server's answer is not valid JSON: {message}")]
    Decode {
        /// The request.
        what: String,
        /// The parse error.
        message: String,
    },
}

impl ApiError {
    /// HTTP 403.
    pub fn is_forbidden(&self) -> bool {
        matches!(self, ApiError::Status { code: 403, .. })
    }

    /// HTTP 404 (the resource type or object does not exist).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ApiError::Status { code: 404, .. })
    }

    /// The server could not be reached or did not answer: retrying other calls is pointless.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, ApiError::Timeout { .. } | ApiError::Transport { .. })
    }
}

/// A client with a per-call timeout.
#[derive(Clone)]
pub struct Api {
    client: kube::Client,
    timeout: Duration,
}

/// One page of a list.
pub struct Page {
    /// The list's `kind` (e.g. `PodList`).
    pub kind: Option<String>,
    /// The list's `apiVersion`.
    pub api_version: Option<String>,
    /// The list's `metadata` without the paging fields.
    pub metadata: Value,
    /// The items of this page.
    pub items: Vec<Value>,
    /// The token for the next page, if any.
    pub next: Option<String>,
}

impl Api {
    /// Wraps `client`.
    pub fn new(client: kube::Client, timeout: Duration) -> Self {
        Api { client, timeout }
    }

    /// The per-call timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The underlying client (for the exec websocket).
    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    async fn text(&self, req: http::Request<Vec<u8>>) -> Result<String, ApiError> {
        let what = format!("{} {}", req.method(), req.uri());
        match tokio::time::timeout(self.timeout, self.client.request_text(req)).await {
            Err(_) => Err(ApiError::Timeout {
                what,
                after: self.timeout,
            }),
            Ok(Ok(text)) => Ok(text),
            Ok(Err(e)) => Err(convert(what, e)),
        }
    }

    /// `GET path` as JSON.
    pub async fn get(&self, path: &str) -> Result<Value, ApiError> {
        let req = request("GET", path, Vec::new())?;
        let text = self.text(req).await?;
        parse(path, &text)
    }

    /// `GET path` as text, as the server sent it (proxied endpoints, raw metrics).
    pub async fn get_text(&self, path: &str) -> Result<String, ApiError> {
        let req = request("GET", path, Vec::new())?;
        self.text(req).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body).map_err(|e| ApiError::Decode {
            what: path.to_string(),
            message: e.to_string(),
        })?;
        let req = request("POST", path, bytes)?;
        let text = self.text(req).await?;
        parse(path, &text)
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<(), ApiError> {
        let req = request("DELETE", path, Vec::new())?;
        self.text(req).await.map(|_| ())
    }

    /// One page of the list at `path` (which may already carry a query), `limit` items at most.
    pub async fn list_page(
        &self,
        path: &str,
        limit: u32,
        cont: Option<&str>,
    ) -> Result<Page, ApiError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = cont {
            url.push_str("&continue=");
            url.push_str(&encode(c));
        }
        let mut v = self.get(&url).await?;
        let Some(obj) = v.as_object_mut() else {
            return Err(ApiError::Decode {
                what: url,
                message: "expected a List object".into(),
            });
        };
        let items = match obj.remove("items") {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(_) => {
                return Err(ApiError::Decode {
                    what: url,
                    message: "`items` is not an array".into(),
                });
            }
        };
        let mut metadata = obj
            .remove("metadata")
            .unwrap_or_else(|| Value::Object(Default::default()));
        let next = metadata
            .get("continue")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string);
        if let Some(m) = metadata.as_object_mut() {
            m.shift_remove("continue");
            m.shift_remove("remainingItemCount");
        }
        Ok(Page {
            kind: obj.get("kind").and_then(Value::as_str).map(str::to_string),
            api_version: obj
                .get("apiVersion")
                .and_then(Value::as_str)
                .map(str::to_string),
            metadata,
            items,
            next,
        })
    }

    /// Every item of the list at `path`, read `limit` at a time and handed to `each` page by
    /// page, so that a caller keeps only what it needs of a large list.
    pub async fn list_each(
        &self,
        path: &str,
        limit: u32,
        mut each: impl FnMut(Vec<Value>),
    ) -> Result<(), ApiError> {
        let mut cont: Option<String> = None;
        loop {
            let page = self.list_page(path, limit, cont.as_deref()).await?;
            each(page.items);
            match page.next {
                Some(n) => cont = Some(n),
                None => return Ok(()),
            }
        }
    }

    /// Streams the body of `GET path` (pod logs); the timeout covers getting the response.
    pub async fn stream(&self, path: &str) -> Result<impl AsyncBufRead + Unpin + use<>, ApiError> {
        let req = request("GET", path, Vec::new())?;
        let what = format!("GET {path}");
        match tokio::time::timeout(self.timeout, self.client.request_stream(req)).await {
            Err(_) => Err(ApiError::Timeout {
                what,
                after: self.timeout,
            }),
            Ok(Ok(body)) => Ok(Box::pin(body)),
            Ok(Err(e)) => Err(convert(what, e)),
        }
    }
}

fn request(method: &str, path: &str, body: Vec<u8>) -> Result<http::Request<Vec<u8>>, ApiError> {
    let mut b = http::Request::builder().method(method).uri(path);
    if method == "POST" {
        b = b.header(http::header::CONTENT_TYPE, "application/json");
    }
    b.header(http::header::ACCEPT, "application/json")
        .body(body)
        .map_err(|e| ApiError::Transport {
            what: format!("{method} {path}"),
            message: e.to_string(),
        })
}

fn parse(what: &str, text: &str) -> Result<Value, ApiError> {
    serde_json::from_str(text).map_err(|e| ApiError::Decode {
        what: what.to_string(),
        message: e.to_string(),
    })
}

/// A kube error as an [`ApiError`] about `what`.
pub(crate) fn convert(what: String, e: kube::Error) -> ApiError {
    match e {
        kube::Error::Api(status) => ApiError::Status {
            code: status.code,
            message: if status.message.is_empty() {
                format!("{what}: HTTP {} {}", status.code, status.reason)
            } else {
                status.message
            },
        },
        kube::Error::SerdeError(e) => ApiError::Decode {
            what,
            message: e.to_string(),
        },
        other => ApiError::Transport {
            what,
            message: crate::diagnostic::error_chain(&other),
        },
    }
}

/// Percent-encodes a query value (continue tokens, selectors).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(encode("app=web,tier!=db"), "app%3Dweb%2Ctier%21%3Ddb");
        assert_eq!(encode("eyJ2Ijo+/="), "eyJ2Ijo%2B%2F%3D");
    }
}
