//! What the engine keeps, and where. [`coordination`] is the part of the state seam that several
//! engines can share (who probes a group, what the fleet learned about its window); [`redis`] is
//! the Redis backend of it. Without a shared backend every engine coordinates with itself only.

mod config;
pub mod coordination;
pub mod redis;

pub use config::StateConfig;
