//! The profile-usage seam: [`ProfileUsage`], every auth profile's usage record, and
//! [`ProfileUsageStore`], the store that several engines (processes, or gateways through a
//! shared backend) update without losing each other's updates.

use super::recovery::RecoveryReport;
use crate::error::EngineResult;
use crate::profiles::ProfileStats;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The file format version written by this code.
pub const VERSION: u32 = 1;

/// Every profile's usage: what `profiles.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileUsage {
    /// Format version, [`VERSION`].
    pub version: u32,
    /// Store-wide pick counter; each pick takes the next number (orders picks in one ms).
    #[serde(default)]
    pub pick_seq: u64,
    /// Profile records by profile id.
    pub profiles: BTreeMap<String, ProfileStats>,
}

impl Default for ProfileUsage {
    fn default() -> Self {
        Self {
            version: VERSION,
            pick_seq: 0,
            profiles: BTreeMap::new(),
        }
    }
}

/// Where profile usage lives. One call is one transaction: `op` sees the current usage
/// (every other writer's updates included) and returns whether it changed it; a changed usage
/// is durable before `transact` returns, and no concurrent update is lost (the file backend
/// locks, re-reads and rewrites; a shared backend uses its own atomic update).
///
/// A damaged store is repaired on the way (every readable profile kept); the repair is
/// returned for the caller to report.
pub trait ProfileUsageStore: Send + Sync + 'static {
    /// Run `op` as one transaction at `now_ms` (`now_ms` names files kept aside).
    fn transact(
        &self,
        now_ms: i64,
        op: &mut dyn FnMut(&mut ProfileUsage) -> EngineResult<bool>,
    ) -> EngineResult<Option<RecoveryReport>>;
}
