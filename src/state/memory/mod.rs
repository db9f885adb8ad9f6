//! In-memory backends for tests and for hosts that keep no state on disk. Nothing survives the
//! process.

mod decisions;
mod lease;
mod parked;
mod profiles;

pub use decisions::MemoryDecisions;
pub use lease::MemoryLeases;
pub use parked::MemoryQueue;
pub use profiles::MemoryProfiles;
