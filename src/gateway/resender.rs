//! [`GatewayResender`]: resends parked sessions through `chat.send` on the gateway.

use super::client::{CheckedSend, GatewayClient};
use super::session_check::PendingResend;
use crate::resender::{PrepareFuture, ResendFuture, ResendOutcome, ResendRequest, Resender};

/// A [`Resender`] that sends `req.message` into `req.session_key` with `req.idempotency_key`
/// through a shared [`GatewayClient`] (one connection for a whole batch), compare-and-send:
/// only when the session's `chat.history` still ends in the failed turn (`meta.runId` names
/// the failed run when the parker knows it).
#[derive(Debug, Clone)]
pub struct GatewayResender {
    client: GatewayClient,
}

impl GatewayResender {
    /// Resend through `client`.
    pub fn new(client: GatewayClient) -> Self {
        Self { client }
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
            };
            Ok(
                match self.client.compare_and_send(pending, &req.message).await? {
                    CheckedSend::Sent(ack) => ResendOutcome::Sent { run_id: ack.run_id },
                    CheckedSend::StillRunning(why) => ResendOutcome::StillRunning { why },
                    CheckedSend::MovedOn(why) => ResendOutcome::Superseded { why },
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
