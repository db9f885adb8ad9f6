//! Scheduler tests on paused tokio time with [`crate::state::memory::MemoryQueue`] and a scripted
//! fake resender.

mod adaptive;
mod fake;
mod groups;
mod lifecycle;
mod release;
mod stages;
mod store_errors;
mod timing;
