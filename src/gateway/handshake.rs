//! One connect attempt: open the socket, wait for `event connect.challenge {nonce, ts}`, send
//! `req connect {...}`, and read the `hello-ok` response — or classify why it failed.

use super::config::GatewayConfig;
use super::device::{DeviceIdentity, SignedFields};
use super::frames::{ErrorShape, InboundFrame, RequestFrame, PROTOCOL_VERSION};
use super::redact::{display_url, Scrubber};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Map, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The socket type of a gateway connection.
pub(crate) type WsStream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The role this client connects as.
pub const ROLE: &str = "operator";

/// Close code of a policy violation; the gateway uses it for rejected credentials.
pub const CLOSE_POLICY: u16 = 1008;
/// Close code of a restarting gateway.
pub const CLOSE_RESTART: u16 = 1012;
/// Close code of a gateway that is still starting ("try again later").
pub const CLOSE_TRY_AGAIN: u16 = 1013;

/// Why a connect attempt failed, and so what to do next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ConnectFailure {
    /// Startup sidecars are still starting: retry after the (clamped) delay.
    Starting {
        /// The gateway's `retryAfterMs`.
        retry_after_ms: Option<u64>,
    },
    /// The credentials or the device were rejected: terminal until reconfigured.
    Auth {
        /// The close code, when the rejection came as a close.
        close_code: Option<u16>,
        /// Secret-free explanation.
        message: String,
    },
    /// The gateway does not speak what we sent (protocol or params): fail this call.
    Protocol(String),
    /// The gateway answered `UNAVAILABLE` with `details.reason` `gateway-restarting` or
    /// `gateway-suspending`: it drains and comes back soon, so poll briefly.
    Restarting {
        /// Secret-free explanation.
        message: String,
    },
    /// Refused, dropped, restarting, timed out: back off and retry.
    Transient {
        /// The close code, if the socket was closed.
        close_code: Option<u16>,
        /// Secret-free explanation.
        message: String,
    },
}

/// What the connect request says about this client.
pub(crate) struct ConnectRequest<'a> {
    pub cfg: &'a GatewayConfig,
    pub identity: Option<&'a DeviceIdentity>,
    /// Fallback signature time when the challenge has no `ts` (epoch ms).
    pub now_ms: i64,
    pub scrubber: &'a Scrubber,
}

/// `client.platform` and `client.deviceFamily` as OpenClaw's Node client reports them.
pub(crate) fn platform_identity() -> (&'static str, Option<&'static str>) {
    match std::env::consts::OS {
        "macos" => ("macos", Some("Mac")),
        "windows" => ("windows", Some("Windows")),
        "linux" => ("linux", Some("Linux")),
        other => (other, None),
    }
}

/// Open a socket and complete the handshake. Returns the socket and the `hello-ok` payload.
pub(crate) async fn handshake(
    req: &ConnectRequest<'_>,
) -> Result<(WsStream, Value), ConnectFailure> {
    let url = display_url(&req.cfg.url);
    // Nagle off: small request frames must not wait for the peer's delayed ACK.
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(req.cfg.url.as_str(), None, true)
            .await
            .map_err(|e| ConnectFailure::Transient {
                close_code: None,
                message: req
                    .scrubber
                    .scrub(&format!("cannot open a WebSocket to {url}: {e}")),
            })?;
    let (nonce, challenge_ts) = match wait_for_challenge(&mut ws, req.scrubber).await {
        Ok(challenge) => challenge,
        Err(failure) => {
            let _ = ws.close(None).await;
            return Err(failure);
        }
    };
    let params = connect_params(req, &nonce, challenge_ts.unwrap_or(req.now_ms));
    let id = format!("connect-{}", uuid::Uuid::new_v4());
    let text = RequestFrame::new(&id, "connect", &params).to_text();
    if let Err(e) = ws.send(Message::text(text)).await {
        return Err(ConnectFailure::Transient {
            close_code: None,
            message: req
                .scrubber
                .scrub(&format!("sending connect to {url} failed: {e}")),
        });
    }
    match wait_for_hello(&mut ws, &id, req.scrubber).await {
        Ok(hello) => Ok((ws, hello)),
        Err(failure) => {
            let _ = ws.close(None).await;
            Err(failure)
        }
    }
}

/// The `connect` request params (closed object in the gateway's schema).
pub(crate) fn connect_params(req: &ConnectRequest<'_>, nonce: &str, signed_at_ms: i64) -> Value {
    let cfg = req.cfg;
    let (platform, device_family) = platform_identity();
    let mut client = json!({
        "id": cfg.client_id,
        "displayName": "openclaw-retry-engine",
        "version": env!("CARGO_PKG_VERSION"),
        "platform": platform,
        "mode": cfg.client_mode,
    });
    if let Some(family) = device_family {
        client["deviceFamily"] = json!(family);
    }
    let mut params = json!({
        "minProtocol": PROTOCOL_VERSION,
        "maxProtocol": PROTOCOL_VERSION,
        "client": client,
        "role": ROLE,
        "scopes": cfg.scopes,
    });
    let mut auth = Map::new();
    if let Some(token) = &cfg.token {
        auth.insert("token".into(), json!(token));
    }
    if let Some(password) = &cfg.password {
        auth.insert("password".into(), json!(password));
    }
    if !auth.is_empty() {
        params["auth"] = Value::Object(auth);
    }
    if let Some(identity) = req.identity {
        let fields = SignedFields {
            client_id: &cfg.client_id,
            client_mode: &cfg.client_mode,
            role: ROLE,
            scopes: &cfg.scopes,
            signed_at_ms,
            token: cfg.token.as_deref().unwrap_or(""),
            nonce,
            platform,
            device_family: device_family.unwrap_or(""),
        };
        params["device"] = identity.connect_param(&fields);
    }
    params
}

async fn wait_for_challenge(
    ws: &mut WsStream,
    scrubber: &Scrubber,
) -> Result<(String, Option<i64>), ConnectFailure> {
    loop {
        match next_frame(ws, scrubber, "the connect challenge").await? {
            InboundFrame::Event(e) if e.event == "connect.challenge" => {
                let payload = e.payload.unwrap_or(Value::Null);
                let nonce = payload
                    .get("nonce")
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .unwrap_or("");
                if nonce.is_empty() {
                    return Err(ConnectFailure::Protocol(
                        "connect.challenge carried no nonce".into(),
                    ));
                }
                let ts = payload
                    .get("ts")
                    .and_then(Value::as_i64)
                    .filter(|t| *t >= 0);
                return Ok((nonce.to_owned(), ts));
            }
            InboundFrame::Event(e) if e.event == "shutdown" => {
                return Err(ConnectFailure::Transient {
                    close_code: None,
                    message: "gateway is shutting down".into(),
                })
            }
            _ => {}
        }
    }
}

async fn wait_for_hello(
    ws: &mut WsStream,
    id: &str,
    scrubber: &Scrubber,
) -> Result<Value, ConnectFailure> {
    loop {
        match next_frame(ws, scrubber, "the connect response").await? {
            InboundFrame::Response(res) if res.id == id => {
                if res.ok {
                    let hello = res.payload.unwrap_or(Value::Null);
                    return check_hello(hello);
                }
                let error = res.error.unwrap_or_else(|| ErrorShape {
                    code: "UNKNOWN".into(),
                    message: "connect failed without an error".into(),
                    details: None,
                    retryable: None,
                    retry_after_ms: None,
                });
                return Err(classify_connect_error(&error, scrubber));
            }
            InboundFrame::Event(e) if e.event == "shutdown" => {
                return Err(ConnectFailure::Transient {
                    close_code: None,
                    message: "gateway is shutting down".into(),
                })
            }
            _ => {}
        }
    }
}

fn check_hello(hello: Value) -> Result<Value, ConnectFailure> {
    match hello.get("protocol").and_then(Value::as_u64) {
        Some(p) if p != u64::from(PROTOCOL_VERSION) => Err(ConnectFailure::Protocol(format!(
            "gateway negotiated protocol {p}, this client speaks {PROTOCOL_VERSION}"
        ))),
        _ => Ok(hello),
    }
}

/// Read the next JSON frame; a close or a dead socket becomes a [`ConnectFailure`].
async fn next_frame(
    ws: &mut WsStream,
    scrubber: &Scrubber,
    waiting_for: &str,
) -> Result<InboundFrame, ConnectFailure> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) => {
                if let Some(frame) = InboundFrame::parse(text.as_str()) {
                    return Ok(frame);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let (code, reason) = frame
                    .map(|f| (Some(u16::from(f.code)), f.reason.to_string()))
                    .unwrap_or((None, String::new()));
                return Err(classify_close(code, &scrubber.scrub(&reason), waiting_for));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                return Err(ConnectFailure::Transient {
                    close_code: None,
                    message: scrubber
                        .scrub(&format!("socket failed waiting for {waiting_for}: {e}")),
                })
            }
            None => {
                return Err(ConnectFailure::Transient {
                    close_code: None,
                    message: format!("socket closed waiting for {waiting_for}"),
                })
            }
        }
    }
}

/// Classify a close received during the handshake.
pub(crate) fn classify_close(code: Option<u16>, reason: &str, waiting_for: &str) -> ConnectFailure {
    let text = match code {
        Some(c) => format!("gateway closed the socket ({c} {reason}) before {waiting_for}"),
        None => format!("gateway closed the socket before {waiting_for}"),
    };
    match code {
        Some(CLOSE_POLICY) => ConnectFailure::Auth {
            close_code: code,
            message: text,
        },
        Some(CLOSE_TRY_AGAIN) => ConnectFailure::Starting {
            retry_after_ms: None,
        },
        _ => ConnectFailure::Transient {
            close_code: code,
            message: text,
        },
    }
}

/// Classify an error response to `connect`.
pub(crate) fn classify_connect_error(error: &ErrorShape, scrubber: &Scrubber) -> ConnectFailure {
    if error.code == "UNAVAILABLE" && error.detail_reason() == Some("startup-sidecars") {
        return ConnectFailure::Starting {
            retry_after_ms: error.retry_after_ms,
        };
    }
    if error.code == "UNAVAILABLE"
        && matches!(
            error.detail_reason(),
            Some("gateway-restarting" | "gateway-suspending")
        )
    {
        return ConnectFailure::Restarting {
            message: scrubber.scrub(&format!("{}: {}", error.code, error.message)),
        };
    }
    let detail = error.detail_code().unwrap_or("");
    let text = scrubber.scrub(&if detail.is_empty() {
        format!("{}: {}", error.code, error.message)
    } else {
        format!("{} ({detail}): {}", error.code, error.message)
    });
    let auth_detail = detail.starts_with("AUTH_")
        || detail.starts_with("DEVICE_")
        || detail.starts_with("CONTROL_UI_")
        || detail == "PAIRING_REQUIRED";
    if auth_detail || error.code == "UNAUTHORIZED" || error.code == "FORBIDDEN" {
        return ConnectFailure::Auth {
            close_code: None,
            message: text,
        };
    }
    if detail == "PROTOCOL_MISMATCH" || detail == "CLIENT_VERSION_MISMATCH" {
        return ConnectFailure::Protocol(text);
    }
    if error.retryable == Some(true) || error.code == "UNAVAILABLE" {
        return ConnectFailure::Transient {
            close_code: None,
            message: text,
        };
    }
    ConnectFailure::Protocol(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(code: &str, details: Value) -> ErrorShape {
        ErrorShape {
            code: code.into(),
            message: "m".into(),
            details: Some(details),
            retryable: None,
            retry_after_ms: Some(700),
        }
    }

    #[test]
    fn classifies_connect_errors() {
        let s = Scrubber::default();
        assert_eq!(
            classify_connect_error(
                &err("UNAVAILABLE", json!({"reason":"startup-sidecars"})),
                &s
            ),
            ConnectFailure::Starting {
                retry_after_ms: Some(700)
            }
        );
        assert!(matches!(
            classify_connect_error(
                &err("INVALID_REQUEST", json!({"code":"AUTH_TOKEN_MISMATCH"})),
                &s
            ),
            ConnectFailure::Auth { .. }
        ));
        assert!(matches!(
            classify_connect_error(
                &err("INVALID_REQUEST", json!({"code":"PAIRING_REQUIRED"})),
                &s
            ),
            ConnectFailure::Auth { .. }
        ));
        assert!(matches!(
            classify_connect_error(
                &err("INVALID_REQUEST", json!({"code":"PROTOCOL_MISMATCH"})),
                &s
            ),
            ConnectFailure::Protocol(_)
        ));
        assert!(matches!(
            classify_connect_error(&err("UNAVAILABLE", json!({})), &s),
            ConnectFailure::Transient { .. }
        ));
        // As answered by openclaw 2026.9.6 between SIGTERM and exit.
        assert!(matches!(
            classify_connect_error(
                &err(
                    "UNAVAILABLE",
                    json!({"method":"connect","reason":"gateway-restarting","phase":"draining"})
                ),
                &s
            ),
            ConnectFailure::Restarting { .. }
        ));
    }

    #[test]
    fn classifies_closes() {
        assert!(matches!(
            classify_close(Some(1008), "", "x"),
            ConnectFailure::Auth { .. }
        ));
        assert!(matches!(
            classify_close(Some(1013), "", "x"),
            ConnectFailure::Starting { .. }
        ));
        assert!(matches!(
            classify_close(Some(1012), "", "x"),
            ConnectFailure::Transient { .. }
        ));
    }

    #[test]
    fn connect_params_follow_the_v4_schema() {
        let cfg = GatewayConfig {
            token: Some("tok".into()),
            ..Default::default()
        };
        let s = Scrubber::default();
        let req = ConnectRequest {
            cfg: &cfg,
            identity: None,
            now_ms: 5,
            scrubber: &s,
        };
        let p = connect_params(&req, "n", 5);
        assert_eq!(p["minProtocol"], 4);
        assert_eq!(p["maxProtocol"], 4);
        assert_eq!(p["client"]["id"], "gateway-client");
        assert_eq!(p["client"]["mode"], "backend");
        assert!(p["client"]["platform"]
            .as_str()
            .is_some_and(|s| !s.is_empty()));
        assert_eq!(p["role"], "operator");
        assert_eq!(p["scopes"], json!(["operator.read", "operator.write"]));
        assert_eq!(p["auth"], json!({"token":"tok"}));
        assert!(p.get("device").is_none());
    }
}
