//! WebSocket client of the OpenClaw gateway protocol v4.
//!
//! Frames are JSON text: `{type:"req",id,method,params}`, `{type:"res",id,ok,payload|error}`,
//! `{type:"event",event,payload}`. A connection starts with `event connect.challenge
//! {nonce, ts}`, answered by `req connect {...}` and a `hello-ok` response. The client
//! ([`GatewayClient`]) reuses one connection for many requests, retries a starting gateway
//! (`UNAVAILABLE`, `details.reason:"startup-sidecars"`) after its clamped `retryAfterMs`,
//! reconnects with capped exponential backoff plus jitter within a connect budget, and treats
//! rejected credentials as terminal (reported once, then fail fast).
//!
//! Plain `ws://` only: this build carries no TLS stack.

mod client;
mod config;
mod connection;
mod connector;
pub mod device;
pub mod failed_run;
pub mod fake;
pub mod frames;
pub mod handshake;
pub mod reconnect;
mod redact;
mod resender;
pub mod run_wait;
pub mod session_check;

pub use client::{ChatAck, CheckedSend, GatewayClient};
pub use config::GatewayConfig;
pub use device::DeviceIdentity;
pub use resender::GatewayResender;
pub use run_wait::RunEnd;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
