//! Proxied and aggregated endpoints of the test API server: `nodes/N/proxy/...` (the kubelet's
//! `stats/summary`), `services/NAME:PORT/proxy/...` (goldpinger's `check_all`) and paths no stored
//! resource serves (`/apis/custom.metrics.k8s.io/...`), answered from
//! `KubeApiServer::serve` with what the test set. Proxies honour RBAC denials of `nodes/proxy`
//! and `services/proxy`, answer 404 for an object that does not exist and 503 for one whose
//! backend the test did not set (the real API's "no endpoints available").

use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::http::{
    Shared, Target, is_denied, json_response, not_found_object, resolve, status_response,
};

/// The answer for `path` when it is a proxy or a served raw path; `None`: route it as usual.
pub fn answer(
    s: &Shared,
    method: &Method,
    path: &str,
    group: &str,
    version: &str,
    rest: &[&str],
) -> Option<Response> {
    let served = || {
        s.raw
            .read()
            .expect("raw answers")
            .get(path)
            .cloned()
            .map(|(code, body)| {
                json_response(StatusCode::from_u16(code).unwrap_or(StatusCode::OK), body)
            })
    };
    let at = rest
        .iter()
        .position(|seg| *seg == "proxy")
        .and_then(|i| i.checked_sub(1));
    let Some(name_at) = at.filter(|&i| i >= 1) else {
        return served();
    };
    let prefix = &rest[..name_at];
    let raw_name = rest[name_at];
    // `svc:port`, `http:svc:port`: the object is `svc`.
    let parts: Vec<&str> = raw_name.split(':').collect();
    let name = match parts.as_slice() {
        [n] | [n, _] => *n,
        [_, n, _] => *n,
        _ => raw_name,
    };
    let mut segs: Vec<&str> = prefix.to_vec();
    segs.push(name);
    let mut target: Target = resolve(&s.cluster, group, version, &segs)?;
    target.sub = Some("proxy".to_string());
    if is_denied(&s.denials.lock().expect("denials"), &target) {
        return Some(target.forbidden(method, false));
    }
    let ns = target.namespace.clone().unwrap_or_default();
    if s.cluster.store(&target.t).get(&ns, name).is_none() {
        return Some(not_found_object(&target.t, name));
    }
    Some(served().unwrap_or_else(|| {
        status_response(
            503,
            &format!("no endpoints available for {} \"{name}\"", target.t.plural),
            None,
        )
    }))
}
