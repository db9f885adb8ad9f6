//! An in-process, scripted stand-in for the OpenClaw gateway (protocol v4) on `127.0.0.1:0`,
//! for tests and benchmarks. It speaks the real frames: `connect.challenge`, `connect` →
//! `hello-ok`, `chat.send` acks with idempotency (`started`, then `in_flight`, then `ok`), the
//! startup `UNAVAILABLE`/1013 answer, the wrong-token `INVALID_REQUEST`/1008 answer, and the
//! `shutdown` event with close 1012. Every other method is answered with
//! `{method, params}` unless listed in [`FakeScript::silent_methods`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// What the fake gateway does. `Default`: accept any credentials, no startup delay, no
/// shutdown, answer everything, no device check, challenge `ts` 1 700 000 000 000.
#[derive(Debug, Clone)]
pub struct FakeScript {
    /// The token it accepts; `None` accepts any (or none).
    pub token: Option<String>,
    /// How many connect attempts are answered `UNAVAILABLE` (startup-sidecars) and closed 1013.
    pub startup_rejections: usize,
    /// The `retryAfterMs` of those answers.
    pub startup_retry_after_ms: u64,
    /// On the first connection, the n-th request after `connect` (1-based) is not answered:
    /// the gateway sends `event shutdown` and closes 1012 instead.
    pub shutdown_on_request: Option<usize>,
    /// Every connection completes the handshake, then closes (1011) on its first request
    /// without answering it: a broken gateway that must not cause a reconnect storm.
    pub close_on_every_request: bool,
    /// How many `chat.send` requests (over all connections) are answered like a gateway that
    /// drains for a restart: `UNAVAILABLE` `chat.send unavailable during gateway restart`,
    /// `retryable: true`, `retryAfterMs` [`FakeScript::startup_retry_after_ms`]; not run.
    pub draining_chat_sends: usize,
    /// `chat.history` answers by session key (others get `{messages: []}`).
    pub histories: HashMap<String, Value>,
    /// `agent.wait` answers by run id (others are echoed like any other method).
    pub run_waits: HashMap<String, Value>,
    /// Methods that are never answered.
    pub silent_methods: Vec<String>,
    /// Require a device identity and verify its v3 signature.
    pub verify_device: bool,
    /// The `ts` of `connect.challenge` (epoch ms); `None` omits it.
    pub challenge_ts: Option<i64>,
}

impl Default for FakeScript {
    fn default() -> Self {
        Self {
            token: None,
            startup_rejections: 0,
            startup_retry_after_ms: 500,
            shutdown_on_request: None,
            close_on_every_request: false,
            draining_chat_sends: 0,
            histories: HashMap::new(),
            run_waits: HashMap::new(),
            silent_methods: Vec::new(),
            verify_device: false,
            challenge_ts: Some(1_700_000_000_000),
        }
    }
}

/// What the fake gateway saw.
#[derive(Debug, Clone, Default)]
pub struct FakeRecord {
    /// Accepted WebSocket connections.
    pub accepts: usize,
    /// Params of every `connect` request, in order.
    pub connects: Vec<Value>,
    /// When each `connect` request arrived (tokio time, so paused clocks apply).
    pub connect_times: Vec<tokio::time::Instant>,
    /// Every other request as `(connection number from 1, method, params)`.
    pub requests: Vec<(usize, String, Value)>,
}

struct Shared {
    script: FakeScript,
    record: FakeRecord,
    startup_left: usize,
    draining_left: usize,
    idempotency: HashMap<String, u32>,
}

/// A running fake gateway; stops when dropped.
pub struct FakeGateway {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

type Ws = WebSocketStream<TcpStream>;

impl FakeGateway {
    /// Listen on `127.0.0.1:0` and serve `script`.
    pub async fn start(script: FakeScript) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(Shared {
            startup_left: script.startup_rejections,
            draining_left: script.draining_chat_sends,
            script,
            record: FakeRecord::default(),
            idempotency: HashMap::new(),
        }));
        let task = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut handlers = JoinSet::new();
                while let Ok((tcp, _)) = listener.accept().await {
                    let shared = shared.clone();
                    let _ = tcp.set_nodelay(true);
                    handlers.spawn(async move {
                        if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                            let conn_no = {
                                let mut s = lock(&shared);
                                s.record.accepts += 1;
                                s.record.accepts
                            };
                            serve(ws, conn_no, &shared).await;
                        }
                    });
                    while handlers.try_join_next().is_some() {}
                }
            })
        };
        Ok(Self { addr, shared, task })
    }

    /// `ws://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A copy of what it saw so far.
    pub fn record(&self) -> FakeRecord {
        lock(&self.shared).record.clone()
    }
}

impl Drop for FakeGateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut ws: Ws, conn_no: usize, shared: &Mutex<Shared>) {
    let nonce = uuid::Uuid::new_v4().to_string();
    let ts = lock(shared).script.challenge_ts;
    let mut challenge = json!({"nonce": nonce});
    if let Some(ts) = ts {
        challenge["ts"] = json!(ts);
    }
    if send(&mut ws, event("connect.challenge", challenge))
        .await
        .is_err()
    {
        return;
    }
    let Some((id, method, params)) = next_request(&mut ws).await else {
        return;
    };
    if method != "connect" {
        let _ = close(&mut ws, 1008, "connect first").await;
        return;
    }
    let verdict = {
        let mut s = lock(shared);
        s.record.connects.push(params.clone());
        s.record.connect_times.push(tokio::time::Instant::now());
        judge_connect(&mut s, &params, &nonce)
    };
    match verdict {
        Err((error, close_code)) => {
            let _ = send(
                &mut ws,
                json!({"type":"res","id":id,"ok":false,"error":error}),
            )
            .await;
            let _ = close(&mut ws, close_code, "connect failed").await;
            return;
        }
        Ok(()) => {
            let hello = json!({
                "type": "hello-ok",
                "protocol": 4,
                "server": {"version": "fake", "connId": format!("conn-{conn_no}")},
                "features": {"methods": ["chat.send"], "events": ["tick", "shutdown"]},
                "snapshot": {"presence": [], "stateVersion": {"presence": 0, "health": 0}, "uptimeMs": 0},
                "auth": {"method": "token"},
            });
            let ok = json!({"type":"res","id":id,"ok":true,"payload":hello});
            if send(&mut ws, ok).await.is_err()
                || send(&mut ws, event("tick", json!({"ts": 1})))
                    .await
                    .is_err()
            {
                return;
            }
        }
    }
    let mut served = 0usize;
    while let Some((id, method, params)) = next_request(&mut ws).await {
        let reply = {
            let mut s = lock(shared);
            s.record
                .requests
                .push((conn_no, method.clone(), params.clone()));
            served += 1;
            if s.script.close_on_every_request {
                Some(Err(Value::Null))
            } else if conn_no == 1 && s.script.shutdown_on_request == Some(served) {
                None
            } else if s.script.silent_methods.contains(&method) {
                continue;
            } else if method == "chat.send" && s.draining_left > 0 {
                s.draining_left -= 1;
                Some(Err(json!({"code":"UNAVAILABLE",
                    "message":"chat.send unavailable during gateway restart","retryable":true,
                    "retryAfterMs": s.script.startup_retry_after_ms,
                    "details":{"method":"chat.send","reason":"gateway-restart"}})))
            } else if method == "chat.send" {
                Some(chat_ack(&mut s, &params))
            } else if method == "chat.history" {
                let key = params["sessionKey"].as_str().unwrap_or_default();
                let empty = json!({"sessionKey": key, "messages": []});
                Some(Ok(s.script.histories.get(key).cloned().unwrap_or(empty)))
            } else if let Some(answer) = (method == "agent.wait")
                .then(|| {
                    s.script
                        .run_waits
                        .get(params["runId"].as_str().unwrap_or_default())
                })
                .flatten()
            {
                Some(Ok(answer.clone()))
            } else {
                Some(Ok(json!({"method": method, "params": params})))
            }
        };
        let Some(payload) = reply else {
            let shutdown = event(
                "shutdown",
                json!({"reason": "restart", "restartExpectedMs": 0}),
            );
            let _ = send(&mut ws, shutdown).await;
            let _ = close(&mut ws, 1012, "service restart").await;
            return;
        };
        if payload == Err(Value::Null) {
            let _ = close(&mut ws, 1011, "internal error").await;
            return;
        }
        let res = match payload {
            Ok(p) => json!({"type":"res","id":id,"ok":true,"payload":p}),
            Err(e) => json!({"type":"res","id":id,"ok":false,"error":e}),
        };
        if send(&mut ws, res).await.is_err() {
            return;
        }
    }
}

fn judge_connect(s: &mut Shared, params: &Value, nonce: &str) -> Result<(), (Value, u16)> {
    if s.startup_left > 0 {
        s.startup_left -= 1;
        return Err((
            json!({"code":"UNAVAILABLE","message":"gateway starting; retry shortly","retryable":true,
                   "retryAfterMs": s.script.startup_retry_after_ms,
                   "details":{"reason":"startup-sidecars"}}),
            1013,
        ));
    }
    if let Some(expected) = &s.script.token {
        if params["auth"]["token"].as_str() != Some(expected.as_str()) {
            return Err((
                json!({"code":"INVALID_REQUEST","message":"unauthorized: gateway token mismatch",
                       "details":{"code":"AUTH_TOKEN_MISMATCH"}}),
                1008,
            ));
        }
    }
    let (min, max) = (
        params["minProtocol"].as_u64(),
        params["maxProtocol"].as_u64(),
    );
    if !matches!((min, max), (Some(lo), Some(hi)) if lo <= 4 && 4 <= hi) {
        return Err((
            json!({"code":"INVALID_REQUEST","message":"protocol mismatch",
                   "details":{"code":"PROTOCOL_MISMATCH","expectedProtocol":4}}),
            1002,
        ));
    }
    if s.script.verify_device && !device_signature_ok(params, nonce) {
        return Err((
            json!({"code":"INVALID_REQUEST","message":"device signature invalid",
                   "details":{"code":"DEVICE_AUTH_SIGNATURE_INVALID"}}),
            1008,
        ));
    }
    Ok(())
}

/// Verify `device` the way the gateway does (id = sha256(publicKey), nonce, v3 payload).
fn device_signature_ok(params: &Value, nonce: &str) -> bool {
    let d = &params["device"];
    let s = |v: &Value| v.as_str().unwrap_or("").to_owned();
    let Ok(pk) = URL_SAFE_NO_PAD.decode(s(&d["publicKey"])) else {
        return false;
    };
    if hex::encode(Sha256::digest(&pk)) != s(&d["id"]) || s(&d["nonce"]) != nonce {
        return false;
    }
    let scopes: Vec<String> = params["scopes"]
        .as_array()
        .map(|a| a.iter().map(s).collect())
        .unwrap_or_default();
    let payload = format!(
        "v3|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
        s(&d["id"]),
        s(&params["client"]["id"]),
        s(&params["client"]["mode"]),
        s(&params["role"]),
        scopes.join(","),
        d["signedAt"].as_i64().unwrap_or(-1),
        s(&params["auth"]["token"]),
        nonce,
        s(&params["client"]["platform"]).trim().to_lowercase(),
        s(&params["client"]["deviceFamily"]).trim().to_lowercase(),
    );
    let (Ok(pk), Ok(sig)) = (
        <[u8; 32]>::try_from(pk.as_slice()),
        URL_SAFE_NO_PAD.decode(s(&d["signature"])),
    ) else {
        return false;
    };
    let (Ok(vk), Ok(sig)) = (VerifyingKey::from_bytes(&pk), Signature::from_slice(&sig)) else {
        return false;
    };
    vk.verify(payload.as_bytes(), &sig).is_ok()
}

fn chat_ack(s: &mut Shared, params: &Value) -> Result<Value, Value> {
    let (Some(key), Some(_session)) = (
        params["idempotencyKey"].as_str(),
        params["sessionKey"].as_str(),
    ) else {
        return Err(json!({"code":"INVALID_REQUEST","message":"invalid chat.send params"}));
    };
    let seen = s.idempotency.entry(key.to_owned()).or_insert(0);
    *seen += 1;
    let status = match *seen {
        1 => "started",
        2 => "in_flight",
        _ => "ok",
    };
    // Like OpenClaw 2026.9.6: the runId is the idempotency key.
    Ok(json!({"runId": key, "status": status}))
}

fn event(name: &str, payload: Value) -> Value {
    json!({"type":"event","event":name,"payload":payload})
}

async fn send(ws: &mut Ws, frame: Value) -> Result<(), ()> {
    ws.send(Message::text(frame.to_string()))
        .await
        .map_err(|_| ())
}

async fn close(ws: &mut Ws, code: u16, reason: &str) -> Result<(), ()> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    ws.close(Some(frame)).await.map_err(|_| ())
}

/// The next `req` frame as `(id, method, params)`; `None` when the socket ends.
async fn next_request(ws: &mut Ws) -> Option<(String, String, Value)> {
    while let Some(Ok(msg)) = ws.next().await {
        match msg {
            Message::Text(t) => {
                let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                    continue;
                };
                if v["type"] == "req" {
                    let id = v["id"].as_str().unwrap_or("").to_owned();
                    let method = v["method"].as_str().unwrap_or("").to_owned();
                    return Some((id, method, v["params"].clone()));
                }
            }
            Message::Close(_) => return None,
            _ => {}
        }
    }
    None
}

fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
