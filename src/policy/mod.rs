//! Reason-aware decisions per key (a session, a cron job, a chat room, an auth profile):
//! back off, park until a window resets, or stop and alert. See [`PolicyTable`].

mod config;
mod decision;
mod key_state;
mod reason_policy;
mod table;

#[cfg(test)]
mod tests;

pub use config::{PolicyConfig, DEFAULT_HINT_MARGIN_MS, DEFAULT_IDLE_EVICT_MS, DEFAULT_MAX_KEYS};
pub use decision::{Action, Decision, Failure};
pub use key_state::{KeyRecord, KeyState, MAX_ERROR_CHARS};
pub use reason_policy::{
    Mode, ReasonPolicy, DEFAULT_ALERT_WINDOW_MS, DEFAULT_DISABLE_MAX_MS, DEFAULT_DISABLE_MS,
    DEFAULT_UNKNOWN_STOP_AFTER,
};
pub use table::PolicyTable;
