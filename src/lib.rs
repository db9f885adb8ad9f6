//! openclaw-retry-engine: keeps OpenClaw agent work alive through provider rate limits, quota
//! windows, auth failures and gateway restarts.
//!
//! Everything outside [`binding`] is plain Rust with no napi dependency; `binding` is the thin
//! `#[napi]` layer that exposes the `RetryEngine` class to Node.
#![deny(missing_docs)]

pub mod clock;
pub mod durable;
pub mod error;
pub mod events;
pub mod jitter;
pub mod reason;
pub mod resender;
pub mod scheduler;

#[doc(hidden)]
pub mod binding;
