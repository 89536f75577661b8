//! HTTP endpoints: metrics, health, status, run history, one run, reload, trigger. Served on the
//! control socket and on TCP (see `listeners`), with the write routes guarded per `access`.

use super::access::{self, Surface};
use super::control::{Control, ReloadCause, ReloadOutcome, RunState, TriggerRefused};
use super::exposition;
use super::metrics::Metrics;
use super::public_view::public_record;
use super::status::{Published, StatusSnapshot};
use crate::state::records::{self, RunRecord, RunStatus};
use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{StatusCode, header};
use axum::middleware::from_fn_with_state;
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
    /// Serve records without the URL parts that may hold secrets (the TCP listener).
    pub public: bool,
    /// The agent's clock (the age of pending uploads in `/metrics`).
    pub clock: super::clock::Clock,
    /// Cluster mode: the slot claims, whence the history of the runs other replicas ran.
    pub claims: Option<crate::lease::Claims>,
    /// The Alertmanager receiver's bearer token (`alertmanager.tokenFile`); `None`: off (404).
    pub alert_token: Option<Arc<super::api_token::ApiToken>>,
}

/// The router of one surface: every read route, and the write routes behind its guard.
pub fn router(mut shared: Shared, surface: Surface) -> Router {
    let writes = Router::new()
        .route("/api/v1/jobs/{name}/trigger", post(trigger))
        .route("/-/reload", post(reload));
    let writes = match surface {
        Surface::Socket { agent_uid } => {
            writes.layer(from_fn_with_state(agent_uid, access::socket_writer))
        }
        Surface::Tcp(guard) => {
            shared.public = true;
            writes.layer(from_fn_with_state(guard, access::tcp_writer))
        }
    };
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/v1/status", get(status))
        .route("/api/v1/jobs/{name}/runs", get(runs))
        .route("/api/v1/jobs/{name}/runs/{run_id}", get(run))
        .route(
            "/api/v1/alerts/alertmanager",
            post(super::alert_receiver::receive),
        )
        .merge(writes)
        .with_state(shared)
}

async fn metrics(State(s): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    let (metrics, dir, now) = (Arc::clone(&s.metrics), s.state_dir.clone(), s.clock.now());
    let sampled =
        tokio::task::spawn_blocking(move || super::scrape::sample(&metrics, &dir, now)).await;
    if let Err(e) = sampled {
        tracing::warn!("sampling the state directory for /metrics failed: {e}");
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let openmetrics = s.metrics.encode();
    if exposition::wants_openmetrics(accept) {
        (
            [(header::CONTENT_TYPE, exposition::OPENMETRICS)],
            openmetrics,
        )
            .into_response()
    } else {
        let text = exposition::to_text_format(&openmetrics);
        ([(header::CONTENT_TYPE, exposition::TEXT)], text).into_response()
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<Shared>) -> Response {
    let published = Arc::clone(&s.status.borrow());
    let agent = &published.agent;
    let mut body = serde_json::json!({"ready": agent.ready, "problems": agent.problems});
    // Cluster mode: a standby is ready (it serves status and plan); this says who leads.
    if let Some(cluster) = &agent.cluster {
        body["cluster"] = serde_json::json!(cluster);
    }
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
    let job = name.clone();
    let (mut runs, mut problems) =
        match tokio::task::spawn_blocking(move || records::history(&dir, &job, limit)).await {
            Ok(Ok((runs, problems))) => (
                runs,
                problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ),
            Ok(Err(e)) => return server_error(&e.to_string()),
            Err(e) => return server_error(&e.to_string()),
        };
    let mut body = serde_json::json!({});
    if let Some(claims) = &s.claims {
        match super::cluster_history::other_replicas(claims, &name, limit).await {
            Ok(others) => body["otherReplicas"] = serde_json::json!(others),
            Err(e) => problems.push(format!(
                "the runs of other replicas are not shown: their claims could not be read: {e}"
            )),
        }
    }
    body["runs"] = if s.public {
        serde_json::json!(runs.drain(..).map(public_record).collect::<Vec<_>>())
    } else {
        serde_json::json!(runs)
    };
    body["problems"] = serde_json::json!(problems);
    Json(body).into_response()
}

fn server_error(e: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({"error": e})),
    )
        .into_response()
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
        Ok(Err(
            refused @ TriggerRefused::RateLimited {
                retry_after_secs, ..
            },
        )) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after_secs.to_string())],
            Json(error_body(&refused)),
        )
            .into_response(),
        Ok(Err(refused)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(error_body(&refused))).into_response()
        }
        Err(_) => unavailable(),
    }
}

#[derive(Deserialize)]
struct RunPath {
    name: String,
    run_id: String,
}

/// `?wait=SECS&since=VERSION`: a watcher that has seen the phase list at `since` waits up to
/// `wait` seconds (at most [`MAX_WAIT_SECS`]) for a later one, or for the run's end.
#[derive(Deserialize)]
struct RunQuery {
    wait: Option<u64>,
    since: Option<u64>,
}

/// The longest a request for a running run's phases is held.
const MAX_WAIT_SECS: u64 = 30;

/// One run: `queued`, `running` with its phases so far (names, statuses, times and counts:
/// nothing a secret could be in), or `finished` with its record (and `recordError` when the
/// record could not be written: the run then counts as failed for whoever waits on it).
async fn run(
    State(s): State<Shared>,
    UrlPath(p): UrlPath<RunPath>,
    Query(q): Query<RunQuery>,
) -> Response {
    if crate::jobs::name_problem(&p.name).is_some() || !is_run_id(&p.run_id) {
        return bad_request("invalid job name or run id");
    }
    let (reply, answer) = oneshot::channel();
    let asked = Control::RunState {
        job: p.name.clone(),
        run_id: p.run_id.clone(),
        reply,
    };
    if s.control.send(asked).await.is_err() {
        return unavailable();
    }
    let Ok(state) = answer.await else {
        return unavailable();
    };
    let view = |record: RunRecord| {
        if s.public {
            public_record(record)
        } else {
            record
        }
    };
    let body = match state {
        RunState::Queued => serde_json::json!({"state": "queued"}),
        RunState::Running(mut phases) => {
            if let Some(wait) = q.wait {
                let since = q.since.unwrap_or(0);
                let wait = std::time::Duration::from_secs(wait.min(MAX_WAIT_SECS));
                // Ends early when the run ends (its sender is dropped).
                let _ = tokio::time::timeout(wait, phases.wait_for(|p| p.version() != since)).await;
            }
            let phases = phases.borrow();
            serde_json::json!({
                "state": "running",
                "progress": {
                    "version": phases.version(),
                    "phases": phases.view(std::time::Instant::now()),
                },
            })
        }
        RunState::Unrecorded { record, error } => serde_json::json!({
            "state": "finished",
            "record": view(*record),
            "recordError": error,
        }),
        RunState::NotInMemory => {
            let path = records::runs_dir(&s.state_dir, &p.name).join(format!("{}.json", p.run_id));
            match tokio::task::spawn_blocking(move || records::read_record(&path)).await {
                // Not running here, yet recorded as running: a previous agent was cut off.
                Ok(Ok(record)) if record.status == RunStatus::Running => serde_json::json!({
                    "state": "lost",
                    "record": view(record),
                }),
                Ok(Ok(record)) => serde_json::json!({"state": "finished", "record": view(record)}),
                Ok(Err(e)) if e.is_not_found() => {
                    return (
                        StatusCode::NOT_FOUND,
                        Json(serde_json::json!({
                            "error": format!("job `{}` has no run `{}`", p.name, p.run_id)
                        })),
                    )
                        .into_response();
                }
                Ok(Err(e)) => return internal(&e.to_string()),
                Err(e) => return internal(&e.to_string()),
            }
        }
    };
    Json(body).into_response()
}

/// Run ids are file names the agent made: letters, digits, `-` and `_`.
fn is_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
}

fn internal(message: &str) -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({"error": message})),
    )
        .into_response()
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
