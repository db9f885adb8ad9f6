//! openclaw-retry-engine: keeps OpenClaw agent work alive through provider rate limits, quota
//! windows, auth failures and gateway restarts.
//!
//! Everything outside [`binding`] is plain Rust with no napi dependency; `binding` is the thin
//! `#[napi]` layer that exposes the `RetryEngine` class to Node.
#![deny(missing_docs)]

pub mod backoff;
pub mod breaker;
pub mod classify;
pub mod clock;
pub mod counters;
pub mod engine;
pub mod error;
pub mod events;
pub mod gateway;
pub mod jitter;
pub mod keyed_store;
pub mod metrics;
pub mod options;
pub mod policy;
pub mod profiles;
pub mod reason;
pub mod redact;
pub mod resender;
pub mod scheduler;
pub mod state;
#[cfg(test)]
mod test_support;
pub mod window;

#[doc(hidden)]
pub mod binding;
