//! [`StateConfig`]: where the engine keeps what several engines may share.

use super::redis::RedisConfig;

/// The `state` option. Default: no shared backend (a lone engine; everything stays in the
/// local state dir).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateConfig {
    /// Share the coordination state (probe leases, group outcomes) of a fleet of engines
    /// through Redis. Default `None`.
    pub redis: Option<RedisConfig>,
}
