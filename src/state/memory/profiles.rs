//! [`MemoryProfiles`]: profile usage kept in memory.

use crate::error::EngineResult;
use crate::state::profiles::{ProfileUsage, ProfileUsageStore};
use crate::state::recovery::RecoveryReport;
use std::sync::Mutex;

/// A [`ProfileUsageStore`] behind a mutex: each transaction holds it, so concurrent callers in
/// one process never lose an update.
#[derive(Debug, Default)]
pub struct MemoryProfiles {
    usage: Mutex<ProfileUsage>,
}

impl ProfileUsageStore for MemoryProfiles {
    fn transact(
        &self,
        _now_ms: i64,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> EngineResult<Option<RecoveryReport>> {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        // Work on a copy so a failed operation leaves the stored usage untouched, as a
        // transaction should.
        let mut next = usage.clone();
        if op(&mut next)? {
            *usage = next;
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_the_shared_profile_usage_suite() {
        crate::state::conformance::profile_usage(&MemoryProfiles::default());
    }
}
