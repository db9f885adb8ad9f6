//! The seam through which parked sessions are sent again: a JS callback, the gateway client,
//! or a test double all implement [`Resender`].

use crate::error::EngineResult;
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

/// What to resend.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResendRequest {
    /// The OpenClaw session key.
    pub session_key: String,
    /// The message to send into the session.
    pub message: String,
    /// Stable per attempt, so a repeated send of the same attempt runs once.
    pub idempotency_key: String,
    /// Which attempt this is (1-based).
    pub attempts: u32,
    /// Caller metadata stored with the parked entry.
    pub meta: serde_json::Value,
}

/// The future a [`Resender`] returns.
pub type ResendFuture<'a> = Pin<Box<dyn Future<Output = EngineResult<()>> + Send + 'a>>;

/// Sends one parked session again. `Ok(())` means the send was accepted (e.g. the gateway
/// acknowledged `chat.send`); whether the agent run then succeeded is reported separately.
pub trait Resender: Send + Sync {
    /// Send `req`. Implementations reuse connections across calls.
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_>;
}
