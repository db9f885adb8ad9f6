//! Auth-profile rotation that stays correct across processes (DESIGN §7).
//!
//! - [`rotation`]: which profile next (round robin by last use, skipping cooled/disabled ones).
//! - [`schedule`]: what an outcome does to a profile (cooldown, disable, counters).
//! - [`store`]: rotation over the usage store (`crate::state::ProfileUsageStore`; default the
//!   durable `profiles.json` shared by every process: lock, re-read, apply, write).
//!
//! Everything takes `now_ms` explicitly; nothing here reads the clock.
//!
//! Choices made here (see [`schedule`] for the full outcome table):
//! - `auth` cools a profile down 30 s / 60 s / 300 s (OpenClaw's auth-profile cooldown): a
//!   rejected credential may be fixed by a refresh. `auth_permanent` and `billing` disable it
//!   (10 min doubling, cap 24 h, or until the hinted reset).
//! - `overloaded`, `server_error`, `timeout`, `network` and request-level failures are counted
//!   but never cool the profile down (`rotate: false`).
//! - Marking an unknown profile is an `InvalidInput` error (its provider is unknown); picking
//!   with explicit candidates registers unknown ids under the provider.
//! - A profile id belongs to one provider; reusing it under another is an `InvalidInput` error.
//! - The file stores ids and counters only, never a credential.

pub mod config;
pub mod profile;
pub mod rotation;
pub mod schedule;
pub mod store;
pub mod view;

pub use config::ProfileConfig;
pub use profile::ProfileStats;
pub use rotation::{PickResult, SkipReason, SkippedProfile};
pub use schedule::{MarkResult, Outcome};
pub use store::ProfileStore;
pub use view::{ProfileStatus, ProfileView};
