//! [`GatewayResender`]: resends parked sessions through `chat.send` on the gateway.

use super::client::GatewayClient;
use crate::resender::{ResendFuture, ResendOutcome, ResendRequest, Resender};

/// A [`Resender`] that sends `req.message` into `req.session_key` with `req.idempotency_key`
/// through a shared [`GatewayClient`] (one connection for a whole batch).
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
            self.client
                .chat_send(&req.session_key, &req.message, &req.idempotency_key)
                .await
                .map(|ack| ResendOutcome::Sent { run_id: ack.run_id })
        })
    }
}
