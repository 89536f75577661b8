//! `pods/<name>/exec` and `attach` over the websocket subprotocols `v5.channel.k8s.io` and
//! `v4.channel.k8s.io`: every binary frame starts with a channel byte (0 stdin, 1 stdout, 2 stderr,
//! 3 error, 4 resize; v5 adds 255 "close channel"). The server answers from canned outputs, then
//! writes the Status JSON on the error channel (with the exit code when it is not 0) and closes.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};

use super::cluster::ExecOutput;
use super::http::{Shared, Target, status_response};

const PROTOCOLS: [&str; 2] = ["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// The Status the error channel carries at the end of a command.
pub fn exit_status(command: &[String], code: i32) -> Value {
    if code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    json!({
        "metadata": {},
        "status": "Failure",
        "message": format!(
            "command terminated with non-zero exit code: error executing command [{}], exit code {code}",
            command.join(" ")
        ),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}
    })
}

/// What a command prints: a canned answer, `echo`, or "not found" (exit 127) for anything else.
fn answer(s: &Shared, pod: &str, command: &[String], stdin: &[u8]) -> ExecOutput {
    if let Some(rule) = s
        .cluster
        .exec
        .iter()
        .find(|r| pod.starts_with(&r.pod_prefix) && r.command == command)
    {
        return rule.output.clone();
    }
    match command.first().map(String::as_str) {
        // `tar -C DIR -cf - NAME` (what troubleshoot's copy collector runs): a real archive with
        // NAME/ and one file in it.
        Some("tar") if command.iter().any(|a| a == "-cf") => copy_archive(pod, command),
        // `sleep N` prints nothing; `run` waits the N seconds before answering.
        Some("sleep") => ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_code: 0,
        },
        Some("echo") => ExecOutput {
            stdout: format!("{}\n", command[1..].join(" ")).into_bytes(),
            stderr: Vec::new(),
            exit_code: 0,
        },
        Some("cat") if command.len() == 1 => ExecOutput {
            stdout: stdin.to_vec(),
            stderr: Vec::new(),
            exit_code: 0,
        },
        Some(cmd) => ExecOutput {
            stdout: Vec::new(),
            stderr: format!("sh: {cmd}: not found\n").into_bytes(),
            exit_code: 127,
        },
        None => ExecOutput {
            stdout: Vec::new(),
            stderr: Vec::new(),
            exit_code: 0,
        },
    }
}

/// The archive `tar -C DIR -cf - NAME` writes in the fake container: `NAME/` holding `copied.txt`.
fn copy_archive(pod: &str, command: &[String]) -> ExecOutput {
    let dir = command
        .iter()
        .position(|a| a == "-C")
        .and_then(|i| command.get(i + 1))
        .cloned()
        .unwrap_or_else(|| "/".to_string());
    let name = command.last().cloned().unwrap_or_default();
    let text = format!("copied from {pod}:{dir}/{name}\n");
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_mode(0o755);
    header.set_size(0);
    header.set_mtime(1_765_387_600);
    let built = builder
        .append_data(&mut header, format!("{name}/"), std::io::empty())
        .and_then(|_| {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(text.len() as u64);
            header.set_mtime(1_765_387_600);
            builder.append_data(&mut header, format!("{name}/copied.txt"), text.as_bytes())
        })
        .and_then(|_| builder.into_inner());
    match built {
        Ok(bytes) => ExecOutput {
            stdout: bytes,
            stderr: Vec::new(),
            exit_code: 0,
        },
        Err(e) => ExecOutput {
            stdout: Vec::new(),
            stderr: format!("tar: {e}\n").into_bytes(),
            exit_code: 2,
        },
    }
}

/// Handles an exec/attach request: checks the pod and container, upgrades, runs the canned command.
pub async fn exec(
    s: Arc<Shared>,
    mut req: Request,
    target: Target,
    name: String,
    query: Vec<(String, String)>,
) -> Response {
    let ns = target.namespace.clone().unwrap_or_default();
    let Some(item) = s.cluster.store(&target.t).get(&ns, &name) else {
        return status_response(
            404,
            &format!("pods \"{name}\" not found"),
            Some(json!({"name": name, "kind": "pods"})),
        );
    };
    let pod: Value = serde_json::from_slice(&item.body).expect("stored JSON");
    let get = |k: &str| {
        query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let containers: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect();
    let container = match get("container").filter(|c| !c.is_empty()) {
        Some(c) => c,
        None if containers.len() == 1 => containers[0].clone(),
        None => {
            return status_response(
                400,
                &format!(
                    "a container name must be specified for pod {name}, choose one of: [{}]",
                    containers.join(" ")
                ),
                None,
            );
        }
    };
    if !containers.contains(&container) {
        return status_response(
            400,
            &format!("container {container} is not valid for pod {name}"),
            None,
        );
    }
    if matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    ) {
        return status_response(400, "cannot exec into a container in a completed pod", None);
    }
    let command: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "command")
        .map(|(_, v)| v.clone())
        .collect();
    let is_websocket = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !is_websocket {
        return status_response(
            400,
            "Upgrade request required: the test API server speaks only the websocket exec protocols (v5.channel.k8s.io, v4.channel.k8s.io), not SPDY",
            None,
        );
    }
    let offered: Vec<String> = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|p| p.trim().to_string()))
        .collect();
    let Some(protocol) = offered
        .iter()
        .find(|p| PROTOCOLS.contains(&p.as_str()))
        .cloned()
    else {
        return status_response(
            400,
            &format!(
                "none of the offered subprotocols {offered:?} is supported; the test API server speaks {PROTOCOLS:?}"
            ),
            None,
        );
    };
    let Some(key) = req.headers().get(header::SEC_WEBSOCKET_KEY).cloned() else {
        return status_response(400, "missing Sec-WebSocket-Key", None);
    };
    let wants_stdin = get("stdin").is_some_and(|v| v == "true" || v == "1");
    let on_upgrade = hyper::upgrade::on(&mut req);
    let v5 = protocol == "v5.channel.k8s.io";
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let io = hyper_util::rt::TokioIo::new(upgraded);
        let ws = WebSocketStream::from_raw_socket(io, Role::Server, None).await;
        run(s, ws, name, command, wants_stdin, v5).await;
    });
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 header"),
    );
    h.insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_str(&protocol).expect("protocol header"),
    );
    resp
}

async fn run<S>(
    s: Arc<Shared>,
    mut ws: WebSocketStream<S>,
    pod: String,
    command: Vec<String>,
    wants_stdin: bool,
    v5: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    // With stdin, read it to its end (v5: a close frame for channel 0; v4: the socket closing
    // its write side is not expressible, so only a short wait) before answering.
    let mut stdin = Vec::new();
    if wants_stdin {
        let wait = if v5 {
            std::time::Duration::from_secs(30)
        } else {
            std::time::Duration::from_millis(500)
        };
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, ws.next()).await;
            match msg {
                Ok(Some(Ok(Message::Binary(data)))) => match data.first() {
                    Some(0) => stdin.extend_from_slice(&data[1..]),
                    Some(255) if data.get(1) == Some(&0) => break,
                    _ => {}
                },
                Ok(Some(Ok(Message::Close(_)))) | Ok(None) | Ok(Some(Err(_))) | Err(_) => break,
                Ok(Some(Ok(_))) => {}
            }
        }
    }
    let out = answer(&s, &pod, &command, &stdin);
    if command.first().is_some_and(|c| c == "sleep")
        && let Some(secs) = command.get(1).and_then(|n| n.parse::<f64>().ok())
    {
        tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
    }
    let frame = |channel: u8, data: &[u8]| {
        let mut buf = Vec::with_capacity(data.len() + 1);
        buf.push(channel);
        buf.extend_from_slice(data);
        Message::Binary(buf.into())
    };
    for chunk in out.stdout.chunks(32 * 1024) {
        if ws.send(frame(1, chunk)).await.is_err() {
            return;
        }
    }
    for chunk in out.stderr.chunks(32 * 1024) {
        if ws.send(frame(2, chunk)).await.is_err() {
            return;
        }
    }
    let status = serde_json::to_vec(&exit_status(&command, out.exit_code)).expect("status JSON");
    if ws.send(frame(3, &status)).await.is_err() {
        return;
    }
    // A normal closure: clients treat a close without a status code as an error.
    let _ = ws
        .close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        }))
        .await;
    // Drain until the client acknowledges the close.
    while let Some(Ok(_)) = ws.next().await {}
}
