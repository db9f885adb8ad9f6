//! The state several engines share (`state.redis`): the probe coordinator and, with Redis, the
//! auth-profile usage. Without the option: a lone engine's [`Solo`] coordinator and the local
//! profile file.

use super::Engine;
use crate::error::EngineResult;
use crate::state::coordination::{Coordinator, Solo};
use crate::state::file::FileProfiles;
use crate::state::redis::RedisCoordinator;
use crate::state::ProfileUsageStore;
use std::sync::Arc;

/// What `start()` shares with the fleet.
pub(crate) struct SharedState {
    /// Who probes each group.
    pub coordinator: Arc<dyn Coordinator>,
    /// Profile usage shared through Redis (falling back to the local file), or `None` for the
    /// local file alone.
    pub profile_usage: Option<Arc<dyn ProfileUsageStore>>,
}

impl Engine {
    /// Connect the shared state (call inside the runtime). Fails only on a bad configuration;
    /// an unreachable Redis means degraded mode, not an error.
    pub(crate) fn open_shared_state(&self) -> EngineResult<SharedState> {
        let Some(redis) = &self.cfg.state.redis else {
            return Ok(SharedState {
                coordinator: Arc::new(Solo),
                profile_usage: None,
            });
        };
        let coordinator =
            RedisCoordinator::start(redis.clone(), self.clock.clone(), self.events.clone())?;
        let local: Arc<dyn ProfileUsageStore> = Arc::new(FileProfiles::in_dir(&self.cfg.state_dir));
        let usage: Arc<dyn ProfileUsageStore> = Arc::new(coordinator.profiles(local));
        Ok(SharedState {
            coordinator: Arc::new(coordinator),
            profile_usage: Some(usage),
        })
    }
}
