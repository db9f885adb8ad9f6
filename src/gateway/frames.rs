//! Wire frames of the OpenClaw gateway protocol v4: `req`, `res` and `event` JSON text frames.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The protocol version this client speaks (sent as `minProtocol` and `maxProtocol`).
pub const PROTOCOL_VERSION: u32 = 4;

/// A request frame: `{type:"req", id, method, params}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestFrame<'a> {
    /// Always `"req"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Correlation id, unique per connection.
    pub id: &'a str,
    /// The method, e.g. `chat.send`.
    pub method: &'a str,
    /// The method's parameters.
    pub params: &'a Value,
}

impl<'a> RequestFrame<'a> {
    /// A `req` frame for `method` with `params`, correlated by `id`.
    pub fn new(id: &'a str, method: &'a str, params: &'a Value) -> Self {
        Self {
            kind: "req",
            id,
            method,
            params,
        }
    }

    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("a request frame always serialises")
    }
}

/// The gateway's error shape: `{code, message, details?, retryable?, retryAfterMs?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    /// Stable code, e.g. `INVALID_REQUEST`, `UNAVAILABLE`.
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// Structured details, e.g. `{code:"AUTH_TOKEN_MISMATCH"}` or `{reason:"startup-sidecars"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    /// Whether the gateway says a retry can succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    /// The gateway's suggested retry delay in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    /// `details.code`, if the details carry one (connect errors do).
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }

    /// `details.reason`, if the details carry one (startup errors do).
    pub fn detail_reason(&self) -> Option<&str> {
        self.details.as_ref()?.get("reason")?.as_str()
    }
}

/// A response frame: `{type:"res", id, ok, payload | error}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseFrame {
    /// The id of the request this answers.
    pub id: String,
    /// Whether the request succeeded.
    pub ok: bool,
    /// The result when `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
    /// The error when not `ok`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorShape>,
}

/// An event frame: `{type:"event", event, payload}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFrame {
    /// The event name, e.g. `connect.challenge`, `shutdown`, `tick`.
    pub event: String,
    /// The event's payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// Any frame the gateway sends to a client.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type")]
pub enum InboundFrame {
    /// A response to one of our requests.
    #[serde(rename = "res")]
    Response(ResponseFrame),
    /// A server event.
    #[serde(rename = "event")]
    Event(EventFrame),
    /// A frame type this client does not handle (ignored).
    #[serde(other)]
    Other,
}

impl InboundFrame {
    /// Parse one text frame; `None` when it is not JSON of a known shape.
    pub fn parse(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn request_frame_has_the_v4_envelope() {
        let params = json!({"sessionKey": "s"});
        let text = RequestFrame::new("r1", "chat.send", &params).to_text();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"type":"req","id":"r1","method":"chat.send","params":{"sessionKey":"s"}})
        );
    }

    #[test]
    fn parses_error_responses_with_details() {
        let f = InboundFrame::parse(
            r#"{"type":"res","id":"c","ok":false,"error":{"code":"UNAVAILABLE","message":"starting",
            "retryable":true,"retryAfterMs":500,"details":{"reason":"startup-sidecars"}}}"#,
        )
        .unwrap();
        let InboundFrame::Response(res) = f else {
            panic!("expected a response, got {f:?}");
        };
        let err = res.error.unwrap();
        assert_eq!(err.retry_after_ms, Some(500));
        assert_eq!(err.retryable, Some(true));
        assert_eq!(err.detail_reason(), Some("startup-sidecars"));
        assert_eq!(err.detail_code(), None);
    }

    #[test]
    fn parses_events_and_ignores_unknown_types() {
        let f = InboundFrame::parse(
            r#"{"type":"event","event":"connect.challenge","payload":{"nonce":"n","ts":5},"seq":1}"#,
        );
        assert!(matches!(f, Some(InboundFrame::Event(ref e)) if e.event == "connect.challenge"));
        assert_eq!(
            InboundFrame::parse(r#"{"type":"req","id":"x","method":"m"}"#),
            Some(InboundFrame::Other)
        );
        assert_eq!(InboundFrame::parse("not json"), None);
    }
}
