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
    /// When the entry last recorded a failure (epoch ms, the engine's clock): a failed run
    /// whose last attempt started after this ended on a failure the entry has not seen (see
    /// [`FinalFailureCheck`]). Not passed to a JS `resend` callback.
    #[serde(skip)]
    pub last_failed_at_ms: i64,
}

/// What a [`Resender`] did with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResendOutcome {
    /// The send was accepted (e.g. the gateway acknowledged `chat.send`). `run_id` is the run
    /// it started when known (the gateway's ack `runId`; on OpenClaw 2026.9.6 it equals the
    /// idempotency key): a probe counts as good only when the run that succeeded is this one.
    Sent {
        /// The started run's id, if the resender knows it.
        run_id: Option<String>,
    },
    /// Not sent: the failed run itself is still running (the gateway retries it). The entry
    /// waits (no attempt counted) and is checked again shortly; the run's own success
    /// resolves it.
    StillRunning {
        /// What was seen (secret-free).
        why: String,
    },
    /// Not sent: the failed run ended after the entry was parked (the gateway retried it
    /// itself), on a final failure whose retry time is still ahead. The entry waits for
    /// `retry_at_ms` with that failure's error, no attempt counted.
    NotDue(NotDue),
    /// Not sent: the session moved on since it failed (a later user message, a successful
    /// reply, or a run in flight). The entry is dropped with a `superseded` event.
    Superseded {
        /// What was seen (secret-free).
        why: String,
    },
}

/// When a failed run's final failure lets it be resent (see [`ResendOutcome::NotDue`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotDue {
    /// The earliest time the session may be resent (epoch ms).
    pub retry_at_ms: i64,
    /// The final failure (secret-free, as `park()` stores it).
    pub error: String,
}

/// Reads a failed run's final failure: the failure in the shape of OpenClaw's `agent_end`
/// payload (`run_wait::failed_run_input`) and when the run ended (the gateway's epoch ms).
/// `Some` when its retry time is still ahead, `None` when it may be resent now. The engine
/// gives the gateway resender one that classifies with its classifier and policy.
pub type FinalFailureCheck = dyn Fn(&serde_json::Value, i64) -> Option<NotDue> + Send + Sync;

/// The future a [`Resender`] returns.
pub type ResendFuture<'a> = Pin<Box<dyn Future<Output = EngineResult<ResendOutcome>> + Send + 'a>>;

/// The future of [`Resender::prepare`].
pub type PrepareFuture<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// Sends one parked session again. `Ok(Sent)` means the send was accepted; whether the agent
/// run then succeeded is reported separately (`resolve`/`failed`).
pub trait Resender: Send + Sync {
    /// Send `req`. Implementations reuse connections across calls.
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_>;

    /// Get ready for a resend that is due soon (the gateway resender opens its connection), so
    /// that the send does not pay for it at the due time. Sends nothing; a failure is left for
    /// the send to report. The scheduler calls it [`crate::scheduler::PREPARE_AHEAD_MS`]
    /// before the next due time. Default: nothing.
    fn prepare(&self) -> PrepareFuture<'_> {
        Box::pin(async {})
    }
}
