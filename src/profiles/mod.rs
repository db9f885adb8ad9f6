//! Auth-profile rotation that stays correct across processes (DESIGN §7).
//!
//! - [`rotation`]: which profile next (round robin by last use, skipping cooled/disabled ones).
//! - [`schedule`]: what an outcome does to a profile (cooldown, disable, counters).
//! - [`store`]: the durable `profiles.json` shared by every process (lock, re-read, apply, write).
//!
//! Everything takes `now_ms` explicitly; nothing here reads the clock.

pub mod config;
pub mod profile;
pub mod rotation;
pub mod schedule;
pub mod state_file;
pub mod store;
pub mod view;

pub use config::ProfileConfig;
pub use profile::ProfileStats;
pub use rotation::{PickResult, SkipReason, SkippedProfile};
pub use schedule::{MarkResult, Outcome};
pub use store::{ProfileStore, RecoveryInfo};
pub use view::{ProfileStatus, ProfileView};
