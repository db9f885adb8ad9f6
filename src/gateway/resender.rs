//! [`GatewayResender`]: resends parked sessions through `chat.send` on the gateway.

use super::client::{CheckedSend, GatewayClient};
use super::session_check::PendingResend;
use crate::resender::{
    FinalFailureCheck, PrepareFuture, ResendFuture, ResendOutcome, ResendRequest, Resender,
};
use std::sync::Arc;

/// A [`Resender`] that sends `req.message` into `req.session_key` with `req.idempotency_key`
/// through a shared [`GatewayClient`] (one connection for a whole batch), compare-and-send:
/// only when the session's `chat.history` still ends in the failed turn (`meta.runId` names
/// the failed run when the parker knows it), and only once that run's final failure allows it
/// (see [`GatewayResender::with_final_check`]).
#[derive(Clone)]
pub struct GatewayResender {
    client: GatewayClient,
    final_check: Option<Arc<FinalFailureCheck>>,
}

impl std::fmt::Debug for GatewayResender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayResender")
            .field("client", &self.client)
            .field("final_check", &self.final_check.is_some())
            .finish()
    }
}

impl GatewayResender {
    /// Resend through `client`, with no final-failure check (a failed run that ended is resent
    /// whatever its last attempt said).
    pub fn new(client: GatewayClient) -> Self {
        Self {
            client,
            final_check: None,
        }
    }

    /// Judge the final failure of a failed run that the gateway retried itself with `check`
    /// before resending it (the engine's classifier and policy): a retry time still ahead
    /// answers [`ResendOutcome::NotDue`] instead of sending.
    pub fn with_final_check(mut self, check: Arc<FinalFailureCheck>) -> Self {
        self.final_check = Some(check);
        self
    }

    /// The underlying client.
    pub fn client(&self) -> &GatewayClient {
        &self.client
    }
}

impl Resender for GatewayResender {
    fn resend(&self, req: ResendRequest) -> ResendFuture<'_> {
        Box::pin(async move {
            let pending = PendingResend {
                session_key: &req.session_key,
                idempotency_key: &req.idempotency_key,
                failed_run_id: req.meta.get("runId").and_then(|v| v.as_str()),
                last_failed_at_ms: req.last_failed_at_ms,
            };
            Ok(
                match self
                    .client
                    .compare_and_send(pending, &req.message, self.final_check.as_deref())
                    .await?
                {
                    CheckedSend::Sent(ack) => ResendOutcome::Sent { run_id: ack.run_id },
                    CheckedSend::StillRunning(why) => ResendOutcome::StillRunning { why },
                    CheckedSend::MovedOn(why) => ResendOutcome::Superseded { why },
                    CheckedSend::NotDue(not_due) => ResendOutcome::NotDue(not_due),
                },
            )
        })
    }

    /// Opens the gateway connection ahead of a due resend (a connect under load took up to
    /// 317 ms on OpenClaw 2026.9.6, paid at the due time otherwise).
    fn prepare(&self) -> PrepareFuture<'_> {
        Box::pin(async move {
            let _ = self.client.warm().await;
        })
    }
}
