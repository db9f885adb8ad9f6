//! Keyed circuit breakers (closed → open → half-open with one probe) and the per-room guard
//! for OpenClaw's `message_sending` hook. Idle keys are forgotten in every state.

mod config;
mod message_guard;
mod registry;
mod state;

pub use config::BreakerConfig;
pub use message_guard::{MessageGuard, MessageVerdict, MESSAGE_KEY_PREFIX};
pub use registry::{BreakerRegistry, Permit};
pub use state::{BreakerRecord, BreakerState, CircuitState, Phase};
