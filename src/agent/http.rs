//! HTTP endpoints (loopback by default): metrics, health, status, run history, reload, trigger.

use super::control::{Control, ReloadCause, ReloadOutcome, TriggerRefused};
use super::metrics::Metrics;
use super::status::{Published, StatusSnapshot};
use crate::state::records;
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// What the handlers share.
#[derive(Clone)]
pub struct Shared {
    /// The control loop.
    pub control: mpsc::Sender<Control>,
    /// The latest status.
    pub status: watch::Receiver<Arc<Published>>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// State directory (run history is read from the records).
    pub state_dir: PathBuf,
}

/// The router.
pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/jobs/{name}/runs", get(runs))
        .route("/api/v1/jobs/{name}/trigger", post(trigger))
        .route("/-/reload", post(reload))
        .with_state(shared)
}

async fn metrics(State(s): State<Shared>) -> Response {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.encode(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Shared>) -> Response {
    let published = Arc::clone(&s.status.borrow());
    let agent = &published.agent;
    let body = serde_json::json!({"ready": agent.ready, "problems": agent.problems});
    let code = if agent.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn status(State(s): State<Shared>) -> Json<StatusSnapshot> {
    let published = Arc::clone(&s.status.borrow());
    Json(published.snapshot())
}

#[derive(Deserialize)]
struct RunsQuery {
    limit: Option<usize>,
}

async fn runs(
    State(s): State<Shared>,
    UrlPath(name): UrlPath<String>,
    Query(q): Query<RunsQuery>,
) -> Response {
    if crate::jobs::name_problem(&name).is_some() {
        return (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid job name"})),
        )
            .into_response();
    }
    let limit = q.limit.unwrap_or(20).min(10_000);
    let dir = s.state_dir.clone();
    match tokio::task::spawn_blocking(move || records::history(&dir, &name, limit)).await {
        Ok(Ok((runs, problems))) => Json(serde_json::json!({
            "runs": runs,
            "problems": problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        }))
        .into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

async fn trigger(State(s): State<Shared>, UrlPath(name): UrlPath<String>) -> Response {
    let (reply, answer) = oneshot::channel();
    if s.control
        .send(Control::Trigger { job: name, reply })
        .await
        .is_err()
    {
        return unavailable();
    }
    match answer.await {
        Ok(Ok(accepted)) => (StatusCode::ACCEPTED, Json(accepted)).into_response(),
        Ok(Err(refused @ TriggerRefused::UnknownJob(_))) => {
            (StatusCode::NOT_FOUND, Json(error_body(&refused))).into_response()
        }
        Ok(Err(refused)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(error_body(&refused))).into_response()
        }
        Err(_) => unavailable(),
    }
}

fn error_body(refused: &TriggerRefused) -> serde_json::Value {
    serde_json::json!({"error": refused.to_string()})
}

async fn reload(State(s): State<Shared>) -> Response {
    let (reply, answer) = oneshot::channel::<ReloadOutcome>();
    if s.control
        .send(Control::Reload {
            cause: ReloadCause::Api,
            reply: Some(reply),
        })
        .await
        .is_err()
    {
        return unavailable();
    }
    match answer.await {
        Ok(outcome) => {
            let code = if outcome.successful {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (code, Json(outcome)).into_response()
        }
        Err(_) => unavailable(),
    }
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(serde_json::json!({"error": "the agent is shutting down"})),
    )
        .into_response()
}
