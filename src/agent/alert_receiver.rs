//! `POST /api/v1/alerts/alertmanager`: an Alertmanager webhook receiver (notification format
//! version 4). Off (404) unless the `alertmanager.tokenFile` setting names a bearer token; firing
//! alerts go to the control loop, which starts the jobs whose `spec.triggers` match
//! (see [`super::alert_triggers`]). Resolved alerts start nothing.

use super::control::Control;
use super::http::Shared;
use crate::state::records::AlertCause;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::BTreeMap;
use tokio::sync::oneshot;

/// Largest notification accepted: Alertmanager groups alerts, but a megabyte is thousands.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Alertmanager's webhook payload (the fields used).
#[derive(Deserialize)]
struct Notification {
    version: String,
    #[serde(default)]
    alerts: Vec<Alert>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    status: AlertStatus,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    fingerprint: String,
}

#[derive(Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum AlertStatus {
    Firing,
    Resolved,
}

fn error(code: StatusCode, message: &str) -> Response {
    (code, Json(serde_json::json!({"error": message}))).into_response()
}

fn too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        &format!("the notification is larger than {MAX_BODY_BYTES} bytes"),
    )
}

/// The handler.
pub async fn receive(State(s): State<Shared>, request: Request<Body>) -> Response {
    let Some(token) = &s.alert_token else {
        return error(
            StatusCode::NOT_FOUND,
            "the Alertmanager receiver is off: set `alertmanager: {tokenFile: PATH}` in the agent settings",
        );
    };
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes());
    if !token.accepts(auth) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(serde_json::json!({"error": "missing or wrong bearer token"})),
        )
            .into_response();
    }
    // Refused from its declared length before any of it is read; a body without one (chunked)
    // is cut off at the limit while read.
    let declared = (request.headers().get(header::CONTENT_LENGTH))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return too_large();
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => return too_large(),
    };
    let notification: Notification = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("not an Alertmanager webhook notification: {e}"),
            );
        }
    };
    if notification.version != "4" {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "notification version `{}` is not supported (Alertmanager sends version 4)",
                notification.version
            ),
        );
    }
    let alerts: Vec<AlertCause> = (notification.alerts.into_iter())
        .filter(|a| a.status == AlertStatus::Firing)
        .map(|a| AlertCause {
            labels: a.labels,
            starts_at: a.starts_at,
            fingerprint: a.fingerprint,
        })
        .collect();
    if alerts.is_empty() {
        return Json(serde_json::json!({"started": []})).into_response();
    }
    let (reply, answer) = oneshot::channel();
    if s.control
        .send(Control::Alerts { alerts, reply })
        .await
        .is_err()
    {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is shutting down",
        );
    }
    match answer.await {
        Ok(started) => Json(serde_json::json!({"started": started})).into_response(),
        Err(_) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent is shutting down",
        ),
    }
}
