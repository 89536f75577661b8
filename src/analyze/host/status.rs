//! The network checks whose collectors write `{"status": ..., "message": ...}`:
//! `tcpPortStatus`, `udpPortStatus`, `tcpLoadBalancer`, `httpLoadBalancer`, `tcpConnect`.
//! `when` is the status itself (`connected`, `connection-refused`, `address-in-use`, ...).

use super::super::{AnalyzeResult, AnalyzerError, Ctx, Meta};
use super::common::{self, NO_ICON};
use serde::Deserialize;
use serde_json::Value;

/// One analyzer of the family: its folder under `host-collectors/`, the collector's default
/// name, and the default title.
pub(super) struct StatusKind {
    dir: &'static str,
    default_name: &'static str,
    title: &'static str,
}

pub(super) const TCP_PORT_STATUS: StatusKind = StatusKind {
    dir: "tcpPortStatus",
    default_name: "tcpPortStatus",
    title: "TCP Port Status",
};
pub(super) const UDP_PORT_STATUS: StatusKind = StatusKind {
    dir: "udpPortStatus",
    default_name: "udpPortStatus",
    title: "UDP Port Status",
};
pub(super) const TCP_LOAD_BALANCER: StatusKind = StatusKind {
    dir: "tcpLoadBalancer",
    default_name: "tcpLoadBalancer",
    title: "TCP Load Balancer",
};
pub(super) const HTTP_LOAD_BALANCER: StatusKind = StatusKind {
    dir: "httpLoadBalancer",
    default_name: "httpLoadBalancer",
    title: "HTTP Load Balancer",
};
pub(super) const TCP_CONNECT: StatusKind = StatusKind {
    dir: "connect",
    default_name: "connect",
    title: "TCP Connection Attempt",
};

impl StatusKind {
    pub(super) fn title(&self) -> &'static str {
        self.title
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NetworkStatus {
    status: String,
}

pub(super) fn status(
    kind: &StatusKind,
    ctx: &Ctx<'_>,
    body: &Value,
    meta: &Meta,
) -> Result<Vec<AnalyzeResult>, AnalyzerError> {
    let file = format!("{}.json", common::collector_name(body, kind.default_name));
    let base = format!("host-collectors/{}", kind.dir);
    common::simple(
        ctx,
        body,
        (&format!("{base}/{file}"), &base, &file),
        (&meta.title(kind.title), NO_ICON, "NetworkStatusResult"),
        |when, s: &NetworkStatus| Ok(s.status == when),
    )
}
