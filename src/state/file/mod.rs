//! The embedded default backend: everything in one local state directory (0700), each store an
//! fsync'd journal and/or snapshot of 0600 files, shared safely by several processes through
//! lock files.
//!
//! - [`queue`]: the park queue (`queue.journal` + `queue.json`), behind [`FileParked`].
//! - [`decisions`]: policy, breaker and guard state (`decisions.journal` + `decisions.json`),
//!   [`FileDecisions`].
//! - [`profiles`]: profile usage (`profiles.json`), [`FileProfiles`].
//! - [`durable`]: atomic writes, lock files, keeping damaged files aside, `O_NOFOLLOW` opens.
//! - [`dir`]: the checks and tidying of the directory at `start()` (owner, modes, links,
//!   temp files of dead processes).
//! - [`lease`]: `flock` leases, e.g. the one resender per state dir, [`FileLeases`].

pub mod decisions;
pub mod dir;
pub mod durable;
#[cfg(test)]
mod kill_tests;
pub mod lease;
mod lines;
mod parked;
pub mod profiles;
pub mod queue;
mod queue_writer;
mod writer_progress;

pub use decisions::FileDecisions;
pub use lease::{FileLeases, RESENDER_LEASE};
pub use parked::FileParked;
pub use profiles::FileProfiles;
pub use queue::{QueueConfig, QueueFiles, QueueStore};
