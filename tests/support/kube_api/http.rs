//! The HTTP side: routing Kubernetes REST paths, lists with pagination and selectors, single
//! objects, logs, access reviews, faults, pod create/delete, and the exec websocket.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};

use super::cluster::{self, Cluster, Denial, Item, LogLine, ResourceType};
use super::selector::{self, Selector};

/// The identity the server pretends the client authenticated as.
pub const USER: &str = "system:serviceaccount:default:troubleshoot-agent";

/// Something to do instead of (or before) the normal answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// An error with a real `Status` body (500 InternalError, 503 ServiceUnavailable, 429, 401, 404...).
    Status(u16),
    /// 403 with the Status body the real API sends for an RBAC denial of this request.
    Forbidden,
    /// Answer normally, after a delay (longer than the client's timeout: a slow API server).
    Delay(Duration),
    /// 200 `application/json` with a body that is not JSON.
    Garbage,
    /// 200 and the first bytes of the real answer, then the connection is cut.
    Truncated,
}

impl Fault {
    /// Parses `403`, `500`, `forbidden`, `delay:5s`, `delay:250ms`, `garbage`, `truncate`.
    pub fn parse(s: &str) -> Result<Fault, String> {
        if let Some(d) = s.strip_prefix("delay:") {
            let dur = if let Some(ms) = d.strip_suffix("ms") {
                ms.parse::<u64>().map(Duration::from_millis)
            } else {
                d.trim_end_matches('s')
                    .parse::<u64>()
                    .map(Duration::from_secs)
            }
            .map_err(|_| format!("`{s}`: expected delay:<N>s or delay:<N>ms"))?;
            return Ok(Fault::Delay(dur));
        }
        match s {
            "forbidden" | "403" => Ok(Fault::Forbidden),
            "garbage" => Ok(Fault::Garbage),
            "truncate" | "truncated" => Ok(Fault::Truncated),
            code => code
                .parse::<u16>()
                .ok()
                .filter(|c| (400..600).contains(c))
                .map(Fault::Status)
                .ok_or_else(|| {
                    format!(
                        "unknown fault `{s}` (known: an HTTP status 400-599, forbidden, delay:5s, garbage, truncate)"
                    )
                }),
        }
    }
}

/// A fault applied to requests whose path matches a glob (`*` stays within one path segment).
#[derive(Clone, Debug)]
pub struct FaultRule {
    /// Path glob, e.g. `/api/v1/namespaces/*/pods`.
    pub pattern: glob::Pattern,
    /// Only this method, if set.
    pub method: Option<Method>,
    /// What happens.
    pub fault: Fault,
    /// How many more requests it applies to; `None` for all.
    pub remaining: Option<usize>,
}

/// A request the server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string ("" when none).
    pub query: String,
}

/// A pod created through the API: when it was created (it runs for a while, then succeeds).
#[derive(Clone, Debug)]
struct Created {
    at: std::time::Instant,
    /// Seconds until it succeeds.
    run_secs: f64,
    /// Its image cannot be pulled: it never starts.
    pull_fails: bool,
    /// It mounts a missing host path: it stays ContainerCreating.
    mount_fails: bool,
}

/// The server's state, shared by every request.
pub struct Shared {
    /// The replayed or generated data.
    pub cluster: Cluster,
    /// Faults in force.
    pub faults: Mutex<Vec<FaultRule>>,
    /// RBAC denials in force.
    pub denials: Mutex<Vec<Denial>>,
    /// Every request, in arrival order.
    pub requests: Mutex<Vec<Recorded>>,
    /// Logs, starting from the cluster's; pods created through the API add theirs.
    pub logs: RwLock<cluster::Logs>,
    /// Logs created pods get, by pod name (else a default line).
    pub run_pod_logs: RwLock<HashMap<String, String>>,
    /// Seconds a pod created later with this name runs (instead of `Cluster::pod_run_secs`);
    /// infinite: it keeps running, like a server process.
    pub run_pod_secs: RwLock<HashMap<String, f64>>,
    /// Images no node can pull: pods created later with one stay Pending in ImagePullBackOff.
    pub missing_images: RwLock<std::collections::HashSet<String>>,
    /// DaemonSets and node-pinned pods (see `daemonsets`).
    pub daemons: super::daemonsets::State,
    /// When the server started: log lines are dated relative to it.
    pub started: SystemTime,
    /// The cluster's resourceVersion counter.
    pub resource_version: AtomicU64,
    /// Held by a create or update from its check to its write (see `writes`).
    pub writes: Mutex<()>,
    /// Bearer tokens whose requests are never answered (a client cut off by a partition).
    pub black_holed: Mutex<std::collections::HashSet<String>>,
    created: Mutex<HashMap<(String, String), Created>>,
    /// Answers (status, JSON text) by exact path for proxies and aggregated APIs (see `proxy`).
    pub raw: RwLock<HashMap<String, (u16, String)>>,
}

impl Shared {
    /// Wraps a cluster for serving.
    pub fn new(cluster: Cluster) -> Shared {
        let logs = cluster.logs.clone();
        let denials = cluster.denials.clone();
        let rv = cluster.resource_version;
        Shared {
            cluster,
            faults: Mutex::new(Vec::new()),
            denials: Mutex::new(denials),
            requests: Mutex::new(Vec::new()),
            logs: RwLock::new(logs),
            run_pod_logs: RwLock::new(HashMap::new()),
            run_pod_secs: RwLock::new(HashMap::new()),
            missing_images: RwLock::new(std::collections::HashSet::new()),
            daemons: super::daemonsets::State::default(),
            started: SystemTime::now(),
            resource_version: AtomicU64::new(rv.max(1)),
            writes: Mutex::new(()),
            black_holed: Mutex::new(std::collections::HashSet::new()),
            created: Mutex::new(HashMap::new()),
            raw: RwLock::new(HashMap::new()),
        }
    }
}

pub fn json_response(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub fn value_response(status: StatusCode, v: &Value) -> Response {
    json_response(status, serde_json::to_vec(v).expect("JSON value"))
}

fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        406 => "NotAcceptable",
        409 => "AlreadyExists",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    }
}

/// A `Status` error response as the API server writes it.
pub fn status_response(code: u16, message: &str, details: Option<Value>) -> Response {
    let mut v = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason_for(code),
    });
    if let Some(d) = details {
        v["details"] = d;
    }
    v["code"] = json!(code);
    if reason_for(code).is_empty() {
        v.as_object_mut().expect("object").shift_remove("reason");
    }
    value_response(
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &v,
    )
}

fn not_found_path() -> Response {
    status_response(
        404,
        "the server could not find the requested resource",
        Some(
            json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}),
        ),
    )
}

/// Parsed query parameters (repeated keys kept in order).
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(q: &str) -> Query {
        Query(
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true") | Some("1"))
    }
}

/// What a resource path names.
#[derive(Clone, Debug)]
pub struct Target {
    /// The resource type.
    pub t: ResourceType,
    /// Namespace from the path, if any.
    pub namespace: Option<String>,
    /// Object name, if any.
    pub name: Option<String>,
    /// Subresource (`log`, `exec`, `status`...), if any.
    pub sub: Option<String>,
}

impl Target {
    fn verb(&self, method: &Method, watch: bool) -> &'static str {
        match (method.as_str(), self.name.is_some()) {
            ("GET", false) if watch => "watch",
            ("GET", false) => "list",
            ("GET", true) if self.sub.as_deref() == Some("exec") => "create",
            ("GET", true) => "get",
            ("POST", _) => "create",
            ("DELETE", false) => "deletecollection",
            ("DELETE", true) => "delete",
            ("PUT", _) => "update",
            ("PATCH", _) => "patch",
            _ => "get",
        }
    }

    fn resource_string(&self) -> String {
        match &self.sub {
            Some(sub) => format!("{}/{}", self.t.plural, sub),
            None => self.t.plural.clone(),
        }
    }

    /// The 403 the real API returns when RBAC denies this request.
    pub fn forbidden(&self, method: &Method, watch: bool) -> Response {
        let verb = self.verb(method, watch);
        let scope = match &self.namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".to_string(),
        };
        // The subject is the group-qualified resource (`deployments.apps`), without subresource.
        let qualified = if self.t.group.is_empty() {
            self.t.plural.clone()
        } else {
            format!("{}.{}", self.t.plural, self.t.group)
        };
        let subject = match &self.name {
            Some(n) => format!("{qualified} \"{n}\""),
            None => qualified,
        };
        let message = format!(
            "{subject} is forbidden: User \"{USER}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            self.resource_string(),
            self.t.group
        );
        let mut details = json!({"kind": self.t.plural});
        if let Some(n) = &self.name {
            details = json!({"name": n, "kind": self.t.plural});
        }
        if !self.t.group.is_empty() {
            details["group"] = json!(self.t.group);
        }
        status_response(403, &message, Some(details))
    }
}

/// Resolves the segments after `/api/v1` or `/apis/<g>/<v>`.
pub(super) fn resolve(
    cluster: &Cluster,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Option<Target> {
    if rest.len() >= 3
        && rest[0] == "namespaces"
        && let Some(t) = cluster
            .type_at(group, version, rest[2])
            .filter(|t| t.namespaced)
    {
        if rest.len() > 5 {
            return None;
        }
        return Some(Target {
            t: t.clone(),
            namespace: Some(rest[1].to_string()),
            name: rest.get(3).map(|s| s.to_string()),
            sub: rest.get(4).map(|s| s.to_string()),
        });
    }
    let t = cluster.type_at(group, version, rest[0])?;
    if rest.len() > 3 {
        return None;
    }
    if t.namespaced && rest.len() > 1 {
        // A namespaced object without its namespace in the path.
        return None;
    }
    Some(Target {
        t: t.clone(),
        namespace: None,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
    })
}

/// Splits a request path into (group, version, rest) for resource paths.
fn split_api_path(path: &str) -> Option<(String, String, Vec<&str>)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", v, rest @ ..] => Some((String::new(), v.to_string(), rest.to_vec())),
        ["apis", g, v, rest @ ..] => Some((g.to_string(), v.to_string(), rest.to_vec())),
        _ => None,
    }
}

pub(super) fn is_denied(denials: &[Denial], target: &Target) -> bool {
    denials.iter().any(|d| {
        d.group == target.t.group
            && d.resource == target.resource_string()
            && d.namespace
                .as_ref()
                .is_none_or(|ns| Some(ns) == target.namespace.as_ref())
    })
}

/// The single entry point: records, applies faults, routes.
pub async fn handle(State(s): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query_str = req.uri().query().unwrap_or("").to_string();
    s.requests.lock().expect("requests").push(Recorded {
        method: method.to_string(),
        path: path.clone(),
        query: query_str.clone(),
    });

    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    if let Some(token) = token
        && s.black_holed.lock().expect("black holes").contains(&token)
    {
        // Partitioned: the request is never answered (the client's timeout ends it).
        return std::future::pending().await;
    }

    let fault = take_fault(&s, &method, &path);
    match fault {
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => {
            let message = match code {
                500 => "Internal error occurred: injected by the test API server".to_string(),
                503 => "the server is currently unable to handle the request".to_string(),
                429 => "Too many requests, please try again later.".to_string(),
                401 => "Unauthorized".to_string(),
                _ => format!("injected {code} by the test API server"),
            };
            return status_response(code, &message, None);
        }
        Some(Fault::Forbidden) => {
            let query = Query::parse(&query_str);
            if let Some((g, v, rest)) = split_api_path(&path)
                && !rest.is_empty()
                && let Some(target) = resolve(&s.cluster, &g, &v, &rest)
            {
                return target.forbidden(&method, query.flag("watch"));
            }
            return status_response(
                403,
                &format!("forbidden: User \"{USER}\" cannot get path \"{path}\""),
                Some(json!({})),
            );
        }
        Some(Fault::Garbage) => {
            return json_response(
                StatusCode::OK,
                "<html><body>502 Bad Gateway</body></html>\n{\"kind\":",
            );
        }
        _ => {}
    }

    let resp = route(&s, req, &method, &path, &query_str).await;
    if fault == Some(Fault::Truncated) {
        return truncate(resp).await;
    }
    resp
}

fn take_fault(s: &Shared, method: &Method, path: &str) -> Option<Fault> {
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    let mut faults = s.faults.lock().expect("faults");
    let pos = faults.iter().position(|r| {
        r.remaining != Some(0)
            && r.method.as_ref().is_none_or(|m| m == method)
            && r.pattern.matches_with(path, opts)
    })?;
    let rule = &mut faults[pos];
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    Some(rule.fault.clone())
}

/// Sends the head and about half of the body, then fails the stream so the connection is cut.
async fn truncate(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let half = bytes.slice(0..bytes.len() / 2);
    let stream = futures_util::stream::unfold(0u8, move |step| {
        let half = half.clone();
        async move {
            match step {
                0 => Some((Ok(half), 1)),
                1 => {
                    // Let the head and the first half reach the client before the cut.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    Some((
                        Err(std::io::Error::other("truncated by the test API server")),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    let mut resp = Response::from_parts(parts, Body::from_stream(stream));
    resp.headers_mut().remove(header::CONTENT_LENGTH);
    resp
}

async fn route(s: &Arc<Shared>, req: Request, method: &Method, path: &str, q: &str) -> Response {
    let trimmed = path.trim_end_matches('/');
    match trimmed {
        "/version" => return value_response(StatusCode::OK, &s.cluster.version),
        "/healthz" | "/livez" | "/readyz" => {
            return (StatusCode::OK, "ok").into_response();
        }
        "/api" => {
            return value_response(
                StatusCode::OK,
                &json!({
                    "kind": "APIVersions",
                    "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]
                }),
            );
        }
        "/apis" => {
            let groups: Vec<Value> = s
                .cluster
                .groups
                .iter()
                .filter(|g| !g["name"].as_str().unwrap_or("").is_empty())
                .cloned()
                .collect();
            return value_response(
                StatusCode::OK,
                &json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}),
            );
        }
        _ => {}
    }
    let segs: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
    if let ["apis", g] = segs.as_slice() {
        return match s.cluster.groups.iter().find(|x| x["name"] == *g) {
            Some(group) => {
                let mut v = json!({"kind": "APIGroup", "apiVersion": "v1"});
                for (k, val) in group.as_object().expect("group object") {
                    v[k] = val.clone();
                }
                value_response(StatusCode::OK, &v)
            }
            None => not_found_path(),
        };
    }
    let Some((group, version, rest)) = split_api_path(trimmed) else {
        return not_found_path();
    };
    let gv = if group.is_empty() {
        version.clone()
    } else {
        format!("{group}/{version}")
    };
    if rest.is_empty() {
        return match s
            .cluster
            .resource_lists
            .iter()
            .find(|l| l["groupVersion"] == gv.as_str())
        {
            Some(list) => {
                let mut v = json!({"kind": "APIResourceList", "apiVersion": "v1"});
                for (k, val) in list.as_object().expect("list object") {
                    v[k] = val.clone();
                }
                value_response(StatusCode::OK, &v)
            }
            None => not_found_path(),
        };
    }
    let query = Query::parse(q);

    // Access reviews are creates of non-stored resources.
    if group == "authorization.k8s.io" && method == Method::POST && rest.len() == 1 {
        let body = match read_review(req, rest[0] == "selfsubjectrulesreviews").await {
            Ok(b) => b,
            Err(resp) => return *resp,
        };
        match rest[0] {
            "selfsubjectrulesreviews" => return rules_review(s, body),
            "selfsubjectaccessreviews" => return access_review(s, body),
            _ => {}
        }
        return not_found_path();
    }

    if let Some(resp) = super::proxy::answer(s, method, trimmed, &group, &version, &rest) {
        return resp;
    }
    let Some(target) = resolve(&s.cluster, &group, &version, &rest) else {
        return not_found_path();
    };
    if is_denied(&s.denials.lock().expect("denials"), &target) {
        return target.forbidden(method, query.flag("watch"));
    }

    if super::daemonsets::handles(method, &target) {
        let body = if method == Method::POST {
            match read_json(req).await {
                Ok(b) => b,
                Err(resp) => return *resp,
            }
        } else {
            Value::Null
        };
        return super::daemonsets::route(s, method, &target, body);
    }
    match (method.as_str(), &target.name, target.sub.as_deref()) {
        ("GET", None, None) => {
            if query.flag("watch") {
                return watch(s, &target, &query).await;
            }
            list(s, &target, &query)
        }
        ("GET", Some(name), None) => get(s, &target, name),
        ("GET", Some(name), Some("log")) => logs(s, &target, name, &query),
        (_, Some(name), Some("exec" | "attach")) => {
            super::exec::exec(
                s.clone(),
                req,
                target.clone(),
                name.clone(),
                query.0.clone(),
            )
            .await
        }
        ("POST", None, None) if target.t.plural == "pods" && target.t.group.is_empty() => {
            let body = match read_json(req).await {
                Ok(b) => b,
                Err(resp) => return *resp,
            };
            create_pod(s, &target, body)
        }
        ("POST", None, None) if super::writes::writable(&target.t) => match read_json(req).await {
            Ok(body) => super::writes::create(s, &target, body),
            Err(resp) => *resp,
        },
        ("PUT", Some(name), None) if super::writes::writable(&target.t) => {
            match read_json(req).await {
                Ok(body) => super::writes::update(s, &target, name, body),
                Err(resp) => *resp,
            }
        }
        ("DELETE", Some(name), None) if target.t.plural == "pods" && target.t.group.is_empty() => {
            delete_pod(s, &target, name)
        }
        _ => status_response(
            405,
            &format!(
                "{} on {} is not supported by the test API server",
                method,
                target.resource_string()
            ),
            None,
        ),
    }
}

/// An access review body, JSON or protobuf.
async fn read_review(req: Request, rules: bool) -> Result<Value, Box<Response>> {
    let protobuf = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/vnd.kubernetes.protobuf"));
    if !protobuf {
        return read_json(req).await;
    }
    let bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .map_err(|e| {
            Box::new(status_response(
                400,
                &format!("reading the body: {e}"),
                None,
            ))
        })?;
    decode_review_protobuf(&bytes, rules).ok_or_else(|| {
        Box::new(status_response(
            400,
            "the protobuf body is not an access review the test API server can read",
            None,
        ))
    })
}

async fn read_json(req: Request) -> Result<Value, Box<Response>> {
    let bytes = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|e| {
            Box::new(status_response(
                400,
                &format!("reading the body: {e}"),
                None,
            ))
        })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Box::new(status_response(
            400,
            &format!("the body is not valid JSON: {e}"),
            None,
        ))
    })
}

/// A continue token in the real API's shape: base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>\u0000"}`.
fn encode_continue(rv: u64, ns: &str, name: &str) -> String {
    let start = if ns.is_empty() {
        format!("{name}\u{0}")
    } else {
        format!("{ns}/{name}\u{0}")
    };
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::URL_SAFE
        .encode(serde_json::to_vec(&token).expect("token JSON"))
}

fn decode_continue(token: &str, namespaced: bool) -> Option<(String, String)> {
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(token))
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    if v["v"] != "meta.k8s.io/v1" {
        return None;
    }
    let start = v["start"].as_str()?.strip_suffix('\u{0}')?;
    if namespaced {
        let (ns, name) = start.split_once('/')?;
        Some((ns.to_string(), name.to_string()))
    } else {
        Some((String::new(), start.to_string()))
    }
}

fn parse_selectors(t: &ResourceType, q: &Query) -> Result<(Selector, Selector), Box<Response>> {
    let labels = selector::parse_label_selector(q.get("labelSelector").unwrap_or(""))
        .map_err(|e| Box::new(status_response(400, &e, None)))?;
    let fields = selector::parse_field_selector(q.get("fieldSelector").unwrap_or(""))
        .map_err(|e| Box::new(status_response(400, &e, None)))?;
    let allowed = cluster::selector_fields(&t.kind, &Value::Null);
    for key in fields.keys() {
        if !allowed.contains_key(key) {
            return Err(Box::new(status_response(
                400,
                &format!("field label not supported: {key}"),
                None,
            )));
        }
    }
    Ok((labels, fields))
}

/// Indices of the items of one namespace (or all) in key order.
fn namespace_range(items: &[Item], ns: Option<&str>) -> std::ops::Range<usize> {
    match ns {
        None => 0..items.len(),
        Some(ns) => {
            let start = items.partition_point(|i| i.namespace.as_str() < ns);
            let end = items.partition_point(|i| i.namespace.as_str() <= ns);
            start..end
        }
    }
}

fn list_kind(t: &ResourceType) -> String {
    format!("{}List", t.kind)
}

fn list(s: &Shared, target: &Target, q: &Query) -> Response {
    let t = &target.t;
    let (labels, fields) = match parse_selectors(t, q) {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    let limit: usize = match q.get("limit").map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) if n >= 0 => n as usize,
        Some(_) => return status_response(400, "limit must be a non-negative integer", None),
    };
    let items = s.cluster.store(t).snapshot();
    let mut range = namespace_range(&items, target.namespace.as_deref());
    if let Some(token) = q.get("continue").filter(|c| !c.is_empty()) {
        let Some((ns, name)) = decode_continue(token, t.namespaced) else {
            return status_response(
                400,
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                None,
            );
        };
        let after = items.partition_point(|i| i.key() <= (ns.as_str(), name.as_str()));
        range.start = range.start.max(after);
    }
    let filtered = !labels.is_empty() || !fields.is_empty();
    let mut picked: Vec<u32> = Vec::new();
    let mut more = false;
    let mut last = None;
    for i in range.clone() {
        let item = &items[i];
        if filtered && !(labels.matches(&item.labels) && fields.matches(&item.fields)) {
            continue;
        }
        if limit > 0 && picked.len() == limit {
            more = true;
            break;
        }
        picked.push(i as u32);
        last = Some(i);
    }
    let rv = s.resource_version.load(Ordering::SeqCst);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if more && let Some(last) = last {
        let item = &items[last];
        meta["continue"] = json!(encode_continue(rv, &item.namespace, &item.name));
        if !filtered {
            meta["remainingItemCount"] = json!(range.end - last - 1);
        }
    }
    let head = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\",\"metadata\":{},\"items\":[",
        list_kind(t),
        t.group_version(),
        meta
    );
    let chunks = ListChunks {
        items,
        picked: picked.into_iter(),
        head: Some(head.into_bytes()),
        first: true,
        done: false,
    };
    json_response(
        StatusCode::OK,
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
}

/// Streams a list body in ~256 KiB chunks straight from the pre-serialized items.
struct ListChunks {
    items: Arc<Vec<Item>>,
    picked: std::vec::IntoIter<u32>,
    head: Option<Vec<u8>>,
    first: bool,
    done: bool,
}

impl Iterator for ListChunks {
    type Item = Result<Bytes, std::io::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = self.head.take().unwrap_or_default();
        while buf.len() < 256 * 1024 {
            match self.picked.next() {
                Some(i) => {
                    if !self.first {
                        buf.push(b',');
                    }
                    self.first = false;
                    buf.extend_from_slice(&self.items[i as usize].body);
                }
                None => {
                    buf.extend_from_slice(b"]}");
                    self.done = true;
                    break;
                }
            }
        }
        Some(Ok(Bytes::from(buf)))
    }
}

/// The object with `kind` and `apiVersion` first, as a single GET returns it.
pub fn full_object(t: &ResourceType, item: &Item) -> Vec<u8> {
    if t.custom {
        return item.body.to_vec();
    }
    let mut out = format!(
        "{{\"kind\":\"{}\",\"apiVersion\":\"{}\"",
        t.kind,
        t.group_version()
    )
    .into_bytes();
    let rest = &item.body[1..];
    if rest != b"}" {
        out.push(b',');
    }
    out.extend_from_slice(rest);
    out
}

pub fn not_found_object(t: &ResourceType, name: &str) -> Response {
    let mut details = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    let what = if t.group.is_empty() {
        t.plural.clone()
    } else {
        format!("{}.{}", t.plural, t.group)
    };
    status_response(404, &format!("{what} \"{name}\" not found"), Some(details))
}

fn get(s: &Shared, target: &Target, name: &str) -> Response {
    let ns = target.namespace.as_deref().unwrap_or("");
    match s.cluster.store(&target.t).get(ns, name) {
        Some(item) => {
            let item = refresh_created(s, &target.t, item);
            json_response(StatusCode::OK, full_object(&target.t, &item))
        }
        None => not_found_object(&target.t, name),
    }
}

fn container_names(pod: &Value, key: &str) -> Vec<String> {
    pod["spec"][key]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

fn has_previous(pod: &Value, container: &str) -> bool {
    ["containerStatuses", "initContainerStatuses"]
        .iter()
        .any(|k| {
            pod["status"][k].as_array().into_iter().flatten().any(|cs| {
                cs["name"] == container
                    && (cs["restartCount"].as_u64().unwrap_or(0) > 0
                        || cs["lastState"]["terminated"].is_object())
            })
        })
}

/// Lines of the log a container without an explicit one has.
fn synthetic_log(ns: &str, pod: &str, container: &str, previous: bool, n: usize) -> Vec<LogLine> {
    let tag = if previous { " (previous instance)" } else { "" };
    (0..n)
        .map(|i| LogLine {
            age_secs: ((n - i) * 60) as u64,
            text: format!("{ns}/{pod}/{container}{tag}: log line {} of {n}", i + 1),
        })
        .collect()
}

fn rfc3339_nano(t: SystemTime) -> String {
    let dt: chrono::DateTime<chrono::Utc> = t.into();
    dt.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

fn logs(s: &Shared, target: &Target, name: &str, q: &Query) -> Response {
    let ns = target.namespace.as_deref().unwrap_or("");
    let Some(item) = s.cluster.store(&target.t).get(ns, name) else {
        return not_found_object(&target.t, name);
    };
    let item = refresh_created(s, &target.t, item);
    let pod: Value = serde_json::from_slice(&item.body).expect("stored JSON");
    let containers = container_names(&pod, "containers");
    let inits = container_names(&pod, "initContainers");
    let ephemeral = container_names(&pod, "ephemeralContainers");
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            let mut msg = format!(
                "a container name must be specified for pod {name}, choose one of: [{}]",
                containers.join(" ")
            );
            if !inits.is_empty() {
                msg.push_str(&format!(
                    " or one of the init containers: [{}]",
                    inits.join(" ")
                ));
            }
            return status_response(400, &msg, None);
        }
    };
    if !containers.contains(&container)
        && !inits.contains(&container)
        && !ephemeral.contains(&container)
    {
        return status_response(
            400,
            &format!("container {container} is not valid for pod {name}"),
            None,
        );
    }
    let previous = q.flag("previous");
    if previous && !has_previous(&pod, &container) {
        return status_response(
            400,
            &format!("previous terminated container \"{container}\" in pod \"{name}\" not found"),
            None,
        );
    }
    let key = (
        ns.to_string(),
        name.to_string(),
        container.clone(),
        previous,
    );
    let lines = s
        .logs
        .read()
        .expect("logs")
        .get(&key)
        .cloned()
        .unwrap_or_else(|| {
            Arc::new(synthetic_log(
                ns,
                name,
                &container,
                previous,
                s.cluster.synthetic_log_lines,
            ))
        });

    let now = SystemTime::now();
    let since: Option<SystemTime> = if let Some(secs) = q.get("sinceSeconds") {
        match secs.parse::<u64>() {
            Ok(n) if n > 0 => Some(now - Duration::from_secs(n)),
            _ => return status_response(400, "sinceSeconds must be a positive integer", None),
        }
    } else if let Some(t) = q.get("sinceTime") {
        match chrono::DateTime::parse_from_rfc3339(t) {
            Ok(dt) => Some(SystemTime::from(dt.with_timezone(&chrono::Utc))),
            Err(e) => return status_response(400, &format!("sinceTime: {e}"), None),
        }
    } else {
        None
    };
    let timestamps = q.flag("timestamps");
    let mut selected: Vec<(SystemTime, &str)> = lines
        .iter()
        .map(|l| (s.started - Duration::from_secs(l.age_secs), l.text.as_str()))
        .filter(|(at, _)| since.is_none_or(|since| *at >= since))
        .collect();
    if let Some(tail) = q.get("tailLines") {
        match tail.parse::<usize>() {
            Ok(n) => {
                let skip = selected.len().saturating_sub(n);
                selected.drain(..skip);
            }
            Err(_) => {
                return status_response(400, "tailLines must be a non-negative integer", None);
            }
        }
    }
    let mut out = String::new();
    for (at, text) in selected {
        if timestamps {
            out.push_str(&rfc3339_nano(at));
            out.push(' ');
        }
        out.push_str(text);
        out.push('\n');
    }
    let mut bytes = out.into_bytes();
    if let Some(limit) = q.get("limitBytes") {
        match limit.parse::<usize>() {
            Ok(n) if n > 0 => bytes.truncate(n),
            _ => return status_response(400, "limitBytes must be a positive integer", None),
        }
    }
    let mut resp = Response::new(Body::from(bytes));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    resp
}

/// Resource rules for one namespace: the bundle's, or, where denials apply, every served resource
/// but the denied ones spelled out per group (a `*` rule cannot exclude anything).
fn rules_for(s: &Shared, ns: &str) -> (Vec<Value>, Vec<Value>) {
    let rules = s
        .cluster
        .rules
        .get(ns)
        .unwrap_or(&s.cluster.default_rules)
        .clone();
    let denials = s.denials.lock().expect("denials").clone();
    let applies: Vec<&Denial> = denials
        .iter()
        .filter(|d| d.namespace.as_deref().is_none_or(|n| n == ns))
        .collect();
    let mut resource_rules = Vec::new();
    let mut non_resource_rules = Vec::new();
    for r in rules {
        if r.get("nonResourceURLs").is_some() {
            non_resource_rules
                .push(json!({"verbs": r["verbs"], "nonResourceURLs": r["nonResourceURLs"]}));
            continue;
        }
        let wildcard = r["resources"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "*"));
        if applies.is_empty() || !wildcard {
            let mut rr = json!({"verbs": r["verbs"], "apiGroups": r["apiGroups"], "resources": r["resources"]});
            if let Some(names) = r.get("resourceNames") {
                rr["resourceNames"] = names.clone();
            }
            resource_rules.push(rr);
            continue;
        }
        let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for list in &s.cluster.resource_lists {
            let (group, _) =
                cluster::split_group_version(list["groupVersion"].as_str().unwrap_or(""));
            for res in list["resources"].as_array().into_iter().flatten() {
                let plural = res["name"].as_str().unwrap_or("").to_string();
                if applies
                    .iter()
                    .any(|d| d.group == group && d.resource == plural)
                {
                    continue;
                }
                let entry = by_group.entry(group.clone()).or_default();
                if !entry.contains(&plural) {
                    entry.push(plural);
                }
            }
        }
        for (group, resources) in by_group {
            resource_rules
                .push(json!({"verbs": r["verbs"], "apiGroups": [group], "resources": resources}));
        }
    }
    (resource_rules, non_resource_rules)
}

fn rules_review(s: &Shared, body: Value) -> Response {
    let ns = body["spec"]["namespace"].as_str().unwrap_or("").to_string();
    let (resource_rules, non_resource_rules) = rules_for(s, &ns);
    value_response(
        StatusCode::CREATED,
        &json!({
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": {"namespace": ns},
            "status": {
                "resourceRules": resource_rules,
                "nonResourceRules": non_resource_rules,
                "incomplete": false
            }
        }),
    )
}

fn access_review(s: &Shared, body: Value) -> Response {
    let attrs = &body["spec"]["resourceAttributes"];
    let allowed = if attrs.is_object() {
        let group = attrs["group"].as_str().unwrap_or("");
        let mut resource = attrs["resource"].as_str().unwrap_or("").to_string();
        if let Some(sub) = attrs["subresource"].as_str().filter(|x| !x.is_empty()) {
            resource = format!("{resource}/{sub}");
        }
        let ns = attrs["namespace"].as_str().unwrap_or("");
        !s.denials.lock().expect("denials").iter().any(|d| {
            d.group == group
                && (d.resource == resource || d.resource == "*")
                && d.namespace.as_deref().is_none_or(|n| n == ns)
        })
    } else {
        true
    };
    let status = json!({"allowed": allowed});
    value_response(
        StatusCode::CREATED,
        &json!({
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": null},
            "spec": body["spec"],
            "status": status
        }),
    )
}

fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Pods created through the API run for `pod_run_secs`, then succeed: their stored status is
/// brought up to date whenever they are read.
pub(super) fn refresh_created(s: &Shared, t: &ResourceType, item: Item) -> Item {
    if t.plural != "pods" || !t.group.is_empty() {
        return item;
    }
    let created = s
        .created
        .lock()
        .expect("created")
        .get(&(item.namespace.clone(), item.name.clone()))
        .cloned();
    let Some(created) = created else {
        return item;
    };
    let elapsed = created.at.elapsed().as_secs_f64();
    let mut pod: Value = serde_json::from_slice(&item.body).expect("stored JSON");
    // With restartPolicy Always (the default) a container that exits is restarted: the pod stays
    // Running and the container goes into back-off, its last run in `lastState`.
    let always = pod["spec"]["restartPolicy"] == "Always";
    let restarted = pod["status"]["containerStatuses"][0]["restartCount"]
        .as_u64()
        .is_some_and(|n| n > 0);
    let backoff =
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ImagePullBackOff";
    let phase = match pod["status"]["phase"].as_str().unwrap_or("") {
        "Running" if restarted => "Restarted",
        "Pending" if backoff => "PullBackOff",
        p => p,
    };
    let want = if created.mount_fails {
        "Pending"
    } else if created.pull_fails {
        if elapsed >= s.cluster.pod_run_secs / 2.0 {
            "PullBackOff"
        } else {
            "Pending"
        }
    } else if elapsed >= created.run_secs {
        if always { "Restarted" } else { "Succeeded" }
    } else if elapsed >= s.cluster.pod_run_secs.min(created.run_secs) / 2.0 {
        "Running"
    } else {
        "Pending"
    };
    if phase == want {
        return item;
    }
    pod["status"] = pod_status(&pod, want);
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    pod["metadata"]["resourceVersion"] = json!(rv.to_string());
    let new = cluster::make_item(t, pod).expect("pod item");
    s.cluster.store(t).upsert(new.clone());
    new
}

/// The status of a created pod in `phase`; `Restarted` is a Running pod whose containers have
/// exited once and wait in back-off (restartPolicy Always).
fn pod_status(pod: &Value, phase: &str) -> Value {
    let started = pod["metadata"]["creationTimestamp"].clone();
    let terminated = || json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now_rfc3339(), "containerID": "containerd://test"}});
    let statuses: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let (state, last) = match phase {
                "Pending" => (json!({"waiting": {"reason": "ContainerCreating"}}), json!({})),
                "PullBackOff" => (
                    json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{}\"", c["image"].as_str().unwrap_or(""))}}),
                    json!({}),
                ),
                "Running" => (json!({"running": {"startedAt": started}}), json!({})),
                "Restarted" => (
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 10s restarting failed container={} pod={}", c["name"].as_str().unwrap_or(""), pod["metadata"]["name"].as_str().unwrap_or(""))}}),
                    terminated(),
                ),
                _ => (terminated(), json!({})),
            };
            json!({
                "name": c["name"],
                "state": state,
                "lastState": last,
                "ready": phase == "Running",
                "restartCount": u32::from(phase == "Restarted"),
                "image": c["image"],
                "imageID": "",
                "started": phase == "Running"
            })
        })
        .collect();
    json!({
        "phase": match phase {
            "Restarted" => "Running",
            "PullBackOff" => "Pending",
            p => p,
        },
        "conditions": [{"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": started}],
        "hostIP": "10.0.0.10",
        "podIP": "10.42.0.200",
        "startTime": started,
        "containerStatuses": statuses,
        "qosClass": "BestEffort"
    })
}

pub(super) fn create_pod(s: &Shared, target: &Target, mut pod: Value) -> Response {
    let ns = target
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    if pod["kind"].as_str().is_some_and(|k| k != "Pod") {
        return status_response(400, "the body is not a Pod", None);
    }
    let pod_in = pod.clone();
    let name = match (
        pod["metadata"]["name"].as_str(),
        pod["metadata"]["generateName"].as_str(),
    ) {
        (Some(n), _) if !n.is_empty() => n.to_string(),
        (_, Some(g)) => format!(
            "{g}{}",
            &cluster::fake_uid("gen", g, s.resource_version.load(Ordering::SeqCst))[..5]
        ),
        _ => {
            return status_response(
                422,
                "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required",
                None,
            );
        }
    };
    let containers = container_names(&pod, "containers");
    if containers.is_empty() {
        return status_response(
            422,
            &format!("Pod \"{name}\" is invalid: spec.containers: Required value"),
            None,
        );
    }
    let store = s.cluster.store(&target.t);
    if store.get(&ns, &name).is_some() {
        return status_response(
            409,
            &format!("pods \"{name}\" already exists"),
            Some(json!({"name": name, "kind": "pods"})),
        );
    }
    let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
    let meta = pod["metadata"].as_object_mut().map(|m| {
        m.insert("name".into(), json!(name));
        m.insert("namespace".into(), json!(ns));
        m.insert("uid".into(), json!(cluster::fake_uid("pod", &name, rv)));
        m.insert("resourceVersion".into(), json!(rv.to_string()));
        m.insert("creationTimestamp".into(), json!(now_rfc3339()));
    });
    if meta.is_none() {
        pod["metadata"] = json!({"name": name, "namespace": ns});
    }
    if let Some(spec) = pod["spec"].as_object_mut() {
        spec.entry("restartPolicy").or_insert(json!("Always"));
        spec.entry("serviceAccountName").or_insert(json!("default"));
        spec.insert("nodeName".into(), json!("primary-node"));
    }
    // Pinned to a node (DaemonSet pods, hostname nodeSelector): it runs there.
    let node = super::daemonsets::node_for(&pod_in);
    if let Some(n) = &node {
        pod["spec"]["nodeName"] = json!(n);
    }
    pod["status"] = pod_status(&pod, "Pending");
    let item = match cluster::make_item(&target.t, pod.clone()) {
        Ok(i) => i,
        Err(e) => return status_response(400, &e, None),
    };
    store.upsert(item.clone());
    s.created.lock().expect("created").insert(
        (ns.clone(), name.clone()),
        Created {
            at: std::time::Instant::now(),
            run_secs: s
                .run_pod_secs
                .read()
                .expect("run pod secs")
                .get(&name)
                .copied()
                .unwrap_or(s.cluster.pod_run_secs),
            mount_fails: super::daemonsets::mounts_missing(s, &pod),
            pull_fails: {
                let missing = s.missing_images.read().expect("missing images");
                pod["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["image"].as_str().is_some_and(|i| missing.contains(i)))
            },
        },
    );
    let text = s
        .run_pod_logs
        .read()
        .expect("run pod logs")
        .get(&name)
        .cloned()
        .or_else(|| super::daemonsets::node_log(s, node.as_deref().unwrap_or("primary-node")))
        .unwrap_or_else(|| format!("pod {name} ran to completion"));
    {
        let mut logs = s.logs.write().expect("logs");
        for c in &containers {
            let lines: Vec<LogLine> = text
                .lines()
                .map(|l| LogLine {
                    age_secs: 0,
                    text: l.to_string(),
                })
                .collect();
            let lines = Arc::new(lines);
            // A restarted container (restartPolicy Always) printed the same in its last run.
            logs.insert((ns.clone(), name.clone(), c.clone(), true), lines.clone());
            logs.insert((ns.clone(), name.clone(), c.clone(), false), lines);
        }
    }
    add_pod_events(s, &ns, &name, &pod);
    json_response(StatusCode::CREATED, full_object(&target.t, &item))
}

/// The events the kubelet and scheduler would write for a pod that runs to completion.
fn add_pod_events(s: &Shared, ns: &str, name: &str, pod: &Value) {
    let Some(t) = s.cluster.type_at("", "v1", "events").cloned() else {
        return;
    };
    let image = pod["spec"]["containers"][0]["image"].as_str().unwrap_or("");
    let container = pod["spec"]["containers"][0]["name"].as_str().unwrap_or("");
    let now = now_rfc3339();
    let events = [
        (
            "Scheduled",
            "default-scheduler",
            format!("Successfully assigned {ns}/{name} to primary-node"),
        ),
        (
            "Pulled",
            "kubelet",
            format!("Container image \"{image}\" already present on machine"),
        ),
        (
            "Created",
            "kubelet",
            format!("Created container {container}"),
        ),
        (
            "Started",
            "kubelet",
            format!("Started container {container}"),
        ),
    ];
    for (i, (reason, component, message)) in events.into_iter().enumerate() {
        let rv = s.resource_version.fetch_add(1, Ordering::SeqCst) + 1;
        let ev = json!({
            "kind": "Event",
            "apiVersion": "v1",
            "metadata": {
                "name": format!("{name}.{:016x}", rv * 16 + i as u64),
                "namespace": ns,
                "uid": cluster::fake_uid("event", name, rv),
                "resourceVersion": rv.to_string(),
                "creationTimestamp": now
            },
            "involvedObject": {
                "kind": "Pod", "namespace": ns, "name": name,
                "uid": pod["metadata"]["uid"], "apiVersion": "v1",
                "resourceVersion": pod["metadata"]["resourceVersion"]
            },
            "reason": reason,
            "message": message,
            "source": {"component": component, "host": "primary-node"},
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
            "type": "Normal",
            "eventTime": null,
            "reportingComponent": component,
            "reportingInstance": "primary-node"
        });
        if let Ok(item) = cluster::make_item(&t, ev) {
            s.cluster.store(&t).upsert(item);
        }
    }
}

pub(super) fn delete_pod(s: &Shared, target: &Target, name: &str) -> Response {
    let ns = target.namespace.as_deref().unwrap_or("");
    let store = s.cluster.store(&target.t);
    match store.remove(ns, name) {
        Some(item) => {
            s.created
                .lock()
                .expect("created")
                .remove(&(ns.to_string(), name.to_string()));
            let mut pod: Value =
                serde_json::from_slice(&full_object(&target.t, &item)).expect("stored JSON");
            pod["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            s.resource_version.fetch_add(1, Ordering::SeqCst);
            value_response(StatusCode::OK, &pod)
        }
        None => not_found_object(&target.t, name),
    }
}

/// A minimal watch: the current objects as ADDED events, then a MODIFIED event whenever an
/// object's resourceVersion changes (polled), until `timeoutSeconds` (default 30 s).
async fn watch(s: &Arc<Shared>, target: &Target, q: &Query) -> Response {
    let (labels, fields) = match parse_selectors(&target.t, q) {
        Ok(x) => x,
        Err(resp) => return *resp,
    };
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(30);
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    let s = s.clone();
    let target = target.clone();
    let send_initial = q.flag("sendInitialEvents");
    let from_rv: Option<u64> = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .filter(|v| *v != 0 && !send_initial);
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let store = s.cluster.store(&target.t);
        let current_items = |s: &Shared| -> Vec<Item> {
            let items = store.snapshot();
            let range = namespace_range(&items, target.namespace.as_deref());
            items[range]
                .iter()
                .filter(|i| labels.matches(&i.labels) && fields.matches(&i.fields))
                .cloned()
                .collect::<Vec<_>>()
                .into_iter()
                .map(|i| refresh_created(s, &target.t, i))
                .collect()
        };
        let mut seen: HashMap<(String, String), u64> = HashMap::new();
        if let Some(rv) = from_rv {
            // Watching from a resourceVersion: what the client already has is not sent again.
            for i in current_items(&s) {
                if i.resource_version <= rv {
                    seen.insert((i.namespace.clone(), i.name.clone()), i.resource_version);
                }
            }
        }
        let mut first = true;
        loop {
            let mut current = HashMap::new();
            for item in current_items(&s) {
                let key = (item.namespace.clone(), item.name.clone());
                current.insert(key.clone(), item.resource_version);
                let kind = match seen.get(&key) {
                    None => "ADDED",
                    Some(rv) if *rv != item.resource_version => "MODIFIED",
                    Some(_) => continue,
                };
                let mut line = format!("{{\"type\":\"{kind}\",\"object\":").into_bytes();
                line.extend_from_slice(&full_object(&target.t, &item));
                line.extend_from_slice(b"}\n");
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    return;
                }
            }
            for (key, rv) in &seen {
                if !current.contains_key(key) {
                    let obj = json!({"kind": target.t.kind, "apiVersion": target.t.group_version(),
                        "metadata": {"name": key.1, "namespace": key.0, "resourceVersion": rv.to_string()}});
                    let line = format!("{{\"type\":\"DELETED\",\"object\":{obj}}}\n");
                    if tx.send(Ok(Bytes::from(line))).await.is_err() {
                        return;
                    }
                }
            }
            if first && send_initial {
                // Streaming lists (WatchListClient): the end of the initial state is a bookmark.
                let rv = s.resource_version.load(Ordering::SeqCst);
                let obj = json!({"kind": target.t.kind, "apiVersion": target.t.group_version(),
                    "metadata": {"resourceVersion": rv.to_string(),
                                 "annotations": {"k8s.io/initial-events-end": "true"}}});
                let line = format!("{{\"type\":\"BOOKMARK\",\"object\":{obj}}}\n");
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    return;
                }
            }
            first = false;
            seen = current;
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    json_response(StatusCode::OK, Body::from_stream(stream))
}

/// Reads the fields of one protobuf message: (field number, bytes of a length-delimited field).
/// Varint and fixed-width fields are skipped: the access reviews carry only strings and messages.
fn proto_fields(mut buf: &[u8]) -> Option<Vec<(u64, &[u8])>> {
    fn varint(buf: &mut &[u8]) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = buf.split_first()?;
            *buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }
    let mut out = Vec::new();
    while !buf.is_empty() {
        let key = varint(&mut buf)?;
        match key & 7 {
            0 => {
                varint(&mut buf)?;
            }
            1 => buf = buf.get(8..)?,
            5 => buf = buf.get(4..)?,
            2 => {
                let len = varint(&mut buf)? as usize;
                out.push((key >> 3, buf.get(..len)?));
                buf = &buf[len..];
            }
            _ => return None,
        }
    }
    Some(out)
}

/// The string fields of a protobuf message, by number, as a JSON object with the given names.
fn proto_strings(buf: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let mut obj = serde_json::Map::new();
    for (n, bytes) in proto_fields(buf)? {
        if let Some((_, name)) = names.iter().find(|(num, _)| *num == n) {
            obj.insert(
                name.to_string(),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            );
        }
    }
    Some(Value::Object(obj))
}

/// Decodes the protobuf envelope (`k8s\0` + runtime.Unknown) of a SelfSubjectRulesReview
/// (`rules: true`) or SelfSubjectAccessReview into the JSON the handlers read: kubectl sends these
/// as protobuf.
fn decode_review_protobuf(body: &[u8], rules: bool) -> Option<Value> {
    let unknown = body.strip_prefix(b"k8s\0")?;
    let raw = proto_fields(unknown)?
        .into_iter()
        .find(|(n, _)| *n == 2)
        .map(|(_, b)| b)?;
    let spec = proto_fields(raw)?
        .into_iter()
        .find(|(n, _)| *n == 2)
        .map(|(_, b)| b)
        .unwrap_or(&[]);
    if rules {
        // SelfSubjectRulesReviewSpec { namespace = 1 }
        return Some(json!({"spec": proto_strings(spec, &[(1, "namespace")])?}));
    }
    // SelfSubjectAccessReviewSpec { resourceAttributes = 1, nonResourceAttributes = 2 }
    let mut out = json!({"spec": {}});
    for (n, bytes) in proto_fields(spec)? {
        match n {
            1 => {
                out["spec"]["resourceAttributes"] = proto_strings(
                    bytes,
                    &[
                        (1, "namespace"),
                        (2, "verb"),
                        (3, "group"),
                        (4, "version"),
                        (5, "resource"),
                        (6, "subresource"),
                        (7, "name"),
                    ],
                )?;
            }
            2 => {
                out["spec"]["nonResourceAttributes"] =
                    proto_strings(bytes, &[(1, "path"), (2, "verb")])?;
            }
            _ => {}
        }
    }
    Some(out)
}
