//! The embedded default backend: everything in one local state directory (0700), each store an
//! fsync'd journal and/or snapshot of 0600 files, shared safely by several processes through
//! lock files.
//!
//! - [`queue`]: the park queue (`queue.journal` + `queue.json`), behind [`FileParked`].
//! - [`profiles`]: profile usage (`profiles.json`), [`FileProfiles`].
//! - [`durable`]: atomic writes, lock files, keeping damaged files aside.

pub mod durable;
mod parked;
pub mod profiles;
pub mod queue;

pub use parked::FileParked;
pub use profiles::FileProfiles;
pub use queue::{QueueConfig, QueueFiles, QueueStore};
