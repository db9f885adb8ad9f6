//! [`MemoryDecisions`]: decision state kept in memory.

use crate::error::EngineResult;
use crate::state::decisions::{DecisionChange, DecisionState, DecisionStore, LoadedDecisions};
use std::sync::Mutex;

/// A [`DecisionStore`] in a mutex; it outlives an engine (hand the same `Arc` to the next one)
/// but not the process.
#[derive(Debug, Default)]
pub struct MemoryDecisions {
    state: Mutex<DecisionState>,
}

impl DecisionStore for MemoryDecisions {
    fn load(&self, _now_ms: i64) -> EngineResult<LoadedDecisions> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner()).clone();
        Ok(LoadedDecisions {
            state,
            recoveries: Vec::new(),
        })
    }

    fn write(&self, changes: &[DecisionChange]) -> EngineResult<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for c in changes {
            state.apply(c.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_shared_decision_store_suite() {
        crate::state::conformance::decision_store(&MemoryDecisions::default());
    }
}
