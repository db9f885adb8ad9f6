//! The durable park queue: one [`crate::state::ParkedEntry`] per session key, kept in a state directory as
//! an append-only journal (`queue.journal`, JSON lines) compacted into a readable snapshot
//! (`queue.json`), safe across crashes and across processes sharing the directory. See
//! [`QueueStore`].

mod config;
mod entry_map;
mod heap;
mod import;
mod interner;
mod journal;
mod load;
mod put_line;
mod read_ahead;
mod snapshot;
mod store;

pub use config::{QueueConfig, QueueFiles, DEFAULT_COMPACT_MIN_RECORDS, DEFAULT_MAX_ENTRIES};
pub use import::IMPORTED_FROM;
pub use journal::FORMAT_VERSION;
pub use store::QueueStore;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
