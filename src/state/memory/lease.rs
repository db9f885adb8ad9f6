//! [`MemoryLeases`]: leases among the engines of one process.

use crate::error::EngineResult;
use crate::state::lease::LeaseStore;
use std::collections::HashMap;
use std::sync::Mutex;

/// A [`LeaseStore`] in a mutex: `name -> (holder, expires_at_ms)`.
#[derive(Debug, Default)]
pub struct MemoryLeases {
    held: Mutex<HashMap<String, (String, i64)>>,
}

impl LeaseStore for MemoryLeases {
    fn try_acquire(
        &self,
        name: &str,
        holder: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> EngineResult<bool> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let free = held
            .get(name)
            .is_none_or(|(who, until)| who == holder || *until <= now_ms);
        if free {
            held.insert(
                name.to_string(),
                (holder.to_string(), now_ms.saturating_add(ttl_ms)),
            );
        }
        Ok(free)
    }

    fn release(&self, name: &str, holder: &str) -> EngineResult<()> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if held.get(name).is_some_and(|(who, _)| who == holder) {
            held.remove(name);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_shared_lease_suite() {
        crate::state::conformance::lease_store(&MemoryLeases::default());
    }
}
