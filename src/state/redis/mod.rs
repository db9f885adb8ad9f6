//! The Redis backend of the coordination state (`state: { redis: { url, keyPrefix } }`): probe
//! leases and group outcomes shared by every engine of a fleet, with Lua scripts for each atomic
//! transition. Parked entries never go to Redis; they stay in each engine's local journal.

mod config;
mod coordinator;
mod decision_message;
mod health;
mod message;
mod profiles;
mod scripts;

pub use config::{redact_url, RedisConfig, DEFAULT_KEY_PREFIX};
pub use coordinator::RedisCoordinator;
pub use profiles::RedisProfiles;

#[cfg(test)]
mod fleet_tests;
#[cfg(test)]
mod profile_tests;
#[cfg(test)]
mod test_server;
#[cfg(test)]
mod tests;
